// Not-ready addresses: with publishNotReadyAddresses the never-ready Pods of a
// StatefulSet are published in the A answer and under their per-Pod names; without it
// they are absent; toggling the flag is followed within the bound.
import { describe } from '@jest/globals';
import { apply } from '../helpers/cluster/apply.ts';
import { once, defineSuite } from '../helpers/harness/suite.ts';
import { listPods, podState, type PodState } from '../helpers/cluster/workloads.ts';
import { waitFor } from '../helpers/cluster/wait.ts';

const { ctx, check } = defineSuite('dns-not-ready', { probes: 2 });
let pods: PodState[] = [];

const running = async (n: number): Promise<PodState[]> =>
  waitFor(
    `${n} notready Pods Running with an IP (never Ready)`,
    async () => {
      const s = (await listPods(ctx.ns, 'app=notready')).map(podState);
      return { ok: s.length === n && s.every((p) => p.phase === 'Running' && p.ip && !p.ready), state: s };
    },
    { timeoutMs: 120_000 },
  );

const setup = once(async () => {
  await apply(ctx.ns, 'not-ready.yaml', { REPLICAS: 2, PUBLISH: false });
  pods = await running(2);
});

describe('not-ready addresses', () => {
  check('dns.not-ready.absent', async () => {
    await setup();
    await apply(ctx.ns, 'not-ready.yaml', { REPLICAS: 2, PUBLISH: false });
    await ctx.convergeEverywhere('not-ready-absent', ctx.svcName('notready'), 'address', { rcode: 'NXDOMAIN', set: [] });
    await ctx.expectEverywhere('not-ready-absent', ctx.svcName('notready'), 'address', { rcode: 'NXDOMAIN', set: [] });
    await ctx.expectEverywhere('not-ready-absent-name', `notready-0.${ctx.svcName('notready')}`, 'address', { rcode: 'NXDOMAIN', set: [] });
  });

  check('dns.not-ready.published', async () => {
    await setup();
    await apply(ctx.ns, 'not-ready.yaml', { REPLICAS: 2, PUBLISH: true });
    await ctx.convergeEverywhere('not-ready-published', ctx.svcName('notready'), 'address', {
      rcode: 'NOERROR',
      set: pods.map((p) => p.ip!),
    });
    for (const p of pods) {
      await ctx.expectEverywhere('not-ready-published-name', `${p.name}.${ctx.svcName('notready')}`, 'address', {
        rcode: 'NOERROR',
        set: [p.ip!],
      });
    }
  });

  check('dns.not-ready.unpublished', async () => {
    await setup();
    await apply(ctx.ns, 'not-ready.yaml', { REPLICAS: 2, PUBLISH: true });
    await ctx.convergeEverywhere('not-ready-unpublished-start', ctx.svcName('notready'), 'address', {
      rcode: 'NOERROR',
      set: pods.map((p) => p.ip!),
    });
    await apply(ctx.ns, 'not-ready.yaml', { REPLICAS: 2, PUBLISH: false });
    await ctx.convergeEverywhere('not-ready-unpublished', ctx.svcName('notready'), 'address', { rcode: 'NXDOMAIN', set: [] });
  });
});
