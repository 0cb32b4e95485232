// What any Service proxy must do (kube-proxy in any mode, or an eBPF replacement):
// spread connections over every ready backend; keep one connection on one backend;
// let gRPC clients balance per request against a headless Service; reach a
// StatefulSet Pod directly by its name; refuse connections to a Service without
// endpoints; honour ClientIP affinity; and (where kube-proxy runs) leave Services
// labelled for another proxy, and slices labelled headless, alone.
import { describe, expect, test } from '@jest/globals';
import type { ConnectAttempt } from '../probe/contract.ts';
import { apply, applyObjects } from '../helpers/apply.ts';
import { once, useSuite, kube } from '../helpers/suite.ts';
import { rolloutReady, slicesSettled, type PodState } from '../helpers/workloads.ts';
import { waitFor } from '../helpers/wait.ts';

const ctx = useSuite('proxy-behaviour', { probes: 2 });
const N = 3;
let web: PodState[] = [];
let vip = '';

const counts = (attempts: ConnectAttempt[]): Record<string, number> => {
  const c: Record<string, number> = {};
  for (const a of attempts) { const k = a.backend?.pod ?? `error: ${a.error}`; c[k] = (c[k] ?? 0) + 1; }
  return c;
};
const readVip = async (name: string): Promise<string> => (await kube().core.readNamespacedService({ name, namespace: ctx.ns })).spec!.clusterIP!;

/** The proxy programs endpoints asynchronously (kube-proxy: at most every minSyncPeriod):
 *  waits, within a bound, until every ready backend has answered once from every probe. */
const everyBackendAnswers = async (host: string, port: number, backends: PodState[]): Promise<void> => {
  for (const probe of ctx.probes) {
    await waitFor(`every backend to answer through ${host}:${port} from ${probe.pod}`, async () => {
      const seen = counts(await probe.connect({ host, port, count: 6 * backends.length, mode: 'tcp' }));
      return { ok: backends.every((p) => seen[p.name]), state: seen };
    }, { timeoutMs: 30_000 });
  }
};

/** Waits until the proxy serves the VIP (rules are programmed asynchronously). */
const reachable = async (host: string, port: number): Promise<void> => {
  await waitFor(`${host}:${port} to answer`, async () => {
    const r = await ctx.probes[0]!.connect({ host, port, count: 1, mode: 'tcp', timeoutMs: 1000 });
    return { ok: Boolean(r[0]?.backend), state: r };
  }, { timeoutMs: 30_000 });
};

const webApi = once(async () => {
  await apply(ctx.ns, 'web-api.yaml', { REPLICAS: N });
  web = await rolloutReady(ctx.ns, 'Deployment', 'web-api', N);
  vip = await readVip('web-api');
  await slicesSettled(ctx.ns, 'web-api', web.map((p) => p.ip!));
  await reachable(vip, 80);
  await everyBackendAnswers(vip, 80, web);
});
let grpcPods: PodState[] = [];
const grpcBackends = once(async () => {
  await apply(ctx.ns, 'grpc-backend.yaml', { REPLICAS: N });
  await apply(ctx.ns, 'grpc-clusterip.yaml');
  grpcPods = await rolloutReady(ctx.ns, 'Deployment', 'grpc-backend', N);
  await slicesSettled(ctx.ns, 'grpc-backend', grpcPods.map((p) => p.ip!));
});

