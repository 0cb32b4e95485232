// Known differences: where a real Service proxy implementation differs from the documented
// behaviour a check holds it to, as the suite found it on the bundled cluster or on kind. The check keeps
// its level and its verdict there; this list explains the verdict, with the evidence and,
// where it exists, the implementation's own upstream issue. The README's "Known differences"
// (a compact table) and docs/known-differences.md (in full) are generated from it
// (helpers/tools/docs-gen.ts --write), and a unit test holds every id to the registry.

export interface KnownDifference {
  /** The implementation, as its matrix column runs it. */
  implementation: string;
  /** The component a run detects (helpers/results/conformance.ts componentsOf): kube-proxy-<mode>,
   *  kube-router, cilium, coredns, node-local-dns. A run matches the entry by it and its version. */
  component: string;
  /** The versions it was seen in: '*', an exact version, or bounds ('>=v1.20.0 <v1.21.0'). */
  versions: string;
  /** One line: what differs. */
  reason: string;
  /** Where the entry was read, for entries from a --known-differences file. */
  source?: string;
  /** The matrix column (examples/matrix/example.yaml) where it shows. */
  column: string;
  /** The checks whose verdict it explains. */
  checks: string[];
  /** The verdict there: fail (required level) or warning (expected level). */
  verdict: 'fail' | 'warning';
  /** What the documentation says, and what the implementation does instead. */
  difference: string;
  /** What the suite observed (the failure's question and answers, in short). */
  evidence: string;
  /** The implementation's own issue or pull request about it, where one exists. */
  upstream?: { title: string; url: string };
  /** Where the implementation's source shows it (file:line in its module, at the version run). */
  code?: string;
}

