#!/usr/bin/env bash
# Shows that the suites can fail: brings the bundled cluster up broken in one way at a
# time, runs the suites that cover the broken rule, and requires each of them to fail.
# Prints, per case, which tests failed. Exit 0 only when every case failed as it must.
# The cluster is left down afterwards. Needs root; takes a few minutes.
# PROVE_CASES="name ..." runs only those cases.
set -uo pipefail
cd "$(dirname "$0")/.."
NODE=node_modules/.bin/node
REPORTS=${SVC_REPORT_DIR:-reports}/prove-failures
mkdir -p "$REPORTS"
ex=cluster/examples

# name | environment for `cluster up` | suites that must fail | command run after up
K="bash cluster/cluster.sh kubectl"
NO_PROXY_ON_NODE2='{"spec":{"template":{"spec":{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"kubernetes.io/hostname","operator":"NotIn","values":["node-2"]}]}]}}}}}}}'
CASES=(
  "wrong-answers|SVC_COREFILE=$ex/Corefile.wrong-answers|suites/clusterip suites/statefulset suites/external-endpoints suites/service-pair suites/dns-negative suites/dns-resolver suites/dns-records"
  "wrong-records|SVC_COREFILE=$ex/Corefile.wrong-records|suites/dns-records suites/dns-negative suites/dns-not-ready suites/dns-externalname suites/dns-large suites/external-endpoints suites/statefulset suites/clusterip"
  "cache30|SVC_COREFILE=$ex/Corefile.cache30|suites/headless suites/statefulset suites/dns-externalname suites/dns-not-ready"
  "no-reverse-small-bufsize|SVC_COREFILE=$ex/Corefile.no-reverse-small-bufsize|suites/dns-records suites/dns-large"
  "no-mirroring|SVC_CONTROLLERS=*,-endpointslice-mirroring-controller|suites/external-endpoints"
  "endpointslice-controller-without-rbac|SVC_NODES=3|suites/endpointslices suites/headless suites/service-pair|$K delete clusterrolebinding system:controller:endpointslice-controller"
  "no-kube-proxy|SVC_PROXY_MODE=none|suites/clusterip suites/smoke suites/proxy-behaviour"
  "kube-proxy-stopped-on-node-2|SVC_PROXY_MODE=iptables|suites/proxy-rules|$K -n kube-system patch ds kube-proxy -p '$NO_PROXY_ON_NODE2' && $K -n kube-system rollout status ds kube-proxy --timeout=60s"
  "kube-proxy-stopped-on-node-2-nftables|SVC_PROXY_MODE=nftables|suites/proxy-rules|$K -n kube-system patch ds kube-proxy -p '$NO_PROXY_ON_NODE2' && $K -n kube-system rollout status ds kube-proxy --timeout=60s"
)
export SVC_PRIVILEGED=1
ok=1
for c in "${CASES[@]}"; do
  IFS='|' read -r name envs suites post <<<"$c"
  if [ -n "${PROVE_CASES:-}" ] && [[ " $PROVE_CASES " != *" $name "* ]]; then continue; fi
  echo "=== $name ($envs): must fail: $suites"
  bash cluster/cluster.sh down >/dev/null 2>&1
  if ! env "$envs" bash cluster/cluster.sh up > "$REPORTS/$name-up.log" 2>&1; then
    echo "  cluster up failed: see $REPORTS/$name-up.log"; ok=0; continue
  fi
  if [ -n "${post:-}" ]; then bash -c "$post" >> "$REPORTS/$name-up.log" 2>&1 || { echo "  post-up command failed: see $REPORTS/$name-up.log"; ok=0; continue; }; fi
  for s in $suites; do
    out="$REPORTS/$name-$(basename "$s").json"
    env NODE_OPTIONS=--experimental-vm-modules SVC_CONVERGENCE_BOUND_MS=${SVC_CONVERGENCE_BOUND_MS:-10000} \
      "$NODE" node_modules/jest/bin/jest.js --selectProjects cluster --json --outputFile="$out" -- "$s" >"$REPORTS/$name-$(basename "$s").log" 2>&1
    "$NODE" -e '
      const r = require(require("path").resolve(process.argv[1]));
      const failed = r.testResults.flatMap((t) => t.assertionResults.filter((a) => a.status === "failed").map((a) => a.title));
      const passed = r.numPassedTests;
      console.log(`  ${process.argv[2]}: ${failed.length} failed, ${passed} passed${failed.length ? "" : "  <-- DID NOT FAIL"}`);
      for (const f of failed) console.log(`    failed: ${f}`);
      process.exit(failed.length || r.numRuntimeErrorTestSuites ? 0 : 1);
    ' "$out" "$s" || ok=0
  done
done
bash cluster/cluster.sh down >/dev/null 2>&1
[ $ok = 1 ] && echo "prove-failures: every broken case failed its suites" || { echo "prove-failures: some case did not fail (see above)"; exit 1; }
