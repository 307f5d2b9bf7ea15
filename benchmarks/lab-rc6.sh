#!/usr/bin/env bash
# rc6 on the lab (real Xen 4.17 in QEMU), serially and with --jobs N, in one invocation, each run in a lab booted
# afresh; then where each run's time went (xentest-bench breakdown) and how their verdicts compare.
#
#   bash benchmarks/lab-rc6.sh [JOBS] [BACKEND]      defaults: 2 xl; about 40 minutes on 2 cores
#
# Also measures SSH's cost per command on the lab: a connection a command, an ssh a command on a shared connection,
# and a line in a shell kept open on it, as runs send them (xentest-bench transport); the last gives the breakdown's
# transport estimate. Results stay in a temporary folder the script prints.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
jobs=${1:-2}
backend=${2:-xl}
swift build --product xentest >/dev/null
swift build --product xentest-bench >/dev/null
xentest=.build/debug/xentest
out=$(mktemp -d /tmp/xentest-lab-rc6-XXXXXX)
lab=${XDG_CACHE_HOME:-$HOME/.cache}/xentest/lab
$xentest lab down >/dev/null 2>&1 || true

$xentest lab up >&2
port=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["sshPort"])' "$lab/run/state.json")
.build/debug/xentest-bench transport "ssh://root@127.0.0.1:$port" --identity "$lab/ssh/id_ed25519" \
    --known-hosts "$lab/ssh/known_hosts" --rounds 20 | tee "$out/transport.md"
shared_ms=$(sed -n 's/^| one shared connection, one shell | [0-9]* ms | \([0-9]*\) ms .*/\1/p' "$out/transport.md")

for j in 1 "$jobs"; do
    $xentest lab down >&2
    $xentest lab up >&2
    $xentest lab run rc6 --backend "$backend" --jobs "$j" --results "$out/jobs-$j" >&2 || true
done
$xentest lab down >&2
echo
echo "rc6 on the lab through $backend, --jobs 1 and --jobs $jobs (results in $out):"
.build/debug/xentest-bench breakdown --per-command-ms "${shared_ms:-0}" "$out"/jobs-1/rc6-* "$out"/jobs-"$jobs"/rc6-*