export const KNOWN_DIFFERENCES: KnownDifference[] = [
  {
    component: 'kube-proxy-ipvs',
    versions: 'v1.37.2',
    reason: "ClientIP affinity outlasts timeoutSeconds by IPVS's 120 s TIME_WAIT",
    implementation: 'kube-proxy v1.37.2, ipvs mode (Debian 6.1 kernel)',
    column: 'ipvs',
    checks: ['proxy.affinity.timeout'],
    verdict: 'fail',
    difference:
      'sessionAffinityConfig.clientIP.timeoutSeconds is not honoured: IPVS keeps the persistence template while any ' +
      "connection entry of the client's remains, and a closed TCP connection stays in IPVS's TIME_WAIT state for 120 s, " +
      'so affinity outlasts a short timeout by about two minutes',
    evidence:
      'timeoutSeconds 3: after 10 back-to-back connections on one backend, 10 more connections each after 4.5 s idle ' +
      'all reached that same backend ("released": false), where iptables and nftables mode spread them (2026-12-05, 1 VM node); ' +
      'again with timeoutSeconds 2 and 3 s idle, 10 of 10 on the held backend (the default profile, same day)',
    upstream: {
      title: "kubernetes/kubernetes#89358: kube-proxy ipvs session affinity is always sticky and doesn't honor the timeout",
      url: 'https://github.com/kubernetes/kubernetes/issues/89358',
    },
    code: 'Linux net/netfilter/ipvs/ip_vs_proto_tcp.c: tcp_timeouts[IP_VS_TCP_S_TIME_WAIT] = 2*60*HZ',
  },
  {
    implementation: 'kube-router v2.1.0, service proxy only (Debian 6.1 kernel)',
    component: 'kube-router',
    versions: 'v2.1.0',
    reason: "ClientIP affinity outlasts timeoutSeconds by IPVS's 120 s TIME_WAIT",
    column: 'kube-router',
    checks: ['proxy.affinity.timeout'],
    verdict: 'fail',
    difference:
      "sessionAffinityConfig.clientIP.timeoutSeconds is not honoured: kube-router sets it as the IPVS virtual server's " +
      'persistence timeout, and the kernel keeps the persistence template while TIME_WAIT entries (120 s) of the ' +
      "client's closed connections remain, as with kube-proxy's ipvs mode",
    evidence:
      'timeoutSeconds 3: 10 connections each after 4.5 s idle all reached the backend of the first 10 ' +
      '("released": false) (2026-12-05, 1 VM node, matrix examples/matrix/ci-vm.yaml)',
    upstream: {
      title: 'the same IPVS mechanism as kubernetes/kubernetes#89358 (no kube-router issue found; PR #882 made it use timeoutSeconds)',
      url: 'https://github.com/kubernetes/kubernetes/issues/89358',
    },
    code: 'pkg/controllers/proxy/network_services_controller.go:978-985 (persistence from timeoutSeconds)',
  },
  {
    implementation: 'kube-router v2.1.0, service proxy only (Debian 6.1 kernel)',
    component: 'kube-router',
    versions: 'v2.1.0',
    reason: 'no hairpin SNAT by default: a Pod cannot reach itself through its Service',
    column: 'kube-router',
    checks: ['proxy.clusterip.hairpin', 'proxy.nodeport.hairpin'],
    verdict: 'fail',
    difference:
      "a Pod cannot reach itself through its own Service's ClusterIP: kube-router adds the SNAT that hairpin traffic " +
      'needs only with --hairpin-mode or the kube-router.io/service.hairpin annotation (off by default, as its user guide says); ' +
      'without it the Pod answers itself from its own address, not the ClusterIP, and the connection never completes',
    evidence:
      "5 connections from a backend Pod to its own Service's ClusterIP:80: all ETIMEDOUT after 3000 ms, where kube-proxy " +
      '(iptables, nftables, ipvs) reaches the Pod itself (2026-12-05, 1 VM node, matrix examples/matrix/ci-vm.yaml). ' +
      'The same for its node port on its own node (proxy.nodeport.hairpin, expected level: a warning)',
    upstream: {
      title: 'cloudnativelabs/kube-router#1235: pods cannot access its own cluster-ip',
      url: 'https://github.com/cloudnativelabs/kube-router/issues/1235',
    },
    code: 'docs/user-guide.md:279-283; pkg/controllers/proxy/network_services_controller.go:1252-1430 (hairpin rules)',
  },
  {
    implementation: 'kube-router v2.1.0, service proxy only (Debian 6.1 kernel)',
    component: 'kube-router',
    versions: 'v2.1.0',
    reason: 'serving-terminating endpoints get new connections while ready ones exist',
    column: 'kube-router',
    checks: ['proxy.terminating.not-used-with-ready'],
    verdict: 'fail',
    difference:
      'serving but terminating endpoints get new connections alongside the ready ones: kube-router uses an endpoint ' +
      'that is ready or serving, where the documented behaviour (KEP-1669, kube-proxy) uses serving-terminating ' +
      'endpoints only once no ready endpoint is left',
    evidence:
      'drain-0 terminating (serving), drain-1 ready: 10 connections through the ClusterIP split 5 and 5 between them ' +
      'for the whole 120 s bound (2026-12-05, 1 VM node, whole privileged profile)',
    upstream: {
      title: 'cloudnativelabs/kube-router#1612: the health check node port, with endpoints that are ready or serving',
      url: 'https://github.com/cloudnativelabs/kube-router/pull/1612',
    },
    code: 'pkg/controllers/proxy/network_services_controller.go:1093-1101',
  },
  {
    implementation: 'kube-router v2.1.0, service proxy only (Debian 6.1 kernel)',
    component: 'kube-router',
    versions: 'v2.1.0',
    reason: "an external IP that is a node's own address is not served",
    column: 'kube-router',
    checks: ['proxy.external-ips.reach', 'proxy.external-ips.local-from-pods'],
    verdict: 'warning',
    difference:
      "a Service whose spec.externalIPs holds a node's own address is not served there: kube-router puts the address " +
      'on kube-dummy-if, fails to replace its local route ("RTNETLINK answers: File exists", as the node\'s interface ' +
      'already has it) and gives up on the external IP, so no IPVS virtual server is made for it',
    evidence:
      "external IP 172.30.0.11 (node-1's InternalIP), ports 19091 and 19092: every connection ECONNREFUSED for the whole " +
      '120 s bound; ipvsadm shows only the ClusterIP virtual servers, and kube-router logs "Error setting up IPVS services ' +
      'for service external IP\'s ... failed to assign external ip 172.30.0.11 to dummy interface" (2026-12-05, 1 VM node)',
    upstream: {
      title: 'related: cloudnativelabs/kube-router#827, the same route error for an endpoint that is a local address',
      url: 'https://github.com/cloudnativelabs/kube-router/issues/827',
    },
    code: 'pkg/controllers/proxy/linux_networking.go:175; service_endpoints_sync.go:60',
  },
  {
    implementation: 'Cilium v1.20.2, kube-proxy replacement (kind, Linux 6.18)',
    component: 'cilium',
    versions: 'v1.20.2',
    reason: 'a Service without endpoints fails connect() with EHOSTUNREACH, not ECONNREFUSED',
    column: 'cilium',
    checks: ['proxy.clusterip.reject-no-endpoints'],
    verdict: 'warning',
    difference:
      'a connection to a ClusterIP Service without endpoints fails at once with EHOSTUNREACH (no route to host), not ' +
      "ECONNREFUSED: Cilium's socket load balancer refuses the connect() itself for a service with no backend, where " +
      'kube-proxy\'s reject rule answers with ICMP port unreachable (upstream e2e "should be rejected when no endpoints exist" expects refused)',
    evidence:
      'web-api scaled to 0, its EndpointSlices empty: every connection from probe-0 to 10.96.3.24:80 failed with ' +
      'EHOSTUNREACH in 0 ms, for the whole 150 s watched (2026-12-06, 3-node kind, default and privileged profiles)',
    upstream: {
      title: 'cilium/cilium#10002: Failures in [sig-network] Services should be rejected when no endpoints exist',
      url: 'https://github.com/cilium/cilium/issues/10002',
    },
    code: 'bpf/bpf_sock.c:337-342 (svc->count == 0: return -EHOSTUNREACH)',
  },
  {
    implementation: 'Cilium v1.20.2, kube-proxy replacement (kind, Linux 6.18)',
    component: 'cilium',
    versions: 'v1.20.2',
    reason: 'Pods cannot reach an externalTrafficPolicy: Local Service at its external IP (refused)',
    column: 'cilium',
    checks: ['proxy.external-ips.local-from-pods'],
    verdict: 'warning',
    difference:
      'Pods cannot reach a Service at its external IP when its externalTrafficPolicy is Local (and its internalTrafficPolicy ' +
      "Cluster): the connection goes to the node's own address unbalanced and is refused, where kube-proxy serves Pod traffic " +
      "to a Local Service's external IP from any endpoint; with externalTrafficPolicy Cluster the same external IP is served",
    evidence:
      "external IP 10.200.7.3 (the InternalIP of the backend's node), port 19092 (externalTrafficPolicy Local): all 697 " +
      "observations from probe-0, on the backend's own node, were ECONNREFUSED for 150 s; port 19091 (Cluster) on the same " +
      'address passed from every node (2026-12-06, 3-node kind, privileged profile)',
    upstream: {
      title:
        'cilium/cilium#45252: LoadBalancer Services with externalTrafficPolicy=Local fail when internal workloads access the external address (open; also #42245)',
      url: 'https://github.com/cilium/cilium/issues/45252',
    },
  },
];
