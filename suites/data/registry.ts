// The check registry: every check the suites make, declared once, with a stable id, the
// claim in plain words, its source and its level. Imported by the suites (through
// helpers/harness/check.ts), by `svc-conformance list` and by the docs generator (helpers/tools/docs-gen.ts); nothing here
// runs anything. Ids are `<area>.<subject>.<claim>` and never change once published.
//
// Levels:
// - required: the Kubernetes DNS specification or the Kubernetes API guarantees it; a
//   failure fails the run.
// - expected: documented default behaviour that the specification leaves open; a failure
//   is a warning (`--strict` makes it fail). Each one says why in `why`.
// - informational: measured and reported, never failing.
import { DNS_ROWS } from './dns-table.ts';
import { type Level, type Requirement, type Source, src } from './sources.ts';

export type { Level, Requirement, Source };

export interface CheckDef {
  id: string;
  /** The suite file (suites/<suite>.test.ts) that runs it. */
  suite: string;
  claim: string;
  level: Level;
  source: Source;
  requires?: Requirement[];
  /** Expected level: why the specification leaves it open. */
  why?: string;
  /** Proxy checks: the upstream e2e spec (test/e2e/network) that covers the same behaviour,
   *  '[Conformance] ' first when it is a conformance test; null when only this suite checks it. */
  e2e?: string | null;
}

const SVC = 'Services';
const e2e = { svc: (it: string, conformance = false): string => `${conformance ? '[Conformance] ' : ''}[sig-network] ${SVC} ${it}` };

const L4_WHY =
  'The Service API and kube-proxy balance connections, not requests (Virtual IPs and Service Proxies); the API does not forbid ' +
  'an L7-aware proxy that balances the requests of one connection, so this is documented default behaviour, not a guarantee.';

