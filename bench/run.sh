#!/usr/bin/env bash
# ecsx benchmarks: reproduces the numbers in docs/benchmarks.md.
#
#   bash bench/run.sh             # build (release), check tools, measure, print a report
#   bash bench/run.sh --install   # first install what is missing (apt: hyperfine, time; pip venv: awscli)
#
# Knobs (env): RUNS_TASKS (10), RUNS_AWS (5), RUNS_MEM (5), RUNS_RENDER (50),
# RUNS_VERSION (200), ECSX (a prebuilt binary; default: cargo build --release),
# AWS_CLI (the aws CLI to compare with; default: `aws` on PATH, else
# target/bench-venv/bin/aws). Output: a Markdown report on stdout and in
# target/bench/report.md; raw hyperfine JSON and logs in target/bench/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
OUT=$ROOT/target/bench
mkdir -p "$OUT"

RUNS_TASKS=${RUNS_TASKS:-10}
RUNS_AWS=${RUNS_AWS:-5}
RUNS_MEM=${RUNS_MEM:-5}
RUNS_RENDER=${RUNS_RENDER:-50}
RUNS_VERSION=${RUNS_VERSION:-200}
TASKS=5000
LATENCY_MS=20

say() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- tools
install=false
[[ ${1:-} == --install ]] && install=true

