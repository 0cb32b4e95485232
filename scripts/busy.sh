#!/usr/bin/env bash
# The default profile on a busy machine: stress-ng (Debian) keeps every core busy while
# scripts/flake-record.sh runs the default profile N times with the default bounds. A
# run must pass, or fail only where a measured convergence really exceeded its bound
# (the table's "slow: bound overrun" rows, each with its measured time).
# The load is bounded: stress-ng stops by itself after the runs' worst case, and is
# stopped as soon as the runs end. Usage: scripts/busy.sh [N=3] [out-dir=reports/busy]
set -uo pipefail
cd "$(dirname "$0")/.." || exit
runs=${1:-3}
out=${2:-reports/busy}
if ! command -v stress-ng >/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "busy: stress-ng is missing (apt-get install stress-ng)" >&2; exit 2; }
  # shellcheck disable=SC2015 # either step failing means no stress-ng
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq stress-ng >/dev/null || { echo "busy: cannot install stress-ng" >&2; exit 2; }
fi
if [ -z "${KUBECONFIG:-}${SVC_KUBECONFIG:-}" ]; then
  bash cluster/cluster.sh up >/dev/null || { echo "busy: the bundled cluster did not come up" >&2; exit 3; }
fi
cores=$(nproc)
# One CPU hog per core at full load, plus a memory/VM worker; at most 20 min per run.
stress-ng --cpu "$cores" --cpu-load 100 --vm 1 --vm-bytes 512M --timeout $((runs * 1200))s --quiet &
stress=$!
trap 'kill $stress 2>/dev/null; wait $stress 2>/dev/null' EXIT
sleep 2
echo "busy: stress-ng ($cores CPU workers at 100%, 1 VM worker) running as pid $stress; load: $(cut -d' ' -f1-3 /proc/loadavg)"
FLAKE_LABEL="under load" bash scripts/flake-record.sh "$runs" "$out"
rc=$?
echo "busy: load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $rc
