// Traffic policies: where a proxy may send a connection depends on the node it enters on.
// Backends are placed by node (two on the first probe's node, one on the second's when
// there are three or more, none on the rest), so every probe knows which endpoints are
// its own node's. internalTrafficPolicy Local: Pods reach only their own node's endpoints,
// and nothing on a node without one. externalTrafficPolicy Local: the health check node
// port reports each node's local endpoints, and Pods still reach the node port everywhere.
import type * as k8s from '@kubernetes/client-node';
import { hostPort } from '../helpers/lib/net.ts';
import { apply } from '../helpers/cluster/apply.ts';
import { converge } from '../helpers/cluster/converge.ts';
import { e2e, src } from './data/sources.ts';
import { counts, kube, once, defineSuite, describe } from '../helpers/harness/suite.ts';
import { expectRows, expectSame, expectThat, fromProbe, same } from '../helpers/harness/verdict.ts';
import type { Probe } from '../helpers/cluster/probe.ts';
import { podsReady, serviceFamilies, serviceSlices } from '../helpers/cluster/workloads.ts';
import { connectFromOutside } from '../helpers/targets/outside.ts';

const { ctx, check } = defineSuite('proxy-traffic-policy');
/** Backend Pod names by node name. */
const local: Record<string, string[]> = {};
let all: string[] = [];
let readyAt = 0;
const readSvc = (name: string) => kube().core.readNamespacedService({ name, namespace: ctx.ns });

const setup = once(async () => {
  const nodes = ctx.probes.map((p) => p.node);
  const place = [nodes[0]!, nodes[0]!, ...(nodes.length >= 3 ? [nodes[1]!] : [])];
  const pods = place.map((node, i) => ({ name: `local-api-${i}`, node }));
  for (const p of pods) {
    await apply(ctx.ns, 'pinned-backend.yaml', { NAME: p.name, APP: 'local-api', NODE: p.node, GRACE: 1, DRAIN: '0' });
    (local[p.node] ??= []).push(p.name);
  }
  all = pods.map((p) => p.name);
  await apply(ctx.ns, 'local-api.yaml');
  const ready = await podsReady(ctx.ns, all, 120_000);
  readyAt = Date.now();
  await ctx.slicesSettled(
    'local-api-slices',
    'local-api-internal',
    ready.flatMap((p) => p.ips),
    readyAt,
  );
  // Applied after the policy Services: a node's proxy that serves it has seen them too.
  await apply(ctx.ns, 'local-api-control.yaml');
  for (const vip of await ctx.virtualIPs('local-api-control', 'local-api-control'))
    await ctx.proxyConverged('local-api-control', { host: vip, port: 80, backends: all, since: readyAt });
  ctx.evidence.info(
    'placement',
    `backends by node: ${Object.entries(local)
      .map(([n, b]) => `${n}: ${b.join(', ')}`)
      .join('; ')}; nodes without a backend: ${nodes.filter((n) => !local[n]).join(', ') || 'none (one or two nodes)'}`,
  );
});
const without = (): Probe[] => ctx.probes.filter((p) => !local[p.node]);

/** trafficDistribution (PreferClose by zone, PreferSameNode by node): the EndpointSlice
 *  controller publishes a hint on every endpoint (bound: convergence, from `since`); then,
 *  at each virtual IP, a client whose zone or node has endpoints reaches those (each of
 *  them), and one whose zone or node has none reaches any. */
