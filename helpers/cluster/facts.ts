// Cluster facts, detected rather than assumed: the cluster domain (from a probe Pod's
// resolv.conf search list), the DNS Service (from the API), every replica's Pod IP, the
// Pod's resolver, and which of them is a cache (the run's DNS path, detected once by the
// preflight: helpers/lib/dns-path.ts). Reads only kube-system Services and EndpointSlices
// outside the run's namespaces.
import type { ResolvConf } from '../../probe/contract.ts';
import type { DnsServer } from '../lib/dns.ts';
import { serversOnPath } from '../lib/dns-path.ts';
import type { Probe } from './probe.ts';
import { currentTarget, detected } from '../config/target.ts';
import { serviceSlices, sliceEndpoints } from './workloads.ts';

export interface ClusterFacts {
  clusterDomain: string;
  /** How the domain was found: 'resolv.conf' or 'override'. */
  domainSource: string;
  /** The DNS Service's ClusterIP, from the API (the Pod's resolver when it is not known). */
  dnsServiceIP: string;
  /** The Pod's resolver: the first nameserver in its resolv.conf. */
  resolver: string;
  /** The Pod's resolver, the DNS Service (one entry when they are one address), then each
   *  ready replica; each labelled and given its role (authoritative or cache). */
  servers: DnsServer[];
  replicas: DnsServer[];
  searchPath: string[];
  ndots?: number;
}

/** The cluster domain from a Pod's resolv.conf (its first search entry is <ns>.svc.<zone>),
 *  unless the run says it (--cluster-domain). */
export function clusterDomainOf(rc: ResolvConf, ns: string): { clusterDomain: string; domainSource: string } {
  const override = currentTarget().clusterDomain;
  if (override) return { clusterDomain: override, domainSource: 'override' };
  const prefix = `${ns}.svc.`;
  const first = rc.search[0] ?? '';
  if (first.startsWith(prefix)) return { clusterDomain: first.slice(prefix.length).replace(/\.$/, ''), domainSource: 'resolv.conf' };
  throw new Error(
    `cannot detect the cluster domain: the probe Pod's resolv.conf search list is [${rc.search.join(' ')}], ` +
      `expected it to start with ${prefix}<zone>. Set SVC_CLUSTER_DOMAIN (--cluster-domain) to say it`,
  );
}

export async function detectFacts(probe: Probe): Promise<ClusterFacts> {
  const id = await probe.whoami();
  const rc = id.resolvConf;
  const { clusterDomain, domainSource } = clusterDomainOf(rc, probe.ns);
  const resolver = rc.nameservers[0];
  if (!resolver) throw new Error(`the probe Pod's resolv.conf has no nameserver: ${JSON.stringify(rc)}`);
  const replicas = await dnsReplicas();
  const dnsPath = detected().dnsPath;
  const ndotsOpt = rc.options.find((o) => o.startsWith('ndots:'));
  return {
    clusterDomain,
    domainSource,
    resolver,
    replicas,
    dnsServiceIP: dnsPath?.service.ips[0] ?? resolver,
    servers: serversOnPath(resolver, replicas, dnsPath),
    searchPath: rc.search,
    ndots: ndotsOpt ? Number(ndotsOpt.slice(6)) : undefined,
  };
}

/** Ready kube-dns endpoints in kube-system, each with its Pod name. */
export async function dnsReplicas(): Promise<DnsServer[]> {
  const eps = sliceEndpoints(await serviceSlices('kube-system', 'kube-dns'));
  const seen = new Set<string>();
  const out: DnsServer[] = [];
  for (const e of eps.filter((x) => x.ready)) {
    for (const ip of e.addresses) {
      if (seen.has(ip)) continue;
      seen.add(ip);
      out.push({ label: `replica ${e.targetRef ?? ip}`, ip, role: 'authoritative' });
    }
  }
  if (out.length === 0) throw new Error('kube-system/kube-dns has no ready endpoints: the cluster DNS is not running');
  return out;
}
