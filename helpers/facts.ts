// Cluster facts, detected rather than assumed: the cluster domain (from a probe Pod's
// resolv.conf search list), the DNS Service IP, every CoreDNS replica's Pod IP, and
// the nodes. Reads only kube-system Services and EndpointSlices outside the run's namespaces.
import type { DnsServer } from './dns.ts';
import type { Probe } from './probe.ts';
import { currentTarget } from './target.ts';
import { serviceSlices, sliceEndpoints } from './workloads.ts';

export interface ClusterFacts {
  clusterDomain: string;
  /** How the domain was found: 'resolv.conf' or 'override'. */
  domainSource: string;
  dnsServiceIP: string;
  /** The DNS Service first, then each ready replica. */
  servers: DnsServer[];
  replicas: DnsServer[];
  searchPath: string[];
  ndots?: number;
}

export async function detectFacts(probe: Probe): Promise<ClusterFacts> {
  const id = await probe.whoami();
  const rc = id.resolvConf;
  const prefix = `${probe.ns}.svc.`;
  const first = rc.search[0] ?? '';
  let clusterDomain: string;
  let domainSource = 'resolv.conf';
  const override = currentTarget().clusterDomain;
  if (override) {
    clusterDomain = override;
    domainSource = 'override';
  } else if (first.startsWith(prefix)) {
    clusterDomain = first.slice(prefix.length).replace(/\.$/, '');
  } else {
    throw new Error(`cannot detect the cluster domain: the probe Pod's resolv.conf search list is [${rc.search.join(' ')}], expected it to start with ${prefix}<zone>. Set SVC_CLUSTER_DOMAIN (--cluster-domain) to say it`);
  }
  const dnsServiceIP = rc.nameservers[0];
  if (!dnsServiceIP) throw new Error(`the probe Pod's resolv.conf has no nameserver: ${JSON.stringify(rc)}`);
  const replicas = await dnsReplicas();
  const ndotsOpt = rc.options.find((o) => o.startsWith('ndots:'));
  return {
    clusterDomain, domainSource, dnsServiceIP, replicas,
    servers: [{ label: 'cluster DNS Service', ip: dnsServiceIP }, ...replicas],
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
      out.push({ label: `replica ${e.targetRef ?? ip}`, ip });
    }
  }
  if (out.length === 0) throw new Error('kube-system/kube-dns has no ready endpoints: the cluster DNS is not running');
  return out;
}
