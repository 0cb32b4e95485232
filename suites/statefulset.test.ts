// StatefulSets behind a headless Service: stable per-Pod names that resolve to exactly
// that Pod's IP, through the system resolver as an application sees them too; no names
// when serviceName names no Service; and the name follows its Pod when the Pod is
// rescheduled to another node with a new IP, within a measured, bounded time.
import type { DnsWatchResult } from '../probe/contract.ts';
import { apply } from '../helpers/cluster/apply.ts';
import { src } from './data/sources.ts';
import { once, defineSuite, kube, describe } from '../helpers/harness/suite.ts';
import { expectSame, fromProbe } from '../helpers/harness/verdict.ts';
import { withCordon } from '../helpers/cluster/nodes.ts';
import { Probe, closeSessions } from '../helpers/cluster/probe.ts';
import { listPods, podState, rolloutReady, serviceSlices, sliceEndpoints, type PodState } from '../helpers/cluster/workloads.ts';
import { NotConverged, runBound, SLOW_COMPONENT } from '../helpers/cluster/converge.ts';
import { cacheAllowanceMs } from '../helpers/lib/dns-path.ts';
import { detected } from '../helpers/config/target.ts';
import { waitFor } from '../helpers/cluster/wait.ts';

const { ctx, check } = defineSuite('statefulset');
let pods: PodState[] = [];
const podName = (n: number): string => `mysql-${n}`;
let setupReadyAt = 0;
const setup = once(async () => {
  await apply(ctx.ns, 'mysql.yaml', { REPLICAS: 3 });
  pods = await rolloutReady(ctx.ns, 'StatefulSet', 'mysql', 3);
  setupReadyAt = Date.now();
});
// Rescheduling to another node needs a second schedulable node; on one node the Pod
// comes back on the same node with a new IP (recorded in the evidence).
const multiNode = (): boolean => detected().schedulableNodes !== 1;

describe('StatefulSet per-Pod names', () => {
  check({
    id: 'dns.statefulset.pod-names',
    level: 'required',
    claim: "mysql-N.mysql.<ns>.svc.<zone> resolves to exactly Pod N's IP, for each N",
    source: src.stsDoc,
    run: async () => {
      await setup();
      for (let n = 0; n < 3; n++) {
        const pod = pods.find((p) => p.name === podName(n))!;
        await ctx.expectEverywhere(
          `sts-name-${n}`,
          `${podName(n)}.${ctx.svcName('mysql')}`,
          'address',
          { rcode: 'NOERROR', set: pod.ips },
          { since: setupReadyAt },
        );
      }
    },
  });

  check({
    id: 'dns.statefulset.short-name',
    level: 'required',
    claim: 'from a peer Pod, the short name mysql-0.mysql resolves through the system resolver (search path)',
    source: src.dnsDoc("Pod's hostname and subdomain", '#pod-hostname-and-subdomain-field'),
    run: async () => {
      await setup();
      const peer = pods.find((p) => p.name === podName(1))!;
      const inPeer = new Probe(ctx.ns, peer.name, peer.node ?? '', 'mysql');
      const want = pods.find((p) => p.name === podName(0))!.ips;
      await ctx.expectEverywhere(
        'sts-short-name',
        `${podName(0)}.${ctx.svcName('mysql')}`,
        'address',
        { rcode: 'NOERROR', set: want },
        { since: setupReadyAt },
      );
      const [r] = await inPeer.resolve(['mysql-0.mysql']);
      ctx.evidence.transcript('sts-short-name', `getaddrinfo("mysql-0.mysql") in ${peer.name}: ${r?.error ?? r?.addresses.join(', ')}`);
      expectSame(
        {
          what: "a StatefulSet Pod's short name (pod.service) resolves to that Pod's IP through the system resolver, from a peer Pod",
          ...fromProbe(inPeer, ctx.ns),
          target: 'mysql-0.mysql',
          protocol: 'dns (getaddrinfo)',
        },
        { name: 'mysql-0.mysql', addresses: [...want].sort(), error: undefined },
        { name: r?.name, addresses: r?.addresses ? [...r.addresses].sort() : r?.addresses, error: r?.error },
      );
    },
  });

  check({
    id: 'dns.statefulset.no-names-without-service',
    level: 'expected',
    claim:
      'a StatefulSet whose serviceName names no headless Service gets no per-Pod names (under another Service selecting its Pods, or under the missing name)',
    source: src.dnsDoc("Pod's hostname and subdomain", '#pod-hostname-and-subdomain-field'),
    why:
      "The specification (2.1) lets a server give an endpoint without a hostname any unique identifier, and CoreDNS's endpoint_pod_names " +
      'uses the Pod name: then orphan-0.<other Service> exists. No name is guaranteed here, but none is forbidden either.',
    run: async () => {
      await apply(ctx.ns, 'orphan.yaml', { REPLICAS: 2 });
      const orphans = await rolloutReady(ctx.ns, 'StatefulSet', 'orphan', 2);
      const since = Date.now();
      // The Service that does select the Pods answers them (so the Pods are published) ...
      await ctx.expectEverywhere(
        'orphan-service',
        ctx.svcName('orphan-other'),
        'address',
        { rcode: 'NOERROR', set: orphans.flatMap((p) => p.ips) },
        { since },
      );
      // ... but no per-Pod name exists, under it or under the missing serviceName.
      await ctx.expectEverywhere('orphan-no-name', `orphan-0.${ctx.svcName('orphan-other')}`, 'address', { rcode: 'NXDOMAIN', set: [] });
      await ctx.expectEverywhere('orphan-no-name-missing', `orphan-0.${ctx.svcName('orphan-missing')}`, 'address', {
        rcode: 'NXDOMAIN',
        set: [],
      });
    },
  });
});

