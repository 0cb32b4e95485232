// A DNS cache in front of the replicas (NodeLocal DNSCache at a link-local resolver, or at
// the DNS Service's own address) may serve an answer until its TTL runs out, and no
// longer. The name's answer changes at once (a hand-made EndpointSlice), after every
// server (every node's cache included) has been asked for it: the replicas follow within
// the bound, the caches within the bound plus the TTL, and the caches' lag is reported.
// Runs where the preflight found a cache (requirement dns-cache).
import { apply } from '../helpers/cluster/apply.ts';
import { src } from './data/sources.ts';
import { defineSuite, describe } from '../helpers/harness/suite.ts';
import { detected } from '../helpers/config/target.ts';
import { docAddress } from '../helpers/lib/net.ts';

const { ctx, check } = defineSuite('dns-cache');

describe('DNS caches in front of the replicas', () => {
  check({
    id: 'dns.cache.ttl-honoured',
    level: 'required',
    requires: ['dns-cache'],
    claim:
      'a cache in front of the DNS replicas (NodeLocal DNSCache) serves a changed answer no longer than its TTL: ' +
      "the replicas follow within the bound, every node's cache within the bound plus the TTL (the lag is reported)",
    source: src.rfc(2181, 'section 8, TTL: how long a record may be cached'),
    run: async () => {
      const name = ctx.svcName('cached-name');
      ctx.evidence.info(
        'cache-path',
        detected().dnsPath?.summary ?? 'no DNS path detected',
        ctx.facts.servers.map((s) => `${s.label} ${s.ip} (${s.role ?? 'authoritative'})`),
      );
      // Documentation addresses of the cluster's primary family (the slice's addressType).
      const [BEFORE, AFTER] = [docAddress(ctx.families()[0]!, 10), docAddress(ctx.families()[0]!, 20)];
      await apply(ctx.ns, 'cached-name.yaml', { ADDRESS: BEFORE });
      // Every server answers the first address: each cache now holds it.
      await ctx.expectEverywhere('cache-before', name, 'address', { rcode: 'NOERROR', set: [BEFORE] });
      await apply(ctx.ns, 'cached-name.yaml', { ADDRESS: AFTER });
      await ctx.expectEverywhere('cache-after', name, 'address', { rcode: 'NOERROR', set: [AFTER] }, { since: Date.now() });
    },
  });
});
