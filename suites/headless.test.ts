// Headless Services (clusterIP: None): no virtual IP; DNS answers one A record per
// ready Pod, equal to the ready addresses in the Service's EndpointSlices; readiness
// and scaling are followed within the bound; each Pod IP is reachable directly.
import { apply } from '../helpers/cluster/apply.ts';
import { src } from './data/sources.ts';
import { once, defineSuite, kube, describe } from '../helpers/harness/suite.ts';
import { expectRows, expectSame, fromProbe } from '../helpers/harness/verdict.ts';
import { Probe } from '../helpers/cluster/probe.ts';
import { converge } from '../helpers/cluster/converge.ts';
import { listPods, podState, rolloutReady, serviceSlices, sliceEndpoints, type PodState } from '../helpers/cluster/workloads.ts';
import { waitFor } from '../helpers/cluster/wait.ts';
import { hostPort } from '../helpers/lib/net.ts';

const { ctx, check } = defineSuite('headless');
const NAME = 'grpc-backend';
let pods: PodState[] = [];
let readyAt = 0;
const setup = once(async () => {
  await apply(ctx.ns, 'grpc-backend.yaml', { REPLICAS: 3 });
  pods = await rolloutReady(ctx.ns, 'Deployment', NAME, 3);
  readyAt = Date.now();
});

const scale = async (replicas: number): Promise<PodState[]> => {
  await apply(ctx.ns, 'grpc-backend.yaml', { REPLICAS: replicas });
  return rolloutReady(ctx.ns, 'Deployment', NAME, replicas);
};

describe('headless Service', () => {
  check({
    id: 'service.headless.no-vip',
    level: 'required',
    claim: 'a headless Service has no virtual IP: spec.clusterIP is None',
    source: src.serviceDoc('headless Services', '#headless-services'),
    run: async () => {
      await setup();
      const svc = await kube().core.readNamespacedService({ name: NAME, namespace: ctx.ns });
      expectSame(
        {
          what: 'a headless Service has no virtual IP: its clusterIP is None',
          client: 'this machine',
          target: `${ctx.ns}/Service/${NAME}`,
          protocol: 'api',
        },
        'None',
        svc.spec?.clusterIP,
      );
    },
  });

  check({
    id: 'dns.headless.a-set',
    level: 'required',
    claim: "a headless Service's A answers exactly the ready Pod IPs, which are the ready addresses of its EndpointSlices",
    source: src.spec('2.4.1', '241---aaaa-records'),
    run: async () => {
      await setup();
      const ips = pods.flatMap((p) => p.ips);
      await ctx.slicesSettled('headless-a', NAME, ips, readyAt);
      const sliceReady = sliceEndpoints(await serviceSlices(ctx.ns, NAME))
        .filter((e) => e.ready)
        .flatMap((e) => e.addresses)
        .sort();
      expectSame(
        {
          what: "the ready addresses in a headless Service's EndpointSlices are its ready Pods' IPs",
          client: 'this machine',
          target: `${ctx.ns}/EndpointSlice (kubernetes.io/service-name=${NAME})`,
          protocol: 'api',
          unit: 'addresses',
        },
        [...ips].sort(),
        sliceReady,
      );
      await ctx.expectEverywhere('headless-a', ctx.svcName(NAME), 'address', { rcode: 'NOERROR', set: ips }, { since: readyAt });
    },
  });

  check({
    id: 'dns.headless.readiness',
    level: 'required',
    claim: 'a Pod whose readiness probe fails leaves the A answer within the bound, and comes back once it is ready',
    source: src.spec('2.1 and 2.4.1', '241---aaaa-records'),
    run: async () => {
      await setup();
      const victim = pods[0]!;
      const backend = new Probe(ctx.ns, victim.name, victim.node ?? '', NAME);
      const others = pods.slice(1).flatMap((p) => p.ips);
      // The change is the Pod's Ready condition (the kubelet's probe decides when): the
      // bound runs from the moment the Pod reports it.
      const podReadyIs = async (want: boolean): Promise<number> => {
        await waitFor(
          `${victim.name} to report Ready=${want}`,
          async () => {
            const p = (await listPods(ctx.ns)).map(podState).find((x) => x.name === victim.name);
            return { ok: p?.ready === want, state: p };
          },
          { timeoutMs: 30_000, intervalMs: 100 },
        );
        return Date.now();
      };
      await backend.setReady(false);
      try {
        const since = await podReadyIs(false);
        await converge(
          `${victim.name} to be listed as not ready in the EndpointSlices of ${NAME}`,
          async () => {
            const eps = sliceEndpoints(await serviceSlices(ctx.ns, NAME));
            return { ok: eps.some((e) => e.addresses.includes(victim.ip!) && !e.ready), state: eps };
          },
          { kind: 'EndpointSlices', since },
        );
        await ctx.expectEverywhere('headless-not-ready', ctx.svcName(NAME), 'address', { rcode: 'NOERROR', set: others }, { since });
      } finally {
        await backend.setReady(true);
      }
      const since = await podReadyIs(true);
      await ctx.slicesSettled(
        'headless-ready-again',
        NAME,
        pods.flatMap((p) => p.ips),
        since,
      );
      await ctx.expectEverywhere(
        'headless-ready-again',
        ctx.svcName(NAME),
        'address',
        { rcode: 'NOERROR', set: pods.flatMap((p) => p.ips) },
        { since },
      );
    },
  });

  check({
    id: 'dns.headless.scaling',
    level: 'required',
    claim: 'scaling 3 -> 5 -> 2 is reflected in the A answer within the bound',
    source: src.spec('2.4.1', '241---aaaa-records'),
    run: async () => {
      await setup();
      for (const n of [5, 2]) {
        pods = await scale(n);
        const since = Date.now();
        const ips = pods.flatMap((p) => p.ips);
        await ctx.slicesSettled(`headless-scale-${n}`, NAME, ips, since);
        await ctx.expectEverywhere(`headless-scale-${n}`, ctx.svcName(NAME), 'address', { rcode: 'NOERROR', set: ips }, { since });
      }
    },
  });

  check({
    id: 'net.headless.pod-reach',
    level: 'required',
    claim: "each Pod IP in a headless Service's answer can be reached directly",
    source: src.serviceDoc('headless Services', '#headless-services'),
    run: async () => {
      await setup();
      // Every family's answer (A and AAAA on a dual-stack cluster): the addresses as answered.
      const answers = await ctx.expectEverywhere('headless-reach', ctx.svcName(NAME), 'address', {
        rcode: 'NOERROR',
        set: pods.flatMap((p) => p.ips),
      });
      const ips = [...new Set(answers.flatMap((a) => a.answers.filter((r) => r.type === 'A' || r.type === 'AAAA').map((r) => r.data)))];
      const owner = (ip: string): string | undefined => pods.find((p) => p.ips.includes(ip))?.name;
      const reached = await Promise.all(
        ips.map(async (ip) => {
          const [a] = await ctx.probes[0]!.connect({ host: ip, port: 50051, count: 1, mode: 'grpc' });
          return { ip, answeredBy: a?.backend?.pod, error: a?.error };
        }),
      );
      expectRows(
        {
          what: "each address a headless Service's name answers is reachable directly, answered by the Pod with that IP",
          ...fromProbe(ctx.probes[0]!, ctx.ns),
          target: `the addresses of ${ctx.svcName(NAME)}, port 50051`,
          protocol: 'grpc',
        },
        reached.map((r) => ({
          target: hostPort(r.ip, 50051),
          expected: { ip: r.ip, answeredBy: owner(r.ip), error: undefined },
          observed: r,
        })),
      );
    },
  });
});
