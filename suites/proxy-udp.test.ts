// UDP Services: WHO datagrams through a ClusterIP spread over every ready backend; a
// NodePort Service with TCP and UDP on one port number answers both on every node's
// address; and after the only backend is replaced, a client that keeps sending from the
// same source port reaches the new one within the proxy bound (no stale conntrack entry:
// upstream e2e network/conntrack.go).
import { apply } from '../helpers/cluster/apply.ts';
import { converge } from '../helpers/cluster/converge.ts';
import { e2e, src } from './data/sources.ts';
import { counts, kube, once, defineSuite, describe } from '../helpers/harness/suite.ts';
import { expectSame, fromProbe } from '../helpers/harness/verdict.ts';
import { hostPort } from '../helpers/lib/net.ts';
import { podsReady, rolloutReady, type PodState } from '../helpers/cluster/workloads.ts';
import { connectFromOutside } from '../helpers/targets/outside.ts';
import { closeSessions } from '../helpers/cluster/probe.ts';

const { ctx, check } = defineSuite('proxy-udp');
const N = 3;
let web: PodState[] = [];
let readyAt = 0;
const readSvc = (name: string) => kube().core.readNamespacedService({ name, namespace: ctx.ns });

const setup = once(async () => {
  await apply(ctx.ns, 'web-api.yaml', { REPLICAS: N });
  await apply(ctx.ns, 'web-api-udp.yaml');
  web = await rolloutReady(ctx.ns, 'Deployment', 'web-api', N);
  readyAt = Date.now();
  await ctx.slicesSettled(
    'web-api-udp-slices',
    'web-api-udp',
    web.flatMap((p) => p.ips),
    readyAt,
  );
});

