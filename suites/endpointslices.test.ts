// EndpointSlices track ready Pods for both kinds of Service: labelled with
// kubernetes.io/service-name, listing exactly the ready Pods with ready conditions;
// headless Services' slices carry service.kubernetes.io/headless.
import { apply } from '../helpers/cluster/apply.ts';
import { src } from './data/sources.ts';
import { once, defineSuite, describe } from '../helpers/harness/suite.ts';
import { familyOf } from '../helpers/lib/net.ts';
import { expectSame, type Question } from '../helpers/harness/verdict.ts';
import { rolloutReady, serviceFamilies, serviceSlices, type PodState } from '../helpers/cluster/workloads.ts';

const { ctx, check } = defineSuite('endpointslices', { probes: 1 });
let pods: PodState[] = [];
const setup = once(async () => {
  await apply(ctx.ns, 'mysql-pair.yaml', { REPLICAS: 3 });
  pods = await rolloutReady(ctx.ns, 'StatefulSet', 'mysql', 3);
});

const sliceView = async (svc: string): Promise<unknown> => {
  const slices = await serviceSlices(ctx.ns, svc);
  return {
    labelled: slices.every((s) => s.metadata?.labels?.['kubernetes.io/service-name'] === svc),
    headlessLabel: slices.map((s) => s.metadata?.labels?.['service.kubernetes.io/headless'] ?? null),
    endpoints: slices
      .flatMap((s) =>
        (s.endpoints ?? []).map((e) => ({
          pod: e.targetRef?.name,
          addresses: e.addresses,
          ready: e.conditions?.ready,
          serving: e.conditions?.serving,
          terminating: e.conditions?.terminating ?? false,
        })),
      )
      .sort(byPodAndAddress),
  };
};
const byPodAndAddress = (a: { pod?: string; addresses: string[] }, b: { pod?: string; addresses: string[] }): number =>
  `${a.pod} ${a.addresses.join()}`.localeCompare(`${b.pod} ${b.addresses.join()}`);

/** One endpoint per ready Pod in each slice: a slice holds one family (its addressType), so
 *  a Service of two families lists every Pod twice, once with each of its addresses. */
const expected = async (svc: string, headless: boolean, n: number): Promise<unknown> => {
  const families = await serviceFamilies(ctx.ns, svc);
  return {
    labelled: true,
    headlessLabel: Array(n).fill(headless ? '' : null),
    endpoints: pods
      .flatMap((p) =>
        p.ips
          .filter((ip) => families.includes(familyOf(ip)))
          .map((ip) => ({ pod: p.name, addresses: [ip], ready: true, serving: true, terminating: false })),
      )
      .sort(byPodAndAddress),
  };
};

const slicesOf = (svc: string, kind: string): Question => ({
  what:
    `the EndpointSlices of a ${kind} Service are labelled with its name${kind === 'headless' ? ' and as headless' : ''} ` +
    'and list exactly its ready Pods, ready and serving',
  client: 'this machine',
  target: `${ctx.ns}/EndpointSlice (kubernetes.io/service-name=${svc})`,
  protocol: 'api',
});

describe('EndpointSlices', () => {
  check({
    id: 'api.slices.clusterip',
    level: 'required',
    claim: "a ClusterIP Service's EndpointSlices are labelled with its name and list exactly the ready Pods as ready and serving",
    source: src.slicesDoc('ownership and conditions', '#conditions'),
    run: async () => {
      await setup();
      await ctx.slicesSettled(
        'slices-clusterip',
        'mysql',
        pods.flatMap((p) => p.ips),
      );
      const n = (await serviceSlices(ctx.ns, 'mysql')).length;
      const observed = await sliceView('mysql');
      expectSame(slicesOf('mysql', 'ClusterIP'), await expected('mysql', false, n), observed);
    },
  });

  check({
    id: 'api.slices.headless',
    level: 'required',
    claim: "a headless Service's EndpointSlices do the same and carry service.kubernetes.io/headless",
    source: src.labels('service.kubernetes.io/headless', 'service-kubernetes-io-headless'),
    run: async () => {
      await setup();
      await ctx.slicesSettled(
        'slices-headless',
        'mysql-headless',
        pods.flatMap((p) => p.ips),
      );
      const n = (await serviceSlices(ctx.ns, 'mysql-headless')).length;
      const observed = await sliceView('mysql-headless');
      expectSame(slicesOf('mysql-headless', 'headless'), await expected('mysql-headless', true, n), observed);
    },
  });
});
