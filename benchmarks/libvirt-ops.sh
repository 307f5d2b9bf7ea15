#!/usr/bin/env bash
# The harness's time per libvirt call, next to the raw C API and to virsh (one process per call).
#
# Usage: benchmarks/libvirt-ops.sh [CASES] [REPEATS] [VIRSH_RUNS]   (defaults: 1000 cases, 9 repeats, 15 runs)
#
# 1. Builds xentest-bench (release) into .build-release (git-ignored).
# 2. Generates a CASES-case plan with benchmarks/generate_plan.py into a temporary folder.
# 3. Times virsh against a private test host, one process per call. Every `virsh -c test:///FILE` process starts
#    from a fresh host (the test driver keeps its state inside the process), so a scripted define in one process
#    is gone in the next: we time single calls on the host file's predefined running domain `resident`, which
#    every fresh process has, each VIRSH_RUNS times. Their mean is the per-call cost a virsh-scripted harness pays.
# 4. Runs xentest-bench on testplans/rc6.yaml and the generated plan; it prints the table (see benchmarks/README.md).
set -euo pipefail

CASES=${1:-1000}
REPEATS=${2:-9}
VIRSH_RUNS=${3:-15}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

missing=()
command -v swift >/dev/null || missing+=("swift (a Swift toolchain)")
command -v python3 >/dev/null || missing+=("python3")
((BASH_VERSINFO[0] >= 5)) || missing+=("bash 5 or later")
if ((${#missing[@]})); then
    echo "libvirt-ops.sh: missing: ${missing[*]}" >&2
    exit 2
fi
if ! command -v virsh >/dev/null; then
    echo "== virsh is missing: installing it with apt-get install -y libvirt-clients"
    if ! { apt-get install -y libvirt-clients >/dev/null 2>&1 \
        || { apt-get update >/dev/null 2>&1 && apt-get install -y libvirt-clients >/dev/null 2>&1; }; }; then
        echo "libvirt-ops.sh: could not install libvirt-clients (run as root, or install virsh yourself)" >&2
        exit 2
    fi
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/xentest-libvirt-ops.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

echo "== build: swift build -c release --scratch-path .build-release --product xentest-bench"
if ! swift build -c release --scratch-path .build-release --product xentest-bench >"$WORK/build.log" 2>&1; then
    tail -n 20 "$WORK/build.log" >&2
    echo "libvirt-ops.sh: the release build failed" >&2
    exit 2
fi
tail -n 1 "$WORK/build.log"
BIN="$ROOT/.build-release/release/xentest-bench"

HOST_XML="$WORK/testhost.xml"
"$BIN" host-xml >"$HOST_XML"
URI="test://$HOST_XML"
PLAN=$(python3 "$ROOT/benchmarks/generate_plan.py" "$CASES" "$WORK")
echo "== plans: testplans/rc6.yaml and a generated $CASES-case plan ($(basename "$PLAN")); host: $URI"

# A domain like the ones the harness defines, for `virsh define`.
cat >"$WORK/guest.xml" <<'EOF'
<domain type='test'>
  <name>xentest-virsh</name>
  <memory unit='MiB'>256</memory>
  <vcpu placement='static' current='1'>4</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
</domain>
EOF

# Each is one call a harness step makes, done on a fresh host by one virsh process.
VIRSH_CALLS=(
    "define $WORK/guest.xml"
    "dominfo resident"
    "domstate resident"
    "vcpucount resident --live"
    "setvcpus resident 1 --live"
    "suspend resident"
    "destroy resident"
    "undefine resident"
)

echo "== virsh: $(virsh --version), one process per call, ${#VIRSH_CALLS[@]} kinds of call x $VIRSH_RUNS runs"
total_ms=0
count=0
for call in "${VIRSH_CALLS[@]}"; do
    # shellcheck disable=SC2086 # the call is words on purpose
    if ! virsh -q -c "$URI" $call >/dev/null 2>"$WORK/virsh.err"; then
        echo "libvirt-ops.sh: 'virsh -c $URI $call' failed: $(head -n 1 "$WORK/virsh.err")" >&2
        exit 1
    fi
    start=$EPOCHREALTIME
    for ((i = 0; i < VIRSH_RUNS; i++)); do
        # shellcheck disable=SC2086
        virsh -q -c "$URI" $call >/dev/null
    done
    end=$EPOCHREALTIME
    ms=$(awk -v s="${start/,/.}" -v e="${end/,/.}" -v n="$VIRSH_RUNS" 'BEGIN { printf "%.2f", (e - s) * 1000 / n }')
    printf '   %-34s %7s ms per call\n' "virsh ${call//$WORK\//}" "$ms"
    total_ms=$(awk -v t="$total_ms" -v m="$ms" 'BEGIN { print t + m }')
    count=$((count + 1))
done
VIRSH_MS=$(awk -v t="$total_ms" -v n="$count" 'BEGIN { printf "%.3f", t / n }')
echo "   mean: $VIRSH_MS ms per call: the cost a harness that scripts virsh (one process per call) pays per call"

echo "== xentest-bench: $REPEATS timed runs per plan and event sink, each plan and sink in a process of its own"
"$BIN" --host-xml "$HOST_XML" --repeats "$REPEATS" --virsh-ms "$VIRSH_MS" testplans/rc6.yaml "$PLAN"
