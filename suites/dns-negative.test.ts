// Negative answers: NXDOMAIN for names that do not exist (a missing Service, a missing
// namespace, a headless Service with no ready endpoint, as the spec says), NODATA
// (NOERROR, no answer, SOA in authority) for a type a name lacks, and the SOA's
// minimum TTL reported.
import { apply } from '../helpers/cluster/apply.ts';
import { src } from './data/sources.ts';
import { once, defineSuite, describe } from '../helpers/harness/suite.ts';
import { expectThat, fromProbe, type Question } from '../helpers/harness/verdict.ts';
import { rolloutReady, serviceFamilies, serviceSlices, sliceEndpoints } from '../helpers/cluster/workloads.ts';
import { waitFor } from '../helpers/cluster/wait.ts';

const { ctx, check, dnsRows } = defineSuite('dns-negative', { probes: 2 });

// Fixtures: a never-ready Pod behind a headless Service (listed as a not-ready
// endpoint), a ClusterIP Service, and the multi-port Services.
const notready = once(async () => {
  await apply(ctx.ns, 'not-ready.yaml', { REPLICAS: 1, PUBLISH: false });
  // The Pod exists and runs, and its endpoint is listed as not ready (once in the slice of
  // every family the Service has).
  const families = (await serviceFamilies(ctx.ns, 'notready')).length || 1;
  await waitFor(
    'notready-0 to run (never Ready) and be listed as a not-ready endpoint',
    async () => {
      const eps = sliceEndpoints(await serviceSlices(ctx.ns, 'notready'));
      return { ok: eps.length === families && eps.every((e) => !e.ready), state: eps };
    },
    { timeoutMs: 120_000 },
  );
  ctx.evidence.info(
    'dns.negative.headless-no-ready',
    'Per the Kubernetes DNS specification (2.4.1), a headless Service with no ready endpoint has no ' +
      'records: the answer is NXDOMAIN, not NODATA. Clients see "name does not exist" until a Pod is ready.',
  );
  return Date.now();
});
// web-api and a SingleStack Service in front of its Pods (the family it lacks is NODATA).
const webApi = once(async () => {
  await apply(ctx.ns, 'web-api.yaml', { REPLICAS: 1 });
  await apply(ctx.ns, 'single-stack.yaml');
  await rolloutReady(ctx.ns, 'Deployment', 'web-api', 1);
  const vips = await ctx.virtualIPs('single-stack-known', 'single-stack');
  await ctx.expectEverywhere('single-stack-known', ctx.svcName('single-stack'), 'address', { rcode: 'NOERROR', set: vips });
  return Date.now();
});
// The Service must be known to the DNS server first (its A answers the ClusterIP):
// until then NXDOMAIN or NODATA would pass for the wrong reason.
const multiPort = once(async () => {
  await apply(ctx.ns, 'multi-port.yaml');
  const vips = await ctx.virtualIPs('nodata-known', 'unnamed-port');
  await ctx.expectEverywhere('nodata-known', ctx.svcName('unnamed-port'), 'address', { rcode: 'NOERROR', set: vips });
});

describe('negative DNS answers', () => {
  dnsRows({ none: async () => undefined, notready, 'web-api': webApi, 'multi-port': multiPort });

  check({
    id: 'dns.negative.soa-minimum',
    level: 'informational',
    claim: 'the SOA minimum TTL (negative-caching TTL) is reported',
    source: src.rfc(2308, 'negative caching'),
    run: async () => {
      const [a] = await ctx.probes[0]!.dns([{ name: ctx.svcName('no-such-service'), type: 'A', server: ctx.facts.dnsServiceIP }]);
      const soa = a!.authority.find((r) => r.type === 'SOA');
      const q: Question = {
        what: 'a negative answer carries the SOA, whose minimum TTL is reported',
        ...fromProbe(ctx.probes[0]!, ctx.ns),
        target: `${ctx.svcName('no-such-service')} A @${ctx.facts.dnsServiceIP} (the DNS Service)`,
        protocol: 'dns',
      };
      expectThat(q, soa !== undefined, 'an SOA record in the authority section', {
        rcode: a!.rcode,
        error: a!.error,
        authority: a!.authority.map((r) => `${r.name} ${r.ttl} ${r.type} ${r.data}`),
      });
      const minimum = Number(soa!.data.split(' ')[6]);
      ctx.evidence.measure('soa-minimum', 'SOA minimum TTL', minimum, 's');
      ctx.evidence.transcript('soa-minimum', `SOA: ${soa!.name} ${soa!.ttl} ${soa!.data}`);
      expectThat(q, Number.isInteger(minimum), "an integer minimum TTL (the SOA's seventh field)", soa!.data);
    },
  });
});
