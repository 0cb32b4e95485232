// The test bed itself: nodes, Pod networking across nodes, cluster DNS, a ClusterIP
// Service across nodes, logs and exec, and a StatefulSet Pod coming back with a new IP.
// On the bundled cluster the expectations come from its profile (node count, DNS IP).
import { answerSet } from '../helpers/lib/dns.ts';
import { apply } from '../helpers/cluster/apply.ts';
import { src } from './data/sources.ts';
import { defineSuite, kube, once, describe } from '../helpers/harness/suite.ts';
import { expectRows, expectSame, expectThat, fromProbe } from '../helpers/harness/verdict.ts';
import { hostPort } from '../helpers/lib/net.ts';
import { listPods, podState, rolloutReady } from '../helpers/cluster/workloads.ts';
import { waitFor } from '../helpers/cluster/wait.ts';
import { closeSessions } from '../helpers/cluster/probe.ts';
import { currentTarget } from '../helpers/config/target.ts';

const { ctx, check, prefetch } = defineSuite('smoke');
// One web-api backend and one StatefulSet Pod, started with the suite's first check.
const webOne = once(async () => {
  await apply(ctx.ns, 'web-api.yaml', { REPLICAS: 1 });
  return (await rolloutReady(ctx.ns, 'Deployment', 'web-api', 1))[0]!;
});
const mysqlOne = once(async () => {
  await apply(ctx.ns, 'mysql.yaml', { REPLICAS: 1 });
  return (await rolloutReady(ctx.ns, 'StatefulSet', 'mysql', 1))[0]!;
});
prefetch(webOne, 'bed.clusterip.reach');
prefetch(mysqlOne, 'bed.statefulset.new-ip');

