// NodePort Services: the control plane allocates a node port, and every node proxies that
// port on its own address to the Service's ready endpoints: from Pods on every node, to
// every node's InternalIP (their own node's and the others').
import { apply } from '../helpers/cluster/apply.ts';
import { e2e, src } from './data/sources.ts';
import { once, defineSuite, kube, describe } from '../helpers/harness/suite.ts';
import { rolloutReady } from '../helpers/cluster/workloads.ts';
import { connectFromOutside } from '../helpers/targets/outside.ts';
import { converge } from '../helpers/cluster/converge.ts';
import { counts } from '../helpers/harness/suite.ts';
import { expectRows, expectSame, expectThat, fromProbe } from '../helpers/harness/verdict.ts';
import { hostPort } from '../helpers/lib/net.ts';

const { ctx, check } = defineSuite('proxy-nodeport');
let backends: string[] = [];
let nodePort = 0;
let readyAt = 0;
const setup = once(async () => {
  await apply(ctx.ns, 'web-api.yaml', { REPLICAS: 2 });
  await apply(ctx.ns, 'web-api-nodeport.yaml');
  backends = (await rolloutReady(ctx.ns, 'Deployment', 'web-api', 2)).map((p) => p.name);
  readyAt = Date.now();
  const svc = await kube().core.readNamespacedService({ name: 'web-api-nodeport', namespace: ctx.ns });
  nodePort = svc.spec?.ports?.[0]?.nodePort ?? 0;
});

describe('NodePort Service', () => {
  check({
    id: 'service.nodeport.default-range',
    level: 'expected',
    claim: 'a NodePort Service gets its node port from the default range 30000-32767',
    source: src.serviceDoc('type NodePort', '#type-nodeport'),
    why:
      "The range is the API server's --service-node-port-range, 30000-32767 unless the cluster " +
      'sets another; a port outside the default is a choice of the cluster, not a fault.',
    e2e: e2e.svc('should check NodePort out-of-range'),
    run: async () => {
      await setup();
      const svc = await kube().core.readNamespacedService({ name: 'web-api-nodeport', namespace: ctx.ns });
      const ports = (svc.spec?.ports ?? []).map((p) => ({ name: p.name, nodePort: p.nodePort }));
      ctx.evidence.info('nodeport-range', `web-api-nodeport got node port(s) ${ports.map((p) => p.nodePort).join(', ')}`);
      const q = {
        what: 'the control plane allocates each port of a NodePort Service a node port from the default range 30000-32767',
        client: 'this machine',
        target: `${ctx.ns}/Service/web-api-nodeport`,
        protocol: 'api',
      };
      expectThat(
        q,
        ports.every((p) => typeof p.nodePort === 'number'),
        'a node port (a number) on every port',
        ports,
      );
      expectSame(
        { ...q, unit: 'ports out of the range' },
        [],
        ports.filter((p) => p.nodePort! < 30000 || p.nodePort! > 32767),
      );
    },
  });

  check({
    id: 'proxy.nodeport.reach',
    level: 'required',
    claim:
      "connections to every node's InternalIP at a NodePort Service's node port reach exactly its ready backends, from Pods on every node",
    source: src.serviceDoc('type NodePort', '#type-nodeport'),
    e2e: e2e.svc('should be able to create a functioning NodePort service', true),
    run: async () => {
      await setup();
      expectThat(
        {
          what: 'the NodePort Service has a node port',
          client: 'this machine',
          target: `${ctx.ns}/Service/web-api-nodeport`,
          protocol: 'api',
        },
        nodePort > 0,
        'a node port (> 0)',
        nodePort,
      );
      const targets = await ctx.nodeTargets('nodeport', 'web-api-nodeport');
      ctx.evidence.info(
        'nodeport-reach',
        `node port ${nodePort} on ${targets.map((t) => `${t.node} ${t.ip}`).join(', ')}; ` +
          `backends ${backends.join(', ')}; clients on ${ctx.probes.map((p) => p.node).join(', ')}`,
      );
      // Each node programs the port on its own schedule: each address converges within the
      // proxy bound, from the same change, from every probe.
      for (const t of targets)
        await ctx.proxyConverged(`nodeport-${t.node}`, { host: t.ip, port: nodePort, backends, everyBackend: true, since: readyAt });
      const asked = targets.flatMap((t) => ctx.probes.map((p) => ({ t, p })));
      const seen = await Promise.all(
        asked.map(async ({ t, p }) => {
          const attempts = await p.connect({ host: t.ip, port: nodePort, count: 4, mode: 'tcp', timeoutMs: 3000 });
          return {
            from: p.node,
            to: `${t.node} ${t.ip}:${nodePort}`,
            strays: attempts.filter((a) => !backends.includes(a.backend?.pod ?? '')).map((a) => a.error ?? a.backend?.pod),
          };
        }),
      );
      expectRows(
        {
          what: `Pods on every node reach every node's address at the node port, answered only by web-api backends [${backends.join(', ')}]`,
          target: `node port ${nodePort}`,
          protocol: 'tcp',
          unit: 'connections',
        },
        seen.map((s, i) => ({
          ...fromProbe(asked[i]!.p, ctx.ns),
          target: `${asked[i]!.t.node} ${hostPort(asked[i]!.t.ip, nodePort)}`,
          expected: { strays: [] },
          observed: { strays: s.strays },
        })),
      );
    },
  });

  check({
    id: 'proxy.nodeport.from-outside',
    level: 'required',
    claim: "from a client outside the cluster, every node's InternalIP at the node port reaches exactly the Service's ready backends",
    source: src.serviceDoc('type NodePort', '#type-nodeport'),
    requires: ['outside-client'],
    e2e: e2e.svc('should be able to create a functioning NodePort service', true),
    run: async () => {
      await setup();
      const targets = await ctx.nodeTargets('nodeport', 'web-api-nodeport');
      // From this machine, outside the cluster: every node's address at once, each converging
      // on its own within the proxy bound, then 4 fresh connections each.
      const seen = await Promise.all(
        targets.map(async (t) => {
          const { ms, polls } = await converge(
            `connections from this machine (outside the cluster) to ${t.node} ${t.ip}:${nodePort} to reach only [${backends.join(', ')}]`,
            async () => {
              const c = counts(await connectFromOutside(t.ip, nodePort, 3, { timeoutMs: 1000 }));
              return { ok: Object.keys(c).every((k) => backends.includes(k)), state: c };
            },
            { kind: 'Service proxy', since: readyAt },
          );
          ctx.evidence.convergence('nodeport-outside', 'Service proxy', polls, ms, `from outside to ${t.node}`, polls > 1);
          const attempts = await connectFromOutside(t.ip, nodePort, 4, { timeoutMs: 3000 });
          return {
            to: `${t.node} ${t.ip}:${nodePort}`,
            strays: attempts.filter((a) => !backends.includes(a.backend?.pod ?? '')).map((a) => a.error ?? a.backend?.pod),
            answeredBy: counts(attempts),
          };
        }),
      );
      ctx.evidence.add({ check: 'nodeport-outside', kind: 'counts', value: seen, text: 'from this machine, outside the cluster' });
      expectRows(
        {
          what: `this machine, outside the cluster, reaches every node's address at the node port, answered only by web-api backends [${backends.join(', ')}]`,
          client: 'this machine',
          target: `node port ${nodePort}`,
          protocol: 'tcp',
          unit: 'connections',
        },
        seen.map((s, i) => ({
          target: `${targets[i]!.node} ${hostPort(targets[i]!.ip, nodePort)}`,
          expected: { strays: [] },
          observed: { strays: s.strays },
        })),
      );
    },
  });
});