need_apt=()
command -v hyperfine >/dev/null || need_apt+=(hyperfine)
[[ -x /usr/bin/time ]] && /usr/bin/time -v true 2>/dev/null || need_apt+=(time)
command -v python3 >/dev/null || need_apt+=(python3)
if ((${#need_apt[@]})); then
    if $install; then
        say "installing with apt-get: ${need_apt[*]}"
        apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" >&2
    else
        die "missing: ${need_apt[*]}. Install with: apt-get update && apt-get install -y ${need_apt[*]}  (or run: bash bench/run.sh --install)"
    fi
fi

if [[ -z ${AWS_CLI:-} ]]; then
    if command -v aws >/dev/null; then
        AWS_CLI=$(command -v aws)
        # pyenv shims re-exec through bash; time the real entry point.
        if command -v pyenv >/dev/null && [[ $AWS_CLI == */shims/* ]]; then
            AWS_CLI=$(pyenv which aws)
        fi
    elif [[ -x $ROOT/target/bench-venv/bin/aws ]]; then
        AWS_CLI=$ROOT/target/bench-venv/bin/aws
    elif $install; then
        say "installing awscli in target/bench-venv"
        python3 -m venv "$ROOT/target/bench-venv"
        "$ROOT/target/bench-venv/bin/pip" install -q awscli >&2
        AWS_CLI=$ROOT/target/bench-venv/bin/aws
    else
        say "WARNING: no aws CLI found; the aws/ecsx comparison is SKIPPED."
        say "         install it with: python3 -m venv target/bench-venv && target/bench-venv/bin/pip install awscli"
        say "         (or run: bash bench/run.sh --install)"
        AWS_CLI=
    fi
fi
export AWS_CLI

# ---------------------------------------------------------------- build
built=false
if [[ -z ${ECSX:-} ]]; then
    built=true
    say "cargo build --release"
    cargo build --release --quiet >&2
    ECSX=$ROOT/target/release/ecsx
fi
[[ -x $ECSX ]] || die "no ecsx binary at $ECSX"

# ---------------------------------------------------------------- env
# A clean AWS environment, as the integration tests use: fake credentials,
# no IMDS, no shared config files, no profile.
for v in AWS_PROFILE AWS_DEFAULT_PROFILE AWS_DEFAULT_REGION AWS_ENDPOINT_URL \
         AWS_ENDPOINT_URL_ECS AWS_ENDPOINT_URL_STS AWS_SESSION_TOKEN AWS_MAX_ATTEMPTS \
         AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI \
         AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN ECSPRESSO_CONFIG NO_COLOR TAG; do
    unset "$v"
done
export AWS_ACCESS_KEY_ID=AKIDBENCHEXAMPLE AWS_SECRET_ACCESS_KEY=bench-secret \
       AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true \
       AWS_CONFIG_FILE=/nonexistent/ecsx-bench/config \
       AWS_SHARED_CREDENTIALS_FILE=/nonexistent/ecsx-bench/credentials \
       AWS_PAGER= TZ=UTC

# ---------------------------------------------------------------- sandbox
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# start_bg VAR FILE CMD...: run CMD in the background (its pid goes to
# ${VAR}_PID), wait for its first stdout line and put it in VAR. Not in a
# $(...) subshell, so that cleanup knows the pid.
start_bg() {
    local var=$1 file=$2; shift 2
    : >"$file"
    "$@" >"$file" 2>"$file.err" &
    local pid=$!
    pids+=("$pid")
    printf -v "${var}_PID" '%s' "$pid"
    for _ in $(seq 200); do
        if [[ -s $file ]]; then
            printf -v "$var" '%s' "$(head -n1 "$file")"
            return
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    cat "$file.err" >&2
    die "did not start: $*"
}

cat >"$OUT/world.yml" <<YAML
# 5,000 RUNNING tasks in the example's service, every call answered after 20 ms.
task_count: $TASKS
latency: ${LATENCY_MS}ms
YAML
start_bg URL "$OUT/sandbox.out" "$ECSX" --config ecspresso.yml.example sandbox serve --world "$OUT/world.yml"
say "sandbox at $URL (task_count $TASKS, latency ${LATENCY_MS}ms)"

TASKS_CMD=("$ECSX" --config ecspresso.yml.example --endpoint-url "$URL" tasks -o tsv)
AWS_CMD=(bash bench/aws-cli-tasks.sh "$URL" demo web)

# ---------------------------------------------------------------- checks
n=$("${TASKS_CMD[@]}" | wc -l)
[[ $n == "$TASKS" ]] || die "ecsx tasks printed $n lines, expected $TASKS"
say "ecsx tasks -o tsv: $n lines (ok)"
if [[ -n $AWS_CLI ]]; then
    n=$("${AWS_CMD[@]}" | wc -l)
    [[ $n == "$TASKS" ]] || die "the aws CLI script printed $n lines, expected $TASKS"
    say "aws CLI script: $n lines (ok)"
fi

# ---------------------------------------------------------------- 1. tasks wall time
say "1. ecsx tasks: hyperfine, $RUNS_TASKS runs"
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # utime + stime, in ticks
c0=$(cpu "$URL_PID")
hyperfine -N --warmup 1 --runs "$RUNS_TASKS" --style basic \
    --export-json "$OUT/tasks.json" -n "ecsx tasks" "${TASKS_CMD[*]}" >&2
c1=$(cpu "$URL_PID")
echo $(( (c1 - c0) * 1000 / $(getconf CLK_TCK) / (RUNS_TASKS + 1) )) >"$OUT/sandbox-cpu-ms.txt"
say "1. practical floor: the 50 ListTasks pages alone (bench/list_floor.py), 5 runs"
python3 bench/list_floor.py "$URL" demo web 5 >"$OUT/floor.txt"
if [[ -n $AWS_CLI ]]; then
    say "1. aws CLI list-tasks + describe-tasks: hyperfine, $RUNS_AWS runs"
    hyperfine -N --runs "$RUNS_AWS" --style basic \
        --export-json "$OUT/aws.json" -n "aws CLI" "${AWS_CMD[*]}" >&2
else
    rm -f "$OUT/aws.json"
fi

# ---------------------------------------------------------------- 2. peak memory
say "2. ecsx tasks max RSS: /usr/bin/time -v, $RUNS_MEM runs"
: >"$OUT/rss.txt"
for _ in $(seq "$RUNS_MEM"); do
    /usr/bin/time -v "${TASKS_CMD[@]}" 2>"$OUT/time.txt" >/dev/null
    awk -F': ' '/Maximum resident set size/ {print $2}' "$OUT/time.txt" >>"$OUT/rss.txt"
done

# ---------------------------------------------------------------- where the time goes
# One run through the counting relay: which calls, how many, how concurrent.
: >"$OUT/calls.log"
start_bg RELAY "$OUT/relay.out" python3 bench/callcount.py "$URL" "$OUT/calls.log"
t0=$(date +%s.%N)
"$ECSX" --config ecspresso.yml.example --endpoint-url "$RELAY" tasks -o tsv >/dev/null
python3 bench/callcount.py --summary "$OUT/calls.log" "$t0" >"$OUT/calls.txt"

# ---------------------------------------------------------------- 3. render
python3 bench/gen_render_fixture.py "$OUT/render"
diff -qr bench/render "$OUT/render" >/dev/null ||
    say "note: bench/render/ differs from bench/gen_render_fixture.py's output; measuring the generator's"
export DATABASE_URL='postgres://bench:bench@db.internal:5432/bench' \
       APP_CONFIG_JSON='{"feature":"x","quote":"\"q\"","list":[1,2,3]}' TAG=v1.2.3
RENDER_CMD=("$ECSX" --config "$OUT/render/ecspresso.yml" render task-definition)
c=$("${RENDER_CMD[@]}" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["containerDefinitions"]))')
[[ $c == 50 ]] || die "render gave $c containers, expected 50"
say "3. ecsx render (50 containers, ok): hyperfine, $RUNS_RENDER runs"
hyperfine -N --warmup 5 --runs "$RUNS_RENDER" --style basic \
    --export-json "$OUT/render.json" -n "ecsx render" "${RENDER_CMD[*]}" >&2

# ---------------------------------------------------------------- 4. --version
say "4. ecsx --version: hyperfine, $RUNS_VERSION runs"
hyperfine -N --warmup 20 --runs "$RUNS_VERSION" --style basic \
    --export-json "$OUT/version.json" -n "ecsx --version" "$ECSX --version" >&2

# ---------------------------------------------------------------- report
export OUT TASKS LATENCY_MS
{
echo "## Run $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "- machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)," \
     "$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM, $(uname -sr)"
echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
if $built; then
    echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || echo ' + uncommitted changes in src/ or Cargo.*')"
else
    echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown) checked out; binary given as ECSX=$ECSX"
fi
echo "- ecsx: $("$ECSX" --version)"
if [[ -n $AWS_CLI ]]; then echo "- aws CLI: $("$AWS_CLI" --version 2>&1)"; else echo "- aws CLI: not found, comparison skipped"; fi
echo "- hyperfine: $(hyperfine --version)"
echo
python3 - <<'PY'
import json, os, statistics
out = os.environ["OUT"]
def hf(name):
    p = os.path.join(out, name + ".json")
    if not os.path.exists(p):
        return None
    r = json.load(open(p))["results"][0]
    return r
def ms(x): return f"{x*1000:.1f} ms" if x < 10 else f"{x:.2f} s"
def spread(r): return f"{ms(r['min'])} – {ms(r['max'])} (σ {ms(r['stddev'] or 0)}), {len(r['times'])} runs"
rows = []
floor = 50 * int(os.environ["LATENCY_MS"]) / 1000
t = hf("tasks"); a = hf("aws"); rd = hf("render"); v = hf("version")
ratio = t["median"] / floor
rows.append(("1. `ecsx tasks` 5,000 tasks, 20 ms/call", ms(t["median"]), spread(t),
             f"≤ 1.3 × floor ({ms(1.3*floor)}); ratio to the {ms(floor)} floor: **{ratio:.2f}×**",
             "PASS" if ratio <= 1.3 else "FAIL"))
fl = sorted(float(l.split()[0]) for l in open(os.path.join(out, "floor.txt")) if l.strip())
flm = statistics.median(fl)
rows.append(("1. practical floor: the 50 ListTasks pages alone, one keep-alive connection", ms(flm),
             f"{ms(fl[0])} – {ms(fl[-1])}, {len(fl)} runs",
             f"ecsx / practical floor = {t['median']/flm:.2f}×", "—"))
if a:
    rows.append(("1. aws CLI, same listing (list-tasks + describe-tasks ×50)", ms(a["median"]), spread(a),
                 f"aws / ecsx = {a['median']/t['median']:.1f}×", "—"))
rss = sorted(int(l) for l in open(os.path.join(out, "rss.txt")) if l.strip())
med = statistics.median(rss) / 1024
rows.append(("2. max RSS of that `ecsx tasks`", f"{med:.1f} MiB",
             f"{rss[0]/1024:.1f} – {rss[-1]/1024:.1f} MiB, {len(rss)} runs", "≤ 50 MiB",
             "PASS" if med <= 50 else "FAIL"))
rows.append(("3. `ecsx render` 50-container template", ms(rd["median"]), spread(rd), "≤ 20 ms",
             "PASS" if rd["median"] <= 0.020 else "FAIL"))
rows.append(("4. `ecsx --version`", ms(v["median"]), spread(v), "≤ 5 ms",
             "PASS" if v["median"] <= 0.005 else "FAIL"))
sb = open(os.path.join(out, "sandbox-cpu-ms.txt")).read().strip()
extra = (f"CPU time per `ecsx tasks` run: ecsx user {ms(t['user'])} + system {ms(t['system'])} (hyperfine means); "
         f"the sandbox answering it: {sb} ms.")
print("| measurement | median | spread (min – max) | target | result |")
print("|---|---|---|---|---|")
for r in rows:
    print("| " + " | ".join(r) + " |")
print()
print(extra)
PY
echo
echo "Calls made by one \`ecsx tasks\` run (through bench/callcount.py, which adds its own overhead):"
echo
sed 's/^/    /' "$OUT/calls.txt"
} | tee "$OUT/report.md"
