// The test bed itself: nodes, Pod networking across nodes, cluster DNS, a ClusterIP
// Service across nodes, logs and exec, and a StatefulSet Pod coming back with a new IP.
// On the bundled cluster the expectations come from its profile (node count, DNS IP).
import { describe, expect } from '@jest/globals';
import { answerSet } from '../helpers/lib/dns.ts';
import { apply } from '../helpers/cluster/apply.ts';
import { defineSuite, kube } from '../helpers/harness/suite.ts';
import { listPods, podState, rolloutReady } from '../helpers/cluster/workloads.ts';
import { waitFor } from '../helpers/cluster/wait.ts';
import { closeSessions } from '../helpers/cluster/probe.ts';
import { currentTarget } from '../helpers/config/target.ts';

const { ctx, check } = defineSuite('smoke');

describe('cluster smoke', () => {
  check('bed.nodes.ready', async () => {
    const nodes = (await kube().core.listNode()).items;
    const ready = nodes.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    const want = currentTarget().profile?.nodes;
    const summary = nodes
      .map((n) => `${n.metadata?.name}: Ready=${n.status?.conditions?.find((c) => c.type === 'Ready')?.status}`)
      .join(', ');
    if (want !== undefined) expect({ nodes: nodes.length, ready: ready.length, summary }).toEqual({ nodes: want, ready: want, summary });
    else expect(ready.length).toBe(nodes.length);
  });

  check('bed.pod.cross-node', async () => {
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
    expect(results).toEqual(results.map((r) => ({ ...r, answeredBy: r.to.split('@')[0], error: undefined })));
  });

  check('bed.dns.kubernetes-default', async () => {
    const { core } = kube();
    const target = currentTarget();
    const svc = await core.readNamespacedService({ name: 'kubernetes', namespace: 'default' });
    const dns = await core.readNamespacedService({ name: 'kube-dns', namespace: 'kube-system' });
    // The DNS Service is the one the API serves; the Pod's resolver may be a cache in front
    // of it (NodeLocal DNSCache's link-local address). Both are asked below, with the replicas.
    if (target.profile) expect(dns.spec?.clusterIP).toBe(target.profile.dnsServiceIP);
    ctx.evidence.info(
      'smoke-dns',
      `the Pod's resolver ${ctx.facts.resolver}; the DNS Service kube-system/kube-dns ` +
        `${dns.spec?.clusterIP}; asked: ${ctx.facts.servers.map((s) => `${s.label} ${s.ip}`).join('; ')}`,
    );
    const name = ctx.svcName('kubernetes', 'default');
    const answers = await ctx.expectEverywhere('smoke-dns', name, 'address', { rcode: 'NOERROR', set: [svc.spec!.clusterIP!] });
    expect(answerSet(answers[0]!)).toEqual([svc.spec!.clusterIP]);
  });

  check('bed.clusterip.reach', async () => {
    await apply(ctx.ns, 'web-api.yaml', { REPLICAS: 1 });
    const [backend] = await rolloutReady(ctx.ns, 'Deployment', 'web-api', 1);
    const svc = await kube().core.readNamespacedService({ name: 'web-api', namespace: ctx.ns });
    const vip = svc.spec!.clusterIP!;
    await ctx.proxyConverged('smoke-clusterip', { host: vip, port: 80, backends: [backend!.name] });
    const results = await Promise.all(
      ctx.probes.map(async (p) => {
        const [a] = await p.connect({ host: vip, port: 80, count: 1, mode: 'http', timeoutMs: 2000 });
        return { from: p.node, backendNode: backend!.node, answeredBy: a?.backend?.pod, error: a?.error };
      }),
    );
    expect(results.some((r) => r.from !== r.backendNode) || ctx.probes.length === 1).toBe(true);
    expect(results).toEqual(results.map((r) => ({ ...r, answeredBy: backend!.name, error: undefined })));
  });

  check('bed.api.logs-exec', async () => {
    const probe = ctx.probes[0]!;
    const id = await probe.whoami();
    expect(id.pod).toBe(probe.pod);
    const log = await kube().core.readNamespacedPodLog({ name: probe.pod, namespace: probe.ns });
    expect(log).toContain(`serving ${probe.pod}`);
  });

  check('bed.statefulset.new-ip', async () => {
    await apply(ctx.ns, 'mysql.yaml', { REPLICAS: 1 });
    const [before] = await rolloutReady(ctx.ns, 'StatefulSet', 'mysql', 1);
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
    expect(after.now!.ip).not.toBe(before!.ip);
  });
});
