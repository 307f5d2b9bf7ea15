#!/usr/bin/env bash
# Fuzzes the plan loader and the host-file loader with libFuzzer, each for a fixed time, one after the other.
#
# Usage: benchmarks/fuzz.sh [SECONDS] [TARGET...]      (defaults: 600 seconds; targets fuzz-plan fuzz-host)
#
# Builds the targets (benchmarks/Sources/fuzz-plan, fuzz-host; Package.swift adds them only when XENTEST_FUZZ is
# set) with -sanitize=fuzzer into .build-fuzz, seeds each corpus from testplans/ and the test fixtures (plans, and
# host files with the host-file example of testplans/README.md), and runs each target with -max_total_time=SECONDS,
# -timeout=10 (a hang) and -rss_limit_mb=2048, one process at a time. Everything it keeps is under .fuzz/
# (git-ignored): corpus/TARGET (seeds and what libFuzzer added; kept for the next run), crashes/TARGET (crash-*,
# timeout-*, oom-* inputs), TARGET.log. It prints per target: executions, executions per second, the corpus, and
# the findings. Exits 1 when a target found something: reproduce with `.build-fuzz/release/TARGET FILE`.
set -euo pipefail

SECONDS_PER_TARGET=${1:-600}
shift || true
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=(fuzz-plan fuzz-host)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
command -v swift >/dev/null || { echo "fuzz.sh: missing: swift (a Swift toolchain)" >&2; exit 2; }

OUT="$ROOT/.fuzz"
mkdir -p "$OUT"
# SwiftPM links executables with --defsym main=<module>_main; libFuzzer brings its own main, which the
# targets' main does the same as (FuzzDriver.swift).
BUILD=(swift build -c release --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library
    -Xlinker --allow-multiple-definition)
for target in "${TARGETS[@]}"; do
    echo "== build: $target"
    if ! XENTEST_FUZZ=1 "${BUILD[@]}" --product "$target" >"$OUT/build-$target.log" 2>&1; then
        tail -n 20 "$OUT/build-$target.log" >&2
        echo "fuzz.sh: building $target failed" >&2
        exit 2
    fi
done

# Seeds: copied in under their content's hash, so rerunning adds nothing twice.
seed() {
    local corpus=$1 file
    shift
    for file in "$@"; do
        [[ -f "$file" ]] && cp "$file" "$corpus/seed-$(sha1sum "$file" | cut -c1-16)"
    done
    return 0
}
# The keys and words plans use, as a libFuzzer dictionary, so that mutations spell them whole.
dictionary() {
    grep -ohE '[a-z][a-z0-9-]+:' "$@" | sort -u | sed 's/.*/"&"/'
}
HOST_EXAMPLE="$OUT/seed-host-readme.yaml"
awk '/^# host.yaml/{on=1} on&&/^```/{exit} on' testplans/README.md >"$HOST_EXAMPLE"
mapfile -t PLAN_SEEDS < <(find testplans Tests/XentestLibraryTests/Fixtures/plans -name '*.yaml' -not -path '*/hosts/*')
mapfile -t HOST_SEEDS < <(find Tests/XentestLibraryTests/Fixtures/plans/hosts -name '*.yaml')
HOST_SEEDS+=("$HOST_EXAMPLE" testplans/smoke.yaml)

status=0
declare -a SUMMARY
for target in "${TARGETS[@]}"; do
    corpus="$OUT/corpus/$target"
    crashes="$OUT/crashes/$target"
    mkdir -p "$corpus" "$crashes"
    case $target in
    fuzz-plan) seed "$corpus" "${PLAN_SEEDS[@]}"; dictionary "${PLAN_SEEDS[@]}" >"$OUT/$target.dict" ;;
    fuzz-host) seed "$corpus" "${HOST_SEEDS[@]}"; dictionary "${HOST_SEEDS[@]}" >"$OUT/$target.dict" ;;
    *) echo "fuzz.sh: no seeds for $target" >&2; exit 2 ;;
    esac
    before=$(find "$crashes" -type f | wc -l)
    echo "== $target: ${SECONDS_PER_TARGET}s, corpus $(find "$corpus" -type f | wc -l) files; load $(cut -d' ' -f1-3 /proc/loadavg)"
    started=$(date +%s)
    set +e
    # Swift's backtracer would take the trap before libFuzzer could save the input.
    SWIFT_BACKTRACE=enable=no ".build-fuzz/release/$target" "$corpus" -dict="$OUT/$target.dict" \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
        -artifact_prefix="$crashes/" -print_final_stats=1 >"$OUT/$target.log" 2>&1
    code=$?
    set -e
    elapsed=$(($(date +%s) - started))
    stat() { grep -m1 "^stat::$1:" "$OUT/$target.log" | awk '{print $2}'; }
    found=$(($(find "$crashes" -type f | wc -l) - before))
    # libFuzzer's corpus (the inputs it keeps, after reducing) from its last status line; the folder also keeps
    # the inputs those replaced.
    kept=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$OUT/$target.log" | tail -n 1 | cut -d' ' -f2)
    line=$(printf '%-10s %10s execs  %6s exec/s  %4ss  corpus %s (folder: %s files, %s KiB)  new %s  peak RSS %s MB  findings %s  load %s' \
        "$target" "$(stat number_of_executed_units)" "$(stat average_exec_per_sec)" "$elapsed" "${kept:-?}" \
        "$(find "$corpus" -type f | wc -l)" "$(($(du -sb "$corpus" | cut -f1) / 1024))" "$(stat new_units_added)" \
        "$(stat peak_rss_mb)" "$found" "$(cut -d' ' -f1-3 /proc/loadavg)")
    SUMMARY+=("$line")
    echo "$line"
    if ((code != 0 || found > 0)); then
        status=1
        echo "fuzz.sh: $target stopped with status $code; see $OUT/$target.log and $crashes/" >&2
        grep -E 'ERROR: libFuzzer|Fatal error|SUMMARY|Test unit written' "$OUT/$target.log" | head -n 5 >&2 || true
    fi
done
echo "== summary ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs)"
printf '%s\n' "${SUMMARY[@]}"
exit $status
