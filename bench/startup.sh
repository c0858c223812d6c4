#!/usr/bin/env bash
# Binary size and start-up (docs/benchmarks.md, "Binary size and start-up"):
# the release binary's size against 25 MB, and `ecsx --version` beside
# `/bin/true` in one hyperfine run against 2x. With perf, also the CPU time
# and page faults of each, which a loaded machine disturbs less than wall time.
#
#   bash bench/startup.sh                    # cargo build --release, then measure
#   ECSX=path/to/ecsx bash bench/startup.sh  # measure a prebuilt binary
#
# Knobs (env): ECSX, RUNS (500). Needs hyperfine and python3 (bench/run.sh
# --install installs hyperfine); perf is optional.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
OUT=$ROOT/target/bench
mkdir -p "$OUT"
RUNS=${RUNS:-500}

say() { printf 'bench: %s\n' "$*" >&2; }
command -v hyperfine >/dev/null || { say "hyperfine is missing: bash bench/run.sh --install"; exit 1; }

if [[ -z ${ECSX:-} ]]; then
    say "cargo build --release --locked"
    cargo build --release --locked >&2
    ECSX=${CARGO_TARGET_DIR:-$ROOT/target}/release/ecsx
fi
[[ -x $ECSX ]] || { say "no binary at $ECSX"; exit 1; }

size=$(stat -c %s "$ECSX")
say "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
hyperfine -N --warmup 50 --runs "$RUNS" --export-json "$OUT/startup.json" \
    -n "/bin/true" /bin/true -n "ecsx --version" "$ECSX --version" >&2
say "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

perf_line() {
    command -v perf >/dev/null || return 0
    # CPU time and page faults, mean of 300 runs.
    perf stat -r 300 -x, -e task-clock,page-faults "$@" 2>&1 >/dev/null |
        awk -F, -v name="$*" '$3 ~ /task-clock/ {t=$1} $3 ~ /page-faults/ {p=$1} END {printf "%s\t%.3f\t%d\n", name, t, p}'
}
{
    perf_line /bin/true
    perf_line "$ECSX" --version
} > "$OUT/startup-perf.tsv" || true

python3 - "$OUT/startup.json" "$size" "$OUT/startup-perf.tsv" <<'PY'
import json, sys
runs = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
size = int(sys.argv[2])
t, e = runs["/bin/true"], runs["ecsx --version"]
ms = lambda s: f"{s * 1000:.2f} ms"
ratio_median = e["median"] / t["median"]
ratio_min = e["min"] / t["min"]
print("| measurement | value | target | result |")
print("|---|---|---|---|")
print(f"| release binary size | {size / 1e6:.1f} MB ({size / 2**20:.1f} MiB) | ≤ 25 MB | {'PASS' if size <= 25e6 else 'FAIL'} |")
print(f"| `/bin/true` (median, min) | {ms(t['median'])}, {ms(t['min'])} | — | — |")
print(f"| `ecsx --version` (median, min) | {ms(e['median'])}, {ms(e['min'])} | — | — |")
print(f"| ratio of medians (of minimums) | {ratio_median:.2f}x ({ratio_min:.2f}x) | ≤ 2x | {'PASS' if ratio_median <= 2 else 'FAIL'} |")
try:
    rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[3]) if l.strip()]
    if len(rows) == 2:
        (_, tc, tp), (_, ec, ep) = rows
        print(f"| CPU time, page faults (perf, 300 runs) | true {float(tc):.2f} ms, {tp}; ecsx {float(ec):.2f} ms, {ep}; ratio {float(ec) / float(tc):.2f}x | — | — |")
except (OSError, ValueError):
    pass
PY