async function preferredEndpoints(o: {
  label: string;
  service: string;
  distribution: string;
  /** What the hints name: 'zone' or 'node'. */
  by: string;
  /** An endpoint as the evidence shows it, with the hints it carries. */
  view: (e: k8s.V1Endpoint) => { hints: string[] };
  since: number;
  /** The client's own endpoints (its zone's or its node's), and the evidence key for them. */
  own: (p: Probe) => string[];
  ownKey: string;
  from: (p: Probe) => string;
  /** Said of a client that has no endpoints of its own. */
  none: (p: Probe) => string;
}): Promise<void> {
  // Every Pod once in the slice of each family the Service has.
  const families = (await serviceFamilies(ctx.ns, o.service)).length || 1;
  const { ms, polls, state } = await converge(
    `the EndpointSlices of ${o.service} to carry a ${o.by} hint on every endpoint`,
    async () => {
      const eps = (await serviceSlices(ctx.ns, o.service)).flatMap((s) => s.endpoints ?? []);
      const view = eps.map(o.view);
      return { ok: eps.length === all.length * families && view.every((v) => v.hints.length > 0), state: view };
    },
    { kind: 'EndpointSlices', since: o.since },
  );
  ctx.evidence.convergence(o.label, 'EndpointSlices', polls, ms, `${o.by} hints on ${o.service}`, polls > 1);
  for (const vip of await ctx.virtualIPs(o.label, o.service)) {
    // A client whose zone or node has endpoints: those, each of them; one that has none: any.
    for (const p of ctx.probes) {
      const mine = o.own(p);
      await ctx.proxyConverged(`${o.label}-${p.node}`, {
        host: vip,
        port: 80,
        backends: mine.length ? mine : all,
        everyBackend: mine.length > 0,
        probes: [p],
        since: o.since,
      });
    }
    const seen = await Promise.all(
      ctx.probes.map(async (p) => ({
        from: o.from(p),
        [o.ownKey]: o.own(p),
        answeredBy: counts(await p.connect({ host: vip, port: 80, count: 10, mode: 'tcp', timeoutMs: 2000 })),
      })),
    );
    ctx.evidence.add({
      check: o.label,
      kind: 'counts',
      value: { hints: state, seen },
      text: `${hostPort(vip, 80)} (trafficDistribution ${o.distribution}), 10 connections from each node`,
    });
    expectRows(
      {
        what: `with trafficDistribution ${o.distribution}, a client reaches only its own ${o.by}'s endpoints (any endpoint when its ${o.by} has none)`,
        target: `${hostPort(vip, 80)} (${o.service})`,
        protocol: 'tcp',
      },
      ctx.probes.map((p, i) => {
        const mine = o.own(p);
        return {
          ...fromProbe(p, ctx.ns),
          ok: !Object.keys(seen[i]!.answeredBy).some((k) => !(mine.length ? mine : all).includes(k)),
          expected: mine.length ? `only its ${o.by}'s [${mine.join(', ')}]` : `any of [${all.join(', ')}] ${o.none(p)}`,
          observed: seen[i]!.answeredBy,
        };
      }),
    );
  }
}

