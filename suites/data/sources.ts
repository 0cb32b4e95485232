// The vocabulary of a check: what it declares (CheckSpec), its sources, levels and
// requirements, and how its id rides in its Jest title. Shared by the suite files (each
// declares its checks with these), the DNS table (suites/data/dns-table.ts), the registry
// collected from the suites (suites/registry.ts) and the reports, which run outside Jest.
// Nothing here runs anything.
//
// Levels:
// - required: the Kubernetes DNS specification or the Kubernetes API guarantees it; a
//   failure fails the run.
// - expected: documented default behaviour that the specification leaves open; a failure
//   is a warning (`--strict` makes it fail). Each one says why in `why`.
// - informational: measured and reported, never failing.
export type Level = 'required' | 'expected' | 'informational';
/** What a check needs from the cluster or the run; detected once per run. */
export type Requirement =
  | 'multi-node'
  | 'dual-stack'
  | 'kube-proxy'
  | 'kube-proxy-role'
  | 'cilium'
  | 'privileged'
  | 'proxy-rules-readable'
  | 'outside-host'
  | 'outside-client'
  | 'zones'
  | 'prefer-same-node'
  | 'dns-cache'
  | 'service-range';

export interface Source {
  title: string;
  url: string;
}

/** What a check declares about itself. Ids are `<area>.<subject>.<claim>` and never change
 *  once published; the claim, in plain words, is the Jest title, and `list` and the docs'
 *  table print it. */
export interface CheckSpec {
  id: string;
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

/** A check of the registry: what it declares, and the suite that declares it. */
export interface CheckDef extends CheckSpec {
  /** The suite file (suites/<suite>.test.ts) that declares and runs it. */
  suite: string;
}

const SPEC = 'https://github.com/kubernetes/dns/blob/master/docs/specification.md';
export const src = {
  spec: (section: string, anchor: string): Source => ({ title: `Kubernetes DNS specification ${section}`, url: `${SPEC}#${anchor}` }),
  serviceDoc: (title: string, anchor = ''): Source => ({
    title: `Service (${title})`,
    url: `https://kubernetes.io/docs/concepts/services-networking/service/${anchor}`,
  }),
  dnsDoc: (title: string, anchor = ''): Source => ({
    title: `DNS for Services and Pods (${title})`,
    url: `https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/${anchor}`,
  }),
  slicesDoc: (title: string, anchor = ''): Source => ({
    title: `EndpointSlices (${title})`,
    url: `https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/${anchor}`,
  }),
  /** A SIG Scalability SLI/SLO (sig-scalability/slos/FILE). */
  slo: (title: string, file: string, anchor = ''): Source => ({
    title: `SIG Scalability SLI: ${title}`,
    url: `https://github.com/kubernetes/community/blob/master/sig-scalability/slos/${file}${anchor}`,
  }),
  vipDoc: (title: string, anchor = ''): Source => ({
    title: `Virtual IPs and Service Proxies (${title})`,
    url: `https://kubernetes.io/docs/reference/networking/virtual-ips/${anchor}`,
  }),
  stsDoc: {
    title: 'StatefulSet: stable network ID',
    url: 'https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/#stable-network-id',
  },
  labels: (label: string, anchor: string): Source => ({
    title: `Well-known labels: ${label}`,
    url: `https://kubernetes.io/docs/reference/labels-annotations-taints/#${anchor}`,
  }),
  rfc: (n: number, title: string): Source => ({ title: `RFC ${n} (${title})`, url: `https://www.rfc-editor.org/rfc/rfc${n}` }),
  grpc: {
    title: 'gRPC load balancing (round_robin per call, pick per channel)',
    url: 'https://github.com/grpc/grpc/blob/master/doc/load-balancing.md',
  },
  ciliumKpr: (): Source => ({
    title: 'Cilium: Kubernetes without kube-proxy (kube-proxy replacement, socket load balancing)',
    url: 'https://docs.cilium.io/en/stable/network/kubernetes/kubeproxy-free/',
  }),
  coredns: (plugin: string): Source => ({ title: `CoreDNS plugin ${plugin}`, url: `https://coredns.io/plugins/${plugin}/` }),
  tutorial: (title: string, page: string, anchor = ''): Source => ({ title, url: `https://kubernetes.io/docs/${page}/${anchor}` }),
  suite: (what: string): Source => ({
    title: `svc-conformance test bed (${what})`,
    url: 'https://kubernetes.io/docs/concepts/cluster-administration/networking/',
  }),
};

const SVC = 'Services';
/** An upstream e2e spec of the Services tests (a proxy check's `e2e`). */
export const e2e = { svc: (it: string, conformance = false): string => `${conformance ? '[Conformance] ' : ''}[sig-network] ${SVC} ${it}` };

/** The `why` of the expected-level checks that keep one connection on one backend. */
export const L4_WHY =
  'The Service API and kube-proxy balance connections, not requests (Virtual IPs and Service Proxies); the API does not forbid ' +
  'an L7-aware proxy that balances the requests of one connection, so this is documented default behaviour, not a guarantee.';

/** A check's Jest title: its claim, then its id in brackets (so --focus takes ids). */
export const checkTitle = (c: { id: string; claim: string }): string => `${c.claim} [${c.id}]`;
/** The id in a check's Jest title. */
export const idInTitle = (t: string): string | undefined => /\[([a-z0-9][a-z0-9.-]*)\]$/.exec(t)?.[1];
/** The claim in a check's Jest title (the title without its id). */
export const claimInTitle = (t: string): string => t.replace(/ \[[^\]]+\]$/, '');
