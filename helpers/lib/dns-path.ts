// How a Pod reaches the cluster DNS, detected once per run by the preflight: the DNS
// Service (from the API), its replicas (the Service's ready endpoints), the Pod's resolver
// (the first nameserver the kubelet writes), and whether a cache answers in front of the
// replicas: NodeLocal DNSCache at a link-local resolver, or at the Service's own address.
//
// A cache is told from an authoritative server by its TTLs: the replicas answer every
// cluster record with the TTL they are configured with, each time; a cache counts the
// TTL of what it holds down between two questions, and caps it (CoreDNS cache: `denial`
// caps negative answers), so it answers lower TTLs than the replicas. The replicas' own
// TTLs (records, and negative answers: min(SOA TTL, SOA minimum), RFC 2308 section 5) are
// what a cache may hold an answer for (RFC 1035 section 3.2.1, RFC 2181 section 8).
import type { DnsAnswer, DnsQuestion } from '../../probe/contract.ts';
import type { DnsServer } from './dns.ts';

export type ServerRole = 'authoritative' | 'cache';

export interface DnsPath {
  /** The DNS Service from the API (kube-system/kube-dns) and its ClusterIPs. */
  service: { namespace: string; name: string; ips: string[] };
  /** The Pod's resolver: the first nameserver of a probe Pod's resolv.conf (kubelet clusterDNS). */
  resolver: string;
  /** The node the detecting probe ran on. */
  node: string;
  /** The replicas (ready endpoints of the Service) asked. */
  replicas: DnsServer[];
  /** The Service's address, asked from a Pod, is answered by a cache (NodeLocal DNSCache in
   *  its default mode binds it on every node). */
  serviceIsCache: boolean;
  /** The Pod's resolver is a cache (in front of the replicas). */
  resolverIsCache: boolean;
  /** The replicas' own answers count down: the DNS server caches cluster answers itself.
   *  Then nothing in front can be told apart, and every server is held to the bound. */
  replicasCache: boolean;
  /** The replicas' TTLs in seconds: of a record (kubernetes.default A) and of a negative answer. */
  ttl: { record: number; negative: number };
  /** The TTLs seen, per server and round (for the report). */
  samples: TtlSample[];
  /** What was asked and answered (kept for the report and as test data). */
  capture: PathCapture;
  /** One line for the run's identity. */
  summary: string;
}

export interface TtlSample {
  server: string;
  /** 'resolver', 'service' or 'replica' ('resolver' only when it is not the Service's address). */
  role: 'resolver' | 'service' | 'replica';
  round: 1 | 2;
  kind: 'record' | 'negative';
  rcode?: string;
  /** The answer's TTL (record), or the SOA's TTL in the authority section (negative). */
  ttl?: number;
  /** Negative answers: the SOA's minimum field. */
  soaMinimum?: number;
  error?: string;
}

/** The two questions asked at every server in each round. */
export function pathQuestions(zone: string, nonce: string): { record: string; negative: string } {
  return { record: `kubernetes.default.svc.${zone}`, negative: `svc-conformance-${nonce}.kube-system.svc.${zone}` };
}

export function sampleOf(a: DnsAnswer, server: string, role: TtlSample['role'], round: 1 | 2, kind: TtlSample['kind']): TtlSample {
  if (a.error) return { server, role, round, kind, error: a.error };
  if (kind === 'record')
    return { server, role, round, kind, rcode: a.rcode, ttl: a.answers.find((r) => r.type === 'A' || r.type === 'AAAA')?.ttl };
  const soa = a.authority.find((r) => r.type === 'SOA');
  const min = soa ? Number(soa.data.split(' ')[6]) : undefined;
  return { server, role, round, kind, rcode: a.rcode, ttl: soa?.ttl, soaMinimum: Number.isFinite(min) ? min : undefined };
}

const maxOf = (xs: (number | undefined)[]): number | undefined => {
  const v = xs.filter((x): x is number => typeof x === 'number');
  return v.length ? Math.max(...v) : undefined;
};

/** Whether a server's samples show a cache: a TTL that went down from round 1 to round 2,
 *  or one below the replicas' for the same question. */