/** The non-table checks, suite by suite (the DNS table rows follow from dns-table.ts). */
const CHECKS: CheckDef[] = [
  // clusterip
  {
    id: 'service.clusterip.vip-from-range',
    suite: 'clusterip',
    level: 'required',
    claim: "a ClusterIP Service gets a virtual IP from the Service range that is no Pod's IP",
    source: src.serviceDoc('type ClusterIP', '#type-clusterip'),
    requires: ['service-range'],
  },
  {
    id: 'proxy.clusterip.connect',
    suite: 'clusterip',
    level: 'required',
    claim: 'connections through the virtual IP reach a backend Pod, not the address dialled, from every node',
    source: src.vipDoc('virtual IP mechanism'),
    e2e: e2e.svc('should serve a basic endpoint from pods', true),
  },
  // headless
  {
    id: 'service.headless.no-vip',
    suite: 'headless',
    level: 'required',
    claim: 'a headless Service has no virtual IP: spec.clusterIP is None',
    source: src.serviceDoc('headless Services', '#headless-services'),
  },
  {
    id: 'dns.headless.a-set',
    suite: 'headless',
    level: 'required',
    claim: "a headless Service's A answers exactly the ready Pod IPs, which are the ready addresses of its EndpointSlices",
    source: src.spec('2.4.1', '241---aaaa-records'),
  },
  {
    id: 'dns.headless.readiness',
    suite: 'headless',
    level: 'required',
    claim: 'a Pod whose readiness probe fails leaves the A answer within the bound, and comes back once it is ready',
    source: src.spec('2.1 and 2.4.1', '241---aaaa-records'),
  },
  {
    id: 'dns.headless.scaling',
    suite: 'headless',
    level: 'required',
    claim: 'scaling 3 -> 5 -> 2 is reflected in the A answer within the bound',
    source: src.spec('2.4.1', '241---aaaa-records'),
  },
  {
    id: 'net.headless.pod-reach',
    suite: 'headless',
    level: 'required',
    claim: "each Pod IP in a headless Service's answer can be reached directly",
    source: src.serviceDoc('headless Services', '#headless-services'),
  },
  // statefulset
  {
    id: 'dns.statefulset.pod-names',
    suite: 'statefulset',
    level: 'required',
    claim: "mysql-N.mysql.<ns>.svc.<zone> resolves to exactly Pod N's IP, for each N",
    source: src.stsDoc,
  },
  {
    id: 'dns.statefulset.short-name',
    suite: 'statefulset',
    level: 'required',
    claim: 'from a peer Pod, the short name mysql-0.mysql resolves through the system resolver (search path)',
    source: src.dnsDoc("Pod's hostname and subdomain", '#pod-hostname-and-subdomain-field'),
  },
  {
    id: 'dns.statefulset.no-names-without-service',
    suite: 'statefulset',
    level: 'expected',
    claim:
      'a StatefulSet whose serviceName names no headless Service gets no per-Pod names (under another Service selecting its Pods, or under the missing name)',
    source: src.dnsDoc("Pod's hostname and subdomain", '#pod-hostname-and-subdomain-field'),
    why:
      "The specification (2.1) lets a server give an endpoint without a hostname any unique identifier, and CoreDNS's endpoint_pod_names " +
      'uses the Pod name: then orphan-0.<other Service> exists. No name is guaranteed here, but none is forbidden either.',
  },
  {
    id: 'dns.statefulset.reschedule',
    suite: 'statefulset',
    level: 'required',
    claim:
      'a StatefulSet Pod keeps its name on another node with a new IP (on a 1-node cluster: recreated on ' +
      'the same node), DNS follows within the bound at every replica, and the old IP never comes back',
    source: src.stsDoc,
  },
  // external-endpoints
  {
    id: 'api.external.mirrored-slice',
    suite: 'external-endpoints',
    level: 'required',
    claim: 'a manual Endpoints is mirrored into exactly one EndpointSlice, labelled as managed by the mirroring controller',
    source: src.slicesDoc('EndpointSlice mirroring', '#endpointslice-mirroring'),
  },
  {
    id: 'net.external.outside-host',
    suite: 'external-endpoints',
    level: 'required',
    claim:
      'a selectorless Service whose Endpoints name a real host outside the cluster: the ClusterIP name answers its virtual IP ' +
      "and connections through it reach that host; the headless name answers the host's address and connections reach it directly",
    source: src.serviceDoc('Services without selectors', '#services-without-selectors'),
    requires: ['outside-host'],
  },
  {
    id: 'dns.external.slice-a',
    suite: 'external-endpoints',
    level: 'required',
    claim: 'a selectorless headless Service with a hand-made EndpointSlice resolves to exactly its address',
    source: src.serviceDoc('custom EndpointSlices', '#custom-endpointslices'),
  },
  // endpointslices
  {
    id: 'api.slices.clusterip',
    suite: 'endpointslices',
    level: 'required',
    claim: "a ClusterIP Service's EndpointSlices are labelled with its name and list exactly the ready Pods as ready and serving",
    source: src.slicesDoc('ownership and conditions', '#conditions'),
  },
  {
    id: 'api.slices.headless',
    suite: 'endpointslices',
    level: 'required',
    claim: "a headless Service's EndpointSlices do the same and carry service.kubernetes.io/headless",
    source: src.labels('service.kubernetes.io/headless', 'service-kubernetes-io-headless'),
  },
  // dns-records
  {
    id: 'dns.schema.version',
    suite: 'dns-records',
    level: 'required',
    claim: 'dns-version.<zone> TXT holds one schema version (1.1.0 expected; another value is reported)',
    source: src.spec('2.2', '22---record-for-schema-version'),
  },
  {
    id: 'dns.srv.unnamed-port',
    suite: 'dns-records',
    level: 'required',
    claim: 'a port without a name has no SRV record: the _<port>._<proto> name it would have is NODATA or NXDOMAIN, never a record',
    source: src.spec('2.3.2', '232---srv-records'),
  },
  {
    id: 'dns.ptr.statefulset-pod',
    suite: 'dns-records',
    level: 'required',
    claim: 'PTR of a StatefulSet Pod IP includes <pod>.<svc>.<ns>.svc.<zone> (extra PTRs are reported)',
    source: src.spec('2.4.3', '243---ptr-records'),
  },
  {
    id: 'dns.aaaa.dual-stack',
    suite: 'dns-records',
    level: 'required',
    claim:
      'on a dual-stack cluster, Services get ClusterIPs by ipFamilyPolicy (SingleStack: the primary family; PreferDualStack and ' +
      'RequireDualStack: both, primary first); A and AAAA answer exactly the ClusterIPs of their family, and connections reach ' +
      'the backends through each',
    source: src.spec('2.3.1', '231---aaaa-records'),
    requires: ['dual-stack'],
  },
  {
    id: 'dns.identity.version-bind',
    suite: 'dns-records',
    level: 'informational',
    claim: "the DNS server's version, where it answers version.bind CH TXT (identity for reports; not prescribed by the spec)",
    source: src.coredns('chaos'),
  },
  {
    id: 'dns.ttl.reported',
    suite: 'dns-records',
    level: 'informational',
    claim: 'A records carry a TTL (not prescribed by the spec; reported)',
    source: src.spec('2.3.1', '231---aaaa-records'),
  },
  {
    id: 'dns.replicas.agree',
    suite: 'dns-records',
    level: 'required',
    claim: 'every CoreDNS replica gives the same answer set for every question of the suite',
    source: src.spec('2 (one answer per name)', '2---resource-records'),
  },
  // dns-negative
  {
    id: 'dns.negative.soa-minimum',
    suite: 'dns-negative',
    level: 'informational',
    claim: 'the SOA minimum TTL (negative-caching TTL) is reported',
    source: src.rfc(2308, 'negative caching'),
  },
  // dns-cache
  {
    id: 'dns.cache.ttl-honoured',
    suite: 'dns-cache',
    level: 'required',
    requires: ['dns-cache'],
    claim:
      'a cache in front of the DNS replicas (NodeLocal DNSCache) serves a changed answer no longer than its TTL: ' +
      "the replicas follow within the bound, every node's cache within the bound plus the TTL (the lag is reported)",
    source: src.rfc(2181, 'section 8, TTL: how long a record may be cached'),
  },
  // dns-externalname
  {
    id: 'dns.externalname.update',
    suite: 'dns-externalname',
    level: 'required',
    claim: 'an update to externalName is followed within the bound',
    source: src.spec('2.5', '25---records-for-external-name-services'),
  },
  {
    id: 'dns.externalname.to-clusterip',
    suite: 'dns-externalname',
    level: 'required',
    claim: 'after a switch to type ClusterIP the name answers the virtual IP and no CNAME',
    source: src.spec('2.3.1', '231---aaaa-records'),
  },
  // dns-not-ready
  {
    id: 'dns.not-ready.absent',
    suite: 'dns-not-ready',
    level: 'required',
    claim: 'without publishNotReadyAddresses, Pods whose readiness always fails are absent from the answer and have no per-Pod name',
    source: src.spec('2.1 (ready endpoints)', '21---definitions'),
  },
  {
    id: 'dns.not-ready.published',
    suite: 'dns-not-ready',
    level: 'required',
    claim: 'switching publishNotReadyAddresses on publishes them in A within the bound, and each under its per-Pod name',
    source: src.serviceDoc('publishNotReadyAddresses', '#publishnotreadyaddresses'),
  },
  {
    id: 'dns.not-ready.unpublished',
    suite: 'dns-not-ready',
    level: 'required',
    claim: 'switching publishNotReadyAddresses off again removes them within the bound',
    source: src.serviceDoc('publishNotReadyAddresses', '#publishnotreadyaddresses'),
  },
  // dns-large
  {
    id: 'dns.large.tc-and-tcp',
    suite: 'dns-large',
    level: 'required',
    claim: 'a headless Service with 60 ready endpoints: without EDNS0 the UDP answer has TC set, and the TCP answer holds all 60',
    source: src.rfc(7766, 'DNS over TCP'),
  },
  {
    id: 'dns.large.edns0',
    suite: 'dns-large',
    level: 'expected',
    claim: 'with EDNS0 at 4096 the UDP answer holds all 60, exactly the ready set',
    source: src.rfc(6891, 'EDNS0'),
    why:
      'A server may advertise a smaller UDP size than the client (RFC 6891) and answer ' +
      'with TC instead; CoreDNS without a bufsize limit fits 60 A records in 4096 bytes.',
  },
  // dns-resolver
  {
    id: 'dns.resolver.short-forms',
    suite: 'dns-resolver',
    level: 'required',
    claim: "the short forms svc, svc.ns and svc.ns.svc resolve through the kubelet's search path",
    source: src.dnsDoc('namespaces of Services', '#namespaces-of-services'),
  },
  // service-pair
  {
    id: 'dns.pair.pod-names',
    suite: 'service-pair',
    level: 'required',
    claim: "per-Pod names mysql-N.<serviceName Service> answer Pod N's IP when a second Service selects the same Pods",
    source: src.spec('2.4.1 (hostname and subdomain)', '241---aaaa-records'),
  },
  {
    id: 'dns.pair.names-under-service-name',
    suite: 'service-pair',
    level: 'expected',
    claim: 'per-Pod names exist only under the Service that serviceName names, not under a ClusterIP Service over the same Pods',
    source: src.stsDoc,
    why:
      'The specification (2.4.1) defines per-endpoint names for headless Services only and says nothing about them ' +
      'under a ClusterIP Service: a server that answers them there serves an extension (section 3), not a violation.',
  },
  // proxy-behaviour
  {
    id: 'proxy.clusterip.spread',
    suite: 'proxy-behaviour',
    level: 'required',
    claim: 'connections through a ClusterIP reach every ready backend (30 x 3 requests, counts reported)',
    source: src.vipDoc('virtual IP mechanism'),
    e2e: e2e.svc('should serve a basic endpoint from pods', true),
  },
  {
    id: 'proxy.clusterip.http1-pinned',
    suite: 'proxy-behaviour',
    level: 'expected',
    claim: 'all requests on one kept-alive HTTP/1.1 connection land on one backend',
    source: src.vipDoc('connections are balanced, not requests'),
    why: L4_WHY,
    e2e: null,
  },
  {
    id: 'proxy.clusterip.http2-pinned',
    suite: 'proxy-behaviour',
    level: 'expected',
    claim: 'all requests on one HTTP/2 connection land on one backend',
    source: src.vipDoc('connections are balanced, not requests'),
    why: L4_WHY,
    e2e: null,
  },
  {
    id: 'lb.grpc.headless-round-robin',
    suite: 'proxy-behaviour',
    level: 'required',
    claim: 'a gRPC round_robin client on dns:///<headless Service> spreads requests over every backend Pod',
    source: src.grpc,
  },
  {
    id: 'lb.grpc.clusterip-one-channel',
    suite: 'proxy-behaviour',
    level: 'expected',
    claim: 'the same gRPC client through a ClusterIP Service sends every request on its channel to one Pod',
    source: src.grpc,
    why: L4_WHY,
  },
  {
    id: 'proxy.statefulset.direct-pod',
    suite: 'proxy-behaviour',
    level: 'required',
    claim: 'connecting to mysql-0.mysql always reaches Pod 0, while a ClusterIP Service over the same Pods reaches several',
    source: src.stsDoc,
    e2e: null,
  },
  {
    id: 'proxy.clusterip.affinity',
    suite: 'proxy-behaviour',
    level: 'required',
    claim: 'ClientIP session affinity keeps one backend for 15 requests in a row',
    source: src.vipDoc('session affinity', '#session-affinity'),
    e2e: e2e.svc('should have session affinity work for service with type clusterIP [LinuxOnly]', true),
  },
  {
    id: 'proxy.kube-proxy.service-proxy-name',
    suite: 'proxy-behaviour',
    level: 'required',
    claim: 'a Service labelled service.kubernetes.io/service-proxy-name is not served by kube-proxy, until the label goes',
    source: src.labels('service.kubernetes.io/service-proxy-name', 'servicekubernetesioservice-proxy-name'),
    requires: ['kube-proxy'],
    e2e: e2e.svc('should implement service.kubernetes.io/service-proxy-name'),
  },
  {
    id: 'proxy.kube-proxy.headless-slice',
    suite: 'proxy-behaviour',
    level: 'required',
    claim: 'endpoints in an EndpointSlice labelled service.kubernetes.io/headless are not served by kube-proxy, until the label goes',
    source: src.labels('service.kubernetes.io/headless', 'service-kubernetes-io-headless'),
    requires: ['kube-proxy'],
    e2e: e2e.svc('should implement service.kubernetes.io/headless'),
  },
  {
    id: 'proxy.clusterip.reject-no-endpoints',
    suite: 'proxy-behaviour',
    level: 'expected',
    claim: 'a ClusterIP Service without endpoints refuses connections quickly (REJECT: refused within 3 s, not a timeout)',
    source: src.vipDoc('traffic to a Service without endpoints'),
    why:
      'kube-proxy rejects such traffic (ICMP port unreachable); the API does not oblige ' +
      'every Service proxy to, and a proxy that drops it is slower to fail but not wrong.',
    e2e: e2e.svc('should be rejected when no endpoints exist'),
  },
  // proxy-nodeport
  {
    id: 'service.nodeport.default-range',
    suite: 'proxy-nodeport',
    level: 'expected',
    claim: 'a NodePort Service gets its node port from the default range 30000-32767',
    source: src.serviceDoc('type NodePort', '#type-nodeport'),
    why:
      "The range is the API server's --service-node-port-range, 30000-32767 unless the cluster " +
      'sets another; a port outside the default is a choice of the cluster, not a fault.',
    e2e: e2e.svc('should check NodePort out-of-range'),
  },
  {
    id: 'proxy.nodeport.reach',
    suite: 'proxy-nodeport',
    level: 'required',
    claim:
      "connections to every node's InternalIP at a NodePort Service's node port reach exactly its ready backends, from Pods on every node",
    source: src.serviceDoc('type NodePort', '#type-nodeport'),
    e2e: e2e.svc('should be able to create a functioning NodePort service', true),
  },
  {
    id: 'proxy.nodeport.from-outside',
    suite: 'proxy-nodeport',
    level: 'required',
    claim: "from a client outside the cluster, every node's InternalIP at the node port reaches exactly the Service's ready backends",
    source: src.serviceDoc('type NodePort', '#type-nodeport'),
    requires: ['outside-client'],
    e2e: e2e.svc('should be able to create a functioning NodePort service', true),
  },
  // proxy-changes
  {
    id: 'proxy.service.multi-port-named',
    suite: 'proxy-changes',
    level: 'required',
    claim: 'a multi-port Service with named targetPorts sends each port to the backend port of that name, from every node',
    source: src.serviceDoc('multi-port Services', '#multi-port-services'),
    e2e: e2e.svc('should serve multiport endpoints from pods', true),
  },
  {
    id: 'proxy.service.changes-followed',
    suite: 'proxy-changes',
    level: 'required',
    claim:
      "changes to a live Service's port, targetPort and selector are followed within the proxy bound from every node (the old port stops answering)",
    source: src.serviceDoc('defining a Service', '#defining-a-service'),
    e2e: null,
  },
  {
    id: 'proxy.service.recreate',
    suite: 'proxy-changes',
    level: 'required',
    claim: 'a deleted Service stops answering within the proxy bound, and one recreated under the same name is served again',
    source: src.serviceDoc('defining a Service', '#defining-a-service'),
    e2e: e2e.svc('should work after the service has been recreated'),
  },
  {
    id: 'proxy.service.type-change',
    suite: 'proxy-changes',
    level: 'required',
    claim:
      'a ClusterIP Service changed to NodePort gets a node port that answers; changed back, the node port is released and stops answering',
    source: src.serviceDoc('type NodePort', '#type-nodeport'),
    e2e: e2e.svc('should be able to update service type to NodePort listening on same port number but different protocols'),
  },
  // proxy-affinity
  {
    id: 'proxy.affinity.timeout',
    suite: 'proxy-affinity',
    level: 'required',
    claim:
      'ClientIP affinity with timeoutSeconds 2 holds for connections within it, and is released after the client has been idle for longer',
    source: src.vipDoc('session stickiness timeout', '#session-stickiness-timeout'),
    e2e: e2e.svc('should have session affinity timeout work for service with type clusterIP [LinuxOnly]'),
  },
  {
    id: 'proxy.affinity.per-client',
    suite: 'proxy-affinity',
    level: 'required',
    claim: 'ClientIP affinity holds per client: clients on every node at once each keep to one backend for 15 connections',
    source: src.vipDoc('session affinity', '#session-affinity'),
    e2e: null,
  },
  {
    id: 'proxy.affinity.switch',
    suite: 'proxy-affinity',
    level: 'required',
    claim: 'switching sessionAffinity to ClientIP on a live Service, and back to None, takes effect within the proxy bound',
    source: src.vipDoc('session affinity', '#session-affinity'),
    e2e: e2e.svc('should be able to switch session affinity for service with type clusterIP [LinuxOnly]', true),
  },
  // proxy-external-ips
  {
    id: 'proxy.external-ips.reach',
    suite: 'proxy-external-ips',
    level: 'expected',
    claim: 'Pods on every node reach a Service at its spec.externalIPs address and port',
    source: src.serviceDoc('external IPs', '#external-ips'),
    why:
      'External IPs are served by kube-proxy unless the cluster turns them off (its AllowServiceExternalIPs feature gate, or the ' +
      'DenyServiceExternalIPs admission plugin, as the documentation recommends where untrusted users create Services): a cluster may legally not serve them.',
    e2e: e2e.svc('should be possible to connect to a service via ExternalIP when the external IP is not assigned to a node'),
  },
  {
    id: 'proxy.external-ips.local-from-pods',
    suite: 'proxy-external-ips',
    level: 'expected',
    claim: 'with externalTrafficPolicy Local, Pods on every node reach the external IP, nodes without a local endpoint included',
    source: src.vipDoc('external traffic policy', '#external-traffic-policy'),
    why:
      'kube-proxy serves Pod traffic to an external destination of a Local Service from any endpoint (its nftables mode dropped it on nodes ' +
      'without one until kubernetes/kubernetes#132456, #131765); external IPs may be turned off, and the API leaves traffic from inside open.',
    e2e: null,
  },
  // proxy-host-network
  {
    id: 'proxy.host-network.clusterip',
    suite: 'proxy-host-network',
    level: 'required',
    claim: "a host-network Pod on every node reaches a ClusterIP Service's ready backends, each of them",
    source: src.vipDoc('virtual IP mechanism'),
    requires: ['privileged'],
    e2e: '[sig-network] Networking Granular Checks: Services should function for node-Service: http',
  },
  {
    id: 'proxy.host-network.nodeport',
    suite: 'proxy-host-network',
    level: 'required',
    claim: "a host-network Pod on every node reaches every node's InternalIP at a node port",
    source: src.serviceDoc('type NodePort', '#type-nodeport'),
    requires: ['privileged'],
    e2e: '[sig-network] Networking Granular Checks: Services should function for node-Service: http',
  },
  // proxy-source
  {
    id: 'proxy.clusterip.source-ip',
    suite: 'proxy-source',
    level: 'expected',
    claim: "a backend reached through a ClusterIP sees the client Pod's own address as the source, from every node",
    source: src.tutorial('Using Source IP (Type=ClusterIP)', 'tutorials/services/source-ip', '#source-ip-for-services-with-type-clusterip'),
    why:
      'kube-proxy does not masquerade Pod traffic to a ClusterIP (the Using Source IP tutorial); the Service API does not ' +
      "forbid a proxy that does (kube-proxy's own masqueradeAll does), so a rewritten source is a difference, not a fault.",
    e2e: e2e.svc('should preserve source pod IP for traffic thru service cluster IP [LinuxOnly]'),
  },
  {
    id: 'proxy.clusterip.hairpin',
    suite: 'proxy-source',
    level: 'required',
    claim: "a Pod reaches itself through its own Service's virtual IP (hairpin)",
    source: src.tutorial(
      'Debug Services (a Pod fails to reach itself via the Service IP)',
      'tasks/debug/debug-application/debug-service',
      '#a-pod-fails-to-reach-itself-via-the-service-ip',
    ),
    e2e: e2e.svc('should allow pods to hairpin back to themselves through services'),
  },
  {
    id: 'proxy.nodeport.hairpin',
    suite: 'proxy-source',
    level: 'expected',
    claim: "a Pod reaches itself through its own Service's node port on its own node's address",
    source: src.serviceDoc('type NodePort', '#type-nodeport'),
    why:
      "The node port must reach the Service's endpoints; that one of them may be the client itself is hairpin traffic, " +
      'which the documentation describes for the virtual IP (Debug Services) and leaves to the network setup for node ports.',
    e2e: null,
  },
  // proxy-traffic-policy
  {
    id: 'proxy.internal-traffic-policy.local',
    suite: 'proxy-traffic-policy',
    level: 'required',
    claim:
      'with internalTrafficPolicy Local, Pods reach every endpoint on their own node and no other; on a node without one, nothing answers',
    source: src.vipDoc('internal traffic policy', '#internal-traffic-policy'),
    e2e: e2e.svc('should respect internalTrafficPolicy=Local Pod to Pod'),
  },
  {
    id: 'proxy.external-traffic-policy.local-outside',
    suite: 'proxy-traffic-policy',
    level: 'required',
    claim:
      "with externalTrafficPolicy Local, a client outside the cluster is served at a node's node port only " +
      "by that node's endpoints, which see the client's own address; a node without one does not forward",
    source: src.vipDoc('external traffic policy', '#external-traffic-policy'),
    requires: ['outside-client'],
    e2e: e2e.svc('should support externalTrafficPolicy=Local for type=NodePort'),
  },
  {
    id: 'proxy.external-traffic-policy.local-from-pods',
    suite: 'proxy-traffic-policy',
    level: 'expected',
    claim:
      "a Pod reaches a Service with externalTrafficPolicy Local at its own node's address and node port, on nodes without a local endpoint too",
    source: src.vipDoc('external traffic policy', '#external-traffic-policy'),
    why:
      "The policy is about traffic from outside the cluster; kube-proxy sends a Pod's traffic to an external destination of such a Service " +
      'to any endpoint, as if it went out to a load balancer and came back. A proxy that drops it on nodes ' +
      'without an endpoint differs (cilium/cilium#11746), but the API leaves traffic from inside open.',
    e2e: null,
  },
  {
    id: 'proxy.external-traffic-policy.health-check',
    suite: 'proxy-traffic-policy',
    level: 'expected',
    claim:
      'a LoadBalancer Service with externalTrafficPolicy Local gets a health check node port whose /healthz answers ' +
      '200 where the node has local endpoints, 503 where it has none, on every node (and the count, where the body gives it)',
    source: src.vipDoc('external traffic policy', '#external-traffic-policy'),
    why:
      "The API allocates healthCheckNodePort; what answers there is the Service proxy's health server, which load " +
      "balancers rely on but the API does not define: its status is the convention (kube-proxy's and kube-router's alike), " +
      "its body each proxy's own (kube-proxy's JSON localEndpoints is checked where present).",
    e2e: e2e.svc('should implement NodePort and HealthCheckNodePort correctly when ExternalTrafficPolicy changes'),
  },
  {
    id: 'proxy.traffic-distribution.prefer-close',
    suite: 'proxy-traffic-policy',
    level: 'expected',
    claim:
      'with trafficDistribution PreferClose, each endpoint carries its zone as hint, and Pods ' +
      'are served by the endpoints of their own zone when it has some (by any, when it has none)',
    source: src.serviceDoc('traffic distribution', '#traffic-distribution'),
    requires: ['zones'],
    why: 'PreferClose is a preference: the documentation lets an implementation weigh it against load or capacity, and send traffic to other zones.',
    e2e: '[sig-network] Traffic Distribution should route traffic to an endpoint in the same zone when using PreferClose',
  },
  {
    id: 'proxy.traffic-distribution.prefer-same-node',
    suite: 'proxy-traffic-policy',
    level: 'expected',
    claim:
      'with trafficDistribution PreferSameNode, each endpoint carries its node as hint, and Pods ' +
      'are served by the endpoints on their own node when it has some (by any, when it has none)',
    source: src.serviceDoc('traffic distribution', '#traffic-distribution'),
    requires: ['prefer-same-node'],
    why: 'PreferSameNode is a preference, like PreferClose: the documentation lets an implementation send traffic elsewhere.',
    e2e: '[sig-network] Traffic Distribution should route traffic to an endpoint on the same node or fall back to same zone when using PreferSameNode',
  },
  // proxy-terminating
  {
    id: 'proxy.terminating.not-used-with-ready',
    suite: 'proxy-terminating',
    level: 'required',
    claim: 'while a ready endpoint exists, new connections never reach a serving but terminating one, from every node',
    source: src.vipDoc('traffic to terminating endpoints', '#traffic-to-terminating-endpoints'),
    e2e: null,
  },
  {
    id: 'proxy.terminating.fallback',
    suite: 'proxy-terminating',
    level: 'expected',
    claim: 'when only serving-terminating endpoints remain, new connections fall back to them from every node, and stop once they are gone',
    source: src.vipDoc('traffic to terminating endpoints', '#traffic-to-terminating-endpoints'),
    why:
      "The fallback is kube-proxy's (KEP-1669, GA in 1.28), documented on the Virtual IPs page; the EndpointSlice " +
      'API only publishes serving and terminating, and a proxy that refuses instead differs (cilium/cilium#37613).',
    e2e: e2e.svc('should fallback to terminating endpoints when there are no ready endpoints with internalTrafficPolicy=Cluster'),
  },
  {
    id: 'proxy.terminating.fallback-local',
    suite: 'proxy-terminating',
    level: 'expected',
    claim:
      'with internalTrafficPolicy Local, a node whose only endpoint is serving but terminating ' +
      "sends new connections to it (not to another node's ready endpoint, not nowhere)",
    source: src.vipDoc('traffic to terminating endpoints', '#traffic-to-terminating-endpoints'),
    requires: ['multi-node'],
    why:
      "The per-node fallback is kube-proxy's (KEP-1669), documented on the Virtual IPs page; the " +
      'API leaves the choice to the proxy, and Cilium does not fall back (cilium/cilium#37613).',
    e2e: e2e.svc('should fallback to local terminating endpoints when there are no ready endpoints with internalTrafficPolicy=Local'),
  },
  // proxy-udp
  {
    id: 'proxy.udp.clusterip-spread',
    suite: 'proxy-udp',
    level: 'required',
    claim: 'UDP datagrams through a ClusterIP reach every ready backend, and only them',
    source: src.serviceDoc('protocols for Services: UDP', '#protocol-udp'),
    e2e: '[sig-network] Networking Granular Checks: Services should function for pod-Service: udp',
  },
  {
    id: 'proxy.udp.nodeport-both-protocols',
    suite: 'proxy-udp',
    level: 'required',
    claim: "a NodePort Service with TCP and UDP on one port number answers both on every node's address, from Pods on every node",
    source: src.serviceDoc('type NodePort', '#type-nodeport'),
    e2e: e2e.svc('should be able to update service type to NodePort listening on same port number but different protocols'),
  },
  {
    id: 'proxy.udp.nodeport-from-outside',
    suite: 'proxy-udp',
    level: 'required',
    claim:
      "from a client outside the cluster, UDP datagrams to every node's InternalIP at the UDP node port reach only the Service's backends",
    source: src.serviceDoc('type NodePort', '#type-nodeport'),
    requires: ['outside-client'],
    e2e: '[sig-network] Networking Granular Checks: Services should support basic nodePort: udp functionality',
  },
  {
    id: 'proxy.udp.no-stale-conntrack',
    suite: 'proxy-udp',
    level: 'required',
    claim:
      "after a UDP Service's only backend is replaced, datagrams from the same client " +
      'port reach the new backend within the proxy bound (no stale conntrack entry)',
    source: src.vipDoc('virtual IP mechanism'),
    e2e: '[sig-network] Conntrack should be able to preserve UDP traffic when server pod cycles for a ClusterIP service',
  },
  // proxy-rules
  {
    id: 'rules.kube-proxy.mode',
    suite: 'proxy-rules',
    level: 'required',
    claim: 'kube-proxy reports the expected mode at /proxyMode on every node',
    source: src.vipDoc('proxy modes', '#proxy-modes'),
    requires: ['privileged', 'kube-proxy', 'proxy-rules-readable'],
  },
  {
    id: 'rules.clusterip.rule',
    suite: 'proxy-rules',
    level: 'required',
    claim: 'a ClusterIP Service gets its rule, leading to exactly its ready endpoints, on every node (time to the rule measured)',
    source: src.vipDoc('proxy modes', '#proxy-modes'),
    requires: ['privileged', 'kube-proxy', 'proxy-rules-readable'],
  },
  {
    id: 'rules.headless.none',
    suite: 'proxy-rules',
    level: 'required',
    claim: 'a headless Service gets no rule, chain or element at all',
    source: src.serviceDoc('headless Services', '#headless-services'),
    requires: ['privileged', 'kube-proxy', 'proxy-rules-readable'],
  },
  {
    id: 'rules.clusterip.reject',
    suite: 'proxy-rules',
    level: 'required',
    claim: 'a ClusterIP Service with 0 endpoints gets the reject entry on every node',
    source: src.vipDoc('proxy modes', '#proxy-modes'),
    requires: ['privileged', 'kube-proxy', 'proxy-rules-readable'],
  },
  // smoke
  {
    id: 'bed.nodes.ready',
    suite: 'smoke',
    level: 'required',
    claim: 'every node is Ready (as many as the bundled cluster profile says)',
    source: src.suite('nodes'),
  },
  {
    id: 'bed.pod.cross-node',
    suite: 'smoke',
    level: 'required',
    claim: 'a Pod on one node reaches a Pod on another node by its IP (on a 1-node cluster: its own IP)',
    source: src.suite('Pod network'),
  },
  {
    id: 'bed.dns.kubernetes-default',
    suite: 'smoke',
    level: 'required',
    claim:
      "kubernetes.default.svc.<zone> resolves through the Pod's resolver and through the " +
      'DNS Service (kube-system/kube-dns, from the API), which need not be one address',
    source: src.spec('2.3.1', '231---aaaa-records'),
  },
  {
    id: 'bed.clusterip.reach',
    suite: 'smoke',
    level: 'required',
    claim: 'a ClusterIP Service is reachable from Pods on every node',
    source: src.vipDoc('virtual IP mechanism'),
  },
  {
    id: 'bed.api.logs-exec',
    suite: 'smoke',
    level: 'required',
    claim: 'logs and exec work through the API server',
    source: src.suite('API server to kubelet'),
  },
  {
    id: 'bed.statefulset.new-ip',
    suite: 'smoke',
    level: 'required',
    claim: 'a deleted StatefulSet Pod comes back under the same name with a new IP',
    source: src.stsDoc,
  },
];

