// Terminating endpoints (Virtual IPs and Service Proxies: "terminating endpoints"): two
// backends that keep serving after SIGTERM (draining, readiness still passing) behind one
// Service. While a ready endpoint exists, new connections never reach a terminating one;
// when only serving-terminating endpoints remain, the proxy falls back to them; once they
// are gone, nothing answers.
import { apply } from '../helpers/cluster/apply.ts';
import { converge } from '../helpers/cluster/converge.ts';
import { e2e, src } from './data/sources.ts';
import { counts, kube, once, defineSuite, describe } from '../helpers/harness/suite.ts';
import { expectRows, expectSame, fromProbe } from '../helpers/harness/verdict.ts';
import { hostPort } from '../helpers/lib/net.ts';
import { podsReady, serviceFamilies, serviceSlices, sliceEndpoints, type SliceEndpoint } from '../helpers/cluster/workloads.ts';
import { waitFor } from '../helpers/cluster/wait.ts';
import { closeSessions } from '../helpers/cluster/probe.ts';

const { ctx, check } = defineSuite('proxy-terminating');

/** `count` new TCP connections to vip:80 from each probe's node: who answered, per node. */
const fromEachNode = (vip: string, count: number): Promise<{ from: string; answeredBy: Record<string, number> }[]> =>
  Promise.all(
    ctx.probes.map(async (p) => ({
      from: p.node,
      answeredBy: counts(await p.connect({ host: vip, port: 80, count, mode: 'tcp', timeoutMs: 2000 })),
    })),
  );
const GRACE_S = 150;
/** drain's virtual IPs, one per family. */
let vips: string[] = [];
const pods = ['drain-0', 'drain-1'];

const state = (e: SliceEndpoint): string => `${e.targetRef}: ready=${e.ready} serving=${e.serving} terminating=${e.terminating}`;
/** Waits (convergence bound) until the slices show exactly this state for the two Pods (in
 *  the slice of every family the Service has: a Pod is listed once per family). */
async function slicesShow(label: string, want: { ready: string[]; servingTerminating: string[] }, since: number): Promise<void> {
  const text = `ready [${want.ready.join(', ')}], serving and terminating [${want.servingTerminating.join(', ')}]`;
  const families = (await serviceFamilies(ctx.ns, 'drain')).length || 1;
  const perFamily = (names: string[]): string =>
    names
      .flatMap((n) => Array<string>(families).fill(n))
      .sort()
      .join();
  const { ms, polls } = await converge(
    `the EndpointSlices of drain to list ${text}`,
    async () => {
      const eps = sliceEndpoints(await serviceSlices(ctx.ns, 'drain'));
      const ready = eps
        .filter((e) => e.ready)
        .map((e) => e.targetRef ?? '')
        .sort();
      const st = eps
        .filter((e) => !e.ready && e.serving && e.terminating)
        .map((e) => e.targetRef ?? '')
        .sort();
      return {
        ok:
          ready.join() === perFamily(want.ready) &&
          st.join() === perFamily(want.servingTerminating) &&
          eps.length === (want.ready.length + want.servingTerminating.length) * families,
        state: eps.map(state),
      };
    },
    { kind: 'EndpointSlices', since },
  );
  ctx.evidence.convergence(label, 'EndpointSlices', polls, ms, `${text}`, polls > 1);
}
const deletePod = async (name: string, grace?: number): Promise<void> => {
  closeSessions(ctx.ns, name); // the next command goes to the new Pod, never the old
  await kube().core.deleteNamespacedPod({ name, namespace: ctx.ns, gracePeriodSeconds: grace });
};

const bothReady = once(async () => {
  for (const [i, name] of pods.entries())
    await apply(ctx.ns, 'pinned-backend.yaml', {
      NAME: name,
      APP: 'drain',
      NODE: ctx.probes[i % ctx.probes.length]!.node,
      GRACE: GRACE_S,
      DRAIN: '1',
    });
  await apply(ctx.ns, 'drain.yaml');
  await podsReady(ctx.ns, pods, 120_000);
  const since = Date.now();
  vips = await ctx.virtualIPs('drain-ready', 'drain');
  await slicesShow('drain-ready', { ready: pods, servingTerminating: [] }, since);
  for (const vip of vips) await ctx.proxyConverged('drain-ready', { host: vip, port: 80, backends: pods, everyBackend: true, since });
});
// drain-0 shuts down gracefully: terminating, still serving; drain-1 stays ready.
let oneTerminatingAt = 0;
const oneTerminating = once(async () => {
  await bothReady();
  await deletePod('drain-0');
  oneTerminatingAt = Date.now();
  await slicesShow('drain-one-terminating', { ready: ['drain-1'], servingTerminating: ['drain-0'] }, oneTerminatingAt);
});

