// A DNS cache in front of the replicas (NodeLocal DNSCache at a link-local resolver, or at
// the DNS Service's own address) may serve an answer until its TTL runs out, and no
// longer. The name's answer changes at once (a hand-made EndpointSlice), after every
// server (every node's cache included) has been asked for it: the replicas follow within
// the bound, the caches within the bound plus the TTL, and the caches' lag is reported.
// Runs where the preflight found a cache (requirement dns-cache).
import { describe } from '@jest/globals';
import { apply } from '../helpers/cluster/apply.ts';
import { defineSuite } from '../helpers/harness/suite.ts';
import { detected } from '../helpers/config/target.ts';

const { ctx, check } = defineSuite('dns-cache');
const BEFORE = '192.0.2.10';
const AFTER = '192.0.2.20';

describe('DNS caches in front of the replicas', () => {
  check('dns.cache.ttl-honoured', async () => {
    const name = ctx.svcName('cached-name');
    ctx.evidence.info(
      'cache-path',
      detected().dnsPath?.summary ?? 'no DNS path detected',
      ctx.facts.servers.map((s) => `${s.label} ${s.ip} (${s.role ?? 'authoritative'})`),
    );
    await apply(ctx.ns, 'cached-name.yaml', { ADDRESS: BEFORE });
    // Every server answers the first address: each cache now holds it.
    await ctx.expectEverywhere('cache-before', name, 'A', { rcode: 'NOERROR', set: [BEFORE] });
    await apply(ctx.ns, 'cached-name.yaml', { ADDRESS: AFTER });
    await ctx.expectEverywhere('cache-after', name, 'A', { rcode: 'NOERROR', set: [AFTER] }, { since: Date.now() });
  });
});
