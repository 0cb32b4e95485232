// Selectorless Services: a stable in-cluster name for an outside address, made with a
// hand-made Endpoints (mirrored into an EndpointSlice) or a hand-made EndpointSlice.
// 192.168.1.100 is DNS data only: no check ever connects to it.
import { describe, expect } from '@jest/globals';
import { check } from '../helpers/check.ts';
import { dnsRows } from '../helpers/dns-rows.ts';
import { apply } from '../helpers/apply.ts';
import { converged, once, useSuite } from '../helpers/suite.ts';
import { serviceSlices } from '../helpers/workloads.ts';
import { converge } from '../helpers/converge.ts';

const ctx = useSuite('external-endpoints', { probes: 2 });
const EXTERNAL = '192.168.1.100';
const MIRROR = 'endpointslicemirroring-controller.k8s.io';

const externalDb = once(async () => { await apply(ctx.ns, 'external-db.yaml'); });
const externalDbVip = once(async () => { await apply(ctx.ns, 'external-db-vip.yaml'); });

describe('selectorless Services with hand-made endpoints', () => {
  dnsRows(ctx, 'external-endpoints', { 'external-db': externalDb, 'external-db-vip': externalDbVip });

  check('api.external.mirrored-slice', async () => {
    await externalDb();
    const shape = async (): Promise<unknown> => (await serviceSlices(ctx.ns, 'external-db')).map((s) => ({
      managedBy: s.metadata?.labels?.['endpointslice.kubernetes.io/managed-by'],
      addresses: (s.endpoints ?? []).flatMap((e) => e.addresses),
      ports: (s.ports ?? []).map((p) => `${p.name}/${p.protocol}/${p.port}`),
    }));
    const want = [{ managedBy: MIRROR, addresses: [EXTERNAL], ports: ['postgres/TCP/5432'] }];
    // The mirroring controller works asynchronously: converge within the bound, then assert.
    const { ms, polls } = await converge('the EndpointSlices of external-db to be exactly the mirrored one', async () => {
      const now = await shape();
      return { ok: JSON.stringify(now) === JSON.stringify(want), state: now };
    }, { kind: 'EndpointSlices' });
    ctx.evidence.measure('external-mirrored', `${converged(polls, 'EndpointSlices')}: mirrored slice`, ms, 'ms', false);
    expect(await shape()).toEqual(want);
  });

  check('dns.external.slice-a', async () => {
    await apply(ctx.ns, 'external-db-slice.yaml');
    await ctx.convergeEverywhere('external-slice-a', ctx.svcName('external-db-slice'), 'A', { rcode: 'NOERROR', set: [EXTERNAL] });
    const slices = await serviceSlices(ctx.ns, 'external-db-slice');
    expect(slices.map((s) => s.metadata?.name)).toEqual(['external-db-slice-1']);
  });
});
