// Both kinds of Service over one StatefulSet: mysql (ClusterIP) answers its virtual IP,
// mysql-headless answers the Pod IPs, and per-Pod names exist only under the Service
// that the StatefulSet's serviceName names.
import { describe, test } from '@jest/globals';
import { apply } from '../helpers/apply.ts';
import { once, useSuite, kube } from '../helpers/suite.ts';
import { rolloutReady, type PodState } from '../helpers/workloads.ts';

const ctx = useSuite('service-pair');
let pods: PodState[] = [];
const setup = once(async () => {
  await apply(ctx.ns, 'mysql-pair.yaml', { REPLICAS: 3 });
  pods = await rolloutReady(ctx.ns, 'StatefulSet', 'mysql', 3);
  await ctx.slicesSettled('pair-slices', 'mysql-headless', pods.map((p) => p.ip!));
});

describe('a ClusterIP and a headless Service over one StatefulSet', () => {
  test('mysql answers its ClusterIP and mysql-headless answers the 3 Pod IPs', async () => {
    await setup();
    const vip = (await kube().core.readNamespacedService({ name: 'mysql', namespace: ctx.ns })).spec!.clusterIP!;
    await ctx.expectEverywhere('pair-clusterip', ctx.svcName('mysql'), 'A', { rcode: 'NOERROR', set: [vip] });
    await ctx.expectEverywhere('pair-headless', ctx.svcName('mysql-headless'), 'A', { rcode: 'NOERROR', set: pods.map((p) => p.ip!) });
  });

  test('per-Pod names exist only under the Service that serviceName names', async () => {
    await setup();
    for (const p of pods) {
      await ctx.expectEverywhere(`pair-name-${p.name}`, `${p.name}.${ctx.svcName('mysql-headless')}`, 'A', { rcode: 'NOERROR', set: [p.ip!] });
      await ctx.expectEverywhere(`pair-no-name-${p.name}`, `${p.name}.${ctx.svcName('mysql')}`, 'A', { rcode: 'NXDOMAIN', set: [] });
    }
  });
});
