#!/usr/bin/env bash
# Render speed in one run, for docs/benchmarks.md (issue 10):
#   - the 50-container Go template (bench/render) rendered by a BEFORE binary
#     and an AFTER binary: AFTER must stay under 1.2x BEFORE;
#   - the same task definition written in Jsonnet (bench/render/jsonnet),
#     rendered by AFTER: at most 2x the JSON template.
#
#   bash bench/render_compare.sh BEFORE_ECSX AFTER_ECSX   # release builds
#
# RUNS (default 50). Needs hyperfine and python3. Both definitions must
# render to the same JSON; the script checks that first.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BEFORE=${1:?usage: bench/render_compare.sh BEFORE_ECSX AFTER_ECSX}
AFTER=${2:?usage: bench/render_compare.sh BEFORE_ECSX AFTER_ECSX}
RUNS=${RUNS:-50}
OUT=$ROOT/target/bench
mkdir -p "$OUT"
command -v hyperfine >/dev/null || { echo "bench: install hyperfine (apt-get install hyperfine)" >&2; exit 1; }

python3 bench/gen_render_fixture.py "$OUT/render"
export DATABASE_URL='postgres://bench:bench@db.internal:5432/bench' \
       APP_CONFIG_JSON='{"feature":"x","quote":"\"q\"","list":[1,2,3]}' TAG=v1.2.3
"$AFTER" --config "$OUT/render/ecspresso.yml" render task-definition >"$OUT/render-json.out"
"$AFTER" --config "$OUT/render/jsonnet/ecspresso.yml" render task-definition >"$OUT/render-jsonnet.out"
"$BEFORE" --config "$OUT/render/ecspresso.yml" render task-definition >"$OUT/render-before.out"
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
a, b, c = (json.load(open(f"{out}/render-{n}.out")) for n in ("json", "jsonnet", "before"))
assert len(a["containerDefinitions"]) == 50, "expected 50 containers"
assert a == b, "the Jsonnet definition renders differently from the JSON template"
assert a == c, "BEFORE and AFTER render differently"
PY

hyperfine -N --warmup 5 --runs "$RUNS" --style basic --export-json "$OUT/render-compare.json" \
    -n "before: JSON template" "$BEFORE --config $OUT/render/ecspresso.yml render task-definition" \
    -n "after: JSON template" "$AFTER --config $OUT/render/ecspresso.yml render task-definition" \
    -n "after: Jsonnet" "$AFTER --config $OUT/render/jsonnet/ecspresso.yml render task-definition" >&2

python3 - "$OUT/render-compare.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
b, a, j = r["before: JSON template"], r["after: JSON template"], r["after: Jsonnet"]
ms = lambda x: f"{x * 1000:.1f} ms"
print("| render (50 containers) | median | min – max | ratio | target | result |")
print("|---|---|---|---|---|---|")
print(f"| before: JSON template | {ms(b['median'])} | {ms(b['min'])} – {ms(b['max'])} | 1.00 | | |")
ra = a["median"] / b["median"]
print(f"| after: JSON template | {ms(a['median'])} | {ms(a['min'])} – {ms(a['max'])} | {ra:.2f} × before | < 1.2 × | {'PASS' if ra < 1.2 else 'FAIL'} |")
rj = j["median"] / a["median"]
print(f"| after: Jsonnet, same definition | {ms(j['median'])} | {ms(j['min'])} – {ms(j['max'])} | {rj:.2f} × JSON | ≤ 2 × | {'PASS' if rj <= 2 else 'FAIL'} |")
PY
