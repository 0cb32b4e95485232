#!/usr/bin/env bash
# Benchmark of the VM nodes (not a timed test): for each Service proxy that needs a kernel
# of its own (kube-proxy ipvs, kube-router), a 1-node bundled cluster on a VM node: the time
# from `up` to the Ready node (warm caches), the guest's memory and the QEMU process's RSS
# when idle, and the whole default profile's time (and result) through `svc-conformance run`.
# Also the cold builds' recorded times (root filesystem, kube-router).
# Usage: scripts/bench-vm.sh [ipvs] [kube-router]   (both by default). Needs root; leaves no cluster up.
# Writes reports/bench-vm.json.
set -uo pipefail
cd "$(dirname "$0")/.." || exit
NODE=node_modules/.bin/node
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }
cols=("$@"); [ ${#cols[@]} -gt 0 ] || cols=(ipvs kube-router)
mkdir -p reports
out=()
for col in "${cols[@]}"; do
  case "$col" in
    ipvs) envs=(SVC_PROXY_MODE=ipvs) ;;
    kube-router) envs=(SVC_SERVICE_PROXY=kube-router) ;;
    *) echo "bench-vm: unknown column '$col' (ipvs, kube-router)" >&2; exit 2 ;;
  esac
  bash cluster/cluster.sh down >/dev/null 2>&1
  env "${envs[@]}" bash cluster/cluster.sh build --vm >/dev/null 2>&1   # caches warm (not measured)
  t=$(now); env "${envs[@]}" bash cluster/cluster.sh up > "reports/bench-vm-$col-up.log" 2>&1 || { echo "bench-vm: $col did not come up (reports/bench-vm-$col-up.log)" >&2; exit 1; }
  up_s=$(since "$t")
  sleep 30   # idle
  guest_mib=$(bash cluster/cluster.sh exec 1 free -m | awk '/^Mem:/ {print $3}')
  qemu_mib=$(( $(awk '/^VmRSS/ {print $2}' "/proc/$(cat /var/lib/svc-conformance/cluster/pids/vm-1.pid)/status") / 1024 ))
  t=$(now); env "${envs[@]}" "$NODE" --no-warnings helpers/cli/cli.ts run --local --quiet --report-dir "reports/bench-vm-$col" > "reports/bench-vm-$col-run.log" 2>&1; rc=$?
  run_s=$(since "$t")
  summary=$(tail -1 "reports/bench-vm-$col-run.log")
  out+=("\"$col\": {\"upToReadySeconds\": $up_s, \"guestUsedMiB\": $guest_mib, \"qemuRssMiB\": $qemu_mib, \"defaultProfileSeconds\": $run_s, \"exit\": $rc, \"summary\": \"$summary\"}")
done
bash cluster/cluster.sh down >/dev/null 2>&1
builds=$(for d in /var/cache/svc-conformance/bin/kube-router-*/; do [ -f "$d/.seconds" ] && printf '"%s": %s,' "$(basename "$d")" "$(cat "$d/.seconds")"; done)
printf '{%s, "coldBuildSeconds": {%s}}\n' "$(IFS=,; echo "${out[*]}")" "${builds%,}" > reports/bench-vm.json
cat reports/bench-vm.json
