// The DNS specification's records beyond A: the schema version TXT, SRV for ClusterIP
// and headless Services, PTR for ClusterIPs and StatefulSet Pods, case-insensitive
// names, and every CoreDNS replica agreeing on every answer.
import { apply, applyObjects } from '../helpers/cluster/apply.ts';
import { answerSet, formatAnswer, norm } from '../helpers/lib/dns.ts';
import { familyOf, reverseName } from '../helpers/lib/net.ts';
import { src } from './data/sources.ts';
import { once, defineSuite, kube, describe } from '../helpers/harness/suite.ts';
import { expectRows, expectThat, fromProbe, type Question } from '../helpers/harness/verdict.ts';
import { converge } from '../helpers/cluster/converge.ts';
import { rolloutReady, type PodState } from '../helpers/cluster/workloads.ts';

const { ctx, check, dnsRows } = defineSuite('dns-records', { probes: 2 });
let pods: PodState[] = [];
let vips: string[] = [];
const multiPort = once(async () => {
  await apply(ctx.ns, 'multi-port.yaml');
  return Date.now();
});
const mysql = once(async () => {
  await apply(ctx.ns, 'mysql.yaml', { REPLICAS: 3 });
  pods = await rolloutReady(ctx.ns, 'StatefulSet', 'mysql', 3);
  mysqlReadyAt = Date.now();
  await ctx.slicesSettled(
    'mysql-slices',
    'mysql',
    pods.flatMap((p) => p.ips),
    mysqlReadyAt,
  );
  return mysqlReadyAt;
});
let mysqlReadyAt = 0;
const webApi = once(async () => {
  await apply(ctx.ns, 'web-api.yaml', { REPLICAS: 1 });
  vips = await ctx.virtualIPs('web-api', 'web-api');
  return Date.now();
});

