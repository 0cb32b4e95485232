// Host-network clients (privileged profile): a Pod on the host network of each node (as
// the node itself, and node agents, dial) reaches a ClusterIP Service and every node's
// node port, as Pods do. A proxy that only hooks traffic arriving from Pods misses it
// (cilium/cilium#44324).
import { apply } from '../helpers/cluster/apply.ts';
import { src } from './data/sources.ts';
import { once, defineSuite, kube, counts, describe } from '../helpers/harness/suite.ts';
import { expectRows } from '../helpers/harness/verdict.ts';
import { hostPort } from '../helpers/lib/net.ts';
import { hostnameLabel, Probe, schedulableNodes } from '../helpers/cluster/probe.ts';
import { podsReady, rolloutReady } from '../helpers/cluster/workloads.ts';
import { currentTarget } from '../helpers/config/target.ts';

// Without the privileged profile no namespace is made; each check is a skip with the reason.
const { ctx, check } = defineSuite('proxy-host-network', { podSecurity: 'privileged', probes: 1, requires: ['privileged'] });
let backends: string[] = [];
let hosts: Probe[] = [];
/** web-api's virtual IPs, one per family. */
let vips: string[] = [];
let nodePort = 0;
let readyAt = 0;
const setup = once(async () => {
  await apply(ctx.ns, 'web-api.yaml', { REPLICAS: 2 });
  await apply(ctx.ns, 'web-api-nodeport.yaml');
  const nodes = (await schedulableNodes()).slice(0, currentTarget().maxProbeNodes);
  hosts = nodes.map((n, i) => new Probe(ctx.ns, `host-probe-${i}`, n.metadata?.name ?? ''));
  await Promise.all(nodes.map((n, i) => apply(ctx.ns, 'probe/host-pod.yaml', { NAME: `host-probe-${i}`, NODE: hostnameLabel(n) })));
  backends = (await rolloutReady(ctx.ns, 'Deployment', 'web-api', 2)).map((p) => p.name);
  await podsReady(
    ctx.ns,
    hosts.map((h) => h.pod),
    120_000,
  );
  readyAt = Date.now();
  vips = await ctx.virtualIPs('host-clusterip', 'web-api');
  nodePort = (await kube().core.readNamespacedService({ name: 'web-api-nodeport', namespace: ctx.ns })).spec!.ports![0]!.nodePort!;
});

describe('host-network clients', () => {
  check({
    id: 'proxy.host-network.clusterip',
    level: 'required',
    claim: "a host-network Pod on every node reaches a ClusterIP Service's ready backends, each of them",
    source: src.vipDoc('virtual IP mechanism'),
    requires: ['privileged'],
    e2e: '[sig-network] Networking Granular Checks: Services should function for node-Service: http',
    run: async () => {
      await setup();
      for (const vip of vips) {
        await ctx.proxyConverged('host-clusterip', { host: vip, port: 80, backends, everyBackend: true, probes: hosts, since: readyAt });
        const seen = await Promise.all(
          hosts.map(async (h) => ({
            from: `${h.pod} (host network of ${h.node})`,
            answeredBy: counts(await h.connect({ host: vip, port: 80, count: 10, mode: 'tcp', timeoutMs: 3000 })),
          })),
        );
        ctx.evidence.add({
          check: 'host-clusterip',
          kind: 'counts',
          value: seen,
          text: `${hostPort(vip, 80)} from the host network of every node`,
        });
        expectRows(
          { what: 'a client on the host network of each node reaches a ClusterIP Service', target: hostPort(vip, 80), protocol: 'tcp' },
          seen.map((s, i) => ({
            client: `${hosts[i]!.pod} (host network)`,
            node: hosts[i]!.node,
            ok: !Object.keys(s.answeredBy).some((k) => !backends.includes(k)),
            expected: `only web-api backends [${backends.join(', ')}]`,
            observed: s.answeredBy,
          })),
        );
      }
    },
  });

  check({
    id: 'proxy.host-network.nodeport',
    level: 'required',
    claim: "a host-network Pod on every node reaches every node's InternalIP at a node port",
    source: src.serviceDoc('type NodePort', '#type-nodeport'),
    requires: ['privileged'],
    e2e: '[sig-network] Networking Granular Checks: Services should function for node-Service: http',
    run: async () => {
      await setup();
      const targets = await ctx.nodeTargets('host-nodeport', 'web-api-nodeport');
      for (const t of targets)
        await ctx.proxyConverged(`host-nodeport-${t.node}`, { host: t.ip, port: nodePort, backends, probes: hosts, since: readyAt });
      const asked = targets.flatMap((t) => hosts.map((h) => ({ t, h })));
      const seen = await Promise.all(
        asked.map(async ({ t, h }) => {
          const r = await h.connect({ host: t.ip, port: nodePort, count: 4, mode: 'tcp', timeoutMs: 3000 });
          return { from: h.node, to: `${t.node} ${t.ip}:${nodePort}`, answeredBy: counts(r) };
        }),
      );
      ctx.evidence.add({ check: 'host-nodeport', kind: 'counts', value: seen, text: 'node port from the host network of every node' });
      expectRows(
        {
          what: "a client on the host network of each node reaches every node's node port",
          target: `node port ${nodePort}`,
          protocol: 'tcp',
        },
        seen.map((s, i) => ({
          client: `${asked[i]!.h.pod} (host network)`,
          node: asked[i]!.h.node,
          target: `${asked[i]!.t.node} ${hostPort(asked[i]!.t.ip, nodePort)}`,
          ok: !Object.keys(s.answeredBy).some((k) => !backends.includes(k)),
          expected: `only web-api backends [${backends.join(', ')}]`,
          observed: s.answeredBy,
        })),
      );
    },
  });
});