describe('traffic policies', () => {
  check({
    id: 'proxy.traffic-distribution.prefer-close',
    level: 'expected',
    claim:
      'with trafficDistribution PreferClose, each endpoint carries its zone as hint, and Pods ' +
      'are served by the endpoints of their own zone when it has some (by any, when it has none)',
    source: src.serviceDoc('traffic distribution', '#traffic-distribution'),
    requires: ['zones'],
    why: 'PreferClose is a preference: the documentation lets an implementation weigh it against load or capacity, and send traffic to other zones.',
    e2e: '[sig-network] Traffic Distribution should route traffic to an endpoint in the same zone when using PreferClose',
    run: async () => {
      await setup();
      const zoneOf: Record<string, string> = {};
      for (const n of (await kube().core.listNode()).items)
        zoneOf[n.metadata?.name ?? ''] = n.metadata?.labels?.['topology.kubernetes.io/zone'] ?? '';
      const inZone = (zone: string): string[] =>
        Object.entries(local)
          .filter(([node]) => zoneOf[node] === zone)
          .flatMap(([, pods]) => pods);
      await preferredEndpoints({
        label: 'prefer-close',
        service: 'local-api-close',
        distribution: 'PreferClose',
        by: 'zone',
        view: (e) => ({ pod: e.targetRef?.name, zone: e.zone, hints: (e.hints?.forZones ?? []).map((z) => z.name) }),
        since: readyAt,
        own: (p) => inZone(zoneOf[p.node] ?? ''),
        ownKey: 'sameZone',
        from: (p) => `${p.pod} on ${p.node} (zone ${zoneOf[p.node]})`,
        none: (p) => `(none in zone ${zoneOf[p.node]})`,
      });
    },
  });

  check({
    id: 'proxy.traffic-distribution.prefer-same-node',
    level: 'expected',
    claim:
      'with trafficDistribution PreferSameNode, each endpoint carries its node as hint, and Pods ' +
      'are served by the endpoints on their own node when it has some (by any, when it has none)',
    source: src.serviceDoc('traffic distribution', '#traffic-distribution'),
    requires: ['prefer-same-node'],
    why: 'PreferSameNode is a preference, like PreferClose: the documentation lets an implementation send traffic elsewhere.',
    e2e: '[sig-network] Traffic Distribution should route traffic to an endpoint on the same node or fall back to same zone when using PreferSameNode',
    run: async () => {
      await setup();
      await apply(ctx.ns, 'local-api-same-node.yaml');
      const since = Date.now();
      await preferredEndpoints({
        label: 'prefer-same-node',
        service: 'local-api-same-node',
        distribution: 'PreferSameNode',
        by: 'node',
        view: (e) => ({ pod: e.targetRef?.name, node: e.nodeName, hints: (e.hints?.forNodes ?? []).map((n) => n.name) }),
        since,
        own: (p) => local[p.node] ?? [],
        ownKey: 'sameNode',
        from: (p) => `${p.pod} on ${p.node}`,
        none: () => '(none on its node)',
      });
    },
  });

  check({
    id: 'proxy.internal-traffic-policy.local',
    level: 'required',
    claim:
      'with internalTrafficPolicy Local, Pods reach every endpoint on their own node and no other; on a node without one, nothing answers',
    source: src.vipDoc('internal traffic policy', '#internal-traffic-policy'),
    e2e: e2e.svc('should respect internalTrafficPolicy=Local Pod to Pod'),
    run: async () => {
      await setup();
      for (const vip of await ctx.virtualIPs('itp-local', 'local-api-internal')) {
        // Nodes with local endpoints: only those, each of them.
        for (const p of ctx.probes.filter((q) => local[q.node])) {
          await ctx.proxyConverged(`itp-${p.node}`, {
            host: vip,
            port: 80,
            backends: local[p.node]!,
            everyBackend: true,
            probes: [p],
            since: readyAt,
          });
        }
        // 10 connections from a node with endpoints, 5 from one without (each waits out its timeout).
        const seen = await Promise.all(
          ctx.probes.map(async (p) => ({
            from: `${p.pod} on ${p.node}`,
            answeredBy: counts(await p.connect({ host: vip, port: 80, count: local[p.node] ? 10 : 5, mode: 'tcp', timeoutMs: 1000 })),
          })),
        );
        ctx.evidence.add({
          check: 'itp-local',
          kind: 'counts',
          value: seen,
          text: `${hostPort(vip, 80)} (internalTrafficPolicy Local), from each node`,
        });
        // Exactly: from a node with endpoints only its own; from a node without, none at all.
        expectRows(
          {
            what: "with internalTrafficPolicy Local, a client reaches only its own node's endpoints, and nothing from a node without one",
            target: `${hostPort(vip, 80)} (local-api-internal)`,
            protocol: 'tcp',
          },
          seen.map((s, i) => {
            const mine = local[ctx.probes[i]!.node] ?? [];
            const strays = Object.keys(s.answeredBy).filter((k) => (mine.length ? !mine.includes(k) : !k.startsWith('error: ')));
            return {
              ...fromProbe(ctx.probes[i]!, ctx.ns),
              ok: strays.length === 0,
              expected: mine.length ? `only its node's [${mine.join(', ')}]` : 'no answer (no endpoint on its node)',
              observed: s.answeredBy,
            };
          }),
        );
        if (!without().length)
          ctx.evidence.info(
            'itp-local',
            'every node has a local endpoint (fewer than 3 nodes): the no-endpoint half of the claim was not exercised',
          );
      }
    },
  });

  check({
    id: 'proxy.external-traffic-policy.health-check',
    level: 'expected',
    claim:
      'a LoadBalancer Service with externalTrafficPolicy Local gets a health check node port whose /healthz answers ' +
      '200 where the node has local endpoints, 503 where it has none, on every node (and the count, where the body gives it)',
    source: src.vipDoc('external traffic policy', '#external-traffic-policy'),
    why:
      "The API allocates healthCheckNodePort; what answers there is the Service proxy's health server, which load " +
      "balancers rely on but the API does not define: its status is the convention (kube-proxy's and kube-router's alike), " +
      "its body each proxy's own (kube-proxy's JSON localEndpoints is checked where present).",
    e2e: e2e.svc('should implement NodePort and HealthCheckNodePort correctly when ExternalTrafficPolicy changes'),
    run: async () => {
      await setup();
      const svc = await readSvc('local-api-external');
      const hc = svc.spec?.healthCheckNodePort ?? 0;
      expectThat(
        {
          what: 'a Service with externalTrafficPolicy Local gets a health check node port',
          client: 'this machine',
          target: `${ctx.ns}/Service/local-api-external`,
          protocol: 'api',
        },
        hc > 0,
        'a healthCheckNodePort (> 0)',
        svc.spec?.healthCheckNodePort,
      );
      const targets = await ctx.nodeTargets('etp', 'local-api-external');
      const probe = ctx.probes[0]!;
      const want = (node: string): { status: number; localEndpoints: number } => ({
        status: (local[node] ?? []).length ? 200 : 503,
        localEndpoints: (local[node] ?? []).length,
      });
      // /healthz, as load balancers and upstream e2e ask it. The status is the contract; the body
      // is the proxy's own: kube-proxy's JSON carries localEndpoints (then checked too),
      // kube-router's is a line of text (kept as evidence).
      const got = await Promise.all(
        targets.map(async (t) => {
          const url = `http://${hostPort(t.ip, hc)}/healthz`;
          const { ms, state, polls } = await converge(
            `${url} on ${t.node} to answer ${JSON.stringify(want(t.node))}`,
            async () => {
              const r = await probe.httpGet({ url, timeoutMs: 2000 });
              let localEndpoints: number | undefined;
              try {
                localEndpoints = (JSON.parse(r.body) as { localEndpoints?: number }).localEndpoints;
              } catch {
                /* not JSON: shown as is */
              }
              const seen = { status: r.status, localEndpoints };
              return {
                ok:
                  seen.status === want(t.node).status &&
                  (seen.localEndpoints === undefined || seen.localEndpoints === want(t.node).localEndpoints),
                state: { ...seen, body: r.body.trim(), error: r.error },
              };
            },
            { kind: 'Service proxy', since: readyAt },
          );
          ctx.evidence.convergence('etp-health-check', 'Service proxy', polls, ms, `health check on ${t.node}`, polls > 1);
          return { node: t.node, status: state.status, localEndpoints: state.localEndpoints, body: state.body };
        }),
      );
      ctx.evidence.add({
        check: 'etp-health-check',
        kind: 'counts',
        value: got,
        text: `GET http://<node>:${hc}/healthz from ${probe.pod}`,
      });
      const health = {
        what: "the health check node port answers each node's local endpoints: 200 with some, 503 without (and kube-proxy's count of them)",
        ...fromProbe(probe, ctx.ns),
        target: `http://<node>:${hc}/healthz`,
        protocol: 'http',
      };
      expectRows(
        health,
        got.map((g, i) => ({
          target: `${g.node} http://${hostPort(targets[i]!.ip, hc)}/healthz`,
          ok: same(g.status, want(g.node).status),
          expected: `status ${want(g.node).status}`,
          observed: { status: g.status, body: g.body },
        })),
      );
      expectRows(
        health,
        got
          .map((g, i) => ({
            target: `${g.node} http://${hostPort(targets[i]!.ip, hc)}/healthz`,
            expected: want(g.node).localEndpoints,
            observed: g.localEndpoints,
          }))
          .filter((row) => row.observed !== undefined),
      );
      expectSame(
        { ...health, what: 'the health check node port is asked on every node', unit: 'nodes' },
        targets.map((t) => t.node),
        got.map((g) => g.node),
      );
    },
  });
  check({
    id: 'proxy.external-traffic-policy.local-outside',
    level: 'required',
    claim:
      "with externalTrafficPolicy Local, a client outside the cluster is served at a node's node port only " +
      "by that node's endpoints, which see the client's own address; a node without one does not forward",
    source: src.vipDoc('external traffic policy', '#external-traffic-policy'),
    requires: ['outside-client'],
    e2e: e2e.svc('should support externalTrafficPolicy=Local for type=NodePort'),
    run: async () => {
      await setup();
      const port = (await readSvc('local-api-external')).spec!.ports![0]!.nodePort!;
      const targets = await ctx.nodeTargets('etp', 'local-api-external');
      // Nodes with local endpoints: converge until only those answer; every node's proxy has
      // already served the control Service applied after this one (setup).
      for (const t of targets.filter((x) => local[x.node])) {
        const { ms, polls } = await converge(
          `connections from this machine to ${t.node} ${t.ip}:${port} (externalTrafficPolicy ` +
            `Local) to reach only its local endpoints [${local[t.node]!.join(', ')}]`,
          async () => {
            const c = counts(await connectFromOutside(t.ip, port, 3, { timeoutMs: 1000 }));
            return { ok: Object.keys(c).every((k) => local[t.node]!.includes(k)), state: c };
          },
          { kind: 'Service proxy', since: readyAt },
        );
        ctx.evidence.convergence('etp-local-outside', 'Service proxy', polls, ms, `from outside to ${t.node}`, polls > 1);
      }
      const seen = [];
      for (const t of targets) {
        const attempts = await connectFromOutside(t.ip, port, local[t.node] ? 6 : 3, { timeoutMs: 1000 });
        seen.push({
          node: t.node,
          localEndpoints: local[t.node] ?? [],
          answeredBy: counts(attempts),
          // The source each backend saw, against this machine's own end of the connection.
          sourceRewritten: attempts
            .filter((a) => a.backend && a.backend.client !== a.local)
            .map((a) => `${a.local} seen as ${a.backend!.client}`),
        });
      }
      ctx.evidence.add({
        check: 'etp-local-outside',
        kind: 'counts',
        value: seen,
        text: `node port ${port} from this machine, outside the cluster`,
      });
      expectRows(
        {
          what:
            "with externalTrafficPolicy Local, a node port reached from outside answers only from the node's own endpoints " +
            "(nothing from a node without one), and the backend sees the client's own address",
          client: 'this machine',
          target: `node port ${port} (local-api-external)`,
          protocol: 'tcp',
        },
        seen.map((s, i) => ({
          target: `${s.node} ${hostPort(targets[i]!.ip, port)}`,
          ok: !(
            s.sourceRewritten.length ||
            Object.keys(s.answeredBy).some((k) => (s.localEndpoints.length ? !s.localEndpoints.includes(k) : !k.startsWith('error: ')))
          ),
          expected: s.localEndpoints.length
            ? `only its local endpoints [${s.localEndpoints.join(', ')}], the source unchanged`
            : 'no answer (no local endpoint)',
          observed: { answeredBy: s.answeredBy, sourceRewritten: s.sourceRewritten },
        })),
      );
    },
  });

  check({
    id: 'proxy.external-traffic-policy.local-from-pods',
    level: 'expected',
    claim:
      "a Pod reaches a Service with externalTrafficPolicy Local at its own node's address and node port, on nodes without a local endpoint too",
    source: src.vipDoc('external traffic policy', '#external-traffic-policy'),
    why:
      "The policy is about traffic from outside the cluster; kube-proxy sends a Pod's traffic to an external destination of such a Service " +
      'to any endpoint, as if it went out to a load balancer and came back. A proxy that drops it on nodes ' +
      'without an endpoint differs (cilium/cilium#11746), but the API leaves traffic from inside open.',
    e2e: null,
    run: async () => {
      await setup();
      const port = (await readSvc('local-api-external')).spec!.ports![0]!.nodePort!;
      const addresses = await ctx.nodeTargets('etp', 'local-api-external');
      // Each Pod dials its own node's address: kube-proxy treats Pod traffic to an external
      // destination of a Local Service as going out and back in, served by any endpoint
      // (a Pod dialling another node's address is external traffic to that node, whose
      // replies take another path: not claimed).
      const seen = await Promise.all(
        ctx.probes.flatMap((p) =>
          addresses
            .filter((t) => t.node === p.node)
            .map(async (t) => {
              const { ms, state, polls } = await converge(
                `connections from ${p.pod} to its own node ${t.node} ${t.ip}:${port} (externalTrafficPolicy ` +
                  `Local, ${(local[t.node] ?? []).length} local endpoint(s)) to reach a local-api backend`,
                async () => {
                  const r = await p.connect({ host: t.ip, port, count: 3, mode: 'tcp', timeoutMs: 1000 });
                  return { ok: r.every((a) => all.includes(a.backend?.pod ?? '')), state: counts(r) };
                },
                { kind: 'Service proxy', since: readyAt },
              );
              ctx.evidence.convergence('etp-local-from-pods', 'Service proxy', polls, ms, `${p.node} -> its own address`, polls > 1);
              return { from: p.node, to: `${t.ip}:${port}`, localEndpointsThere: (local[t.node] ?? []).length, answeredBy: state };
            }),
        ),
      );
      ctx.evidence.add({ check: 'etp-local-from-pods', kind: 'counts', value: seen });
      expectThat(
        {
          what: "with externalTrafficPolicy Local, Pods reach their own node's address at the node port",
          client: 'every probe',
          target: `its own node's address, port ${port}`,
          protocol: 'tcp',
        },
        seen.length > 0,
        'at least one probe on a node with an address of the Service family',
        { probes: ctx.probes.map((p) => p.node), addresses: addresses.map((a) => `${a.node} ${a.ip}`) },
      );
    },
  });
});
