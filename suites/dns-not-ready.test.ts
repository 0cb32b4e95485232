// Not-ready addresses: with publishNotReadyAddresses the never-ready Pods of a
// StatefulSet are published in the A answer and under their per-Pod names; without it
// they are absent; toggling the flag is followed within the bound.
import { apply } from '../helpers/cluster/apply.ts';
import { src } from './data/sources.ts';
import { once, defineSuite, describe } from '../helpers/harness/suite.ts';
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
  check({
    id: 'dns.not-ready.absent',
    level: 'required',
    claim: 'without publishNotReadyAddresses, Pods whose readiness always fails are absent from the answer and have no per-Pod name',
    source: src.spec('2.1 (ready endpoints)', '21---definitions'),
    run: async () => {
      await setup();
      await apply(ctx.ns, 'not-ready.yaml', { REPLICAS: 2, PUBLISH: false });
      await ctx.convergeEverywhere('not-ready-absent', ctx.svcName('notready'), 'address', { rcode: 'NXDOMAIN', set: [] });
      await ctx.expectEverywhere('not-ready-absent', ctx.svcName('notready'), 'address', { rcode: 'NXDOMAIN', set: [] });
      await ctx.expectEverywhere('not-ready-absent-name', `notready-0.${ctx.svcName('notready')}`, 'address', {
        rcode: 'NXDOMAIN',
        set: [],
      });
    },
  });

  check({
    id: 'dns.not-ready.published',
    level: 'required',
    claim: 'switching publishNotReadyAddresses on publishes them in A within the bound, and each under its per-Pod name',
    source: src.serviceDoc('publishNotReadyAddresses', '#publishnotreadyaddresses'),
    run: async () => {
      await setup();
      await apply(ctx.ns, 'not-ready.yaml', { REPLICAS: 2, PUBLISH: true });
      await ctx.convergeEverywhere('not-ready-published', ctx.svcName('notready'), 'address', {
        rcode: 'NOERROR',
        set: pods.flatMap((p) => p.ips),
      });
      for (const p of pods) {
        await ctx.expectEverywhere('not-ready-published-name', `${p.name}.${ctx.svcName('notready')}`, 'address', {
          rcode: 'NOERROR',
          set: p.ips,
        });
      }
    },
  });

  check({
    id: 'dns.not-ready.unpublished',
    level: 'required',
    claim: 'switching publishNotReadyAddresses off again removes them within the bound',
    source: src.serviceDoc('publishNotReadyAddresses', '#publishnotreadyaddresses'),
    run: async () => {
      await setup();
      await apply(ctx.ns, 'not-ready.yaml', { REPLICAS: 2, PUBLISH: true });
      await ctx.convergeEverywhere('not-ready-unpublished-start', ctx.svcName('notready'), 'address', {
        rcode: 'NOERROR',
        set: pods.flatMap((p) => p.ips),
      });
      await apply(ctx.ns, 'not-ready.yaml', { REPLICAS: 2, PUBLISH: false });
      await ctx.convergeEverywhere('not-ready-unpublished', ctx.svcName('notready'), 'address', { rcode: 'NXDOMAIN', set: [] });
    },
  });
});