export function showsCaching(samples: TtlSample[], server: string, authoritative: { record?: number; negative?: number }): boolean {
  const mine = samples.filter((s) => s.server === server);
  for (const kind of ['record', 'negative'] as const) {
    const r1 = mine.find((s) => s.kind === kind && s.round === 1)?.ttl;
    const r2 = mine.find((s) => s.kind === kind && s.round === 2)?.ttl;
    if (r1 !== undefined && r2 !== undefined && r2 < r1) return true;
    const auth = authoritative[kind];
    if (auth !== undefined && [r1, r2].some((t) => t !== undefined && t < auth)) return true;
  }
  return false;
}

/** What the preflight asked and was answered: the servers in the order asked, and per
 *  round the answers to roundQuestions() (a record and a negative question per server, of the address type of the
 *  cluster's primary family, in which the record's Service has its ClusterIP). */
export interface PathCapture {
  service: DnsPath['service'];
  resolver: string;
  node: string;
  replicas: DnsServer[];
  servers: { ip: string; role: TtlSample['role'] }[];
  rounds: DnsAnswer[][];
}

/** Classifies the path from what was answered (pure: unit-tested on captured answers). */
export function classify(capture: PathCapture): DnsPath {
  const { service, resolver } = capture;
  const samples = capture.rounds.flatMap((answers, r) =>
    capture.servers.flatMap((s, i) => [
      sampleOf(answers[2 * i]!, s.ip, s.role, r === 0 ? 1 : 2, 'record'),
      sampleOf(answers[2 * i + 1]!, s.ip, s.role, r === 0 ? 1 : 2, 'negative'),
    ]),
  );
  const replicaSamples = samples.filter((s) => s.role === 'replica');
  const record = maxOf(replicaSamples.filter((s) => s.kind === 'record').map((s) => s.ttl));
  const negSoa = maxOf(replicaSamples.filter((s) => s.kind === 'negative').map((s) => s.ttl));
  const negative = maxOf(
    replicaSamples
      .filter((s) => s.kind === 'negative')
      .map((s) => (s.ttl !== undefined && s.soaMinimum !== undefined ? Math.min(s.ttl, s.soaMinimum) : s.ttl)),
  );
  // Replicas that count down cache cluster answers themselves (decrease only: their
  // TTLs are the reference for everything else).
  const replicasCache = capture.replicas.some((r) => showsCaching(samples, r.ip, {}));
  const auth = { record, negative: negSoa };
  const serviceIP = service.ips[0] ?? resolver;
  const resolverIsService = service.ips.includes(resolver);
  const serviceIsCache = !replicasCache && showsCaching(samples, serviceIP, auth);
  const resolverIsCache = resolverIsService ? serviceIsCache : !replicasCache && showsCaching(samples, resolver, auth);
  const ttl = { record: record ?? 0, negative: negative ?? 0 };
  const svc = `${service.namespace}/${service.name} ${service.ips.join(',')}`;
  let summary: string;
  if (replicasCache)
    summary =
      `the DNS replicas cache cluster answers themselves (their TTLs count down); resolver ` +
      `${resolver}${resolverIsService ? ' (the DNS Service)' : ''}, Service ${svc}`;
  else if (resolverIsService)
    summary = serviceIsCache
      ? `a cache answers at the DNS Service's own address ${resolver} (${svc}) on the node, in front of the replicas`
      : `the Pod's resolver is the DNS Service ${svc}, answered by the replicas`;
  else
    summary =
      `${resolverIsCache ? 'a cache' : 'a resolver that is not the DNS Service and shows no caching'} at ${resolver} ` +
      `in front of the DNS Service ${svc}${serviceIsCache ? ', whose address is answered by a cache too' : ''}`;
  summary += `; replica TTLs: records ${ttl.record} s, negative answers ${ttl.negative} s`;
  return {
    service,
    resolver,
    node: capture.node,
    replicas: capture.replicas,
    serviceIsCache,
    resolverIsCache,
    replicasCache,
    ttl,
    samples,
    capture,
    summary,
  };
}

