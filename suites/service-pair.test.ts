// Both kinds of Service over one StatefulSet: mysql (ClusterIP) answers its virtual IP,
// mysql-headless answers the Pod IPs, and per-Pod names exist only under the Service
// that the StatefulSet's serviceName names.
import { apply } from '../helpers/cluster/apply.ts';
import { src } from './data/sources.ts';
import { once, defineSuite, describe } from '../helpers/harness/suite.ts';
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
    pods.flatMap((p) => p.ips),
    readyAt,
  );
  return readyAt;
});

describe('a ClusterIP and a headless Service over one StatefulSet', () => {
  dnsRows({ 'mysql-pair': setup });

  check({
    id: 'dns.pair.pod-names',
    level: 'required',
    claim: "per-Pod names mysql-N.<serviceName Service> answer Pod N's IP when a second Service selects the same Pods",
    source: src.spec('2.4.1 (hostname and subdomain)', '241---aaaa-records'),
    run: async () => {
      const since = await setup();
      for (const p of pods) {
        await ctx.expectEverywhere(
          `pair-name-${p.name}`,
          `${p.name}.${ctx.svcName('mysql-headless')}`,
          'address',
          { rcode: 'NOERROR', set: p.ips },
          { since },
        );
      }
    },
  });

  check({
    id: 'dns.pair.names-under-service-name',
    level: 'expected',
    claim: 'per-Pod names exist only under the Service that serviceName names, not under a ClusterIP Service over the same Pods',
    source: src.stsDoc,
    why:
      'The specification (2.4.1) defines per-endpoint names for headless Services only and says nothing about them ' +
      'under a ClusterIP Service: a server that answers them there serves an extension (section 3), not a violation.',
    run: async () => {
      await setup();
      for (const p of pods) {
        await ctx.expectEverywhere(`pair-no-name-${p.name}`, `${p.name}.${ctx.svcName('mysql')}`, 'address', {
          rcode: 'NXDOMAIN',
          set: [],
        });
      }
    },
  });
});