describe('UDP Services', () => {
  check({
    id: 'proxy.udp.clusterip-spread',
    level: 'required',
    claim: 'UDP datagrams through a ClusterIP reach every ready backend, and only them',
    source: src.serviceDoc('protocols for Services: UDP', '#protocol-udp'),
    e2e: '[sig-network] Networking Granular Checks: Services should function for pod-Service: udp',
    run: async () => {
      await setup();
      for (const vip of await ctx.virtualIPs('udp-clusterip', 'web-api-udp')) {
        await ctx.proxyConverged('udp-clusterip', {
          host: vip,
          port: 80,
          backends: web.map((p) => p.name),
          everyBackend: true,
          mode: 'udp',
          since: readyAt,
        });
        const c = counts(await ctx.probes[0]!.connect({ host: vip, port: 80, count: 10 * N, mode: 'udp', timeoutMs: 2000 }));
        ctx.evidence.add({
          check: 'udp-spread',
          kind: 'counts',
          value: c,
          text: `${10 * N} WHO datagrams to ${hostPort(vip, 80)}/UDP, each from a new socket`,
        });
        expectSame(
          {
            what: `${10 * N} WHO datagrams to a UDP ClusterIP, each from a new socket, reach every ready backend and nothing else`,
            ...fromProbe(ctx.probes[0]!, ctx.ns),
            target: hostPort(vip, 80),
            protocol: 'udp',
            unit: 'answerers',
          },
          web.map((p) => p.name).sort(),
          Object.keys(c).sort(),
        );
      }
    },
  });

  check({
    id: 'proxy.udp.nodeport-both-protocols',
    level: 'required',
    claim: "a NodePort Service with TCP and UDP on one port number answers both on every node's address, from Pods on every node",
    source: src.serviceDoc('type NodePort', '#type-nodeport'),
    e2e: e2e.svc('should be able to update service type to NodePort listening on same port number but different protocols'),
    run: async () => {
      await setup();
      const ports = (await readSvc('web-api-both')).spec!.ports!;
      const tcp = ports.find((p) => p.protocol === 'TCP')!.nodePort!;
      const udp = ports.find((p) => p.protocol === 'UDP')!.nodePort!;
      ctx.evidence.info('udp-nodeport', `web-api-both: node port ${tcp}/TCP and ${udp}/UDP`);
      const backends = web.map((p) => p.name);
      const seen = await Promise.all(
        (await ctx.nodeTargets('udp-nodeport', 'web-api-both')).flatMap((t) =>
          ctx.probes.flatMap((p) =>
            (['tcp', 'udp'] as const).map(async (mode) => {
              const port = mode === 'tcp' ? tcp : udp;
              const { ms, polls, state } = await converge(
                `${mode.toUpperCase()} from ${p.pod} (node ${p.node}) to ${t.node} ${t.ip}:${port} to reach only web-api backends`,
                async () => {
                  const r = await p.connect({ host: t.ip, port, count: 3, mode, timeoutMs: 1000 });
                  return { ok: r.every((a) => backends.includes(a.backend?.pod ?? '')), state: counts(r) };
                },
                { kind: 'Service proxy', since: readyAt },
              );
              ctx.evidence.convergence('udp-nodeport', 'Service proxy', polls, ms, `${mode} ${p.node} -> ${t.node}`, polls > 1);
              return { from: p.node, to: `${t.node} ${t.ip}:${port}/${mode}`, answeredBy: state };
            }),
          ),
        ),
      );
      ctx.evidence.add({ check: 'udp-nodeport', kind: 'counts', value: seen });
    },
  });

  check({
    id: 'proxy.udp.nodeport-from-outside',
    level: 'required',
    claim:
      "from a client outside the cluster, UDP datagrams to every node's InternalIP at the UDP node port reach only the Service's backends",
    source: src.serviceDoc('type NodePort', '#type-nodeport'),
    requires: ['outside-client'],
    e2e: '[sig-network] Networking Granular Checks: Services should support basic nodePort: udp functionality',
    run: async () => {
      await setup();
      const udp = (await readSvc('web-api-both')).spec!.ports!.find((p) => p.protocol === 'UDP')!.nodePort!;
      const backends = web.map((p) => p.name);
      // Every node at once, each converging on its own within the proxy bound.
      const seen = await Promise.all(
        (await ctx.nodeTargets('udp-nodeport', 'web-api-both')).map(async (t) => {
          const { ms, polls, state } = await converge(
            `UDP from this machine (outside the cluster) to ${t.node} ${t.ip}:${udp} to reach only web-api backends`,
            async () => {
              const r = await connectFromOutside(t.ip, udp, 3, { mode: 'udp', timeoutMs: 1000 });
              return { ok: r.every((a) => backends.includes(a.backend?.pod ?? '')), state: counts(r) };
            },
            { kind: 'Service proxy', since: readyAt },
          );
          ctx.evidence.convergence('udp-nodeport-outside', 'Service proxy', polls, ms, `udp from outside to ${t.node}`, polls > 1);
          return { to: `${t.node} ${t.ip}:${udp}/udp`, answeredBy: state };
        }),
      );
      ctx.evidence.add({
        check: 'udp-nodeport-outside',
        kind: 'counts',
        value: seen,
        text: 'WHO datagrams from this machine, outside the cluster',
      });
    },
  });

  check({
    id: 'proxy.udp.no-stale-conntrack',
    level: 'required',
    claim:
      "after a UDP Service's only backend is replaced, datagrams from the same client " +
      'port reach the new backend within the proxy bound (no stale conntrack entry)',
    source: src.vipDoc('virtual IP mechanism'),
    e2e: '[sig-network] Conntrack should be able to preserve UDP traffic when server pod cycles for a ClusterIP service',
    run: async () => {
      const client = ctx.probes[0]!;
      const node = ctx.probes[ctx.probes.length - 1]!.node;
      await apply(ctx.ns, 'web-api-udp.yaml');
      await apply(ctx.ns, 'pinned-backend.yaml', { NAME: 'udp-0', APP: 'udp-one', NODE: node, GRACE: 1, DRAIN: '0' });
      const [first] = await podsReady(ctx.ns, ['udp-0'], 120_000);
      const since = Date.now();
      // Every family's virtual IP: one flow each, from the same source port number.
      const vips = await ctx.virtualIPs('udp-one', 'udp-one');
      await ctx.slicesSettled('udp-one-slices', 'udp-one', first!.ips, since);
      // One flow per family: every datagram from the same source port (one conntrack entry, kept alive).
      const sourcePort = 20000 + Math.floor(Math.random() * 10000);
      const flow = (vip: string) => ({
        ...fromProbe(client, ctx.ns),
        target: `${hostPort(vip, 80)} (udp-one)`,
        protocol: `udp, every datagram from source port ${sourcePort}`,
      });
      const before: Record<string, Record<string, number>> = {};
      for (const vip of vips) {
        await ctx.proxyConverged('udp-one', { host: vip, port: 80, backends: ['udp-0'], mode: 'udp', probes: [client], since });
        before[vip] = counts(await client.connect({ host: vip, port: 80, count: 5, mode: 'udp', timeoutMs: 2000, sourcePort }));
        expectSame({ what: 'datagrams of one flow reach the only backend, udp-0', ...flow(vip) }, { 'udp-0': 5 }, before[vip]);
      }
      // The backend is replaced: udp-0 goes at once, udp-1 comes up.
      closeSessions(ctx.ns, 'udp-0'); // the next command goes to the new Pod, never the old
      await kube().core.deleteNamespacedPod({ name: 'udp-0', namespace: ctx.ns, gracePeriodSeconds: 0 });
      await apply(ctx.ns, 'pinned-backend.yaml', { NAME: 'udp-1', APP: 'udp-one', NODE: node, GRACE: 1, DRAIN: '0' });
      const [second] = await podsReady(ctx.ns, ['udp-1'], 120_000);
      const replaced = Date.now();
      await ctx.slicesSettled('udp-one-replaced', 'udp-one', second!.ips, replaced);
      for (const vip of vips) {
        const { ms, polls } = await converge(
          `datagrams from ${client.pod}:${sourcePort} to ${hostPort(vip, 80)}/UDP to reach udp-1, the only backend, after udp-0 was replaced`,
          async () => {
            const r = await client.connect({ host: vip, port: 80, count: 1, mode: 'udp', timeoutMs: 1000, sourcePort });
            return { ok: r[0]?.backend?.pod === 'udp-1', state: r };
          },
          { kind: 'Service proxy', since: replaced, intervalMs: 250 },
        );
        ctx.evidence.convergence('udp-stale-conntrack', 'Service proxy', polls, ms, `same source port reaches the new backend`, polls > 1);
        const after = counts(await client.connect({ host: vip, port: 80, count: 5, mode: 'udp', timeoutMs: 2000, sourcePort }));
        ctx.evidence.add({
          check: 'udp-stale-conntrack',
          kind: 'counts',
          value: { before: before[vip], after },
          text: `${hostPort(vip, 80)} from source port ${sourcePort}`,
        });
        expectSame(
          { what: 'after udp-0 was replaced by udp-1, datagrams of the same flow reach udp-1 (no stale conntrack entry)', ...flow(vip) },
          { 'udp-1': 5 },
          after,
        );
      }
    },
  });
});
