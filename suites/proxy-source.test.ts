// Source address and hairpin: a backend reached through a ClusterIP sees the client Pod's
// own address (kube-proxy does not masquerade Pod-to-ClusterIP traffic), and a Pod reaches
// itself through its own Service's virtual IP and node port (hairpin).
import { apply } from '../helpers/cluster/apply.ts';
import { e2e, src } from './data/sources.ts';
import { kube, once, defineSuite, describe } from '../helpers/harness/suite.ts';
import { expectRows, expectSame, fromProbe } from '../helpers/harness/verdict.ts';
import { familyOf, hostPort } from '../helpers/lib/net.ts';
import { Probe } from '../helpers/cluster/probe.ts';
import { rolloutReady, type PodState } from '../helpers/cluster/workloads.ts';

const { ctx, check } = defineSuite('proxy-source');
let backend: PodState;
/** web-api's virtual IPs, one per family. */
let vips: string[] = [];
let nodePort = 0;
let readyAt = 0;
const setup = once(async () => {
  // One backend: the hairpin is then certain (the Service has no other endpoint).
  await apply(ctx.ns, 'web-api.yaml', { REPLICAS: 1 });
  await apply(ctx.ns, 'web-api-nodeport.yaml');
  [backend] = (await rolloutReady(ctx.ns, 'Deployment', 'web-api', 1)) as [PodState];
  readyAt = Date.now();
  vips = await ctx.virtualIPs('source-proxy', 'web-api');
  nodePort = (await kube().core.readNamespacedService({ name: 'web-api-nodeport', namespace: ctx.ns })).spec!.ports![0]!.nodePort!;
  await ctx.slicesSettled('source-slices', 'web-api', backend.ips, readyAt);
  for (const vip of vips) await ctx.proxyConverged('source-proxy', { host: vip, port: 80, backends: [backend.name], since: readyAt });
});

describe('source address and hairpin', () => {
  check({
    id: 'proxy.clusterip.source-ip',
    level: 'expected',
    claim: "a backend reached through a ClusterIP sees the client Pod's own address as the source, from every node",
    source: src.tutorial('Using Source IP (Type=ClusterIP)', 'tutorials/services/source-ip', '#source-ip-for-services-with-type-clusterip'),
    why:
      'kube-proxy does not masquerade Pod traffic to a ClusterIP (the Using Source IP tutorial); the Service API does not ' +
      "forbid a proxy that does (kube-proxy's own masqueradeAll does), so a rewritten source is a difference, not a fault.",
    e2e: e2e.svc('should preserve source pod IP for traffic thru service cluster IP [LinuxOnly]'),
    run: async () => {
      await setup();
      for (const vip of vips) {
        const seen = await Promise.all(
          ctx.probes.map(async (p) => {
            const r = await p.connect({ host: vip, port: 80, count: 3, mode: 'tcp', timeoutMs: 3000 });
            return {
              from: `${p.pod} on ${p.node}`,
              pairs: r.map((a) => ({ clientSent: a.local, backendSaw: a.backend?.client ?? a.error })),
            };
          }),
        );
        ctx.evidence.add({
          check: 'source-ip',
          kind: 'counts',
          value: seen,
          text: `${hostPort(vip, 80)} -> ${backend.name}: the client's own address, and the source address the backend saw`,
        });
        expectRows(
          {
            what: `a backend reached through a ClusterIP sees the client Pod's own address as the source (no masquerade): ${backend.name}`,
            target: hostPort(vip, 80),
            protocol: 'tcp',
            unit: 'connections',
          },
          seen.map((s, i) => ({
            ...fromProbe(ctx.probes[i]!, ctx.ns),
            expected: s.pairs.map((x) => ({ clientSent: x.clientSent, backendSaw: x.clientSent })),
            observed: s.pairs,
          })),
        );
      }
    },
  });

  check({
    id: 'proxy.clusterip.hairpin',
    level: 'required',
    claim: "a Pod reaches itself through its own Service's virtual IP (hairpin)",
    source: src.tutorial(
      'Debug Services (a Pod fails to reach itself via the Service IP)',
      'tasks/debug/debug-application/debug-service',
      '#a-pod-fails-to-reach-itself-via-the-service-ip',
    ),
    e2e: e2e.svc('should allow pods to hairpin back to themselves through services'),
    run: async () => {
      await setup();
      const self = new Probe(ctx.ns, backend.name, backend.node ?? '', 'web-api');
      for (const vip of vips) {
        ctx.evidence.family('hairpin-clusterip', familyOf(vip));
        const r = await self.connect({ host: vip, port: 80, count: 5, mode: 'tcp', timeoutMs: 3000 });
        ctx.evidence.add({
          check: 'hairpin-clusterip',
          kind: 'counts',
          value: r.map((a) => a.backend?.pod ?? a.error),
          text: `${backend.name} -> ${hostPort(vip, 80)} (its own Service)`,
        });
        expectSame(
          {
            what: 'a Pod reaches itself through its own Service (hairpin)',
            client: backend.name,
            node: backend.node,
            target: hostPort(vip, 80),
            protocol: 'tcp',
            unit: 'connections',
          },
          r.map(() => backend.name),
          r.map((a) => a.backend?.pod ?? a.error),
        );
      }
    },
  });

  check({
    id: 'proxy.nodeport.hairpin',
    level: 'expected',
    claim: "a Pod reaches itself through its own Service's node port on its own node's address",
    source: src.serviceDoc('type NodePort', '#type-nodeport'),
    why:
      "The node port must reach the Service's endpoints; that one of them may be the client itself is hairpin traffic, " +
      'which the documentation describes for the virtual IP (Debug Services) and leaves to the network setup for node ports.',
    e2e: null,
    run: async () => {
      await setup();
      const self = new Probe(ctx.ns, backend.name, backend.node ?? '', 'web-api');
      // Its own node's addresses in the Service's families.
      const ips = (await ctx.nodeTargets('hairpin-nodeport', 'web-api-nodeport')).filter((t) => t.node === backend.node).map((t) => t.ip);
      for (const ip of ips) {
        await ctx.proxyConverged('hairpin-nodeport', {
          host: ip,
          port: nodePort,
          backends: [backend.name],
          since: readyAt,
          probes: [ctx.probes.find((p) => p.node === backend.node) ?? ctx.probes[0]!],
        });
        const r = await self.connect({ host: ip, port: nodePort, count: 5, mode: 'tcp', timeoutMs: 3000 });
        ctx.evidence.add({
          check: 'hairpin-nodeport',
          kind: 'counts',
          value: r.map((a) => a.backend?.pod ?? a.error),
          text: `${backend.name} -> its own node ${hostPort(ip, nodePort)}`,
        });
        expectSame(
          {
            what: "a Pod reaches itself through its own node's address at its Service's node port (hairpin)",
            client: backend.name,
            node: backend.node,
            target: hostPort(ip, nodePort),
            protocol: 'tcp',
            unit: 'connections',
          },
          r.map(() => backend.name),
          r.map((a) => a.backend?.pod ?? a.error),
        );
      }
    },
  });
});
