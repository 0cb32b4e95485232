// DNS claims as a table: one question and one expected answer per row, checked by one
// function (helpers/harness/dns-rows.ts) at every DNS server from every probe, after convergence.
// A row names the suite whose namespace it runs in and the fixture (workload) it needs
// there; adding a DNS check for an existing fixture is one row here and nothing else.
// Each row is a check of the registry (suites/registry.ts) once its suite declares its rows
// (dnsRows); this file runs nothing.
import type { Expectation } from '../../helpers/lib/dns.ts';
import { addressType, externalAddress, familyOf, type IpFamily } from '../../helpers/lib/net.ts';
import type { DnsQuestion } from '../../probe/contract.ts';
import { type Level, type Requirement, type Source, src } from './sources.ts';

/** What a row may ask of the suite's namespace while building its question and answer. */
export interface RowContext {
  ns: string;
  zone: string;
  /** <name>.<ns>.svc.<zone> */
  svc(name: string, ns?: string): string;
  /** The Service's cluster IPs (both families on dual-stack). */
  clusterIPs(service: string): Promise<string[]>;
  /** The IPs of a Pod in the namespace (status.podIPs: one per family, primary first). */
  podIPs(pod: string): Promise<string[]>;
  /** The names and IPs (every family) of the ready Pods with this label selector. */
  readyPods(selector: string): Promise<{ name: string; ips: string[] }[]>;
  /** in-addr.arpa / ip6.arpa name of an address. */
  reverse(ip: string): string;
  /** The cluster's IP families, primary first. */
  families: IpFamily[];
}

export interface DnsRow {
  id: string;
  suite: string;
  claim: string;
  level: Level;
  source: Source;
  why?: string;
  requires?: Requirement[];
  /** The suite's fixture that must be in place (see that suite's `fixtures`). */
  fixture: string;
  /** The name asked; several names (one per ClusterIP for PTR) are each asked and checked. */
  name: (c: RowContext) => string | string[] | Promise<string | string[]>;
  /** 'address': A for IPv4 and AAAA for IPv6, asked in every family the cluster serves,
   *  each expecting the expectation's addresses of its family (helpers/harness/suite.ts). */
  type: DnsQuestion['type'] | 'address' | ((c: RowContext) => DnsQuestion['type'] | Promise<DnsQuestion['type']>);
  expect: (c: RowContext) => Expectation | Promise<Expectation>;
  /** More question fields (tcp, edns). */
  extra?: Partial<DnsQuestion>;
}

const spec = src.spec;
const RFC2308 = src.rfc(2308, 'negative caching: NXDOMAIN and NODATA with an SOA');
const RFC4343 = src.rfc(4343, 'DNS case insensitivity');
const NODATA_WHY =
  'The specification defines which records exist, not how a server says a name lacks a type; NODATA ' +
  '(NOERROR, no answer, SOA in authority) is the DNS convention (RFC 2308) and what CoreDNS does.';
const v6 = (ips: string[]): string[] => ips.filter((ip) => ip.includes(':'));
const mixCase = (s: string): string =>
  s
    .split('')
    .map((ch, i) => (i % 2 ? ch.toUpperCase() : ch))
    .join('');

