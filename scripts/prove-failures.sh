#!/usr/bin/env bash
# Shows that the suites can fail: brings the bundled cluster up broken in one way at a
# time, runs the suites that cover the broken rule, and requires each of them to fail
# (a failing expected-level check is a warning, not a failure: a suite whose only
# failures are warnings did not fail). Prints, per case, which tests failed and which
# warned. The `extra-names` case is the other way round: a cluster that serves more than
# the specification asks must pass the whole default profile with warnings (exit 0) and
# fail it with --strict. A suite given as warn:<suite>:<id> is one where the fault only
# breaks an expected-level check: it must pass with that check warning (the level is
# documented in its suite file, suites/<suite>.test.ts); several ids are separated by commas. Exit 0 only when every case behaved as it must.
# The cluster is left down afterwards. Needs root. The whole set takes most of an hour
# (docs/contributing.md, "Proving a check fails"): run it before a release.
# PROVE_CASES="name ..." runs only those cases.
# --ci runs the fast subset CI runs (SVC_ALSO_PROVE=1, .ci/run): one case per kind of fault
# (DNS, DNS cache, Service proxy, proxy rules), each with the one suite that shows it
# (CI_SUBSET below), in about 5.5 minutes.
set -uo pipefail
cd "$(dirname "$0")/.." || exit
NODE=node_modules/.bin/node
ci=0
# --in-kind NAME: one kind case, inside the kind cluster that its outer run started (below).
in_kind=""
while [ $# -gt 0 ]; do
  case "$1" in
    --ci) ci=1 ;;
    --in-kind) in_kind=${2:-}; shift ;;
    *) echo "usage: scripts/prove-failures.sh [--ci]   (PROVE_CASES=\"name ...\" selects cases)" >&2; exit 2 ;;
  esac
  shift
done
REPORTS=${SVC_REPORT_DIR:-reports}/prove-failures$([ $ci = 0 ] || echo -ci)
# The proxy bound: the run's default (120 s, for kube-proxy's minSyncPeriod on any cluster);
# with --ci 20 s, since a case's failing proxy checks each wait for the whole bound, and the
# bundled cluster's kube-proxy follows a change in 1-3 s (the main run measures it).
proxy_bound=120000; [ $ci = 0 ] || proxy_bound=20000
mkdir -p "$REPORTS"
ex=cluster/examples

