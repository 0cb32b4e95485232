// Ports and changes: a multi-port Service with named targetPorts reaches each backend port;
// changes to a live Service (port, targetPort, selector) and its type (ClusterIP ->
// NodePort -> ClusterIP, the node port released) are followed within the proxy bound.
import type * as k8s from '@kubernetes/client-node';
import { apply, applyObjects, defaultVars, loadManifest } from '../helpers/cluster/apply.ts';
import { converge } from '../helpers/cluster/converge.ts';
import { e2e, src } from './data/sources.ts';
import { kube, once, defineSuite, describe } from '../helpers/harness/suite.ts';
import { expectRows, expectSame, expectThat, fromProbe } from '../helpers/harness/verdict.ts';
import { hostPort } from '../helpers/lib/net.ts';
import type { ConnectAttempt } from '../probe/contract.ts';
import { rolloutReady } from '../helpers/cluster/workloads.ts';

const { ctx, check } = defineSuite('proxy-changes');
let multi: string[] = [];
let web: string[] = [];
let readyAt = 0;
const readSvc = (name: string) => kube().core.readNamespacedService({ name, namespace: ctx.ns });
const setup = once(async () => {
  await apply(ctx.ns, 'multi-api.yaml');
  await apply(ctx.ns, 'web-api.yaml', { REPLICAS: 2 });
  multi = (await rolloutReady(ctx.ns, 'Deployment', 'multi-api', 2)).map((p) => p.name);
  web = (await rolloutReady(ctx.ns, 'Deployment', 'web-api', 2)).map((p) => p.name);
  readyAt = Date.now();
});
/** Reads the Service, changes it, replaces it; returns when the change was made. */
async function change(name: string, edit: (s: k8s.V1Service) => void): Promise<number> {
  const svc = await readSvc(name);
  edit(svc);
  await kube().core.replaceNamespacedService({ name, namespace: ctx.ns, body: svc });
  return Date.now();
}
const who = (a: ConnectAttempt): string => (a.backend ? `${a.backend.pod}:${a.backend.port}` : `error: ${a.error}`);
/** From every probe, converge (proxy bound, from `since`) until `ok` holds for 3 fresh
 *  connections to each host (a Service's virtual IPs: one per family) at port; measured,
 *  and the last state kept for the evidence (per probe, every host's connections). */
async function everywhere(
  label: string,
  what: string,
  hosts: string[],
  port: number,
  ok: (a: ConnectAttempt[]) => boolean,
  since: number,
): Promise<string[][]> {
  const targets = hosts.map((h) => hostPort(h, port)).join(' and ');
  const per = await Promise.all(
    ctx.probes.map((p) =>
      converge(
        `connections from ${p.pod} (node ${p.node}) to ${targets}: ${what}`,
        async () => {
          const r: ConnectAttempt[] = [];
          for (const host of hosts) r.push(...(await p.connect({ host, port, count: 3, mode: 'tcp', timeoutMs: 1000 })));
          return { ok: ok(r), state: r.map(who) };
        },
        { kind: 'Service proxy', since },
      ),
    ),
  );
  ctx.evidence.convergence(label, 'Service proxy', Math.max(...per.map((x) => x.polls)), Math.max(...per.map((x) => x.ms)), what, true);
  return per.map((x) => x.state);
}
const onlyFrom =
  (pods: string[], port: number) =>
  (r: ConnectAttempt[]): boolean =>
    r.every((a) => pods.includes(a.backend?.pod ?? '') && a.backend?.port === port);
const noAnswer = (r: ConnectAttempt[]): boolean => r.every((a) => !a.backend);

