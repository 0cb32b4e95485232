// Both kinds of Service over one StatefulSet: mysql (ClusterIP) answers its virtual IP,
// mysql-headless answers the Pod IPs, and per-Pod names exist only under the Service
// that the StatefulSet's serviceName names.
import { describe } from '@jest/globals';
import { apply } from '../helpers/cluster/apply.ts';
import { once, defineSuite } from '../helpers/harness/suite.ts';
import { rolloutReady, type PodState } from '../helpers/cluster/workloads.ts';

const { ctx, check, dnsRows } = defineSuite('service-pair');
let pods: PodState[] = [];
const setup = once(async () => {
  await apply(ctx.ns, 'mysql-pair.yaml', { REPLICAS: 3 });
  pods = await rolloutReady(ctx.ns, 'StatefulSet', 'mysql', 3);
  const readyAt = Date.now();
  await ctx.slicesSettled(
    'pair-slices',
    'mysql-headless',
    pods.map((p) => p.ip!),
    readyAt,
  );
  return readyAt;
});

describe('a ClusterIP and a headless Service over one StatefulSet', () => {
  dnsRows({ 'mysql-pair': setup });

  check('dns.pair.pod-names', async () => {
    const since = await setup();
    for (const p of pods) {
      await ctx.expectEverywhere(
        `pair-name-${p.name}`,
        `${p.name}.${ctx.svcName('mysql-headless')}`,
        'address',
        { rcode: 'NOERROR', set: [p.ip!] },
        { since },
      );
    }
  });

  check('dns.pair.names-under-service-name', async () => {
    await setup();
    for (const p of pods) {
      await ctx.expectEverywhere(`pair-no-name-${p.name}`, `${p.name}.${ctx.svcName('mysql')}`, 'address', { rcode: 'NXDOMAIN', set: [] });
    }
  });
});
