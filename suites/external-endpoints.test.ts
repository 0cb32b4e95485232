// Selectorless Services: a stable in-cluster name for an outside address, made with a
// hand-made Endpoints (mirrored into an EndpointSlice) or a hand-made EndpointSlice.
// 192.168.1.100 is DNS data only: no check ever connects to it.
import { describe, expect, test } from '@jest/globals';
import { apply } from '../helpers/apply.ts';
import { useSuite, kube } from '../helpers/suite.ts';
import { serviceSlices } from '../helpers/workloads.ts';
import { converge } from '../helpers/converge.ts';

const ctx = useSuite('external-endpoints', { probes: 2 });
const EXTERNAL = '192.168.1.100';
const MIRROR = 'endpointslicemirroring-controller.k8s.io';

describe('selectorless Services with hand-made endpoints', () => {
  test('a selectorless headless Service with a manual Endpoints resolves to exactly the external address', async () => {
    await apply(ctx.ns, 'external-db.yaml');
    await ctx.convergeEverywhere('external-endpoints-a', ctx.svcName('external-db'), 'A', { rcode: 'NOERROR', set: [EXTERNAL] });
    await ctx.expectEverywhere('external-endpoints-a', ctx.svcName('external-db'), 'A', { rcode: 'NOERROR', set: [EXTERNAL] });
  });

  test('its only EndpointSlice is the mirrored one, labelled as managed by the mirroring controller', async () => {
    await apply(ctx.ns, 'external-db.yaml');
    const shape = async (): Promise<unknown> => (await serviceSlices(ctx.ns, 'external-db')).map((s) => ({
      managedBy: s.metadata?.labels?.['endpointslice.kubernetes.io/managed-by'],
      addresses: (s.endpoints ?? []).flatMap((e) => e.addresses),
      ports: (s.ports ?? []).map((p) => `${p.name}/${p.protocol}/${p.port}`),
    }));
    const want = [{ managedBy: MIRROR, addresses: [EXTERNAL], ports: ['postgres/TCP/5432'] }];
    // The mirroring controller works asynchronously: converge within the bound, then assert.
    const { ms } = await converge('the EndpointSlices of external-db to be exactly the mirrored one', async () => {
      const now = await shape();
      return { ok: JSON.stringify(now) === JSON.stringify(want), state: now };
    }, { kind: 'EndpointSlices', boundMs: kube().target.convergenceBoundMs, boundName: 'SVC_CONVERGENCE_BOUND_MS / --convergence-bound' });
    ctx.evidence.measure('external-mirrored', 'EndpointSlices converged: mirrored slice', ms, 'ms', false);
    expect(await shape()).toEqual(want);
  });

  test('the same holds with a hand-made EndpointSlice (the current API)', async () => {
    await apply(ctx.ns, 'external-db-slice.yaml');
    await ctx.convergeEverywhere('external-slice-a', ctx.svcName('external-db-slice'), 'A', { rcode: 'NOERROR', set: [EXTERNAL] });
    const slices = await serviceSlices(ctx.ns, 'external-db-slice');
    expect(slices.map((s) => s.metadata?.name)).toEqual(['external-db-slice-1']);
  });

  test('a selectorless ClusterIP Service resolves to its virtual IP, not to the endpoint address', async () => {
    await apply(ctx.ns, 'external-db-vip.yaml');
    const svc = await kube().core.readNamespacedService({ name: 'external-db-vip', namespace: ctx.ns });
    const vip = svc.spec!.clusterIP!;
    expect(vip).not.toBe(EXTERNAL);
    await ctx.expectEverywhere('external-vip-a', ctx.svcName('external-db-vip'), 'A', { rcode: 'NOERROR', set: [vip] });
  });
});
