// The per-suite fixture: a fresh namespace with the probe bundle, probe Pods on the
// nodes, detected cluster facts, and evidence written at the end. Cleanup runs in
// afterAll whatever the tests did.
import { afterAll, beforeAll } from '@jest/globals';
import type { DnsAnswer, DnsQuestion } from '../probe/contract.ts';
import { assertAnswers, DnsMismatch, type DnsServer, type Expectation, mismatch, transcript } from './dns.ts';
import { Evidence } from './evidence.ts';
import { type ClusterFacts, detectFacts } from './facts.ts';
import { kube } from './kube.ts';
import { createNamespace, deleteNamespace } from './namespace.ts';
import { installProbeBundle, type Probe, startProbes } from './probe.ts';

export interface SuiteContext {
  ns: string;
  probes: Probe[];
  facts: ClusterFacts;
  evidence: Evidence;
  /** <name>.<ns>.svc.<zone> */
  svcName(name: string, ns?: string): string;
  /** Asks every question from every probe, at every server; returns answers labelled. */
  askEverywhere(questions: (server: DnsServer) => DnsQuestion[]): Promise<{ probe: Probe; server: DnsServer; answer: DnsAnswer }[]>;
  /** askEverywhere + assertAnswers + transcript evidence. */
  expectEverywhere(check: string, name: string, type: DnsQuestion['type'], exp: Expectation, extra?: Partial<DnsQuestion>): Promise<DnsAnswer[]>;
  /** Polls every server from every probe until all give the expected answer; fails with
   *  the last answers after boundMs (default: the convergence bound). Returns the ms taken. */
  convergeEverywhere(check: string, name: string, type: DnsQuestion['type'], exp: Expectation, boundMs?: number): Promise<number>;
}

export function useSuite(suite: string, opts: { probes?: number; podSecurity?: 'restricted' | 'privileged' } = {}): SuiteContext {
  const ctx = { evidence: new Evidence(suite) } as SuiteContext;
  beforeAll(async () => {
    ctx.ns = await createNamespace(suite, opts.podSecurity);
    await installProbeBundle(ctx.ns);
    ctx.probes = await startProbes(ctx.ns, { nodes: opts.probes });
    ctx.facts = await detectFacts(ctx.probes[0]!);
    ctx.evidence.info('setup', `namespace ${ctx.ns}; probes on ${ctx.probes.map((p) => p.node).join(', ')}; cluster domain ${ctx.facts.clusterDomain} (from ${ctx.facts.domainSource}); DNS servers ${ctx.facts.servers.map((s) => `${s.label}=${s.ip}`).join(', ')}`);
  }, 240_000);
  afterAll(async () => {
    ctx.evidence.write();
    if (ctx.ns) await deleteNamespace(ctx.ns);
  }, 60_000);
  ctx.svcName = (name, ns) => `${name}.${ns ?? ctx.ns}.svc.${ctx.facts.clusterDomain}`;
  ctx.askEverywhere = async (questions) => {
    const jobs = ctx.probes.map(async (probe) => {
      const qs = ctx.facts.servers.flatMap((server) => questions(server).map((qq) => ({ qq, server })));
      const answers = await probe.dns(qs.map((x) => x.qq));
      return answers.map((answer, i) => ({ probe, server: qs[i]!.server, answer }));
    });
    return (await Promise.all(jobs)).flat();
  };
  ctx.expectEverywhere = async (check, name, type, exp, extra = {}) => {
    const results = await ctx.askEverywhere((server) => [{ name, type, server: server.ip, ...extra }]);
    const first = results.find((r) => r.server === ctx.facts.servers[0]);
    if (first) ctx.evidence.transcript(check, transcript(first.answer, first.server.label));
    assertAnswers(results.map((r) => ({ answer: r.answer, label: `${r.server.label}, asked from ${r.probe.pod} on ${r.probe.node}`, exp })), `${name} ${type}`);
    return results.map((r) => r.answer);
  };
  ctx.convergeEverywhere = async (check, name, type, exp, boundMs) => {
    const bound = boundMs ?? kube().target.convergenceBoundMs;
    const start = Date.now();
    for (;;) {
      const results = await ctx.askEverywhere((server) => [{ name, type, server: server.ip, timeoutMs: 1000 }]);
      const bad = results.filter((r) => mismatch(r.answer, exp));
      if (!bad.length) {
        const ms = Date.now() - start;
        ctx.evidence.measure(check, `${name} ${type} converged`, ms, 'ms');
        return ms;
      }
      if (Date.now() - start > bound) {
        try {
          assertAnswers(bad.map((r) => ({ answer: r.answer, label: `${r.server.label}, asked from ${r.probe.pod} on ${r.probe.node}`, exp })), `${name} ${type}`);
        } catch (e) {
          if (e instanceof DnsMismatch) e.message = `not converged within the bound of ${bound} ms. ${e.message}`;
          throw e;
        }
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  return ctx;
}

export { kube };

/** A setup step that runs once, on first use, so that each test states what it needs
 *  (and a focused run of one test still finds its Services in place). */
export function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= fn());
}
