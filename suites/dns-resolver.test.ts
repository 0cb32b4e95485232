// What an application sees: through the system resolver (getaddrinfo, with the search
// path and ndots the kubelet writes), the short forms svc, svc.ns and svc.ns.svc resolve
// from a Pod in the namespace.
import { apply } from '../helpers/cluster/apply.ts';
import { src } from './data/sources.ts';
import { defineSuite, describe } from '../helpers/harness/suite.ts';
import { expectSame, fromProbe } from '../helpers/harness/verdict.ts';

// Its own probe: the search path it checks is the client's namespace.
const { ctx, check } = defineSuite('dns-resolver', { probes: 1, ownProbes: true });

describe('system resolver', () => {
  check({
    id: 'dns.resolver.short-forms',
    level: 'required',
    claim: "the short forms svc, svc.ns and svc.ns.svc resolve through the kubelet's search path",
    source: src.dnsDoc('namespaces of Services', '#namespaces-of-services'),
    run: async () => {
      await apply(ctx.ns, 'web-api.yaml', { REPLICAS: 1 });
      // Every family's virtual IP (getaddrinfo asks A and AAAA alike).
      const vips = (await ctx.virtualIPs('resolver-known', 'web-api')).sort();
      // The Service is known to the DNS server everywhere before the resolver is asked.
      await ctx.expectEverywhere('resolver-known', ctx.svcName('web-api'), 'address', { rcode: 'NOERROR', set: vips });
      const names = ['web-api', `web-api.${ctx.ns}`, `web-api.${ctx.ns}.svc`, ctx.svcName('web-api')];
      const results = await ctx.probes[0]!.resolve(names);
      ctx.evidence.info('resolver', `search [${ctx.facts.searchPath.join(' ')}], ndots ${ctx.facts.ndots}`, results);
      expectSame(
        {
          what: "the system resolver (getaddrinfo, with the kubelet's search path) resolves a Service's short forms to its ClusterIP",
          ...fromProbe(ctx.probes[0]!, ctx.ns),
          target: names.join(', '),
          protocol: 'dns (getaddrinfo)',
          unit: 'names',
        },
        names.map((name) => ({ name, addresses: vips, error: undefined })),
        results.map((r) => ({ name: r.name, addresses: [...r.addresses].sort(), error: r.error })),
      );
    },
  });
});