describe('Service proxy behaviour', () => {
  test(`connections through a ClusterIP reach every ready backend (30 x ${N} requests, counts reported)`, async () => {
    await webApi();
    const attempts = await ctx.probes[0]!.connect({ host: vip, port: 80, count: 30 * N, mode: 'http' });
    const c = counts(attempts);
    ctx.evidence.add({ check: 'spread', kind: 'counts', value: c, text: `${30 * N} requests to ${vip}:80, each on a new connection` });
    process.stdout.write(`  [measure] proxy spread over ${N} backends: ${JSON.stringify(c)}\n`);
    expect(Object.keys(c).sort()).toEqual(web.map((p) => p.name).sort());
  });

  test('all requests on one kept-alive HTTP/1.1 connection land on one backend', async () => {
    await webApi();
    const c = counts(await ctx.probes[0]!.connect({ host: vip, port: 80, count: 20, mode: 'http-keepalive' }));
    ctx.evidence.add({ check: 'pin-http1', kind: 'counts', value: c });
    expect(Object.values(c)).toEqual([20]);
    expect(web.map((p) => p.name)).toContain(Object.keys(c)[0]);
  });

  test('all requests on one HTTP/2 connection land on one backend', async () => {
    await webApi();
    const c = counts(await ctx.probes[0]!.connect({ host: vip, port: 80, count: 20, mode: 'http2' }));
    ctx.evidence.add({ check: 'pin-http2', kind: 'counts', value: c });
    expect(Object.values(c)).toEqual([20]);
    expect(web.map((p) => p.name)).toContain(Object.keys(c)[0]);
  });

  test('a gRPC round_robin client on dns:///<headless Service> spreads requests over every backend Pod', async () => {
    await grpcBackends();
    await ctx.convergeEverywhere('grpc-dns', ctx.svcName('grpc-backend'), 'A', { rcode: 'NOERROR', set: grpcPods.map((p) => p.ip!) });
    const target = `dns:///${ctx.svcName('grpc-backend')}:50051`;
    const c = counts(await ctx.probes[0]!.connect({ host: '', port: 50051, count: 10 * N, mode: 'grpc', target, lbPolicy: 'round_robin' }));
    ctx.evidence.add({ check: 'grpc-round-robin', kind: 'counts', value: c, text: target });
    expect(Object.keys(c).sort()).toEqual(grpcPods.map((p) => p.name).sort());
  });

  test('the same gRPC client through a ClusterIP Service sends every request on its channel to one Pod', async () => {
    await grpcBackends();
    const target = `dns:///${ctx.svcName('grpc-vip')}:50051`;
    const c = counts(await ctx.probes[0]!.connect({ host: '', port: 50051, count: 30, mode: 'grpc', target, lbPolicy: 'round_robin' }));
    ctx.evidence.add({ check: 'grpc-clusterip', kind: 'counts', value: c, text: target });
    expect(Object.values(c)).toEqual([30]);
    expect(Object.keys(c)[0]).toMatch(/^grpc-backend-/);
  });

  test('connecting to mysql-0.mysql always reaches Pod 0, while the ClusterIP Service over the same Pods reaches several', async () => {
    await apply(ctx.ns, 'mysql.yaml', { REPLICAS: N });
    await apply(ctx.ns, 'mysql-read.yaml');
    const pods = await rolloutReady(ctx.ns, 'StatefulSet', 'mysql', N);
    await slicesSettled(ctx.ns, 'mysql', pods.map((p) => p.ip!));
    const direct = counts(await ctx.probes[0]!.connect({ host: `mysql-0.${ctx.svcName('mysql')}`, port: 3306, count: 15, mode: 'tcp' }));
    await everyBackendAnswers(await readVip('mysql-read'), 3306, pods);
    const viaVip = counts(await ctx.probes[0]!.connect({ host: `mysql-read.${ctx.ns}.svc.${ctx.facts.clusterDomain}`, port: 3306, count: 30, mode: 'tcp' }));
    ctx.evidence.add({ check: 'direct-pod', kind: 'counts', value: { direct, viaVip } });
    expect(direct).toEqual({ 'mysql-0': 15 });
    expect(Object.keys(viaVip).filter((k) => k.startsWith('mysql-')).length).toBeGreaterThan(1);
  });

  test('ClientIP session affinity keeps one backend for 15 requests in a row', async () => {
    await webApi();
    await apply(ctx.ns, 'web-api-affinity.yaml');
    const svip = await readVip('web-api-sticky');
    await reachable(svip, 80);
    const c = counts(await ctx.probes[1]!.connect({ host: svip, port: 80, count: 15, mode: 'http' }));
    ctx.evidence.add({ check: 'affinity', kind: 'counts', value: c });
    expect(Object.values(c)).toEqual([15]);
  });

  const kubeProxy = process.env.SVC_KUBE_PROXY === 'present';
  (kubeProxy ? test : test.skip)(`a Service labelled service.kubernetes.io/service-proxy-name is not served by kube-proxy, until the label goes${kubeProxy ? '' : ' [skipped: no kube-proxy in this cluster]'}`, async () => {
    const svc = (name: string, labels: Record<string, string>): never => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, labels }, spec: { selector: { app: 'web-api' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } }) as never;
    await webApi();
    await applyObjects(ctx.ns, [svc('other-proxy', { 'service.kubernetes.io/service-proxy-name': 'some-other-proxy' })]);
    const ip = await readVip('other-proxy');
    // A plain Service applied after the labelled one is served: the proxy has caught up.
    await applyObjects(ctx.ns, [svc('other-proxy-control', {})]);
    await reachable(await readVip('other-proxy-control'), 80);
    const r = await ctx.probes[0]!.connect({ host: ip, port: 80, count: 3, mode: 'tcp', timeoutMs: 1000 });
    expect({ answered: r.filter((a) => a.backend).length, results: r.map((a) => a.error) }).toEqual({ answered: 0, results: r.map((a) => a.error) });
    await applyObjects(ctx.ns, [svc('other-proxy', {})]);
    await reachable(ip, 80);
  });

  (kubeProxy ? test : test.skip)(`endpoints in an EndpointSlice labelled service.kubernetes.io/headless are not served by kube-proxy, until the label goes${kubeProxy ? '' : ' [skipped: no kube-proxy in this cluster]'}`, async () => {
    await webApi();
    // As upstream e2e does since kube-proxy filters EndpointSlices (not Services) by this
    // label: a selectorless Service with a hand-made slice pointing at a web-api Pod.
    const slice = (labels: Record<string, string>): never => ({
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
      metadata: { name: 'custom-1', labels: { 'kubernetes.io/service-name': 'custom', 'endpointslice.kubernetes.io/managed-by': 'svc-conformance.io', ...labels } },
      addressType: 'IPv4', endpoints: [{ addresses: [web[0]!.ip!], conditions: { ready: true } }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    }) as never;
    await applyObjects(ctx.ns, [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'custom' }, spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } } as never, slice({})]);
    const ip = await readVip('custom');
    await reachable(ip, 80);
    await applyObjects(ctx.ns, [slice({ 'service.kubernetes.io/headless': '' })]);
    await waitFor(`${ip}:80 to stop answering once its slice is labelled headless`, async () => {
      const r = await ctx.probes[0]!.connect({ host: ip, port: 80, count: 1, mode: 'tcp', timeoutMs: 1000 });
      return { ok: !r[0]?.backend, state: r };
    }, { timeoutMs: 30_000 });
    await applyObjects(ctx.ns, [slice({})]);
    await reachable(ip, 80);
  });

  test('a ClusterIP Service without endpoints refuses connections quickly (REJECT, not a timeout)', async () => {
    await webApi();
    await apply(ctx.ns, 'web-api.yaml', { REPLICAS: 0 });
    await rolloutReady(ctx.ns, 'Deployment', 'web-api', 0);
    await slicesSettled(ctx.ns, 'web-api', []);
    const last = await waitFor(`${vip}:80 to refuse connections`, async () => {
      const [a] = await ctx.probes[0]!.connect({ host: vip, port: 80, count: 1, mode: 'tcp', timeoutMs: 5000 });
      return { ok: a?.error === 'ECONNREFUSED', state: a };
    }, { timeoutMs: 30_000 });
    ctx.evidence.measure('no-endpoints', 'time to ECONNREFUSED', last!.ms, 'ms');
    expect(last!.ms).toBeLessThan(1000);
  });
});