/** The one cause that fails every DNS check at once, seen by the preflight: the Pods'
 *  search domain (kubelet's clusterDomain) names a zone the cluster DNS does not serve, so
 *  kubernetes.default.svc.<zone> gets no address at any replica. Undefined when some
 *  replica answers it with an address (pure: unit-tested on captured answers). */
export function zoneNotServed(p: DnsPath, zone: string): string | undefined {
  const asked = p.capture.servers.flatMap((s, i) => p.capture.rounds.map((answers) => ({ server: s, answer: answers[2 * i]! })));
  const replicas = asked.filter((a) => a.server.role === 'replica');
  if (!replicas.length) return undefined;
  const answered = (a: DnsAnswer): boolean => !a.error && a.rcode === 'NOERROR' && a.answers.some((r) => r.type === a.question.type);
  if (replicas.some((a) => answered(a.answer))) return undefined;
  const name = replicas[0]!.answer.question.name;
  const type = replicas[0]!.answer.question.type;
  const seen = [
    ...new Set(replicas.map((a) => `${a.server.ip}: ${a.answer.error ?? `${a.answer.rcode}, ${a.answer.answers.length} record(s)`}`)),
  ];
  return (
    `the Pods' search domain says the cluster domain is '${zone}' (kubelet's clusterDomain), but the cluster DNS does not ` +
    `answer for it: ${name} ${type} got no address at any replica (${seen.join('; ')}). Every check that asks a name ` +
    `under ${zone} fails for this one cause: make kubelet's clusterDomain and the DNS server's zone the same ` +
    `(or name the zone the DNS serves with --cluster-domain, if the Pods should not rely on their search path)`
  );
}

/** True when some server on the path is a cache (the requirement 'dns-cache'). */
export const hasCache = (p?: DnsPath): boolean => Boolean(p && (p.resolverIsCache || p.serviceIsCache));

/** How long a cache may serve an answer past the replicas' change: the longest TTL the
 *  replicas give (a record's, or a negative answer's), in ms. */
export const cacheAllowanceMs = (p?: DnsPath): number => (p ? Math.max(p.ttl.record, p.ttl.negative) * 1000 : 0);

/** The servers every DNS check asks, each labelled and given its role: the Pod's resolver,
 *  the DNS Service (one entry when they are one address), then the replicas. Without a
 *  detected path (outside a run) the resolver stands for the Service, as before. */
export function serversOnPath(resolver: string, replicas: DnsServer[], p?: DnsPath): DnsServer[] {
  if (!p)
    return [
      { label: 'cluster DNS Service', ip: resolver, role: 'authoritative' },
      ...replicas.map((r) => ({ ...r, role: 'authoritative' as const })),
    ];
  const svcName = `${p.service.namespace}/${p.service.name}`;
  const out: DnsServer[] = [];
  if (p.service.ips.includes(resolver)) {
    out.push({
      label: `DNS Service ${svcName} (the Pod's resolver)${p.serviceIsCache ? ', answered by a cache on the node' : ''}`,
      ip: resolver,
      role: p.serviceIsCache ? 'cache' : 'authoritative',
    });
  } else {
    out.push({
      label: `the Pod's resolver${p.resolverIsCache ? ', a cache in front of the DNS Service' : ', not the DNS Service'}`,
      ip: resolver,
      role: p.resolverIsCache ? 'cache' : 'authoritative',
    });
    const sip = p.service.ips[0];
    if (sip)
      out.push({
        label: `DNS Service ${svcName}${p.serviceIsCache ? ', answered by a cache on the node' : ''}`,
        ip: sip,
        role: p.serviceIsCache ? 'cache' : 'authoritative',
      });
  }
  return [...out, ...replicas.map((r) => ({ ...r, role: 'authoritative' as const }))];
}

/** The questions of one detection round, at every server. */
export function roundQuestions(
  servers: { ip: string }[],
  names: { record: string; negative: string },
  type: 'A' | 'AAAA' = 'A',
): DnsQuestion[] {
  return servers.flatMap((s) => [
    { name: names.record, type, server: s.ip, timeoutMs: 2000 },
    { name: names.negative, type, server: s.ip, timeoutMs: 2000 },
  ]);
}