export const REGISTRY: CheckDef[] = [
  ...CHECKS,
  ...DNS_ROWS.map(({ id, suite, claim, level, source, requires, why }) => ({ id, suite, claim, level, source, requires, why })),
];

const byId = new Map<string, CheckDef>();
for (const c of REGISTRY) {
  if (byId.has(c.id)) throw new Error(`check id ${c.id} is declared twice`);
  if (c.level === 'expected' && !c.why) throw new Error(`expected-level check ${c.id} needs its reasoning (why)`);
  byId.set(c.id, c);
}

export function checkDef(id: string): CheckDef {
  const c = byId.get(id);
  if (!c) throw new Error(`no check ${id} in suites/data/registry.ts`);
  return c;
}

/** The checks --focus and --skip select: each regular expression is matched against the
 *  check's id and its claim (`svc-conformance list` prints both). */
export function selectChecks(focus?: string, skip?: string): CheckDef[] {
  const f = focus ? new RegExp(focus) : undefined;
  const s = skip ? new RegExp(skip) : undefined;
  const hit = (re: RegExp, c: CheckDef): boolean => re.test(c.id) || re.test(c.claim);
  return REGISTRY.filter((c) => (!f || hit(f, c)) && !(s && hit(s, c)));
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Jest's --testNamePattern for a selection: the ids in the titles (`claim [id]`), exactly;
 *  undefined when every check is selected. */
export function selectionPattern(selected: CheckDef[]): string | undefined {
  if (selected.length === REGISTRY.length) return undefined;
  return `\\[(?:${selected.map((c) => escape(c.id)).join('|')})\\]$`;
}