describe('terminating endpoints', () => {
  check({
    id: 'proxy.terminating.not-used-with-ready',
    level: 'required',
    claim: 'while a ready endpoint exists, new connections never reach a serving but terminating one, from every node',
    source: src.vipDoc('traffic to terminating endpoints', '#traffic-to-terminating-endpoints'),
    e2e: null,
    run: async () => {
      await oneTerminating();
      for (const vip of vips) {
        await ctx.proxyConverged('drain-one-terminating', { host: vip, port: 80, backends: ['drain-1'], since: oneTerminatingAt });
        const seen = await fromEachNode(vip, 20);
        ctx.evidence.add({
          check: 'terminating-with-ready',
          kind: 'counts',
          value: seen,
          text: 'drain-0 serving and terminating, drain-1 ready: 20 new connections from each node',
        });
        expectRows(
          {
            what: 'while a ready endpoint exists (drain-1), new connections never reach a serving-terminating one (drain-0)',
            target: hostPort(vip, 80),
            protocol: 'tcp',
          },
          seen.map((s, i) => ({ ...fromProbe(ctx.probes[i]!, ctx.ns), expected: { 'drain-1': 20 }, observed: s.answeredBy })),
        );
      }
    },
  });

  check({
    id: 'proxy.terminating.fallback-local',
    level: 'expected',
    claim:
      'with internalTrafficPolicy Local, a node whose only endpoint is serving but terminating ' +
      "sends new connections to it (not to another node's ready endpoint, not nowhere)",
    source: src.vipDoc('traffic to terminating endpoints', '#traffic-to-terminating-endpoints'),
    requires: ['multi-node'],
    why:
      "The per-node fallback is kube-proxy's (KEP-1669), documented on the Virtual IPs page; the " +
      'API leaves the choice to the proxy, and Cilium does not fall back (cilium/cilium#37613).',
    e2e: e2e.svc('should fallback to local terminating endpoints when there are no ready endpoints with internalTrafficPolicy=Local'),
    run: async () => {
      await oneTerminating();
      // drain-0 (terminating) and drain-1 (ready) are on two nodes. With internalTrafficPolicy
      // Local, drain-0's node has only a serving-terminating endpoint: it falls back to it.
      for (const local of await ctx.virtualIPs('drain-fallback-local', 'drain-local')) {
        const nodeOf = { 'drain-0': ctx.probes[0]!.node, 'drain-1': ctx.probes[1 % ctx.probes.length]!.node };
        const client = ctx.probes[0]!;
        await ctx.proxyConverged('drain-fallback-local', {
          host: local,
          port: 80,
          backends: ['drain-0'],
          probes: [client],
          since: oneTerminatingAt,
        });
        const seen = counts(await client.connect({ host: local, port: 80, count: 10, mode: 'tcp', timeoutMs: 2000 }));
        ctx.evidence.add({
          check: 'terminating-fallback-local',
          kind: 'counts',
          value: { nodes: nodeOf, from: client.node, answeredBy: seen },
          text: `${hostPort(local, 80)} (internalTrafficPolicy Local) from drain-0's node: its only endpoint is terminating`,
        });
        expectSame(
          {
            what: 'with internalTrafficPolicy Local, a node whose only local endpoint is serving and terminating (drain-0) falls back to it',
            ...fromProbe(client, ctx.ns),
            target: `${hostPort(local, 80)} (drain-local)`,
            protocol: 'tcp',
          },
          { 'drain-0': 10 },
          seen,
        );
      }
    },
  });

  check({
    id: 'proxy.terminating.fallback',
    level: 'expected',
    claim: 'when only serving-terminating endpoints remain, new connections fall back to them from every node, and stop once they are gone',
    source: src.vipDoc('traffic to terminating endpoints', '#traffic-to-terminating-endpoints'),
    why:
      "The fallback is kube-proxy's (KEP-1669, GA in 1.28), documented on the Virtual IPs page; the EndpointSlice " +
      'API only publishes serving and terminating, and a proxy that refuses instead differs (cilium/cilium#37613).',
    e2e: e2e.svc('should fallback to terminating endpoints when there are no ready endpoints with internalTrafficPolicy=Cluster'),
    run: async () => {
      await oneTerminating();
      // drain-1 shuts down too: only serving-terminating endpoints remain.
      await deletePod('drain-1');
      const since = Date.now();
      await slicesShow('drain-all-terminating', { ready: [], servingTerminating: pods }, since);
      for (const vip of vips) {
        await ctx.proxyConverged('drain-fallback', { host: vip, port: 80, backends: pods, since });
        const seen = await fromEachNode(vip, 10);
        ctx.evidence.add({
          check: 'terminating-fallback',
          kind: 'counts',
          value: seen,
          text: `drain-0 and drain-1 both serving and terminating: 10 new connections from each node to ${hostPort(vip, 80)}`,
        });
        expectRows(
          {
            what: 'when only serving-terminating endpoints remain, the proxy falls back to them',
            target: hostPort(vip, 80),
            protocol: 'tcp',
          },
          seen.map((s, i) => ({
            ...fromProbe(ctx.probes[i]!, ctx.ns),
            ok: !Object.keys(s.answeredBy).some((k) => !pods.includes(k)),
            expected: `only the serving-terminating [${pods.join(', ')}]`,
            observed: s.answeredBy,
          })),
        );
      }
      // Once they are gone (killed now, not at the end of their grace period), nothing answers.
      for (const name of pods) await deletePod(name, 0);
      const gone = Date.now();
      await waitFor(
        'the drain Pods to be gone',
        async () => {
          const left = (await kube().core.listNamespacedPod({ namespace: ctx.ns, labelSelector: 'app=drain' })).items.map(
            (p) => p.metadata?.name,
          );
          return { ok: left.length === 0, state: left };
        },
        { timeoutMs: 60_000 },
      );
      const r = await Promise.all(
        ctx.probes.map((p) =>
          converge(
            `connections from ${p.pod} (node ${p.node}) to ${vips.map((v) => hostPort(v, 80)).join(' and ')} to get no answer once the drain Pods are gone`,
            async () => {
              const a = [];
              for (const vip of vips) a.push(...(await p.connect({ host: vip, port: 80, count: 3, mode: 'tcp', timeoutMs: 1000 })));
              return { ok: a.every((x) => !x.backend), state: counts(a) };
            },
            { kind: 'Service proxy', since: gone },
          ),
        ),
      );
      ctx.evidence.convergence(
        'terminating-gone',
        'Service proxy',
        Math.max(...r.map((x) => x.polls)),
        Math.max(...r.map((x) => x.ms)),
        'no answer once the Pods are gone',
        true,
      );
    },
  });
});
