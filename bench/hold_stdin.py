#!/usr/bin/env python3
"""Run CMD with a stdin pipe that stays open (never written, never closed)
until CMD exits; stdout and stderr are inherited. For the official
session-manager-plugin, which ends the session at EOF on stdin (as with
`< /dev/null`), so `aws ecs execute-command` needs an open stdin to let a
long output finish."""
import subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE)
sys.exit(p.wait())
