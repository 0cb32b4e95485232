// Selectorless Services: a stable in-cluster name for an outside address, made with a
// hand-made Endpoints (mirrored into an EndpointSlice) or a hand-made EndpointSlice.
// 192.168.1.100 (2001:db8::100 where IPv6 is the primary family) is DNS data only: no check ever connects to it. The outside host is real
// on the kind target: a TCP server container beside the nodes, on their Docker network.
import { GenericContainer, ImageName, Wait, getContainerRuntimeClient, type StartedTestContainer } from 'testcontainers';
import { PROBE_BUNDLE } from '../helpers/cluster/probe.ts';
import { currentTarget } from '../helpers/config/target.ts';
import { decideRyuk } from '../helpers/targets/kind/provider.ts';
import { apply } from '../helpers/cluster/apply.ts';
import { src } from './data/sources.ts';
import { BY_NAME_TIMEOUT_MS, once, defineSuite, afterAll, describe } from '../helpers/harness/suite.ts';
import { expectRows, expectSame, fromProbe } from '../helpers/harness/verdict.ts';
import { serviceSlices } from '../helpers/cluster/workloads.ts';
import { converge } from '../helpers/cluster/converge.ts';
import { kube } from '../helpers/cluster/kube.ts';
import { externalAddress } from '../helpers/lib/net.ts';

const { ctx, check, dnsRows } = defineSuite('external-endpoints', { probes: 2 });
const EXTERNAL = (): string => externalAddress(ctx.families()[0]!);
const MIRROR = 'endpointslicemirroring-controller.k8s.io';

// The outside host: the probe bundle serving the WHO line protocol on 5432, in the probe
// image, on the nodes' Docker network; labelled with the run, removed after the suite.
let outside: StartedTestContainer | undefined;
const outsideHost = once(async () => {
  const t = currentTarget();
  const name = `svc-outside-${t.runId}`;
  let local = false;
  decideRyuk((l) => process.stdout.write(`  [outside host] ${l}\n`));
  try {
    // Our own image names (svc-conformance.local/...) exist only where they were built: never pulled.
    local = t.probeImage.startsWith('svc-conformance.local/');
    if (local && !(await (await getContainerRuntimeClient()).image.exists(ImageName.fromString(t.probeImage))))
      throw new Error('the image is not in Docker');
    outside = await new GenericContainer(t.probeImage)
      .withName(name)
      .withNetworkMode(t.outsideNetwork!)
      .withLabels({ 'io.svc-conformance.run': t.runId })
      .withEnvironment({ POD_NAME: name })
      .withCopyFilesToContainer([{ source: PROBE_BUNDLE, target: '/probe/probe.cjs' }])
      .withCommand(['/probe/probe.cjs', 'serve', '5432'])
      .withWaitStrategy(Wait.forLogMessage(/serving .* on 5432/))
      .withStartupTimeout(60_000)
      .start();
  } catch (e) {
    throw new Error(
      `cannot start the outside host (image ${t.probeImage} on Docker network ${t.outsideNetwork}): ${(e as Error).message}. The check ` +
        `needs Docker on this machine and the image in it (${local ? 'cluster/kind/node-image.sh loads ours' : `docker pull ${t.probeImage}`})`,
    );
  }
  const ip = outside.getIpAddress(t.outsideNetwork!);
  await apply(ctx.ns, 'outside-db.yaml', { OUTSIDE_IP: ip });
  return { name, ip };
});
afterAll(async () => {
  await outside?.stop({ timeout: 1 });
});

const externalDb = once(async () => {
  await apply(ctx.ns, 'external-db.yaml');
});
const externalDbVip = once(async () => {
  await apply(ctx.ns, 'external-db-vip.yaml');
});

