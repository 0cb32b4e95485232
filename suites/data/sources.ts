// Sources, levels and requirements of the checks, and how a check's id rides in its Jest
// title: shared by the registry (suites/data/registry.ts) and the DNS table (suites/data/dns-table.ts),
// and by the reports, which run outside Jest. Nothing here runs anything.
export type Level = 'required' | 'expected' | 'informational';
/** What a check needs from the cluster or the run; detected once per run. */
export type Requirement =
  | 'multi-node'
  | 'dual-stack'
  | 'kube-proxy'
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
  coredns: (plugin: string): Source => ({ title: `CoreDNS plugin ${plugin}`, url: `https://coredns.io/plugins/${plugin}/` }),
  tutorial: (title: string, page: string, anchor = ''): Source => ({ title, url: `https://kubernetes.io/docs/${page}/${anchor}` }),
  suite: (what: string): Source => ({
    title: `svc-conformance test bed (${what})`,
    url: 'https://kubernetes.io/docs/concepts/cluster-administration/networking/',
  }),
};

/** A check's Jest title: its claim, then its id in brackets (so --focus takes ids). */
export const checkTitle = (c: { id: string; claim: string }): string => `${c.claim} [${c.id}]`;
/** The id in a check's Jest title. */
export const idInTitle = (t: string): string | undefined => /\[([a-z0-9][a-z0-9.-]*)\]$/.exec(t)?.[1];
/** The claim in a check's Jest title (the title without its id). */
export const claimInTitle = (t: string): string => t.replace(/ \[[^\]]+\]$/, '');
