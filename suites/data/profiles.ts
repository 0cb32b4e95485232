// Conformance profiles: named sets of checks, defined as data beside the registry. A run's
// report gives each profile that applies to the implementation under test its result:
// success (every check of it passed), partial (none failed, but some were skipped, warned
// or not selected) or failure (one failed), with the ids and reasons. `run
// --conformance-profile NAME` runs one profile's checks only. A unit test holds every
// check of the registry to at least one profile, and every prefix here to some check.
import type { Level } from './sources.ts';

/** A Service proxy's flavour, as the preflight names it (helpers/results/conformance.ts):
 *  kube-proxy in its mode, or another proxy by name. */
export type ProxyFlavour = 'kube-proxy-iptables' | 'kube-proxy-nftables' | 'kube-proxy-ipvs' | 'kube-router' | 'cilium';

export interface ConformanceProfile {
  name: string;
  title: string;
  description: string;
  /** The checks: ids that start with one of these (an id is `<area>.<subject>.<claim>`). */
  include: string[];
  /** Ids that start with one of these are left out. */
  exclude?: string[];
  /** Only checks of these levels (absent: every level). */
  levels?: Level[];
  /** The Service proxies it applies to (absent: every cluster); elsewhere it is not reported. */
  proxies?: ProxyFlavour[];
  /** Runs only when asked for (--conformance-profile NAME, or a --focus that matches the
   *  ids): its checks are never in a run's default selection, and a run that selected none
   *  of them does not report it. */
  optIn?: boolean;
}

/** The areas of the checks, by id prefix: the reports count each apart (anything else is
 *  'Other'), and the profiles below are made of them. */
export const AREAS = {
  dns: { name: 'DNS', prefixes: ['dns.'] },
  proxy: { name: 'Service proxy', prefixes: ['proxy.', 'net.', 'lb.'] },
  rules: { name: 'Rules on the nodes', prefixes: ['rules.'] },
  basics: { name: 'Cluster basics', prefixes: ['bed.', 'service.', 'api.'] },
  scale: { name: 'Scale', prefixes: ['scale.'] },
} as const;
const PROXY = [...AREAS.proxy.prefixes];

export const PROFILES: ConformanceProfile[] = [
  {
    name: 'basics',
    title: 'Cluster basics',
    description:
      'what every check stands on: nodes Ready, Pods reach each other, logs and exec, the API fields of Services and EndpointSlices',
    include: [...AREAS.basics.prefixes],
  },
  {
    name: 'dns',
    title: 'DNS (the specification)',
    description: 'the Kubernetes DNS specification: records, names, negative answers, TTLs, asked at every DNS path from every node',
    include: [...AREAS.dns.prefixes],
    exclude: ['dns.cache.'],
  },
  {
    name: 'dns-cache',
    title: 'DNS with a cache in front',
    description: 'the DNS profile, plus what a cache in front of the replicas must keep (TTLs honoured): partial without a cache',
    include: [...AREAS.dns.prefixes],
  },
  {
    name: 'service-proxy-core',
    title: 'Service proxy, core',
    description: 'what the Kubernetes API and the Service documentation guarantee of any Service proxy (required-level checks)',
    include: PROXY,
    levels: ['required'],
  },
  {
    name: 'service-proxy-extended',
    title: 'Service proxy, extended',
    description: "the core profile plus the documented default behaviour the API leaves open (kube-proxy's, expected level)",
    include: PROXY,
  },
  ...(
    [
      ['kube-proxy-iptables', 'iptables'],
      ['kube-proxy-nftables', 'nftables'],
      ['kube-proxy-ipvs', 'ipvs'],
    ] as const
  ).map(([flavour, mode]): ConformanceProfile => ({
    name: `rules-${mode}`,
    title: `Rules on the nodes: kube-proxy ${mode}`,
    description: `kube-proxy's ${mode} rules read on every node (privileged profile) for what the proxy checks also see`,
    include: ['rules.', 'proxy.kube-proxy.'],
    exclude: ['rules.cilium.'],
    proxies: [flavour],
  })),
  {
    name: 'rules-cilium',
    title: "Rules on the nodes: Cilium's service map",
    description: "Cilium's kube-proxy replacement: its BPF service map read on every node (privileged profile), and kube-proxy's labels",
    include: ['rules.', 'proxy.kube-proxy.'],
    exclude: ['rules.kube-proxy.'],
    proxies: ['cilium'],
  },
  {
    name: 'scale',
    title: 'At scale: programming and lookup latency',
    description:
      'measured, never failing: N Services of M endpoints (--scale), changed at a steady rate; the time until each change is ' +
      "served on every node (the SIG Scalability SLI's p50/p90/p99, against its 30 s p99 target) and DNS lookup latency under load",
    include: [...AREAS.scale.prefixes],
    optIn: true,
  },
];

/** Whether a check is only run when asked for (it belongs to an opt-in profile). */
export function isOptIn(id: string): boolean {
  return PROFILES.some((p) => p.optIn && p.include.some((x) => id.startsWith(x)));
}

/** Whether a check (its id and level) belongs to a profile. */
export function inProfile(p: ConformanceProfile, id: string, level: Level): boolean {
  return (
    p.include.some((x) => id.startsWith(x)) && !(p.exclude ?? []).some((x) => id.startsWith(x)) && (!p.levels || p.levels.includes(level))
  );
}

export function profileNamed(name: string): ConformanceProfile | undefined {
  return PROFILES.find((p) => p.name === name);
}
