#!/usr/bin/env bash
# `xentest run --jobs 1/4/8` on libvirt's simulated host with a generated plan: wall time and peak RSS of each, and
# whether every case's verdict is the same across them (`xentest compare --fail-on-difference`).
#
#   bash benchmarks/jobs.sh [CASES]      default 1000; a few seconds
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
cases=${1:-1000}
[ -x /usr/bin/time ] || { echo "jobs.sh: needs GNU time (apt-get install time)" >&2; exit 2; }
swift build --product xentest >/dev/null
work=$(mktemp -d /tmp/xentest-jobs-XXXXXX)
trap 'rm -rf "$work"' EXIT
plan=$(python3 benchmarks/generate_plan.py "$cases" "$work")
echo "| --jobs | verdicts | wall | peak RSS |"
echo "|---:|---|---:|---:|"
for jobs in 1 4 8; do
    /usr/bin/time -o "$work/time" -f "%e %M" .build/debug/xentest run "$plan" --connect test:///default \
        --jobs "$jobs" --results "$work/jobs-$jobs" 2>"$work/err" || true
    read -r seconds kb <"$work/time"
    counts=$(grep -E '^[0-9]+ (pass|fail|skip)' "$work/err" | sed 's/ in .*//')
    echo "| $jobs | $counts | $seconds s | $((kb / 1024)) MB |"
done
if .build/debug/xentest compare "$work"/jobs-*/* --fail-on-difference --output "$work/compare.md"; then
    echo "the same verdict for every case with --jobs 1, 4 and 8"
else
    echo "verdicts differ:"; cat "$work/compare.md"; exit 1
fi
