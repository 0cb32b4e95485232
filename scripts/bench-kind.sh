#!/usr/bin/env bash
# Benchmark (not a timed test) of the kind target, in one run on this machine:
#   1. node image build, cold: without the cached Debian root filesystem and image (--cold),
#      else from the cached root filesystem (the build itself);
#   2. warm start of a 3-node kind cluster (testcontainers), its phases, and teardown;
#   3. idle memory of the 3 node containers (docker stats, 5 samples 2 s apart, median);
#   4. the default profile's run time on kind against the bundled cluster (3 nodes each).
# Usage: scripts/bench-kind.sh [--cold] [OUT_DIR]. Needs root and Docker; leaves nothing up.
set -uo pipefail
cd "$(dirname "$0")/.." || exit
source cluster/lib.sh
cold=0; [ "${1:-}" = --cold ] && { cold=1; shift; }
out=${1:-reports/bench-kind}
NODE=node_modules/.bin/node
now() { date +%s.%N; }
since() { printf '%.1f' "$(echo "$(now) - $1" | bc)"; }
mkdir -p "$out"
image=$(bash cluster/kind/node-image.sh --print-name 2>/dev/null | tail -n 1)
if [ $cold = 1 ]; then
  docker rmi "$image" >/dev/null 2>&1 || true
  mkdir -p "$out/rootfs-aside"; mv "$CACHE_DIR"/kind/rootfs-*.tar "$out/rootfs-aside/" 2>/dev/null || true
else
  docker rmi "$image" >/dev/null 2>&1 || true
fi
t=$(now); image=$(bash cluster/kind/node-image.sh 2>"$out/build.log" | tail -n 1); build_s=$(since "$t")
rm -rf "$out/rootfs-aside"

# 2 + 3: a cluster whose command samples the node containers' memory, then exits.
cat > "$out/sample.sh" <<'S'
#!/usr/bin/env bash
for i in 1 2 3 4 5; do
  docker stats --no-stream --format '{{.Name}} {{.MemUsage}}' $(docker ps -q --filter "label=io.svc-conformance.kind=$SVC_KIND_CLUSTER") | awk '
    { v=$2; u=v; gsub(/[0-9.]/, "", u); gsub(/[^0-9.]/, "", v); m = (u=="GiB") ? v*1024 : (u=="KiB") ? v/1024 : v; s += m }
    END { printf "%.0f\n", s }'
  sleep 2
done
S
t=$(now)
"$NODE" --no-warnings helpers/targets/kind/cli.ts exec --image "$image" --nodes 3 --timings "$out/timings.json" -- bash "$out/sample.sh" > "$out/memory.txt" 2>"$out/kind.log"
cycle_s=$(since "$t")
mem=$(sort -n "$out/memory.txt" | sed -n 3p)

# 4: the default profile, kind then bundled (npm test's unit tests included in both, ~5 s).
t=$(now); SVC_TARGET=kind SVC_REPORT_DIR="$out/run-kind" SVC_EVIDENCE_DIR="$out/run-kind/evidence" SVC_KIND_IMAGE="$image" \
  bash scripts/test.sh > "$out/run-kind.log" 2>&1; kind_rc=$?; kind_run_s=$(since "$t")
bash cluster/cluster.sh down >/dev/null 2>&1
t=$(now); bash cluster/cluster.sh up > "$out/bundled-up.log" 2>&1; bundled_up_s=$(since "$t")
t=$(now); SVC_RUNNER_TESTS=0 SVC_REPORT_DIR="$out/run-bundled" SVC_EVIDENCE_DIR="$out/run-bundled/evidence" \
  bash scripts/test.sh > "$out/run-bundled.log" 2>&1; bundled_rc=$?; bundled_run_s=$(since "$t")
bash cluster/cluster.sh down >/dev/null 2>&1
left=$(docker ps -aq --filter label=io.svc-conformance.kind | wc -l)

{
  echo "kind target benchmark ($(date -u +%F), $(nproc) cores), node image $image"
  echo
  echo "| Measure | Value |"
  echo "|---|---|"
  echo "| Node image build ($([ $cold = 1 ] && echo 'cold: debootstrap included' || echo 'from the cached Debian root filesystem')) | ${build_s} s |"
  echo "| kind start, warm (3 nodes, Ready, CoreDNS answering from every node) | $(jq -r .total "$out/timings.json") s (containers $(jq -r .containers "$out/timings.json") s, kubeadm init $(jq -r .kubeadmInit "$out/timings.json") s, joins $(jq -r .kubeadmJoin "$out/timings.json") s, add-ons ready $(jq -r .ready "$out/timings.json") s) |"
  echo "| A whole cycle from the CLI (start, a command sampling memory for about 10 s, teardown) | ${cycle_s} s |"
  echo "| Teardown (containers, volumes, network) | $(jq -r .teardown "$out/timings.json") s; left: $(jq -r '.left | length' "$out/timings.json") |"
  echo "| Idle memory of the 3 node containers (docker stats, median of 5) | ${mem} MiB |"
  echo "| Default profile on kind (start, run, teardown; unit tests included) | ${kind_run_s} s, exit $kind_rc: $(grep -o 'svc-conformance: .*' "$out/run-kind.log" | tail -n 1) |"
  echo "| Default profile on the bundled cluster (run, unit tests included; up took ${bundled_up_s} s) | ${bundled_run_s} s, exit $bundled_rc: $(grep -o 'svc-conformance: .*' "$out/run-bundled.log" | tail -n 1) |"
  echo "| Containers of ours left after everything | $left |"
} | tee "$out/bench.md"