# name | environment for `cluster up` (VAR=value, space-separated) | suites that must fail | command run after up
K="bash cluster/cluster.sh kubectl"
NO_PROXY_ON_NODE2='{"spec":{"template":{"spec":{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"kubernetes.io/hostname","operator":"NotIn","values":["node-2"]}]}]}}}}}}}'
CASES=(
  "wrong-answers|SVC_COREFILE=$ex/Corefile.wrong-answers|suites/clusterip suites/statefulset suites/external-endpoints suites/service-pair suites/dns-negative suites/dns-resolver suites/dns-records"
  "wrong-records|SVC_COREFILE=$ex/Corefile.wrong-records|suites/dns-records suites/dns-negative suites/dns-not-ready suites/dns-externalname suites/dns-large suites/external-endpoints warn:suites/statefulset:dns.statefulset.no-names-without-service warn:suites/clusterip:dns.clusterip.aaaa"
  "cache30|SVC_COREFILE=$ex/Corefile.cache30|suites/headless suites/statefulset suites/dns-externalname suites/dns-not-ready"
  "no-reverse-small-bufsize|SVC_COREFILE=$ex/Corefile.no-reverse-small-bufsize|suites/dns-records warn:suites/dns-large:dns.large.edns0"
  "no-mirroring|SVC_CONTROLLERS=*,-endpointslice-mirroring-controller|suites/external-endpoints"
  "endpointslice-controller-without-rbac|SVC_NODES=3|suites/endpointslices suites/headless suites/service-pair|$K delete clusterrolebinding system:controller:endpointslice-controller"
  "no-kube-proxy|SVC_PROXY_MODE=none|suites/clusterip suites/smoke suites/proxy-behaviour"
  "kube-proxy-stopped-on-node-2|SVC_PROXY_MODE=iptables|suites/proxy-rules|$K -n kube-system patch ds kube-proxy -p '$NO_PROXY_ON_NODE2' && $K -n kube-system rollout status ds kube-proxy --timeout=60s"
  "kube-proxy-stopped-on-node-2-nftables|SVC_PROXY_MODE=nftables|suites/proxy-rules|$K -n kube-system patch ds kube-proxy -p '$NO_PROXY_ON_NODE2' && $K -n kube-system rollout status ds kube-proxy --timeout=60s"
  "extra-names|SVC_COREFILE=$ex/Corefile.extra-names|WARN dns.statefulset.no-names-without-service dns.pair.names-under-service-name"
  # Faults in the replicas still fail with a cache in front of them: replicas that cache
  # cluster answers (cache30), and one replica among the others that answers wrongly.
  "cache30-behind-node-local|SVC_COREFILE=$ex/Corefile.cache30 SVC_NODE_LOCAL_DNS=service-ip|suites/headless suites/dns-externalname"
  "rogue-replica|SVC_NODES=3|suites/clusterip|bash $ex/rogue-replica.sh"
  "rogue-replica-behind-node-local|SVC_NODE_LOCAL_DNS=link-local|suites/clusterip|bash $ex/rogue-replica.sh"
  # kube-proxy serving node ports on loopback only (nodePortAddresses): not on the nodes' addresses.
  "nodeport-loopback-only|SVC_CLUSTER_CONFIG=$ex/nodeport-loopback-only.json|suites/proxy-nodeport"
  # NodeLocal DNSCache whose cache keeps answers for 90 s, past the replicas' TTL of 30 s.
  "nodelocal-beyond-ttl|SVC_NODE_LOCAL_DNS=service-ip SVC_NODE_LOCAL_DNS_COREFILE=$ex/Corefile.nodelocal-beyond-ttl|suites/dns-cache suites/headless"
  # The same fault in dnsmasq and in Unbound as the node cache (nodeLocalDNSServer): each keeps
  # answers for at least 90 s (min-cache-ttl, cache-min-ttl).
  "dnsmasq-beyond-ttl|SVC_CLUSTER_CONFIG=$ex/dnsmasq-beyond-ttl.json|suites/dns-cache suites/headless"
  "unbound-beyond-ttl|SVC_CLUSTER_CONFIG=$ex/unbound-beyond-ttl.json|suites/dns-cache suites/headless"
  # Service proxy faults. kube-proxy masquerading all Service traffic (masqueradeAll): the
  # backend no longer sees the client Pod's address. The bridge without hairpin mode: a Pod
  # cannot reach itself through its Service. The rest run kube-proxy built here with one
  # fault switched on (cluster/examples/faulty-kube-proxy/; @FAULTY@ is its path).
  "masquerade-all|SVC_CLUSTER_CONFIG=$ex/masquerade-all.json|warn:suites/proxy-source:proxy.clusterip.source-ip"
  "no-hairpin|SVC_CLUSTER_CONFIG=$ex/no-hairpin.json|suites/proxy-source"
  "proxy-local-everywhere|SVC_KUBE_PROXY_BINARY=@FAULTY@ SVC_CLUSTER_CONFIG=$ex/proxy-fault-local-everywhere.json|suites/proxy-traffic-policy"
  "proxy-terminating-with-ready|SVC_KUBE_PROXY_BINARY=@FAULTY@ SVC_CLUSTER_CONFIG=$ex/proxy-fault-terminating-with-ready.json|suites/proxy-terminating"
  "proxy-no-terminating-fallback|SVC_KUBE_PROXY_BINARY=@FAULTY@ SVC_CLUSTER_CONFIG=$ex/proxy-fault-no-terminating-fallback.json|warn:suites/proxy-terminating:proxy.terminating.fallback"
  "proxy-no-conntrack-cleanup|SVC_KUBE_PROXY_BINARY=@FAULTY@ SVC_CLUSTER_CONFIG=$ex/proxy-fault-no-conntrack-cleanup.json|suites/proxy-udp"
  "proxy-no-output-hook|SVC_KUBE_PROXY_BINARY=@FAULTY@ SVC_PROXY_MODE=iptables|suites/proxy-host-network|bash $ex/no-output-hook.sh"
  "proxy-affinity-no-timeout|SVC_KUBE_PROXY_BINARY=@FAULTY@ SVC_CLUSTER_CONFIG=$ex/proxy-fault-affinity-no-timeout.json|suites/proxy-affinity"
  "proxy-ignore-service-updates|SVC_KUBE_PROXY_BINARY=@FAULTY@ SVC_CLUSTER_CONFIG=$ex/proxy-fault-ignore-service-updates.json|suites/proxy-affinity suites/proxy-changes"
  "proxy-ignore-topology|SVC_KUBE_PROXY_BINARY=@FAULTY@ SVC_CLUSTER_CONFIG=$ex/proxy-fault-ignore-topology.json|warn:suites/proxy-traffic-policy:proxy.traffic-distribution.prefer-close,proxy.traffic-distribution.prefer-same-node"
  "proxy-ignore-recreated|SVC_KUBE_PROXY_BINARY=@FAULTY@ SVC_CLUSTER_CONFIG=$ex/proxy-fault-ignore-recreated.json|suites/proxy-changes"
  "proxy-first-port-only|SVC_KUBE_PROXY_BINARY=@FAULTY@ SVC_CLUSTER_CONFIG=$ex/proxy-fault-first-port-only.json|suites/proxy-changes suites/proxy-udp"
  # IP families. CoreDNS answering NXDOMAIN to every AAAA question under the cluster domain,
  # on a dual-stack cluster (IPv4 first): the IPv6 names are gone, and the AAAA of an
  # IPv4-only Service is NXDOMAIN where the name exists (NODATA is right). CoreDNS without
  # the ip6.arpa zone on an IPv6 cluster: no PTR for IPv6 addresses. kube-proxy whose IPv6
  # proxier ignores every Service outside kube-system and default, on a dual-stack cluster with IPv6
  # first: IPv6 ClusterIPs are not served.
  "dual-aaaa-nxdomain|SVC_IP_FAMILIES=IPv4,IPv6 SVC_COREFILE=$ex/Corefile.aaaa-nxdomain|suites/clusterip suites/headless suites/dns-records"
  "ipv6-no-ip6-arpa|SVC_IP_FAMILIES=IPv6 SVC_COREFILE=$ex/Corefile.no-ip6-arpa|suites/dns-records"
  "proxy-ignore-ipv6|SVC_IP_FAMILIES=IPv6,IPv4 SVC_KUBE_PROXY_BINARY=@FAULTY@ SVC_CLUSTER_CONFIG=$ex/proxy-fault-ignore-ipv6.json|suites/clusterip suites/dns-records"
  # The same kube-proxy with IPv4 first: the fixtures' Services are PreferDualStack, so the
  # proxy checks ask their second family's virtual IPs too, and fail there.
  "proxy-ignore-ipv6-second|SVC_IP_FAMILIES=IPv4,IPv6 SVC_KUBE_PROXY_BINARY=@FAULTY@ SVC_CLUSTER_CONFIG=$ex/proxy-fault-ignore-ipv6.json|suites/clusterip suites/proxy-udp"
  # kube-proxy in ipvs mode on a VM node (docs/bundled-cluster.md, "VM nodes"), whose virtual servers' addresses
  # are not bound to kube-ipvs0: the rules checks read IPVS and see it; the ClusterIP is not served.
  "ipvs-no-bind|SVC_KUBE_PROXY_BINARY=@FAULTY@ SVC_CLUSTER_CONFIG=$ex/proxy-fault-ipvs-no-bind.json|suites/proxy-rules suites/clusterip"
  # kube-proxy with external IPs turned off (its AllowServiceExternalIPs feature gate).
  "no-external-ips|SVC_CLUSTER_CONFIG=$ex/no-external-ips.json|warn:suites/proxy-external-ips:proxy.external-ips.reach,proxy.external-ips.local-from-pods"
  # Cilium's kube-proxy replacement on kind (KIND_PROXY=cilium: a kind cluster instead of the
  # bundled one) serving only another proxy's Services (k8s-service-proxy-name): the rules
  # checks read its service map and find no frontend; the Services are not served.
  "cilium-other-proxy-name|KIND_PROXY=cilium|suites/proxy-rules suites/clusterip|bash $ex/cilium-other-proxy-name.sh"
)
# The CI subset: case | the suite (of that case's) that CI runs.
CI_SUBSET=(
  "wrong-answers|suites/dns-resolver"
  "nodelocal-beyond-ttl|suites/dns-cache"
  "proxy-terminating-with-ready|suites/proxy-terminating"
  "kube-proxy-stopped-on-node-2-nftables|suites/proxy-rules"
)
export SVC_PRIVILEGED=1
ok=1
ran=0
for c in "${CASES[@]}"; do
  IFS='|' read -r name envs suites post <<<"$c"
  if [ -n "${PROVE_CASES:-}" ] && [[ " $PROVE_CASES " != *" $name "* ]]; then continue; fi
  if [ -n "$in_kind" ] && [ "$name" != "$in_kind" ]; then continue; fi
  if [ $ci = 1 ]; then
    sub=""
    for x in "${CI_SUBSET[@]}"; do [ "${x%%|*}" = "$name" ] && sub=${x#*|}; done
    [ -n "$sub" ] || continue
    [[ " $suites " == *" $sub "* ]] || { echo "=== $name: the CI subset's suite $sub is not among the case's ($suites)"; ok=0; continue; }
    suites=$sub
  fi
  ran=$((ran + 1))
  if [[ $envs == *@FAULTY@* ]]; then
    faulty=$(bash cluster/examples/faulty-kube-proxy/build.sh 2>"$REPORTS/faulty-kube-proxy-build.log") || { echo "=== $name: building the faulty kube-proxy failed: see $REPORTS/faulty-kube-proxy-build.log"; ok=0; continue; }
    envs=${envs//@FAULTY@/$faulty}
  fi
  if [[ $envs == KIND_PROXY=* ]] && [ -z "$in_kind" ]; then
    # A kind cluster with that Service proxy; the case runs inside it (--in-kind), which
    # prints its result; the cluster is removed whatever happens.
    echo "=== $name (a 3-node kind cluster, --proxy ${envs#KIND_PROXY=}): must fail: $suites"
    bash cluster/kind/docker.sh start >/dev/null 2>&1
    inner=(--in-kind "$name"); [ $ci = 0 ] || inner+=(--ci)
    "$NODE" --no-warnings helpers/targets/kind/cli.ts exec --proxy "${envs#KIND_PROXY=}" --nodes 3 -- \
      env PROVE_CASES="$name" bash scripts/prove-failures.sh "${inner[@]}" >"$REPORTS/$name-kind.log" 2>&1 || ok=0
    grep -v '^prove-failures: ' "$REPORTS/$name-kind.log" | grep -E '^(=== |  )' | grep -v '^=== ' || { echo "  the kind cluster did not start, or the case did not run: see $REPORTS/$name-kind.log"; ok=0; }
    continue
  fi
  echo "=== $name ($envs): must fail: $suites"
  if [ -z "$in_kind" ]; then
    bash cluster/cluster.sh down >/dev/null 2>&1
    read -ra envs_up <<<"$envs"
    if ! env "${envs_up[@]}" bash cluster/cluster.sh up > "$REPORTS/$name-up.log" 2>&1; then
      echo "  cluster up failed: see $REPORTS/$name-up.log"; ok=0; continue
    fi
  fi
  if [ -n "${post:-}" ]; then bash -c "$post" >> "$REPORTS/$name-up.log" 2>&1 || { echo "  post-up command failed: see $REPORTS/$name-up.log"; ok=0; continue; }; fi
  if [[ $suites == WARN* ]]; then
    # Must pass with exactly these warnings, and fail with --strict (the CLI, default profile).
    want=$(echo "${suites#WARN }" | tr ' ' '\n' | sort | tr '\n' ' ')
    env -u SVC_PRIVILEGED node bin/svc-conformance.cjs run --report-dir "$REPORTS/$name-run" >"$REPORTS/$name-run.log" 2>&1; rc=$?
    got=$("$NODE" -e 'const r=require(require("path").resolve(process.argv[1])); console.log(r.checks.filter((c)=>c.status==="warning").map((c)=>c.id).sort().join(" "))' "$REPORTS/$name-run/results.json" 2>/dev/null)
    env -u SVC_PRIVILEGED node bin/svc-conformance.cjs run --strict --report-dir "$REPORTS/$name-strict" >"$REPORTS/$name-strict.log" 2>&1; src=$?
    echo "  default profile: exit $rc, warnings: ${got:-none}; with --strict: exit $src"
    if [ $rc = 0 ] && [ "$got " = "$want" ] && [ $src = 1 ]; then echo "  as it must: passes with the expected warnings, fails with --strict"; else echo "  <-- NOT AS IT MUST (want exit 0 with warnings: $want; exit 1 with --strict)"; ok=0; fi
    continue
  fi
  for s in $suites; do
    want_warn=""
    if [[ $s == warn:* ]]; then want_warn=${s##*:}; s=${s#warn:}; s=${s%:*}; fi
    out="$REPORTS/$name-$(basename "$s").json"
    env NODE_OPTIONS=--experimental-vm-modules SVC_CONVERGENCE_BOUND_MS="${SVC_CONVERGENCE_BOUND_MS:-10000}" SVC_PROXY_BOUND_MS="${SVC_PROXY_BOUND_MS:-$proxy_bound}" SVC_EVIDENCE_DIR="$REPORTS/$name-$(basename "$s")-evidence" \
      "$NODE" node_modules/jest/bin/jest.js --selectProjects cluster --json --outputFile="$out" -- "$s" >"$REPORTS/$name-$(basename "$s").log" 2>&1
    # shellcheck disable=SC2016 # JavaScript, not shell
    "$NODE" -e '
      const fs = require("fs"), path = require("path");
      const r = require(path.resolve(process.argv[1]));
      const failed = r.testResults.flatMap((t) => t.assertionResults.filter((a) => a.status === "failed").map((a) => a.title));
      const vdir = path.join(process.argv[3], "verdicts");
      const warned = fs.existsSync(vdir) ? fs.readdirSync(vdir).flatMap((f) => fs.readFileSync(path.join(vdir, f), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l))).filter((v) => v.status === "warning").map((v) => v.id) : [];
      const passed = r.numPassedTests - warned.length;
      const wantWarn = process.argv[4];
      const as = wantWarn ? (wantWarn.split(",").every((w) => warned.includes(w)) && !failed.length) : (failed.length || r.numRuntimeErrorTestSuites);
      console.log(`  ${process.argv[2]}: ${failed.length} failed, ${warned.length} warned, ${passed} passed${as ? (wantWarn ? `  (must warn on ${wantWarn}: it does)` : "") : wantWarn ? `  <-- DID NOT WARN ON ${wantWarn}` : "  <-- DID NOT FAIL"}`);
      for (const f of failed) console.log(`    failed: ${f}`);
      for (const w of warned) console.log(`    warned (expected level): ${w}`);
      process.exit(as ? 0 : 1);
    ' "$out" "$s" "$REPORTS/$name-$(basename "$s")-evidence" "$want_warn" || ok=0
  done
done
[ -n "$in_kind" ] || bash cluster/cluster.sh down >/dev/null 2>&1
if [ $ran = 0 ]; then echo "prove-failures: no case selected (PROVE_CASES='${PROVE_CASES:-}')"; exit 1; fi
# shellcheck disable=SC2015 # exit 1 unless every case behaved
[ $ok = 1 ] && echo "prove-failures: every broken case failed its suites" || { echo "prove-failures: some case did not fail (see above)"; exit 1; }