describe('StatefulSet Pod rescheduling', () => {
  check({
    id: 'dns.statefulset.reschedule',
    level: 'required',
    claim:
      'a StatefulSet Pod keeps its name on another node with a new IP (on a 1-node cluster: recreated on ' +
      'the same node), DNS follows within the bound at every replica, and the old IP never comes back',
    source: src.stsDoc,
    run: async () => {
      await setup();
      const { boundMs: bound, boundName } = runBound('DNS');
      // A cache in front (NodeLocal DNSCache) may serve the old answer until its TTL runs out.
      const cacheMs = cacheAllowanceMs(detected().dnsPath);
      const old = (await listPods(ctx.ns, 'app=mysql')).map(podState).find((p) => p.name === podName(0))!;
      // Before the move, the name answers the old IP everywhere (the watch starts from there).
      await ctx.expectEverywhere(
        'sts-reschedule-before',
        `${podName(0)}.${ctx.svcName('mysql')}`,
        'address',
        { rcode: 'NOERROR', set: old.ips },
        { since: setupReadyAt },
      );
      const name = `${podName(0)}.${ctx.svcName('mysql')}`;
      const watcher = ctx.probes.find((p) => p.node !== old.node) ?? ctx.probes[0]!;

      const move = async (): Promise<{ now: PodState; readyAt: number; slicesAt: number; watch: DnsWatchResult }> => {
        // Follow the name at every server from before the delete until it is stable.
        const watchP = watcher.dnsWatch({
          questions: ctx.facts.servers.map((s) => ({ name, type: ctx.primaryType('sts-reschedule'), server: s.ip })),
          exclude: [old.ip!],
          intervalMs: 100,
          stableMs: 3000,
          timeoutMs: 120_000 + bound + cacheMs,
        });
        closeSessions(ctx.ns, old.name); // the next command goes to the new Pod, never the old
        await kube().core.deleteNamespacedPod({ name: old.name, namespace: ctx.ns, gracePeriodSeconds: 0 });
        // When the EndpointSlices list the new Pod ready: DNS follows them, so a slow
        // answer is the controller's when they came late (attributed below).
        const slicesP = waitFor(
          `the EndpointSlices of mysql to list ${old.name} ready at an IP other than ${old.ip}`,
          async () => {
            const eps = sliceEndpoints(await serviceSlices(ctx.ns, 'mysql'));
            return { ok: eps.some((e) => e.targetRef === old.name && e.ready && !e.addresses.includes(old.ip!)), state: eps };
          },
          { timeoutMs: 120_000 + bound, intervalMs: 100 },
        ).then(() => Date.now());
        const back = await waitFor(
          `${old.name} to come back Ready${multiNode() ? ` on a node other than ${old.node}` : ''} with a new IP`,
          async () => {
            const p = (await listPods(ctx.ns, 'app=mysql')).find((x) => x.metadata?.name === old.name && !x.metadata?.deletionTimestamp);
            const s = p ? podState(p) : undefined;
            const ok = Boolean(s?.ready && s.ip && s.ip !== old.ip && (!multiNode() || s.node !== old.node));
            const readyAt = p?.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime;
            return { ok, state: { old, now: s, readyAt } };
          },
          { timeoutMs: 120_000 },
        );
        const [watch, slicesAt] = await Promise.all([watchP, slicesP]);
        return { now: back.now!, readyAt: new Date(back.readyAt!).getTime(), slicesAt, watch };
      };
      if (!multiNode()) ctx.evidence.info('sts-reschedule', 'one schedulable node: the Pod is recreated on the same node with a new IP');
      const { now, readyAt, slicesAt, watch } = multiNode() ? await withCordon(old.node!, move) : await move();
      const slicesMs = Math.max(0, slicesAt - readyAt);
      ctx.evidence.measure('sts-reschedule', 'EndpointSlices listed the new Pod: after it turned Ready (upper bound)', slicesMs, 'ms');

      // Convergence: for every server, the time of its last change, which must be to {new IP}.
      const perServer = watch.series.map((s, i) => {
        const last = s.changes[s.changes.length - 1]!;
        const server = ctx.facts.servers[i]!;
        return {
          server: `${server.label} ${server.ip}`,
          cache: server.role === 'cache',
          final: last.set,
          since: last.t,
          changes: s.changes.map((c) => `${new Date(c.t).toISOString().slice(11, 23)} ${c.rcode ?? c.error} [${c.set.join(',')}]`),
        };
      });
      const lastChange = (ps: typeof perServer): number => Math.max(readyAt, ...ps.map((p) => p.since));
      const convergedAt = lastChange(perServer);
      // The Ready condition's time has one-second resolution: clamp a sub-second lead to 0.
      const convergenceMs = Math.max(0, lastChange(perServer.filter((p) => !p.cache)) - readyAt);
      const cacheLagMs = Math.max(0, lastChange(perServer.filter((p) => p.cache)) - readyAt - convergenceMs);
      ctx.evidence.measure('sts-reschedule', 'DNS converged: after the new Pod turned Ready', convergenceMs, 'ms', true, {
        kind: 'DNS',
        converged: true,
      });
      if (perServer.some((p) => p.cache))
        ctx.evidence.measure(
          'sts-reschedule',
          `DNS cache lag behind the replicas (allowed: the TTL, ${cacheMs / 1000} s)`,
          cacheLagMs,
          'ms',
          true,
          { kind: 'DNS cache lag', converged: true },
        );
      ctx.evidence.info(
        'sts-reschedule',
        `${old.name} moved ${old.node}/${old.ip} -> ${now.node}/${now.ip}; watch ended ${watch.ended} after ${watch.samples} samples`,
        perServer,
      );
      const summary = {
        watchEnded: watch.ended,
        finalAnswers: perServer.map((p) => ({ server: p.server, final: p.final })),
        oldIPSeenAfterConvergence: watch.series.some((s) => s.changes.some((c) => c.t > convergedAt && c.set.includes(old.ip!))),
      };
      expectSame(
        {
          what: `a rescheduled StatefulSet Pod's name follows it to its new IP at every server, and the old IP ${old.ip} does not come back`,
          ...fromProbe(watcher, ctx.ns),
          target: `${name} @${ctx.facts.servers.map((s) => s.ip).join(', ')}`,
          protocol: 'dns',
        },
        {
          watchEnded: 'stable',
          finalAnswers: perServer.map((p) => ({ server: p.server, final: [now.ip] })),
          oldIPSeenAfterConvergence: false,
        },
        summary,
      );
      if (convergenceMs > bound && slicesMs > bound) {
        // The DNS servers follow the EndpointSlices: they could not answer before these did.
        throw new NotConverged(
          `EndpointSlices slow: the EndpointSlice controller listed ${old.name}'s new IP ${now.ip} ready only ${slicesMs} ms after ` +
            `it turned Ready, against a bound of ${bound} ms (${boundName}); every authoritative server answered it ` +
            `${Math.max(0, convergenceMs - slicesMs)} ms after that. Slow, not wrong: ${SLOW_COMPONENT.EndpointSlices} was slow.\n` +
            JSON.stringify(perServer, null, 2),
          perServer,
          convergenceMs,
          true,
        );
      }
      if (convergenceMs > bound) {
        throw new Error(
          `DNS not converged within ${bound} ms (${boundName}): it took ${convergenceMs} ms after ${old.name} turned ` +
            `Ready to answer its new IP ${now.ip} at every authoritative server; the EndpointSlices listed it ${slicesMs} ms after ` +
            `it turned Ready, so the DNS servers were the slow part.\n${JSON.stringify(perServer, null, 2)}`,
        );
      }
      if (convergenceMs + cacheLagMs > bound + cacheMs) {
        throw new Error(
          `DNS not converged within ${bound + cacheMs} ms (${boundName}, plus ${cacheMs / 1000} s, the longest TTL the DNS replicas give: a cache ` +
            `may serve an answer until its TTL runs out, and no longer): the cache answered ${old.name}'s new IP ` +
            `${now.ip} ${convergenceMs + cacheLagMs} ms after it turned Ready.\n${JSON.stringify(perServer, null, 2)}`,
        );
      }
      // And afterwards, from every node, at every server: exactly the new IP.
      await ctx.expectEverywhere('sts-reschedule-after', name, 'address', { rcode: 'NOERROR', set: now.ips });
    },
  });
});