export const DNS_ROWS: DnsRow[] = [
  // clusterip (fixture web-api: a Deployment of 3 behind a ClusterIP Service)
  {
    id: 'dns.clusterip.a',
    suite: 'clusterip',
    fixture: 'web-api',
    level: 'required',
    source: spec('2.3.1', '231---aaaa-records'),
    claim:
      'web-api.<ns>.svc.<zone> answers exactly its ClusterIP in each family the cluster serves (A for IPv4, AAAA for IPv6), ' +
      'from every node and at every CoreDNS replica',
    name: (c) => c.svc('web-api'),
    type: 'address',
    expect: async (c) => ({ rcode: 'NOERROR', set: await c.clusterIPs('web-api') }),
  },
  {
    id: 'dns.clusterip.aaaa',
    suite: 'clusterip',
    fixture: 'web-api',
    level: 'expected',
    source: spec('2.3.1', '231---aaaa-records'),
    why: NODATA_WHY,
    claim: 'AAAA of a ClusterIP Service answers its IPv6 ClusterIP, or NODATA (NOERROR, no answer, SOA) on single-stack IPv4',
    name: (c) => c.svc('web-api'),
    type: 'AAAA',
    expect: async (c) => {
      const six = v6(await c.clusterIPs('web-api'));
      return six.length ? { rcode: 'NOERROR', set: six } : { rcode: 'NOERROR', set: [], soa: true };
    },
  },
  // dns-records
  ...(['http', 'https'] as const).map((port): DnsRow => ({
    id: `dns.srv.clusterip-${port}`,
    suite: 'dns-records',
    fixture: 'multi-port',
    level: 'required',
    source: spec('2.3.2', '232---srv-records'),
    claim: `_${port}._tcp.<ClusterIP Service> SRV answers one record with the named port and the Service as target`,
    name: (c) => `_${port}._tcp.${c.svc('my-service')}`,
    type: 'SRV',
    expect: (c) => ({ rcode: 'NOERROR', set: [`${port === 'http' ? 80 : 443} ${c.svc('my-service')}`] }),
  })),
  {
    id: 'dns.srv.clusterip-udp',
    suite: 'dns-records',
    fixture: 'multi-port',
    level: 'required',
    source: spec('2.3.2', '232---srv-records'),
    claim: '_dns-udp._udp.<ClusterIP Service> SRV answers the named UDP port with the Service as target',
    name: (c) => `_dns-udp._udp.${c.svc('my-service')}`,
    type: 'SRV',
    expect: (c) => ({ rcode: 'NOERROR', set: [`53 ${c.svc('my-service')}`] }),
  },
  {
    id: 'dns.srv.headless',
    suite: 'dns-records',
    fixture: 'mysql',
    level: 'required',
    source: spec('2.4.2', '242---srv-records'),
    claim: 'a headless Service has one SRV per ready endpoint and named port, targeting <pod>.<svc>.<ns>.svc.<zone>',
    name: (c) => `_mysql._tcp.${c.svc('mysql')}`,
    type: 'SRV',
    expect: async (c) => ({ rcode: 'NOERROR', set: (await c.readyPods('app=mysql')).map((p) => `3306 ${p.name}.${c.svc('mysql')}`) }),
  },
  {
    id: 'dns.ptr.clusterip',
    suite: 'dns-records',
    fixture: 'web-api',
    level: 'required',
    source: spec('2.3.3', '233---ptr-records'),
    claim: 'PTR of each ClusterIP (in-addr.arpa for IPv4, ip6.arpa for IPv6) names the Service',
    name: async (c) => (await c.clusterIPs('web-api')).map((ip) => c.reverse(ip)),
    type: 'PTR',
    expect: (c) => ({ rcode: 'NOERROR', set: [c.svc('web-api')] }),
  },
  {
    id: 'dns.case.pod-name',
    suite: 'dns-records',
    fixture: 'mysql',
    level: 'required',
    source: RFC4343,
    claim: 'a mixed-case per-Pod name gets the same answer as the lower-case one',
    name: (c) => mixCase(`mysql-0.${c.svc('mysql')}`),
    type: 'address',
    expect: async (c) => ({ rcode: 'NOERROR', set: await c.podIPs('mysql-0') }),
  },
  {
    id: 'dns.case.service',
    suite: 'dns-records',
    fixture: 'web-api',
    level: 'required',
    source: RFC4343,
    claim: 'an upper-case Service name gets the same answer as the lower-case one',
    name: (c) => c.svc('web-api').toUpperCase(),
    type: 'address',
    expect: async (c) => ({ rcode: 'NOERROR', set: await c.clusterIPs('web-api') }),
  },
  // dns-negative
  {
    id: 'dns.negative.nx-service',
    suite: 'dns-negative',
    fixture: 'none',
    level: 'required',
    source: RFC2308,
    claim: 'a Service that does not exist is NXDOMAIN with an SOA',
    name: (c) => c.svc('no-such-service'),
    type: 'address',
    expect: () => ({ rcode: 'NXDOMAIN', set: [], soa: true }),
  },
  {
    id: 'dns.negative.nx-namespace',
    suite: 'dns-negative',
    fixture: 'none',
    level: 'required',
    source: RFC2308,
    claim: 'a Service in a namespace that does not exist is NXDOMAIN with an SOA',
    name: (c) => c.svc('web-api', `${c.ns}-missing`),
    type: 'address',
    expect: () => ({ rcode: 'NXDOMAIN', set: [], soa: true }),
  },
  {
    id: 'dns.negative.headless-no-ready',
    suite: 'dns-negative',
    fixture: 'notready',
    level: 'required',
    source: spec('2.4.1', '241---aaaa-records'),
    claim: 'a headless Service with no ready endpoint is NXDOMAIN (the spec says so, though users expect NODATA)',
    name: (c) => c.svc('notready'),
    type: 'address',
    expect: () => ({ rcode: 'NXDOMAIN', set: [] }),
  },
  {
    id: 'dns.negative.aaaa-nodata',
    suite: 'dns-negative',
    fixture: 'web-api',
    level: 'expected',
    source: RFC2308,
    why: NODATA_WHY,
    claim:
      'the address type of the family a single-stack ClusterIP Service lacks (AAAA of an IPv4-only Service, A of an ' +
      'IPv6-only one) is NODATA: NOERROR, no answer, SOA in authority',
    // manifests/single-stack.yaml: SingleStack on every cluster (the fixtures' other Services
    // ask for PreferDualStack, and have both families on a dual-stack cluster).
    name: (c) => c.svc('single-stack'),
    type: async (c) => addressType((await c.clusterIPs('single-stack')).some((ip) => familyOf(ip) === 'IPv6') ? 'IPv4' : 'IPv6'),
    expect: () => ({ rcode: 'NOERROR', set: [], soa: true }),
  },
  {
    id: 'dns.negative.txt-nodata',
    suite: 'dns-negative',
    fixture: 'multi-port',
    level: 'expected',
    source: RFC2308,
    why: NODATA_WHY,
    claim: 'TXT of a Service name is NODATA: NOERROR, no answer, SOA in authority',
    name: (c) => c.svc('unnamed-port'),
    type: 'TXT',
    expect: () => ({ rcode: 'NOERROR', set: [], soa: true }),
  },
  // dns-externalname
  {
    id: 'dns.externalname.cname',
    suite: 'dns-externalname',
    fixture: 'external-name',
    level: 'required',
    source: spec('2.5', '25---records-for-external-name-services'),
    claim: 'an ExternalName Service answers CNAME <externalName>',
    name: (c) => c.svc('my-database'),
    type: 'CNAME',
    expect: () => ({ rcode: 'NOERROR', set: ['db.first.svc-conformance.invalid'] }),
  },
  // service-pair (fixture mysql-pair: ClusterIP mysql and headless mysql-headless over one StatefulSet)
  {
    id: 'dns.pair.clusterip-a',
    suite: 'service-pair',
    fixture: 'mysql-pair',
    level: 'required',
    source: spec('2.3.1', '231---aaaa-records'),
    claim: 'over one StatefulSet, the ClusterIP Service mysql answers its ClusterIP',
    name: (c) => c.svc('mysql'),
    type: 'address',
    expect: async (c) => ({ rcode: 'NOERROR', set: await c.clusterIPs('mysql') }),
  },
  {
    id: 'dns.pair.headless-a',
    suite: 'service-pair',
    fixture: 'mysql-pair',
    level: 'required',
    source: spec('2.4.1', '241---aaaa-records'),
    claim: 'over the same StatefulSet, the headless Service mysql-headless answers the 3 Pod IPs',
    name: (c) => c.svc('mysql-headless'),
    type: 'address',
    expect: async (c) => ({ rcode: 'NOERROR', set: (await c.readyPods('app=mysql')).flatMap((p) => p.ips) }),
  },
  {
    id: 'dns.pair.srv-clusterip',
    suite: 'service-pair',
    fixture: 'mysql-pair',
    level: 'required',
    source: spec('2.3.2', '232---srv-records'),
    claim: 'over the same StatefulSet, _mysql._tcp.<ClusterIP Service> SRV targets the Service itself, not the Pods',
    name: (c) => `_mysql._tcp.${c.svc('mysql')}`,
    type: 'SRV',
    expect: (c) => ({ rcode: 'NOERROR', set: [`3306 ${c.svc('mysql')}`] }),
  },
  {
    id: 'dns.pair.srv-headless',
    suite: 'service-pair',
    fixture: 'mysql-pair',
    level: 'required',
    source: spec('2.4.2', '242---srv-records'),
    claim: 'over the same StatefulSet, _mysql._tcp.<headless Service> SRV targets each ready Pod by its name under that Service',
    name: (c) => `_mysql._tcp.${c.svc('mysql-headless')}`,
    type: 'SRV',
    expect: async (c) => ({
      rcode: 'NOERROR',
      set: (await c.readyPods('app=mysql')).map((p) => `3306 ${p.name}.${c.svc('mysql-headless')}`),
    }),
  },
  // external-endpoints
  {
    id: 'dns.external.endpoints-a',
    suite: 'external-endpoints',
    fixture: 'external-db',
    level: 'required',
    source: src.serviceDoc('Services without selectors', '#services-without-selectors'),
    claim: 'a selectorless headless Service with a manual Endpoints resolves to exactly the external address',
    name: (c) => c.svc('external-db'),
    type: 'address',
    expect: (c) => ({ rcode: 'NOERROR', set: [externalAddress(c.families[0]!)] }),
  },
  {
    id: 'dns.external.vip-a',
    suite: 'external-endpoints',
    fixture: 'external-db-vip',
    level: 'required',
    source: spec('2.3.1', '231---aaaa-records'),
    claim: 'a selectorless ClusterIP Service resolves to its virtual IP, not to the endpoint address',
    name: (c) => c.svc('external-db-vip'),
    type: 'address',
    expect: async (c) => ({ rcode: 'NOERROR', set: await c.clusterIPs('external-db-vip') }),
  },
];
