#!/usr/bin/env bash
# ecsx cp and exec --all-tasks benchmarks: reproduces the "cp" and "fan-out"
# numbers in docs/benchmarks.md.
#
#   bash bench/cp.sh
#
# Needs hyperfine and python3. Knobs (env): ECSX (a prebuilt binary; default:
# cargo build --release), SIZE_MIB (64), RUNS (5), LOG_MIB (20), TASKS (100).
# Output: a Markdown report on stdout and in target/bench/cp/report.md.
#
# - cp down/up of SIZE_MIB random bytes against `exec -- cat` / `exec --pipe`
#   on the same file (unpaced sandbox);
# - with `exec.agent_pacing: real` (when the sandbox has that knob): a LOG_MIB
#   text log down with cp (gzip on the wire) and with `exec -- cat`;
# - `exec --all-tasks --parallel 50 -- echo hi` on TASKS tasks at 20 ms per
#   AWS call against one `exec -- echo hi`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
OUT=$ROOT/target/bench/cp
rm -rf "$OUT"; mkdir -p "$OUT"
SIZE_MIB=${SIZE_MIB:-64}
RUNS=${RUNS:-5}
LOG_MIB=${LOG_MIB:-20}
TASKS=${TASKS:-100}
CONFIG=ecspresso.yml.example
say() { printf 'bench: %s\n' "$*" >&2; }
command -v hyperfine >/dev/null || { say "needs hyperfine (apt-get install hyperfine)"; exit 1; }
if [[ -z ${ECSX:-} ]]; then
    cargo build --release --quiet
    ECSX=$ROOT/target/release/ecsx
fi
export AWS_ACCESS_KEY_ID=AKIDBENCH AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
# serve WORLD_FILE -> sets URL
serve() {
    "$ECSX" --config "$CONFIG" sandbox serve --addr 127.0.0.1:0 --world "$1" >"$OUT/url" 2>"$OUT/sandbox.log" &
    pids+=($!)
    for _ in $(seq 100); do [[ -s $OUT/url ]] && break; sleep 0.05; done
    URL=$(head -1 "$OUT/url")
}
mean() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]["mean"])' "$@"; }

root=$OUT/root
mkdir -p "$root"
cat >"$OUT/world.yml" <<W
task_count: 0
exec:
  root: $root
tasks:
  - id: 0000000000000000000000000000bec0
    service: web
W
mkdir -p "$root/0000000000000000000000000000bec0"
task=$root/0000000000000000000000000000bec0
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$task/data.bin"
cp "$task/data.bin" "$OUT/local.bin"
serve "$OUT/world.yml"
E=("$ECSX" --endpoint-url "$URL" --config "$CONFIG")
say "cp vs exec, ${SIZE_MIB} MiB, $RUNS runs each"
hyperfine --warmup 1 --runs "$RUNS" --export-json "$OUT/down.json" \
    -n "exec -- cat (down)" "${E[*]} exec --skip-verify -- cat $task/data.bin > $OUT/via-exec.bin" \
    -n "cp (down)" "${E[*]} cp -q --skip-verify :$task/data.bin $OUT/via-cp.bin" >&2
cmp "$OUT/via-cp.bin" "$task/data.bin"
hyperfine --warmup 1 --runs "$RUNS" --export-json "$OUT/up.json" \
    -n "exec --pipe (up)" "${E[*]} exec --skip-verify --pipe 'cat > $task/up-exec.bin' < $OUT/local.bin" \
    -n "cp (up)" "${E[*]} cp -q --skip-verify $OUT/local.bin :$task/up-cp.bin" >&2
cmp "$task/up-cp.bin" "$OUT/local.bin"
d_exec=$(mean "$OUT/down.json" 0); d_cp=$(mean "$OUT/down.json" 1)
u_exec=$(mean "$OUT/up.json" 0); u_cp=$(mean "$OUT/up.json" 1)

paced=""
cat >"$OUT/world-paced.yml" <<W
task_count: 0
exec:
  root: $root
  agent_pacing: real
tasks:
  - id: 0000000000000000000000000000bec0
    service: web
