#!/usr/bin/env python3
"""Time a command that moves a file, checking every run's output, for
bench/exec.sh.

    bench/xfer.py NAME RUNS REF_FILE CHECK JSON_OUT [--stdin FILE] [--hold-stdin] -- CMD...

Runs CMD RUNS times (after one unchecked warm-up run), stdout to a temporary
file (stdin: FILE, else /dev/null; --hold-stdin: a pipe kept open and never
written, which the official session-manager-plugin needs, as it ends the
session at EOF on stdin). Each run's wall time is taken around the whole
process (fork to exit). CHECK is how the output must relate to REF_FILE:
  exact    the output's sha256 is REF_FILE's (byte for byte)
  pty      the output, with the terminal's ONLCR undone (\\r\\n -> \\n),
           contains REF_FILE's bytes (a raw pty stream: banners, \\r\\n)
A failed check exits 1. Writes JSON {name, times, bytes} to JSON_OUT.
(Peak RSS is measured apart, with /usr/bin/time -v: a child forked from this
Python process would report Python's own RSS as its peak.)
"""
import hashlib, json, os, subprocess, sys, tempfile, time

def main():
    argv = sys.argv[1:]
    sep = argv.index("--")
    opts, cmd = argv[:sep], argv[sep + 1:]
    name, runs, ref, check, out = opts[:5]
    runs = int(runs)
    stdin_file = None
    hold = False
    rest = opts[5:]
    while rest:
        a = rest.pop(0)
        if a == "--stdin":
            stdin_file = rest.pop(0)
        elif a == "--hold-stdin":
            hold = True
        else:
            sys.exit(f"xfer.py: unknown option {a}")
    ref_bytes = open(ref, "rb").read()
    ref_sha = hashlib.sha256(ref_bytes).hexdigest()
    times = []
    tmpdir = os.path.dirname(os.path.abspath(out))
    for i in range(runs + 1):
        with tempfile.TemporaryFile(dir=tmpdir) as sink:
            stdin = open(stdin_file, "rb") if stdin_file else (subprocess.PIPE if hold else subprocess.DEVNULL)
            t0 = time.perf_counter()
            p = subprocess.Popen(cmd, stdin=stdin, stdout=sink)
            _, status, _ = os.wait4(p.pid, 0)
            t1 = time.perf_counter()
            p.returncode = os.waitstatus_to_exitcode(status)
            if hold and p.stdin:
                p.stdin.close()
            if stdin_file:
                stdin.close()
            if p.returncode != 0:
                sys.exit(f"xfer.py: {name}: exit status {p.returncode}")
            sink.seek(0)
            data = sink.read()
        if check == "exact":
            ok = hashlib.sha256(data).hexdigest() == ref_sha
        elif check == "pty":
            ok = ref_bytes in data.replace(b"\r\n", b"\n")
        else:
            sys.exit(f"xfer.py: unknown check {check}")
        if not ok:
            sys.exit(f"xfer.py: {name}: run {i}: output ({len(data)} bytes) does not match {ref} ({check})")
        if i == 0:
            continue  # warm-up
        times.append(t1 - t0)
    json.dump({"name": name, "times": times, "bytes": len(ref_bytes)},
              open(out, "w"))

main()
