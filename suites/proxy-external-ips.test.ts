// External IPs: Pods on every node reach a Service at its spec.externalIPs address, and
// with externalTrafficPolicy Local also from nodes without a local endpoint (Pod traffic
// to an external destination is served as if it went out and came back in).
import { nodeAddresses } from '../helpers/cluster/nodes.ts';
import { apply } from '../helpers/cluster/apply.ts';
import { converge } from '../helpers/cluster/converge.ts';
import { e2e, src } from './data/sources.ts';
import { counts, once, defineSuite, describe } from '../helpers/harness/suite.ts';
import { expectRows, fromProbe } from '../helpers/harness/verdict.ts';
import { familyOf, hostPort } from '../helpers/lib/net.ts';
import { podsReady } from '../helpers/cluster/workloads.ts';

const { ctx, check } = defineSuite('proxy-external-ips');
// Ports no node is expected to serve (the external IP is a node's own address).
const PORT = 19091;
const LOCAL_PORT = 19092;
/** One external IP per family the cluster serves: the node's own InternalIPs. */
let externalIPs: string[] = [];
let backend = '';
let readyAt = 0;
const setup = once(async () => {
  const node = ctx.probes[0]!.node;
  // The node's addresses in every family the cluster serves (the Services here ask for
  // PreferDualStack: both families on a dual-stack cluster, primary first).
  externalIPs = (await nodeAddresses(ctx.families())).filter((a) => a.node === node).map((a) => a.ip);
  for (const fam of ctx.families()) ctx.evidence.family('setup', fam);
  backend = 'ext-api-0';
  await apply(ctx.ns, 'pinned-backend.yaml', { NAME: backend, APP: 'ext-api', NODE: node, GRACE: 1, DRAIN: '0' });
  try {
    await apply(ctx.ns, 'external-ip.yaml', {
      EXTERNAL_IPS: JSON.stringify(externalIPs),
      EXTERNAL_PORT: PORT,
      EXTERNAL_LOCAL_PORT: LOCAL_PORT,
    });
  } catch (e) {
    throw new Error(
      `the API server refused Services with spec.externalIPs (the DenyServiceExternalIPs ` +
        `admission plugin, or a policy, may forbid them): ${(e as Error).message}`,
    );
  }
  const [p] = await podsReady(ctx.ns, [backend], 120_000);
  readyAt = Date.now();
  await ctx.slicesSettled('ext-api-slices', 'ext-api', p!.ips, readyAt);
  ctx.evidence.info(
    'external-ip',
    `external IPs ${externalIPs.join(', ')} (InternalIPs of ${node}, where ${backend} runs); ports ` +
      `${PORT} (ext-api) and ${LOCAL_PORT} (ext-api-local, externalTrafficPolicy Local)`,
  );
});

/** From every probe, at each external IP: converge until it answers with the backend, then 5 fresh connections. */
async function reachFromEveryNode(label: string, port: number): Promise<void> {
  for (const externalIP of externalIPs) await reachAt(label, externalIP, port);
}
async function reachAt(label: string, externalIP: string, port: number): Promise<void> {
  ctx.evidence.family(label, familyOf(externalIP));
  const seen = await Promise.all(
    ctx.probes.map(async (p) => {
      const { ms, polls } = await converge(
        `connections from ${p.pod} (node ${p.node}) to ${hostPort(externalIP, port)} to reach ${backend}`,
        async () => {
          const c = counts(await p.connect({ host: externalIP, port, count: 3, mode: 'tcp', timeoutMs: 1000 }));
          return { ok: Object.keys(c).join() === backend, state: c };
        },
        { kind: 'Service proxy', since: readyAt },
      );
      ctx.evidence.convergence(label, 'Service proxy', polls, ms, `${hostPort(externalIP, port)} from ${p.node}`, polls > 1);
      return { from: p.node, answeredBy: counts(await p.connect({ host: externalIP, port, count: 5, mode: 'tcp', timeoutMs: 3000 })) };
    }),
  );
  ctx.evidence.add({ check: label, kind: 'counts', value: seen, text: `${hostPort(externalIP, port)} from every node` });
  expectRows(
    {
      what: `Pods on every node reach a Service at its external IP (${port === LOCAL_PORT ? 'externalTrafficPolicy Local, ' : ''}backend ${backend})`,
      target: hostPort(externalIP, port),
      protocol: 'tcp',
    },
    seen.map((s, i) => ({ ...fromProbe(ctx.probes[i]!, ctx.ns), expected: { [backend]: 5 }, observed: s.answeredBy })),
  );
}

describe('external IPs', () => {
  check({
    id: 'proxy.external-ips.reach',
    level: 'expected',
    claim: 'Pods on every node reach a Service at its spec.externalIPs address and port',
    source: src.serviceDoc('external IPs', '#external-ips'),
    why:
      'External IPs are served by kube-proxy unless the cluster turns them off (its AllowServiceExternalIPs feature gate, or the ' +
      'DenyServiceExternalIPs admission plugin, as the documentation recommends where untrusted users create Services): a cluster may legally not serve them.',
    e2e: e2e.svc('should be possible to connect to a service via ExternalIP when the external IP is not assigned to a node'),
    run: async () => {
      await setup();
      await reachFromEveryNode('external-ip', PORT);
    },
  });

  check({
    id: 'proxy.external-ips.local-from-pods',
    level: 'expected',
    claim: 'with externalTrafficPolicy Local, Pods on every node reach the external IP, nodes without a local endpoint included',
    source: src.vipDoc('external traffic policy', '#external-traffic-policy'),
    why:
      'kube-proxy serves Pod traffic to an external destination of a Local Service from any endpoint (its nftables mode dropped it on nodes ' +
      'without one until kubernetes/kubernetes#132456, #131765); external IPs may be turned off, and the API leaves traffic from inside open.',
    e2e: null,
    run: async () => {
      await setup();
      await reachFromEveryNode('external-ip-local', LOCAL_PORT);
    },
  });
});