W
python3 -c "
import sys
with open(sys.argv[1], 'w') as f:
    i = 0
    while f.tell() < int(sys.argv[2]) * 1024 * 1024:
        f.write(f'2026-11-30T17:00:{i % 60:02d}Z INFO request id={i:08x} path=/api/items/{i % 977} status=200 took={i % 83}ms\n')
        i += 1
" "$task/app.log" "$LOG_MIB"
kill "${pids[-1]}"; sleep 0.5
if serve "$OUT/world-paced.yml" 2>/dev/null && [[ -n $URL ]] && ! grep -q "agent_pacing" "$OUT/sandbox.log"; then
    E=("$ECSX" --endpoint-url "$URL" --config "$CONFIG")
    say "paced like the real agent: ${LOG_MIB} MiB text log down"
    hyperfine --runs 1 --export-json "$OUT/paced.json" \
        -n "exec -- cat (paced)" "${E[*]} exec --skip-verify -- cat $task/app.log > $OUT/log-exec.txt" \
        -n "cp (paced, gzip)" "${E[*]} cp -q --skip-verify :$task/app.log $OUT/log-cp.txt" >&2 || true
    if [[ -s $OUT/paced.json ]]; then
        cmp "$OUT/log-cp.txt" "$task/app.log"
        p_exec=$(mean "$OUT/paced.json" 0); p_cp=$(mean "$OUT/paced.json" 1)
        paced=$(python3 -c "import sys; e,c=map(float,sys.argv[1:3]); print(f'| {sys.argv[3]} MiB text log down, paced | exec -- cat {e:.2f} s | cp {c:.2f} s | {e/c:.1f}x faster (target 3x) |')" "$p_exec" "$p_cp" "$LOG_MIB")
    fi
else
    paced="| paced download | skipped: this sandbox has no exec.agent_pacing knob | | |"
fi

cat >"$OUT/world-many.yml" <<W
task_count: $TASKS
latency: 20ms
W
serve "$OUT/world-many.yml"
E=("$ECSX" --endpoint-url "$URL" --config "$CONFIG")
one=$("${E[@]}" tasks -o tsv | head -1 | cut -f1)
say "fan-out: $TASKS tasks at 20 ms per call"
hyperfine --warmup 1 --runs "$RUNS" --export-json "$OUT/fanout.json" \
    -n "exec -- echo hi (one task)" "${E[*]} exec --skip-verify --task-id $one -- echo hi" \
    -n "exec --all-tasks --parallel 50 ($TASKS tasks)" "${E[*]} exec --skip-verify --all-tasks --parallel 50 -- echo hi > /dev/null 2>&1" >&2
f_one=$(mean "$OUT/fanout.json" 0); f_all=$(mean "$OUT/fanout.json" 1)

python3 - "$d_exec" "$d_cp" "$u_exec" "$u_cp" "$f_one" "$f_all" "$SIZE_MIB" "$TASKS" "$paced" <<'PY' | tee "$OUT/report.md"
import sys
d_exec, d_cp, u_exec, u_cp, f_one, f_all = map(float, sys.argv[1:7])
size, tasks, paced = int(sys.argv[7]), int(sys.argv[8]), sys.argv[9]
mb = size * 1.048576
print("| what | baseline | ecsx cp / fan-out | ratio |")
print("|---|---|---|---|")
print(f"| {size} MiB down | exec -- cat {d_exec:.2f} s ({mb/d_exec:.1f} MB/s) | cp {d_cp:.2f} s ({mb/d_cp:.1f} MB/s) | {d_exec/d_cp:.2f} of exec (target 0.8) |")
print(f"| {size} MiB up | exec --pipe {u_exec:.2f} s ({mb/u_exec:.1f} MB/s) | cp {u_cp:.2f} s ({mb/u_cp:.1f} MB/s) | {u_exec/u_cp:.2f} of exec (target 0.8) |")
print(paced)
print(f"| echo hi | one task {f_one*1000:.0f} ms | {tasks} tasks, --parallel 50: {f_all*1000:.0f} ms | {f_all/f_one:.2f}x one (target at most 3x) |")
PY