describe('selectorless Services with hand-made endpoints', () => {
  dnsRows({ 'external-db': externalDb, 'external-db-vip': externalDbVip });

  check({
    id: 'api.external.mirrored-slice',
    level: 'required',
    claim: 'a manual Endpoints is mirrored into exactly one EndpointSlice, labelled as managed by the mirroring controller',
    source: src.slicesDoc('EndpointSlice mirroring', '#endpointslice-mirroring'),
    run: async () => {
      await externalDb();
      const shape = async (): Promise<unknown> =>
        (await serviceSlices(ctx.ns, 'external-db')).map((s) => ({
          managedBy: s.metadata?.labels?.['endpointslice.kubernetes.io/managed-by'],
          addresses: (s.endpoints ?? []).flatMap((e) => e.addresses),
          ports: (s.ports ?? []).map((p) => `${p.name}/${p.protocol}/${p.port}`),
        }));
      const want = [{ managedBy: MIRROR, addresses: [EXTERNAL()], ports: ['postgres/TCP/5432'] }];
      // The mirroring controller works asynchronously: converge within the bound, then assert.
      const { ms, polls } = await converge(
        'the EndpointSlices of external-db to be exactly the mirrored one',
        async () => {
          const now = await shape();
          return { ok: JSON.stringify(now) === JSON.stringify(want), state: now };
        },
        { kind: 'EndpointSlices' },
      );
      ctx.evidence.convergence('external-mirrored', 'EndpointSlices', polls, ms, `mirrored slice`, false);
      expectSame(
        {
          what: 'a hand-made Endpoints is mirrored into exactly one EndpointSlice, by the mirroring controller, with its address and port',
          client: 'this machine',
          target: `${ctx.ns}/EndpointSlice (kubernetes.io/service-name=external-db)`,
          protocol: 'api',
        },
        want,
        await shape(),
      );
    },
  });

  check({
    id: 'dns.external.slice-a',
    level: 'required',
    claim: 'a selectorless headless Service with a hand-made EndpointSlice resolves to exactly its address',
    source: src.serviceDoc('custom EndpointSlices', '#custom-endpointslices'),
    run: async () => {
      await apply(ctx.ns, 'external-db-slice.yaml');
      await ctx.convergeEverywhere('external-slice-a', ctx.svcName('external-db-slice'), 'address', {
        rcode: 'NOERROR',
        set: [EXTERNAL()],
      });
      const slices = await serviceSlices(ctx.ns, 'external-db-slice');
      expectSame(
        {
          what: 'a selectorless Service with a hand-made EndpointSlice has that slice alone (nothing mirrored beside it)',
          client: 'this machine',
          target: `${ctx.ns}/EndpointSlice (kubernetes.io/service-name=external-db-slice)`,
          protocol: 'api',
        },
        ['external-db-slice-1'],
        slices.map((s) => s.metadata?.name),
      );
    },
  });

  check({
    id: 'net.external.outside-host',
    level: 'required',
    claim:
      'a selectorless Service whose Endpoints name a real host outside the cluster: the ClusterIP name answers its virtual IP ' +
      "and connections through it reach that host; the headless name answers the host's address and connections reach it directly",
    source: src.serviceDoc('Services without selectors', '#services-without-selectors'),
    requires: ['outside-host'],
    run: async () => {
      const host = await outsideHost();
      const svc = await kube().core.readNamespacedService({ name: 'outside-db', namespace: ctx.ns });
      const clusterIP = svc.spec?.clusterIP ?? '';
      // DNS first (bounded, measured), then the proxy, then exact assertions from every probe.
      await ctx.expectEverywhere('outside-vip-a', ctx.svcName('outside-db'), 'address', { rcode: 'NOERROR', set: [clusterIP] });
      await ctx.expectEverywhere('outside-direct-a', ctx.svcName('outside-db-direct'), 'address', { rcode: 'NOERROR', set: [host.ip] });
      await ctx.proxyConverged('outside-connect', { host: ctx.svcName('outside-db'), port: 5432, backends: [host.name] });
      // Per probe (in the order of ctx.probes): each connection's outcome.
      const attempts = async (h: string): Promise<unknown[][]> =>
        (
          await Promise.all(ctx.probes.map((p) => p.connect({ host: h, port: 5432, count: 3, mode: 'tcp', timeoutMs: BY_NAME_TIMEOUT_MS })))
        ).map((r) => r.map((a) => ({ error: a.error, answeredBy: a.backend?.pod, hostIP: a.backend?.ip, dialled: a.remote })));
      const viaVipPerProbe = await attempts(ctx.svcName('outside-db'));
      const directPerProbe = await attempts(ctx.svcName('outside-db-direct'));
      const viaVip = viaVipPerProbe.flat();
      const direct = directPerProbe.flat();
      ctx.evidence.info(
        'outside-connect',
        `outside host ${host.name} at ${host.ip}:5432 (Docker network ${currentTarget().outsideNetwork}); ` +
          `${viaVip.length} connections through ${clusterIP}, ${direct.length} direct`,
      );
      expectRows(
        {
          what: `connections to a selectorless Service reach the outside host ${host.name} at ${host.ip}:5432, through its ClusterIP ${clusterIP} and by its direct name`,
          target: 'the Services outside-db and outside-db-direct, by name',
          protocol: 'tcp',
          unit: 'connections',
        },
        ctx.probes.flatMap((p, i) => [
          {
            ...fromProbe(p, ctx.ns),
            target: `${ctx.svcName('outside-db')}:5432`,
            expected: viaVipPerProbe[i]!.map(() => ({ error: undefined, answeredBy: host.name, hostIP: host.ip, dialled: clusterIP })),
            observed: viaVipPerProbe[i],
          },
          {
            ...fromProbe(p, ctx.ns),
            target: `${ctx.svcName('outside-db-direct')}:5432`,
            expected: directPerProbe[i]!.map(() => ({ error: undefined, answeredBy: host.name, hostIP: host.ip, dialled: host.ip })),
            observed: directPerProbe[i],
          },
        ]),
      );
    },
  });
});
