// Negative answers: NXDOMAIN for names that do not exist (a missing Service, a missing
// namespace, a headless Service with no ready endpoint, as the spec says), NODATA
// (NOERROR, no answer, SOA in authority) for a type a name lacks, and the SOA's
// minimum TTL reported.
import { describe, expect, test } from '@jest/globals';
import { apply } from '../helpers/apply.ts';
import { useSuite, kube } from '../helpers/suite.ts';
import { rolloutReady, serviceSlices, sliceEndpoints } from '../helpers/workloads.ts';
import { waitFor } from '../helpers/wait.ts';

const ctx = useSuite('dns-negative', { probes: 2 });

describe('negative DNS answers', () => {
  test('a Service that does not exist is NXDOMAIN', async () => {
    await ctx.expectEverywhere('nx-service', ctx.svcName('no-such-service'), 'A', { rcode: 'NXDOMAIN', set: [], soa: true });
  });

  test('a Service in a namespace that does not exist is NXDOMAIN', async () => {
    await ctx.expectEverywhere('nx-namespace', ctx.svcName('web-api', `${ctx.ns}-missing`), 'A', { rcode: 'NXDOMAIN', set: [], soa: true });
  });

  test('a headless Service with no ready endpoint is NXDOMAIN (the spec says so, though users expect NODATA)', async () => {
    await apply(ctx.ns, 'not-ready.yaml', { REPLICAS: 1, PUBLISH: false });
    // The Pod exists and runs, and its endpoint is listed as not ready.
    await waitFor('notready-0 to run (never Ready) and be listed as a not-ready endpoint', async () => {
      const eps = sliceEndpoints(await serviceSlices(ctx.ns, 'notready'));
      return { ok: eps.length === 1 && eps.every((e) => !e.ready), state: eps };
    }, { timeoutMs: 120_000 });
    await ctx.expectEverywhere('nx-headless-empty', ctx.svcName('notready'), 'A', { rcode: 'NXDOMAIN', set: [] });
    ctx.evidence.info('nx-headless-empty', 'Per the Kubernetes DNS specification (2.4.1), a headless Service with no ready endpoint has no records: the answer is NXDOMAIN, not NODATA. Clients see "name does not exist" until a Pod is ready.');
  });

  test('AAAA of an IPv4-only ClusterIP Service is NODATA: NOERROR, no answer, SOA in authority', async () => {
    await apply(ctx.ns, 'web-api.yaml', { REPLICAS: 1 });
    await rolloutReady(ctx.ns, 'Deployment', 'web-api', 1);
    await ctx.expectEverywhere('nodata-aaaa', ctx.svcName('web-api'), 'AAAA', { rcode: 'NOERROR', set: [], soa: true });
  });

  test('SRV for a port that has no name is NODATA or NXDOMAIN, and TXT of a Service name is NODATA', async () => {
    await apply(ctx.ns, 'multi-port.yaml');
    // First the Service must be known to the DNS server (its A answers the ClusterIP):
    // until then NXDOMAIN would pass for the wrong reason.
    const vip = (await kube().core.readNamespacedService({ name: 'unnamed-port', namespace: ctx.ns })).spec!.clusterIP!;
    await ctx.expectEverywhere('nodata-known', ctx.svcName('unnamed-port'), 'A', { rcode: 'NOERROR', set: [vip] });
    await ctx.expectEverywhere('nodata-txt', ctx.svcName('unnamed-port'), 'TXT', { rcode: 'NOERROR', set: [], soa: true });
    // An unnamed port has no _<port>._<proto> name; asking for the one it would have gets nothing.
    const name = `_http._tcp.${ctx.svcName('unnamed-port')}`;
    const results = await ctx.askEverywhere((s) => [{ name, type: 'SRV', server: s.ip }]);
    const shape = results.map((r) => ({ server: r.server.label, rcode: r.answer.rcode, srvRecords: r.answer.answers.filter((x) => x.type === 'SRV').length }));
    ctx.evidence.info('nodata-srv-unnamed', `${name} SRV: ${[...new Set(shape.map((x) => x.rcode))].join(', ')}`);
    expect(shape).toEqual(shape.map((x) => ({ ...x, rcode: x.rcode === 'NXDOMAIN' ? 'NXDOMAIN' : 'NOERROR', srvRecords: 0 })));
  });

  test('the SOA minimum TTL (negative-caching TTL) is reported', async () => {
    const [a] = await ctx.probes[0]!.dns([{ name: ctx.svcName('no-such-service'), type: 'A', server: ctx.facts.dnsServiceIP }]);
    const soa = a!.authority.find((r) => r.type === 'SOA');
    expect(soa).toBeDefined();
    const minimum = Number(soa!.data.split(' ')[6]);
    ctx.evidence.measure('soa-minimum', 'SOA minimum TTL', minimum, 's');
    ctx.evidence.transcript('soa-minimum', `SOA: ${soa!.name} ${soa!.ttl} ${soa!.data}`);
    expect(Number.isInteger(minimum)).toBe(true);
  });
});
