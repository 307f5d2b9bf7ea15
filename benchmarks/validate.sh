#!/usr/bin/env bash
# Times `xentest validate` on a generated 1,000-case plan, and `xentest --version` (start-up).
#
# Usage: benchmarks/validate.sh [CASES] [RUNS]      (defaults: 1000 cases, 15 runs)
#
# Builds the release binary into .build-release (git-ignored), generates the plan with
# benchmarks/generate_plan.py into a temporary folder, checks that it validates cleanly, and prints the median
# wall time and the peak RSS of each command against the aim:
#   validate: < 200 ms and < 100 MB;  start-up (--version): < 20 ms.
# Wall time comes from hyperfine when it is installed. Otherwise each run is timed in the script with bash 5's
# $EPOCHREALTIME. Peak RSS always comes from GNU time (`/usr/bin/time -f %M`, KB), the maximum over 5 runs.
set -euo pipefail

CASES=${1:-1000}
RUNS=${2:-15}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

missing=()
command -v swift >/dev/null || missing+=("swift (a Swift toolchain)")
command -v python3 >/dev/null || missing+=("python3")
[[ -x /usr/bin/time ]] || missing+=("time (apt-get install time)")
((BASH_VERSINFO[0] >= 5)) || missing+=("bash 5 or later")
if ((${#missing[@]})); then
    echo "validate.sh: missing: ${missing[*]}" >&2
    exit 2
fi
HAVE_HYPERFINE=0
if command -v hyperfine >/dev/null; then HAVE_HYPERFINE=1; fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/xentest-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

echo "== build: swift build -c release --scratch-path .build-release --product xentest"
if ! swift build -c release --scratch-path .build-release --product xentest >"$WORK/build.log" 2>&1; then
    tail -n 20 "$WORK/build.log" >&2
    echo "validate.sh: the release build failed" >&2
    exit 2
fi
tail -n 1 "$WORK/build.log"
BIN="$ROOT/.build-release/release/xentest"
[[ -x "$BIN" ]] || { echo "validate.sh: no binary at $BIN" >&2; exit 2; }

PLAN=$(python3 "$ROOT/benchmarks/generate_plan.py" "$CASES" "$WORK")
PLAN_BYTES=$(stat -c %s "$PLAN")
PLAN_LINES=$(wc -l <"$PLAN")

echo "== plan: $CASES cases, $PLAN_BYTES bytes ($((PLAN_BYTES / 1024)) KiB), $PLAN_LINES lines"
set +e
"$BIN" validate "$PLAN" >"$WORK/validate.out" 2>"$WORK/validate.err"
status=$?
set -e
sed "s|$WORK/||" "$WORK/validate.out"
if ((status != 0)) || [[ -s "$WORK/validate.err" ]]; then
    echo "validate.sh: the generated plan does not validate cleanly (exit $status):" >&2
    head -n 20 "$WORK/validate.err" >&2
    exit 1
fi

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) { print "nan"; exit } if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Prints "MEDIAN_MS MIN_MS MAX_MS PEAK_RSS_KB" for the command given as arguments.
measure() {
    local times="$WORK/times" rss="$WORK/rss" i start end
    : >"$times"
    : >"$rss"
    "$@" >/dev/null 2>&1 || true # warm-up: page cache, dynamic loader
    if ((HAVE_HYPERFINE)); then
        hyperfine --warmup 3 --runs "$RUNS" --style none -N --export-json "$WORK/hf.json" -- "$(printf '%q ' "$@")" \
            >/dev/null
        python3 -c 'import json,sys; [print(t * 1000) for t in json.load(open(sys.argv[1]))["results"][0]["times"]]' \
            "$WORK/hf.json" >"$times"
    else
        for ((i = 0; i < RUNS; i++)); do
            start=$EPOCHREALTIME # bash 5: microseconds, no subprocess
            "$@" >/dev/null 2>&1 || true
            end=$EPOCHREALTIME
            awk -v s="${start/,/.}" -v e="${end/,/.}" 'BEGIN { printf "%.3f\n", (e - s) * 1000 }' >>"$times"
        done
    fi
    for ((i = 0; i < 5; i++)); do
        /usr/bin/time -f '%M' -o "$WORK/time.out" "$@" >/dev/null 2>&1 || true
        tail -n 1 "$WORK/time.out" >>"$rss"
    done
    printf '%s %s %s %s\n' "$(median <"$times")" "$(sort -n "$times" | head -n 1)" "$(sort -n "$times" | tail -n 1)" \
        "$(sort -n "$rss" | tail -n 1)"
}

report() { # NAME MEDIAN_MS MIN_MS MAX_MS RSS_KB AIM_MS AIM_MB(or -)
    local name=$1 med=$2 min=$3 max=$4 rss=$5 aim_ms=$6 aim_mb=$7 verdict
    local rss_mb
    rss_mb=$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')
    verdict=$(awk -v m="$med" -v a="$aim_ms" -v r="$rss_mb" -v b="$aim_mb" 'BEGIN {
        ok = (m < a) && (b == "-" || r < b + 0); print ok ? "meets the aim" : "MISSES the aim" }')
    printf '%-22s median %8.1f ms (min %.1f, max %.1f)  peak RSS %6s KB (%s MB)  aim < %s ms%s: %s\n' \
        "$name" "$med" "$min" "$max" "$rss" "$rss_mb" "$aim_ms" "$([[ $aim_mb == - ]] || echo " and < $aim_mb MB")" \
        "$verdict"
}

if ((HAVE_HYPERFINE)); then
    method="hyperfine ($RUNS runs, 3 warm-up)"
else
    method="bash \$EPOCHREALTIME around each of $RUNS runs (hyperfine not installed: apt-get install hyperfine)"
fi
echo "== timing: $method; peak RSS: max of /usr/bin/time -f %M over 5 runs"
echo "   host: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"

read -r med min max rss < <(measure "$BIN" validate "$PLAN")
report "validate ($CASES cases)" "$med" "$min" "$max" "$rss" 200 100
read -r med min max rss < <(measure "$BIN" --version)
report "start-up (--version)" "$med" "$min" "$max" "$rss" 20 -