describe('DNS records of the specification', () => {
  check({
    id: 'dns.schema.version',
    level: 'required',
    claim: 'dns-version.<zone> TXT holds one schema version (1.1.0 expected; another value is reported)',
    source: src.spec('2.2', '22---record-for-schema-version'),
    run: async () => {
      const [a] = await ctx.expectEverywhere('schema', `dns-version.${ctx.facts.clusterDomain}`, 'TXT', { rcode: 'NOERROR' });
      const versions = answerSet(a!);
      const q: Question = {
        what: 'the schema version TXT record names one version, of the form N.N.N',
        ...fromProbe(ctx.probes[0]!, ctx.ns),
        target: `dns-version.${ctx.facts.clusterDomain} TXT @${a!.question.server}`,
        protocol: 'dns',
      };
      expectThat(q, versions.length === 1, 'one TXT record', versions);
      ctx.evidence.info(
        'schema',
        `schema version ${versions[0]}${versions[0] === '1.1.0' ? '' : ' (not the expected 1.1.0: reported, not failed)'}`,
        versions[0],
      );
      const version = versions[0];
      expectThat(q, typeof version === 'string' && /^\d+\.\d+\.\d+$/.test(version), 'a version of the form N.N.N', version);
    },
  });

  dnsRows({ 'multi-port': multiPort, mysql, 'web-api': webApi });

  check({
    id: 'dns.srv.unnamed-port',
    level: 'required',
    claim: 'a port without a name has no SRV record: the _<port>._<proto> name it would have is NODATA or NXDOMAIN, never a record',
    source: src.spec('2.3.2', '232---srv-records'),
    run: async () => {
      await multiPort();
      // The Service must be known to the DNS server first (its A answers the ClusterIP).
      const uvips = await ctx.virtualIPs('srv-unnamed-known', 'unnamed-port');
      await ctx.expectEverywhere('srv-unnamed-known', ctx.svcName('unnamed-port'), 'address', { rcode: 'NOERROR', set: uvips });
      const results = await ctx.askEverywhere((s) => [{ name: `_http._tcp.${ctx.svcName('unnamed-port')}`, type: 'SRV', server: s.ip }]);
      const bad = results.filter(
        (r) => r.answer.error || r.answer.answers.some((x) => x.type === 'SRV') || !['NOERROR', 'NXDOMAIN'].includes(r.answer.rcode ?? ''),
      );
      ctx.evidence.info('srv-unnamed', `_http._tcp.unnamed-port SRV: ${[...new Set(results.map((r) => r.answer.rcode))].join(', ')}`);
      if (bad.length)
        throw new Error(
          `an unnamed port got an SRV record, or no ` +
            `NODATA/NXDOMAIN:\n${bad.map((b) => `${formatAnswer(b.answer, b.server.label)}\n  expected: rcode NOERROR or NXDOMAIN, no SRV records`).join('\n\n')}`,
        );
    },
  });

  check({
    id: 'dns.ptr.statefulset-pod',
    level: 'required',
    claim: 'PTR of a StatefulSet Pod IP includes <pod>.<svc>.<ns>.svc.<zone> (extra PTRs are reported)',
    source: src.spec('2.4.3', '243---ptr-records'),
    run: async () => {
      await mysql();
      // Every address of every Pod: the headless Service has the Pods' families.
      for (const p of pods)
        for (const ip of p.ips) {
          const want = norm(`${p.name}.${ctx.svcName('mysql')}`);
          const [first] = await ctx.expectEverywhere(
            `ptr-pod-${p.name}${p.ips.length > 1 ? `-${familyOf(ip)}` : ''}`,
            reverseName(ip),
            'PTR',
            { rcode: 'NOERROR', includes: [want] },
            { since: mysqlReadyAt },
          );
          const extra = answerSet(first!).filter((x) => x !== want);
          if (extra.length)
            ctx.evidence.info(
              'ptr-pod',
              `PTR of ${ip} also names ${extra.join(', ')} (a Pod selected by several Services: information, not a failure)`,
            );
        }
    },
  });

  check({
    id: 'dns.aaaa.dual-stack',
    level: 'required',
    claim:
      'on a dual-stack cluster, Services get ClusterIPs by ipFamilyPolicy (SingleStack: the primary family; PreferDualStack and ' +
      'RequireDualStack: both, primary first); A and AAAA answer exactly the ClusterIPs of their family, and connections reach ' +
      'the backends through each',
    source: src.spec('2.3.1', '231---aaaa-records'),
    requires: ['dual-stack'],
    run: async () => {
      await webApi();
      const policies = ['SingleStack', 'PreferDualStack', 'RequireDualStack'] as const;
      const name = (p: string): string => `web-api-${p.toLowerCase()}`;
      await applyObjects(
        ctx.ns,
        policies.map(
          (p) =>
            ({
              apiVersion: 'v1',
              kind: 'Service',
              metadata: { name: name(p) },
              spec: { ipFamilyPolicy: p, selector: { app: 'web-api' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
            }) as never,
        ),
      );
      const since = Date.now();
      const families = ctx.families();
      const got = await Promise.all(
        policies.map(async (p) => {
          const spec = (await kube().core.readNamespacedService({ name: name(p), namespace: ctx.ns })).spec!;
          return { policy: p, ipFamilies: spec.ipFamilies ?? [], clusterIPs: spec.clusterIPs ?? [] };
        }),
      );
      ctx.evidence.info('dual-stack-services', got.map((g) => `${g.policy}: ${g.clusterIPs.join(', ')}`).join('; '), got);
      // The API: the primary family alone for SingleStack, both (primary first) otherwise,
      // and each ClusterIP of the family at its index.
      const observed = got.map((g) => ({ ipFamilies: g.ipFamilies, clusterIPFamilies: g.clusterIPs.map(familyOf) }));
      expectRows(
        {
          what: `the API gives a Service of each ipFamilyPolicy its families (the primary alone for SingleStack; ${families.join(', ')} otherwise) and a ClusterIP of each`,
          client: 'this machine',
          target: `the Services web-api-<policy> in ${ctx.ns}`,
          protocol: 'api',
        },
        got.map((g, i) => {
          const want = g.policy === 'SingleStack' ? families.slice(0, 1) : families;
          return {
            target: `${ctx.ns}/Service/${name(g.policy)}`,
            expected: { ipFamilies: want, clusterIPFamilies: want },
            observed: observed[i],
          };
        }),
      );
      // DNS: A and AAAA of each Service are exactly its ClusterIPs of that family (NODATA for
      // the family a SingleStack Service lacks).
      for (const g of got)
        await ctx.expectEverywhere(
          `dual-stack-${g.policy}`,
          ctx.svcName(name(g.policy)),
          'address',
          { rcode: 'NOERROR', set: g.clusterIPs },
          { since },
        );
      // The proxy: through each ClusterIP of the dual-stack Service, only web-api's backend.
      const backends = (await rolloutReady(ctx.ns, 'Deployment', 'web-api', 1)).map((p) => p.name);
      for (const ip of got.find((g) => g.policy === 'RequireDualStack')!.clusterIPs)
        await ctx.proxyConverged(`dual-stack-connect-${familyOf(ip)}`, { host: ip, port: 80, backends, since });
    },
  });

  check({
    id: 'dns.identity.version-bind',
    level: 'informational',
    claim: "the DNS server's version, where it answers version.bind CH TXT (identity for reports; not prescribed by the spec)",
    source: src.coredns('chaos'),
    run: async () => {
      // Identity, not conformance: CoreDNS answers this only with its chaos plugin; a server
      // that refuses or does not know the class is reported as such.
      const results = await ctx.askEverywhere((s) => [{ name: 'version.bind', type: 'TXT', class: 'CH', server: s.ip }]);
      const seen = results.map((r) => ({
        server: r.server.label,
        rcode: r.answer.error ? `error: ${r.answer.error}` : (r.answer.rcode ?? ''),
        version: answerSet(r.answer, 'TXT'),
      }));
      const versions = [...new Set(seen.flatMap((x) => x.version))];
      const text = versions.length
        ? `version.bind CH TXT: ${versions.join(', ')}`
        : `version.bind CH TXT not answered (${[...new Set(seen.map((x) => x.rcode))].join(', ')})`;
      ctx.evidence.info('version-bind', text, { versions, answers: seen });
    },
  });

  check({
    id: 'dns.ttl.reported',
    level: 'informational',
    claim: 'A records carry a TTL (not prescribed by the spec; reported)',
    source: src.spec('2.3.1', '231---aaaa-records'),
    run: async () => {
      await webApi();
      const [a] = await ctx.expectEverywhere('ttl', ctx.svcName('web-api'), 'address', { rcode: 'NOERROR', set: vips });
      const ttl = a!.answers.find((r) => r.type === 'A' || r.type === 'AAAA')?.ttl;
      expectThat(
        {
          what: 'an address record reports its TTL',
          ...fromProbe(ctx.probes[0]!, ctx.ns),
          target: `${ctx.svcName('web-api')} ${a!.question.type} @${a!.question.server}`,
          protocol: 'dns',
        },
        ttl !== undefined,
        'an A or AAAA record with a TTL',
        a!.answers,
      );
      ctx.evidence.measure('ttl', 'address record TTL', ttl!, 's');
    },
  });

  check({
    id: 'dns.replicas.agree',
    level: 'required',
    claim: 'every CoreDNS replica gives the same answer set for every question of the suite',
    source: src.spec('2 (one answer per name)', '2---resource-records'),
    run: async () => {
      // The bound runs from the last of the three setups' changes.
      const since = Math.max(...(await Promise.all([multiPort(), mysql(), webApi()])));
      const A = ctx.primaryType('agree');
      const questions: [string, 'A' | 'AAAA' | 'SRV' | 'PTR' | 'TXT'][] = [
        [`dns-version.${ctx.facts.clusterDomain}`, 'TXT'],
        [ctx.svcName('web-api'), A],
        [ctx.svcName('mysql'), A],
        [`_mysql._tcp.${ctx.svcName('mysql')}`, 'SRV'],
        [`_http._tcp.${ctx.svcName('my-service')}`, 'SRV'],
        [reverseName(vips[0]!), 'PTR'],
        ...pods.map((p) => [`${p.name}.${ctx.svcName('mysql')}`, A] as [string, 'A' | 'AAAA']),
        ...pods.map((p) => [reverseName(p.ip!), 'PTR'] as [string, 'PTR']),
      ];
      const disagreements = async (): Promise<string[]> => {
        // The replicas and the addresses they answer; a cache in front may lag within its TTL
        // (every other DNS check holds it to that).
        const results = await ctx.askEverywhere((s) =>
          s.role === 'cache' ? [] : questions.map(([name, type]) => ({ name, type, server: s.ip, timeoutMs: 1000 })),
        );
        const out: string[] = [];
        for (const [name, type] of questions) {
          const per = results
            .filter((r) => r.answer.question.name === name && r.answer.question.type === type)
            .map((r) => ({
              who: `${r.server.label} (from ${r.probe.pod})`,
              key: `${r.answer.error ? `no answer: ${r.answer.error}` : r.answer.rcode} ${answerSet(r.answer).join(',')}`,
            }));
          if (new Set(per.map((p) => p.key)).size > 1) out.push(`${name} ${type}:\n${per.map((p) => `  ${p.who}: ${p.key}`).join('\n')}`);
        }
        return out;
      };
      // After the setups' changes the replicas may still be catching up: agreement within
      // the bound first, then a fresh round must agree too.
      const { ms, polls } = await converge(
        'every CoreDNS replica to give the same answer set to every question',
        async () => {
          const d = await disagreements();
          return { ok: d.length === 0, state: d.join('\n') };
        },
        { kind: 'DNS', since },
      );
      ctx.evidence.convergence('replica-agreement', 'DNS', polls, ms, `replicas agree`, false);
      const after = await disagreements();
      ctx.evidence.info(
        'replica-agreement',
        `${questions.length} questions at ${ctx.facts.servers.filter((x) => x.role !== 'cache').length} authoritative servers from ${ctx.probes.length} probes`,
      );
      if (after.length)
        throw new Error(`CoreDNS replicas disagree (after they had agreed ${ms} ms after the change):\n${after.join('\n')}`);
    },
  });
});