describe('Service ports and changes', () => {
  check({
    id: 'proxy.service.multi-port-named',
    level: 'required',
    claim: 'a multi-port Service with named targetPorts sends each port to the backend port of that name, from every node',
    source: src.serviceDoc('multi-port Services', '#multi-port-services'),
    e2e: e2e.svc('should serve multiport endpoints from pods', true),
    run: async () => {
      await setup();
      for (const vip of await ctx.virtualIPs('multi-port', 'multi-api')) {
        await everywhere('multi-port', 'port 80 (targetPort http) reaching multi-api on 8080', [vip], 80, onlyFrom(multi, 8080), readyAt);
        await everywhere('multi-port', 'port 81 (targetPort alt) reaching multi-api on 8081', [vip], 81, onlyFrom(multi, 8081), readyAt);
        const asked = ctx.probes.flatMap((p) => [80, 81].map((port) => ({ p, port })));
        const seen = await Promise.all(
          asked.map(async ({ p, port }) => ({
            from: p.node,
            port,
            answeredBy: (await p.connect({ host: vip, port, count: 6, mode: 'tcp', timeoutMs: 3000 })).map(who),
          })),
        );
        ctx.evidence.add({ check: 'multi-port', kind: 'counts', value: seen, text: `${vip}: 80 -> http (8080), 81 -> alt (8081)` });
        expectRows(
          {
            what: 'each port of a multi-port Service reaches multi-api on its named targetPort (80 -> http 8080, 81 -> alt 8081)',
            target: `${vip}, ports 80 and 81`,
            protocol: 'tcp',
            unit: 'connections',
          },
          seen.map((s, i) => ({
            ...fromProbe(asked[i]!.p, ctx.ns),
            target: hostPort(vip, s.port),
            expected: { wrong: [] },
            observed: { wrong: s.answeredBy.filter((w) => !multi.some((m) => w === `${m}:${s.port === 80 ? 8080 : 8081}`)) },
          })),
        );
      }
    },
  });

  check({
    id: 'proxy.service.changes-followed',
    level: 'required',
    claim:
      "changes to a live Service's port, targetPort and selector are followed within the proxy bound from every node (the old port stops answering)",
    source: src.serviceDoc('defining a Service', '#defining-a-service'),
    e2e: null,
    run: async () => {
      await setup();
      const vips = await ctx.virtualIPs('change-initial', 'change-api');
      await everywhere('change-initial', 'port 80 reaching multi-api on 8080', vips, 80, onlyFrom(multi, 8080), readyAt);
      // The port: 80 -> 8000. The new port answers, the old one no longer does.
      let t = await change('change-api', (s) => {
        s.spec!.ports![0]!.port = 8000;
      });
      await everywhere('change-port', 'port changed 80 -> 8000: 8000 answering', vips, 8000, onlyFrom(multi, 8080), t);
      await everywhere('change-port', 'port changed 80 -> 8000: 80 no longer answering', vips, 80, noAnswer, t);
      // The targetPort: 8080 -> 8081.
      t = await change('change-api', (s) => {
        s.spec!.ports![0]!.targetPort = 8081 as never;
      });
      await everywhere('change-target-port', 'targetPort changed 8080 -> 8081', vips, 8000, onlyFrom(multi, 8081), t);
      // The selector: multi-api -> web-api (back to targetPort 8080, which web-api serves).
      t = await change('change-api', (s) => {
        s.spec!.selector = { app: 'web-api' };
        s.spec!.ports![0]!.targetPort = 8080 as never;
      });
      const last = await everywhere('change-selector', 'selector changed to app=web-api', vips, 8000, onlyFrom(web, 8080), t);
      ctx.evidence.add({
        check: 'changes',
        kind: 'counts',
        value: last,
        text: `${vips.map((v) => hostPort(v, 8000)).join(', ')} after the port, targetPort and selector changes`,
      });
      expectRows(
        {
          what: 'after its port, targetPort and selector changed, a Service reaches only its new backends (web-api on 8080)',
          target: vips.map((v) => hostPort(v, 8000)).join(', '),
          protocol: 'tcp',
          unit: 'connections',
        },
        last.map((l, i) => ({
          ...fromProbe(ctx.probes[i]!, ctx.ns),
          expected: { wrong: [] },
          observed: { wrong: l.filter((w) => !web.some((p) => w === `${p}:8080`)) },
        })),
      );
    },
  });

  check({
    id: 'proxy.service.recreate',
    level: 'required',
    claim: 'a deleted Service stops answering within the proxy bound, and one recreated under the same name is served again',
    source: src.serviceDoc('defining a Service', '#defining-a-service'),
    e2e: e2e.svc('should work after the service has been recreated'),
    run: async () => {
      await setup();
      const svc = (): never[] =>
        loadManifest('multi-api.yaml', defaultVars()).filter((o) => o.kind === 'Service' && o.metadata?.name === 'recreate-api') as never[];
      const old = await ctx.virtualIPs('recreate-before', 'recreate-api');
      await everywhere('recreate-before', 'recreate-api before its deletion', old, 80, onlyFrom(multi, 8080), readyAt);
      await kube().core.deleteNamespacedService({ name: 'recreate-api', namespace: ctx.ns });
      const deleted = Date.now();
      await everywhere(
        'recreate-deleted',
        `recreate-api deleted: ${old.join(', ')} port 80 no longer answering`,
        old,
        80,
        noAnswer,
        deleted,
      );
      await applyObjects(ctx.ns, svc());
      const created = Date.now();
      const vips = await ctx.virtualIPs('recreate-after', 'recreate-api');
      const last = await everywhere(
        'recreate-after',
        `recreate-api recreated under the same name (virtual IPs ${vips.join(', ')})`,
        vips,
        80,
        onlyFrom(multi, 8080),
        created,
      );
      ctx.evidence.add({
        check: 'recreate',
        kind: 'counts',
        value: { oldVips: old, newVips: vips, answeredBy: last },
        text: 'recreate-api deleted and recreated',
      });
      expectRows(
        {
          what: `a Service deleted and recreated under the same name reaches its backends (multi-api on 8080) at its new virtual IPs (the old ones: ${old.join(', ')})`,
          target: vips.map((v) => hostPort(v, 80)).join(', '),
          protocol: 'tcp',
          unit: 'connections',
        },
        last.map((l, i) => ({
          ...fromProbe(ctx.probes[i]!, ctx.ns),
          expected: { wrong: [] },
          observed: { wrong: l.filter((w) => !multi.some((p) => w === `${p}:8080`)) },
        })),
      );
    },
  });

  check({
    id: 'proxy.service.type-change',
    level: 'required',
    claim:
      'a ClusterIP Service changed to NodePort gets a node port that answers; changed back, the node port is released and stops answering',
    source: src.serviceDoc('type NodePort', '#type-nodeport'),
    e2e: e2e.svc('should be able to update service type to NodePort listening on same port number but different protocols'),
    run: async () => {
      await setup();
      const svcName = 'multi-api';
      // The first probe's node, at its InternalIP of every family the Service has.
      const ips = (await ctx.nodeTargets('type-nodeport', svcName)).filter((n) => n.node === ctx.probes[0]!.node).map((n) => n.ip);
      let t = await change(svcName, (s) => {
        s.spec!.type = 'NodePort';
      });
      const nodePort = (await readSvc(svcName)).spec!.ports!.find((p) => p.port === 80)?.nodePort ?? 0;
      const typeQuestion = {
        what: 'a Service changed to type NodePort gets a node port, and back to ClusterIP keeps none',
        client: 'this machine',
        target: `${ctx.ns}/Service/${svcName}`,
        protocol: 'api',
      };
      expectThat(typeQuestion, nodePort > 0, 'a node port (> 0) for port 80 once the type is NodePort', nodePort);
      await everywhere(
        'type-nodeport',
        `type NodePort: ${ips.join(', ')} port ${nodePort} answering`,
        ips,
        nodePort,
        onlyFrom(multi, 8080),
        t,
      );
      t = await change(svcName, (s) => {
        s.spec!.type = 'ClusterIP';
        for (const p of s.spec!.ports!) delete p.nodePort;
      });
      const after = (await readSvc(svcName)).spec!.ports!.map((p) => p.nodePort).filter(Boolean);
      await everywhere(
        'type-clusterip',
        `back to type ClusterIP: ${ips.join(', ')} port ${nodePort} no longer answering`,
        ips,
        nodePort,
        noAnswer,
        t,
      );
      ctx.evidence.info(
        'type-change',
        `ClusterIP -> NodePort (node port ${nodePort}) -> ClusterIP (node ports left in the spec: ${after.join(', ') || 'none'})`,
      );
      expectSame({ ...typeQuestion, unit: 'node ports' }, [], after);
    },
  });
});