describe('cluster smoke', () => {
  check({
    id: 'bed.nodes.ready',
    level: 'required',
    claim: 'every node is Ready (as many as the bundled cluster profile says)',
    source: src.suite('nodes'),
    run: async () => {
      const nodes = (await kube().core.listNode()).items;
      const ready = nodes.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      const want = currentTarget().profile?.nodes;
      const summary = nodes
        .map((n) => `${n.metadata?.name}: Ready=${n.status?.conditions?.find((c) => c.type === 'Ready')?.status}`)
        .join(', ');
      const q = { what: 'every node of the cluster is Ready', client: 'this machine', target: 'the Nodes', protocol: 'api' };
      if (want !== undefined)
        expectSame(
          { ...q, what: `the cluster has the ${want} nodes of its profile, every one Ready` },
          { nodes: want, ready: want, summary },
          { nodes: nodes.length, ready: ready.length, summary },
        );
      else expectThat(q, ready.length === nodes.length, `${nodes.length} Ready, as many as nodes`, `${ready.length} Ready: ${summary}`);
    },
  });

  check({
    id: 'bed.pod.cross-node',
    level: 'required',
    claim: 'a Pod on one node reaches a Pod on another node by its IP (on a 1-node cluster: its own IP)',
    source: src.suite('Pod network'),
    run: async () => {
      if (ctx.probes.length < 2) {
        ctx.evidence.info('cross-node', 'single schedulable node: only same-node Pod traffic checked');
      }
      const pods = (await listPods(ctx.probes[0]!.ns, 'app.kubernetes.io/name=svc-probe')).map(podState);
      const results = await Promise.all(
        ctx.probes.map(async (from, i) => {
          const to = pods.find((p) => p.name === ctx.probes[(i + 1) % ctx.probes.length]!.pod)!;
          const [attempt] = await from.connect({ host: to.ip!, port: 8080, count: 1, mode: 'tcp', timeoutMs: 3000 });
          return {
            from: `${from.pod}@${from.node}`,
            to: `${to.name}@${to.node} ${to.ip}`,
            answeredBy: attempt?.backend?.pod,
            error: attempt?.error,
          };
        }),
      );
      expectRows(
        { what: "a Pod reaches another node's probe Pod by its Pod IP", target: 'the next probe Pod, port 8080', protocol: 'tcp' },
        results.map((r, i) => ({
          ...fromProbe(ctx.probes[i]!, ctx.ns),
          target: `${r.to} port 8080`,
          expected: { answeredBy: r.to.split('@')[0], error: undefined },
          observed: { answeredBy: r.answeredBy, error: r.error },
        })),
      );
    },
  });

  check({
    id: 'bed.dns.kubernetes-default',
    level: 'required',
    claim:
      "kubernetes.default.svc.<zone> resolves through the Pod's resolver and through the " +
      'DNS Service (kube-system/kube-dns, from the API), which need not be one address',
    source: src.spec('2.3.1', '231---aaaa-records'),
    run: async () => {
      const { core } = kube();
      const target = currentTarget();
      const svc = await core.readNamespacedService({ name: 'kubernetes', namespace: 'default' });
      const dns = await core.readNamespacedService({ name: 'kube-dns', namespace: 'kube-system' });
      // The DNS Service is the one the API serves; the Pod's resolver may be a cache in front
      // of it (NodeLocal DNSCache's link-local address). Both are asked below, with the replicas.
      if (target.profile)
        expectSame(
          {
            what: "the DNS Service has the ClusterIP of the cluster's profile",
            client: 'this machine',
            target: 'kube-system/Service/kube-dns',
            protocol: 'api',
          },
          target.profile.dnsServiceIP,
          dns.spec?.clusterIP,
        );
      ctx.evidence.info(
        'smoke-dns',
        `the Pod's resolver ${ctx.facts.resolver}; the DNS Service kube-system/kube-dns ` +
          `${dns.spec?.clusterIP}; asked: ${ctx.facts.servers.map((s) => `${s.label} ${s.ip}`).join('; ')}`,
      );
      const name = ctx.svcName('kubernetes', 'default');
      const answers = await ctx.expectEverywhere('smoke-dns', name, 'address', { rcode: 'NOERROR', set: [svc.spec!.clusterIP!] });
      expectSame(
        {
          what: 'cluster DNS answers the kubernetes Service with its ClusterIP',
          ...fromProbe(ctx.probes[0]!, ctx.ns),
          target: `${name} ${answers[0]!.question.type} @${answers[0]!.question.server}`,
          protocol: 'dns',
        },
        [svc.spec!.clusterIP],
        answerSet(answers[0]!),
      );
    },
  });

  check({
    id: 'bed.clusterip.reach',
    level: 'required',
    claim: 'a ClusterIP Service is reachable from Pods on every node',
    source: src.vipDoc('virtual IP mechanism'),
    run: async () => {
      const backend = await webOne();
      const svc = await kube().core.readNamespacedService({ name: 'web-api', namespace: ctx.ns });
      const vip = svc.spec!.clusterIP!;
      await ctx.proxyConverged('smoke-clusterip', { host: vip, port: 80, backends: [backend!.name] });
      const results = await Promise.all(
        ctx.probes.map(async (p) => {
          const [a] = await p.connect({ host: vip, port: 80, count: 1, mode: 'http', timeoutMs: 2000 });
          return { from: p.node, backendNode: backend!.node, answeredBy: a?.backend?.pod, error: a?.error };
        }),
      );
      const q = {
        what: `a ClusterIP Service is reached from every node, across nodes, by its one backend ${backend!.name} (on ${backend!.node})`,
        target: hostPort(vip, 80),
        protocol: 'http',
      };
      expectThat(
        q,
        results.some((r) => r.from !== r.backendNode) || ctx.probes.length === 1,
        "a client on a node other than the backend's (or a single probe)",
        results.map((r) => r.from),
      );
      expectRows(
        q,
        results.map((r, i) => ({
          ...fromProbe(ctx.probes[i]!, ctx.ns),
          expected: { answeredBy: backend!.name, error: undefined },
          observed: { answeredBy: r.answeredBy, error: r.error },
        })),
      );
    },
  });

  check({
    id: 'bed.api.logs-exec',
    level: 'required',
    claim: 'logs and exec work through the API server',
    source: src.suite('API server to kubelet'),
    run: async () => {
      const probe = ctx.probes[0]!;
      const id = await probe.whoami();
      expectSame(
        { what: 'exec in a probe Pod runs there: whoami names the Pod', ...fromProbe(probe, ctx.ns), target: 'whoami', protocol: 'exec' },
        probe.pod,
        id.pod,
      );
      const log = await kube().core.readNamespacedPodLog({ name: probe.pod, namespace: probe.ns });
      expectThat(
        {
          what: "a probe Pod's log is read through the API",
          client: 'this machine',
          target: `${probe.ns}/Pod/${probe.pod} log`,
          protocol: 'api',
        },
        log.includes(`serving ${probe.pod}`),
        `a line containing "serving ${probe.pod}"`,
        log.split('\n').slice(-10).join('\n'),
      );
    },
  });

  check({
    id: 'bed.statefulset.new-ip',
    level: 'required',
    claim: 'a deleted StatefulSet Pod comes back under the same name with a new IP',
    source: src.stsDoc,
    run: async () => {
      const before = await mysqlOne();
      closeSessions(ctx.ns, 'mysql-0'); // the next command goes to the new Pod, never the old
      await kube().core.deleteNamespacedPod({ name: 'mysql-0', namespace: ctx.ns, gracePeriodSeconds: 0 });
      const after = await waitFor(
        'mysql-0 to come back Ready with a new IP',
        async () => {
          const p = (await listPods(ctx.ns, 'app=mysql')).map(podState).find((s) => s.name === 'mysql-0');
          return { ok: Boolean(p?.ready && p.ip && p.ip !== before!.ip), state: { before, now: p } };
        },
        { timeoutMs: 90_000 },
      );
      ctx.evidence.info('statefulset-new-ip', `mysql-0 moved from ${before!.ip} to ${after.now!.ip}`);
      expectThat(
        {
          what: 'a StatefulSet Pod deleted comes back with a new IP',
          client: 'this machine',
          target: `${ctx.ns}/Pod/mysql-0`,
          protocol: 'api',
        },
        after.now!.ip !== before!.ip,
        `an IP other than ${before!.ip}`,
        after.now!.ip,
      );
    },
  });
});
