// The per-suite fixture: a fresh namespace with the probe bundle, probe Pods on the
// nodes, detected cluster facts, and evidence written at the end. Cleanup runs in
// afterAll whatever the tests did.
import type { ConnectAttempt, DnsAnswer, DnsQuestion } from '../../probe/contract.ts';
import { converge, runBound } from '../cluster/converge.ts';
import { cacheAllowanceMs } from '../lib/dns-path.ts';
import { currentTarget, detected } from '../config/target.ts';
import { assertAnswers, DnsMismatch, type DnsServer, type Expectation, expectationText, mismatch, transcript } from '../lib/dns.ts';
import { Evidence, type EvidenceLabel } from './evidence.ts';
import { isIP } from 'node:net';
import { addressType, familyOf, hostPort, type IpFamily, ofFamily } from '../lib/net.ts';
import { type ClusterFacts, detectFacts } from '../cluster/facts.ts';
import { kube } from '../cluster/kube.ts';
import { writeCost } from '../cluster/cost.ts';
import { nodeAddresses } from '../cluster/nodes.ts';
import { fleetProbes } from '../cluster/fleet.ts';
import { createNamespace, deleteNamespace } from '../cluster/namespace.ts';
import { closeSessions, installProbeBundle, type Probe, startProbes } from '../cluster/probe.ts';
import { type SliceEndpoint, slicesSettled } from '../cluster/workloads.ts';
import { DNS_ROWS } from '../../suites/data/dns-table.ts';
import type { CheckDef, CheckSpec, Requirement } from '../../suites/data/sources.ts';
import { check, unmet } from './check.ts';
import { afterAll, declareSuite, describe, jestApi } from './declare.ts';
import { dnsRows, type Fixtures } from './dns-rows.ts';

export { afterAll, describe };

/** A question type, or 'address': the address records of every family the cluster serves
 *  (A for IPv4, AAAA for IPv6), each expected to hold exactly the expectation's addresses
 *  of its family, and NODATA (NOERROR, no records) for a family that has none. The family
 *  is a dimension of the check's evidence, not a copy of the check. */
export type AskType = DnsQuestion['type'] | 'address';

export interface ExpectOptions {
  /** When the change happened (Date.now()); the bound and the measurement start here.
   *  Default: when the call starts. */
  since?: number;
  /** Default: the convergence bound (SVC_CONVERGENCE_BOUND_MS). */
  boundMs?: number;
  /** More fields for every question (tcp, edns, noTcpFallback). */
  extra?: Partial<DnsQuestion>;
}

export interface ProxyTarget {
  host: string;
  port: number;
  /** The ready backends' Pod names: connections must reach these and only these. */
  backends: string[];
  /** Also require every backend to answer at least once (not with session affinity). */
  everyBackend?: boolean;
  /** The probes (nodes) that must see it; default every probe. */
  probes?: Probe[];
  since?: number;
  /** 'tcp' (the WHO line protocol, default), 'udp' (WHO datagrams) or 'grpc' (a real gRPC port: one channel). */
  mode?: 'tcp' | 'udp' | 'grpc';
}

/** A suite's fixture, made before its first check runs (reading it before throws). */
export interface SuiteFixture {
  /** The suite's own namespace: what its checks make goes there. */
  ns: string;
  /** The probes on the nodes, one per node (at most SuiteOptions.probes). */
  probes: Probe[];
  /** The cluster facts the first probe found: its domain, the DNS servers. */
  facts: ClusterFacts;
}

/** DNS: questions from every probe at every server, and the bounded waits for their answers.
 *  `label` names what a call records in the evidence (helpers/harness/evidence.ts). */
export interface SuiteDns {
  /** <name>.<ns>.svc.<zone> */
  svcName(name: string, ns?: string): string;
  /** Asks every question from every probe, at every server; returns answers labelled. */
  askEverywhere(questions: (server: DnsServer) => DnsQuestion[]): Promise<{ probe: Probe; server: DnsServer; answer: DnsAnswer }[]>;
  /** The rule for every DNS check: waits (bounded, measured) until every server gives the
   *  expected answer to every probe, then asserts exactly (on a fresh round when the
   *  answers changed while it waited; else on that first round). Fails with
   *  "not converged within N ms" and the last answers, or, when a fresh round differs
   *  after convergence, as a wrong answer. Returns the fresh round's answers. */
  expectEverywhere(label: EvidenceLabel, name: string, type: AskType, exp: Expectation, opts?: ExpectOptions): Promise<DnsAnswer[]>;
  /** The convergence wait alone (for claims about the time itself). Returns the ms taken
   *  (the slowest family's, for 'address'). */
  convergeEverywhere(label: EvidenceLabel, name: string, type: AskType, exp: Expectation, opts?: ExpectOptions): Promise<number>;
  /** The cluster's IP families (primary first), as the preflight found them. */
  families(): IpFamily[];
  /** The address record type of the cluster's primary family (A or AAAA), recorded in the
   *  check's evidence: for questions about one family's records (large answers, a watch). */
  primaryType(label: EvidenceLabel): 'A' | 'AAAA';
}

/** The Service proxy: where node ports are served, and the bounded wait until connections
 *  reach exactly the backends. */
export interface SuiteProxy {
  /** A Service's virtual IPs (spec.clusterIPs: one per family it has, primary first), each
   *  family recorded in the check's evidence. A check of the Service proxy asks each of them
   *  (both families of a PreferDualStack Service on a dual-stack cluster). */
  virtualIPs(label: EvidenceLabel, service: string): Promise<string[]>;
  /** Every node's InternalIPs in the families of a Service of the namespace (its node ports
   *  are served there), each family recorded in the check's evidence. */
  nodeTargets(label: EvidenceLabel, service: string): Promise<{ node: string; ip: string; family: IpFamily }[]>;
  /** Waits (bounded by the proxy bound, measured from the change) until connections from
   *  every probe through host:port reach only the given backends (and each of them, with
   *  everyBackend). Returns the ms taken by the slowest node. */
  proxyConverged(label: EvidenceLabel, t: ProxyTarget): Promise<number>;
}

/** EndpointSlices. */
export interface SuiteSlices {
  /** EndpointSlices of a Service converge to exactly `ips` as ready (bounded, measured). */
  slicesSettled(label: EvidenceLabel, service: string, ips: string[], since?: number): Promise<SliceEndpoint[]>;
}

/** What a suite's checks work with: its fixture, its evidence, and the questions and waits
 *  of DNS, the Service proxy and EndpointSlices. */
export interface SuiteContext extends SuiteFixture, SuiteDns, SuiteProxy, SuiteSlices {
  evidence: Evidence;
}

/** Timeout for a connection made by name: it includes the system resolver's lookup, and
 *  glibc retries a lost UDP query only after its timeout (5 s by default, resolv.conf(5)).
 *  A lookup that needed the retry is slow, not wrong (seen on the bundled cluster in CI:
 *  1 of 15 connections to mysql-0.mysql timed out at 3 s). */
export const BY_NAME_TIMEOUT_MS = 12_000;

/** Connection attempts counted by the backend Pod that answered (or the error). */
export const counts = (attempts: ConnectAttempt[]): Record<string, number> => {
  const c: Record<string, number> = {};
  for (const a of attempts) {
    const k = a.backend?.pod ?? `error: ${a.error}`;
    c[k] = (c[k] ?? 0) + 1;
  }
  return c;
};

export interface SuiteOptions {
  /** At most this many probes (nodes); default every node up to --max-probe-nodes. */
  probes?: number;
  /** The namespace's Pod Security level; 'when-privileged': privileged in a privileged-profile
   *  run (host-network node tools beside the probes), restricted otherwise. */
  podSecurity?: 'restricted' | 'privileged' | 'when-privileged';
  /** Probes in the suite's own namespace instead of the worker's fleet. */
  ownProbes?: boolean;
  /** What every check of the suite needs: when the run does not meet it, no namespace is
   *  made (each check still skips with its reason, from its own requirements). */
  requires?: Requirement[];
}

/** A check, one value: what it declares (its id, claim, level, source, requirements, why,
 *  upstream e2e spec) and its body. */
export interface Check extends CheckSpec {
  /** The check itself: it asks the cluster and throws (helpers/harness/verdict.ts) when the
   *  claim does not hold. */
  run: () => Promise<void>;
  /** Jest's timeout for it, when not the run's (TEST_TIMEOUT_MS). */
  timeoutMs?: number;
}

export interface Suite {
  name: string;
  /** Absent (never read) when `requires` is unmet, or while the registry collects the
   *  suite: then no check runs. */
  ctx: SuiteContext;
  /** Declares one of this suite's checks: a Jest test when Jest runs the suite; a check of
   *  the registry (suites/registry.ts) either way. */
  check(c: Check): void;
  /** Declares this suite's DNS table rows (suites/data/dns-table.ts), with their fixtures. */
  dnsRows(fixtures: Fixtures): void;
  /** Starts `fixture` as soon as the suite's namespace is ready (with its first check),
   *  instead of when the first of `ids` (checks of this suite) awaits it: Pods of several
   *  fixtures then start side by side. Only when one of `ids` is selected and its
   *  requirements are met; a failure is thrown where a check awaits the fixture. */
  prefetch(fixture: () => Promise<unknown>, ...ids: string[]): void;
}

/** What a check declares: the check without its body. */
const specOf = ({ run: _run, timeoutMs: _timeoutMs, ...spec }: Check): CheckSpec => spec;

/** A suite, named once: its fixture (useSuite) and the `check` and `dnsRows` that declare
 *  its checks. While the registry collects the suite file (suites/registry.ts, outside Jest
 *  too), they only record what it declares: no fixture, no test, nothing read from the run.
 *  A DNS table row of the suite that it never declares fails the suite at its end. */
export function defineSuite(name: string, opts: SuiteOptions = {}): Suite {
  const record = declareSuite(name);
  const declared = new Map<string, CheckDef>();
  const add = (c: Check): CheckDef => {
    const def: CheckDef = { ...specOf(c), suite: name };
    if (declared.has(def.id)) throw new Error(`check ${def.id} is declared twice in suite ${name}`);
    if (def.level === 'expected' && !def.why) throw new Error(`expected-level check ${def.id} needs its reasoning (why)`);
    declared.set(def.id, def);
    record.checks.push(def);
    return def;
  };
  const jest = jestApi();
  // While the registry collects the suite, or where the run does not meet its requirements,
  // its fixture is never made (reading it throws) and no check runs.
  if (!jest) {
    const collect = (c: Check): void => void add(c);
    const { ctx } = suiteContext(name);
    return {
      name,
      ctx,
      check: collect,
      dnsRows: (fixtures) => dnsRows(ctx, name, fixtures, collect),
      prefetch: (_fixture, ...ids) => void record.prefetches.push(ids),
    };
  }
  const { ctx, ready: made } =
    opts.requires && unmet(opts.requires) ? { ctx: suiteContext(name).ctx, ready: async () => undefined } : useSuite(name, opts);
  const prefetched: { fixture: () => Promise<unknown>; ids: string[] }[] = [];
  const ready = once(async () => {
    // The checks a prefetch names are known once every check is declared (Jest has
    // collected the file): by now.
    for (const { ids } of prefetched)
      for (const id of ids) if (!declared.has(id)) throw new Error(`prefetch: check ${id} is not in suite ${name}`);
    const selected = currentTarget().selected;
    const wanted = prefetched.filter(({ ids }) =>
      ids.some((id) => (!selected || selected.includes(id)) && !unmet(declared.get(id)!.requires)),
    );
    await made();
    // The fixtures of the checks to come start now; a rejection is kept for the check
    // that awaits the fixture (once() hands it the same promise).
    for (const { fixture } of wanted) fixture().catch(() => undefined);
  });
  const declare = (c: Check): void => {
    // The suite's fixture is made by its first check that runs: a suite whose checks are
    // all skipped or not selected (--focus) makes nothing.
    check(add(c), c.run, c.timeoutMs, ready);
  };
  jest.afterAll(() => {
    const missing = DNS_ROWS.filter((r) => r.suite === name && !declared.has(r.id)).map((r) => r.id);
    if (missing.length) throw new Error(`suite ${name} does not declare its DNS table row(s) ${missing.join(', ')} (dnsRows)`);
  });
  const prefetch = (fixture: () => Promise<unknown>, ...ids: string[]): void => {
    record.prefetches.push(ids);
    prefetched.push({ fixture, ids });
  };
  return { name, ctx, check: declare, dnsRows: (fixtures) => dnsRows(ctx, name, fixtures, declare), prefetch };
}

/** A suite's fixture: its own namespace (what its checks make goes there), and probes on
 *  the nodes: the worker's probe fleet (helpers/cluster/fleet.ts), or, with `ownProbes`,
 *  Pods in the suite's namespace (for checks that depend on the client's namespace:
 *  search paths). Made once, by `ready`, before the first check that runs. */
function useSuite(suite: string, opts: SuiteOptions = {}): { ctx: SuiteContext; ready: () => Promise<void> } {
  const { ctx, made } = suiteContext(suite);
  const ready = once(async () => {
    const podSecurity =
      opts.podSecurity === 'when-privileged' ? (currentTarget().privileged ? 'privileged' : 'restricted') : opts.podSecurity;
    const ns = (made.ns = await createNamespace(suite, podSecurity));
    if (opts.ownProbes) {
      await installProbeBundle(ns);
      made.probes = await startProbes(ns, { nodes: opts.probes });
    } else {
      // The fleet's probes, and the probe bundle in the suite's namespace for the Pods its
      // checks start from manifests (backends mount it too).
      [made.probes] = await Promise.all([fleetProbes({ nodes: opts.probes }), installProbeBundle(ns)]);
    }
    const facts = (made.facts = await detectFacts(made.probes[0]!));
    ctx.evidence.info(
      'setup',
      `namespace ${ns}; probes on ${made.probes.map((p) => p.node).join(', ')}; cluster domain ${facts.clusterDomain} ` +
        `(from ${facts.domainSource}); DNS servers ${facts.servers.map((s) => `${s.label}=${s.ip}`).join(', ')}`,
    );
  });
  afterAll(async () => {
    ctx.evidence.write();
    writeCost();
    const { ns, probes = [] } = made;
    if (ns) closeSessions(ns);
    // This suite's sessions into the fleet end with it (the next suite opens its own).
    for (const p of probes) if (p.ns !== ns) closeSessions(p.ns, p.pod);
    if (ns) await deleteNamespace(ns);
  }, 60_000);
  return { ctx, ready };
}

/** A suite's context, by concern: its fixture (set in `made` as it is made: reading a
 *  part of it before throws), its evidence, and the waits and questions of its checks. */
function suiteContext(suite: string): { ctx: SuiteContext; made: Partial<SuiteFixture> } {
  const made: Partial<SuiteFixture> = {};
  const unmade = (part: string): never => {
    throw new Error(`suite ${suite}: its ${part} is read before the suite's fixture is made`);
  };
  const fixture: SuiteFixture = {
    get ns() {
      return made.ns ?? unmade('namespace');
    },
    get probes() {
      return made.probes ?? unmade('probes');
    },
    get facts() {
      return made.facts ?? unmade('cluster facts');
    },
  };
  const evidence = new Evidence(suite);
  const ctx: SuiteContext = {
    get ns() {
      return fixture.ns;
    },
    get probes() {
      return fixture.probes;
    },
    get facts() {
      return fixture.facts;
    },
    evidence,
    ...dnsOf(fixture, evidence),
    ...proxyOf(fixture, evidence),
    ...slicesOf(fixture, evidence),
  };
  return { ctx, made };
}

/** DNS questions from every probe at every server, and the bounded waits for their answers. */
function dnsOf(f: SuiteFixture, evidence: Evidence): SuiteDns {
  const askEverywhere: SuiteDns['askEverywhere'] = async (questions) => {
    const jobs = f.probes.map(async (probe) => {
      const qs = f.facts.servers.flatMap((server) => questions(server).map((qq) => ({ qq, server })));
      const answers = await probe.dns(qs.map((x) => x.qq));
      return answers.map((answer, i) => ({ probe, server: qs[i]!.server, answer }));
    });
    return (await Promise.all(jobs)).flat();
  };
  const asked = (r: { probe: Probe; server: DnsServer }): string => `${r.server.label}, asked from ${r.probe.pod} on ${r.probe.node}`;
  type Round = Awaited<ReturnType<SuiteDns['askEverywhere']>>;
  const askAt = (servers: DnsServer[], q: Omit<DnsQuestion, 'server'>): Promise<Round> =>
    askEverywhere((server) => (servers.includes(server) ? [{ ...q, server: server.ip }] : []));
  // The authoritative servers (the replicas, and the Service where the replicas answer
  // it) follow a change within the bound. A cache may serve what it holds until its TTL
  // runs out: at a cache the bound is the bound plus the longest TTL the replicas give,
  // from the same change, and the cache's lag behind the replicas is reported.
  const convergeRound = async (
    label: EvidenceLabel,
    name: string,
    type: DnsQuestion['type'],
    exp: Expectation,
    o: ExpectOptions,
  ): Promise<{ ms: number; polls: number; round: Round }> => {
    const since = o.since ?? Date.now();
    const caches = f.facts.servers.filter((s) => s.role === 'cache');
    const auth = f.facts.servers.filter((s) => s.role !== 'cache');
    // Each phase also keeps when its first right round was asked (not when it came back):
    // the cache's lag is the difference of those, free of the time a round takes.
    const phase = async (
      servers: DnsServer[],
      what: string,
      bound: { boundMs?: number; boundName?: string },
    ): Promise<{ ms: number; askedMs: number; polls: number; state: Round }> => {
      let askedAt = since;
      // Whether the last round had some server right: then the change has arrived (at
      // that server), and a server still wrong at the bound is wrong, not slow.
      let someRight = false;
      const r = await converge<Round>(
        `${name} ${type} to be ${expectationText(exp, type)} ${what}`,
        async () => {
          const t = Date.now();
          const results = await askAt(servers, { name, type, timeoutMs: 1000, ...o.extra });
          const bad = results.filter((x) => mismatch(x.answer, exp));
          someRight = bad.length < results.length;
          if (!bad.length) askedAt = t;
          return { ok: bad.length === 0, state: bad.length ? bad : results };
        },
        {
          kind: 'DNS',
          since,
          ...bound,
          arrived: () => someRight,
          // The same answer: who answered what (rcode, flags, records), not how fast.
          sameAnswer: (bad) =>
            JSON.stringify(
              bad.map((x) => [
                x.probe.pod,
                x.server.ip,
                x.answer.rcode,
                x.answer.error,
                x.answer.answers.map((a) => `${a.type} ${a.data}`).sort(),
              ]),
            ),
          render: (bad) => {
            try {
              assertAnswers(
                bad.map((x) => ({ answer: x.answer, label: asked(x), exp })),
                `${name} ${type}`,
              );
              return '(no difference)';
            } catch (e) {
              return (e as Error).message;
            }
          },
        },
      );
      return { ...r, askedMs: Math.max(0, askedAt - since) };
    };
    const a = await phase(
      auth,
      caches.length
        ? 'at every authoritative server (replicas, and the Service where they answer it) from every probe'
        : 'at every server from every probe',
      { boundMs: o.boundMs },
    );
    evidence.convergence(label, 'DNS', a.polls, a.ms, `${name} ${type}`, a.polls > 1);
    if (!caches.length) return { ms: a.ms, polls: a.polls, round: a.state };
    const run = runBound('DNS');
    const boundMs = o.boundMs ?? run.boundMs;
    const ttlMs = cacheAllowanceMs(detected().dnsPath);
    const c = await phase(caches, `at the cache(s) (${caches.map((x) => x.ip).join(', ')}) from every probe`, {
      boundMs: boundMs + ttlMs,
      boundName:
        `${o.boundMs === undefined ? run.boundName : "this check's bound"}, ${boundMs} ms, plus ${ttlMs / 1000} s, ` +
        `the longest TTL the DNS replicas give: a cache may serve an answer until its TTL runs out, and no longer`,
    });
    // Right at the cache's first look, the time since the replicas is only an upper bound
    // on its lag (the time to ask), named so and kept out of the lag statistics.
    const lag = Math.max(0, c.askedMs - a.askedMs);
    evidence.measure(
      label,
      c.polls > 1
        ? `DNS cache lag behind the replicas (allowed: the TTL, ${ttlMs / 1000} s): ${name} ${type}`
        : `DNS cache right at the first look after the replicas (lag at most): ${name} ${type}`,
      lag,
      'ms',
      c.polls > 1,
      { kind: 'DNS cache lag', converged: c.polls > 1 },
    );
    return { ms: a.ms, polls: Math.max(a.polls, c.polls), round: [...a.state, ...c.state] };
  };
  const families = (): IpFamily[] => detected().ipFamilies as IpFamily[];
  // 'address' becomes one question per family the cluster serves, run side by side.
  const perFamily = async <T>(
    label: EvidenceLabel,
    type: AskType,
    exp: Expectation,
    fn: (type: DnsQuestion['type'], exp: Expectation) => Promise<T>,
    name: string,
  ): Promise<T[]> => {
    if (type !== 'address') {
      // Address and reverse questions are of one family, which the evidence records.
      const fam =
        type === 'A' ? 'IPv4' : type === 'AAAA' ? 'IPv6' : type === 'PTR' ? (/\.ip6\.arpa\.?$/i.test(name) ? 'IPv6' : 'IPv4') : undefined;
      if (fam) evidence.family(label, fam);
      return [await fn(type, exp)];
    }
    const served = families();
    const stray = (exp.set ?? []).filter((ip) => !served.includes(familyOf(ip)));
    if (stray.length)
      throw new Error(
        `check ${label} expects address(es) [${stray.join(', ')}] of a family the cluster does not serve (it serves ${served.join(', ')})`,
      );
    return Promise.all(
      served.map((fam) => {
        evidence.family(label, fam);
        const set = exp.set ? ofFamily(exp.set, fam) : undefined;
        return fn(addressType(fam), { ...exp, ...(set ? { set } : {}) });
      }),
    );
  };
  const expectOne = async (
    label: EvidenceLabel,
    name: string,
    type: DnsQuestion['type'],
    exp: Expectation,
    o: ExpectOptions,
  ): Promise<DnsAnswer[]> => {
    const { ms, polls, round } = await convergeRound(label, name, type, exp, o);
    // Right at the first look: that round is the exact assertion. Otherwise the answers
    // changed while we waited, and a fresh round must be right too.
    const results = polls === 1 ? round : await askEverywhere((server) => [{ name, type, server: server.ip, ...o.extra }]);
    const first = results.find((r) => r.server === f.facts.servers[0]);
    if (first) evidence.transcript(label, transcript(first.answer, first.server.label));
    try {
      assertAnswers(
        results.map((r) => ({ answer: r.answer, label: asked(r), exp })),
        `${name} ${type}`,
      );
    } catch (e) {
      if (e instanceof DnsMismatch)
        e.message = `wrong answer after convergence: every server answered as expected ${ms} ms after the change, then a fresh round differs. ${e.message}`;
      throw e;
    }
    return results.map((r) => r.answer);
  };
  return {
    svcName: (name, ns) => `${name}.${ns ?? f.ns}.svc.${f.facts.clusterDomain}`,
    askEverywhere,
    expectEverywhere: async (label, name, type, exp, o = {}) =>
      (await perFamily(label, type, exp, (t, e) => expectOne(label, name, t, e, o), name)).flat(),
    convergeEverywhere: async (label, name, type, exp, o = {}) =>
      Math.max(...(await perFamily(label, type, exp, async (t, e) => (await convergeRound(label, name, t, e, o)).ms, name))),
    families,
    primaryType: (label) => {
      const fam = families()[0] ?? 'IPv4';
      evidence.family(label, fam);
      return addressType(fam);
    },
  };
}

/** Connections through the Service proxy: where node ports are served, and the bounded
 *  wait until connections reach exactly the backends. */
function proxyOf(f: SuiteFixture, evidence: Evidence): SuiteProxy {
  return {
    virtualIPs: async (label, service) => {
      const spec = (await kube().core.readNamespacedService({ name: service, namespace: f.ns })).spec;
      const ips = spec?.clusterIPs ?? (spec?.clusterIP ? [spec.clusterIP] : []);
      if (!ips.length || ips.includes('None'))
        throw new Error(`Service ${f.ns}/${service} has no virtual IP (spec.clusterIPs: ${JSON.stringify(spec?.clusterIPs ?? null)})`);
      for (const ip of ips) evidence.family(label, familyOf(ip));
      return ips;
    },
    nodeTargets: async (label, service) => {
      const svc = await kube().core.readNamespacedService({ name: service, namespace: f.ns });
      const families = svc.spec?.ipFamilies ?? [];
      const targets = await nodeAddresses(families);
      for (const fam of new Set(targets.map((t) => t.family))) evidence.family(label, fam);
      if (!targets.length)
        throw new Error(`no node has an InternalIP in the families of Service ${f.ns}/${service} (${families.join(', ') || 'none'})`);
      return targets;
    },
    proxyConverged: async (label, t) => {
      const since = t.since ?? Date.now();
      if (isIP(t.host)) evidence.family(label, familyOf(t.host));
      const probes = t.probes ?? f.probes;
      // "Only these" must not pass by chance while the proxy still sends some connections
      // elsewhere (a backend being removed, a policy not yet applied): every poll makes at
      // least 10 connections, and two polls in a row must be right (seen in CI: 3 connections
      // all on the one ready backend while a terminating one still got others).
      // Arrival evidence: once connections from some node reach exactly the backends, the
      // change has arrived (the EndpointSlices hold it, a proxy programmed it), and a node
      // still wrong at the bound is wrong, not slow.
      let rightSomewhere = false;
      const per = await Promise.all(
        probes.map((probe) => {
          let streak = 0;
          return converge(
            `connections from ${probe.pod} (node ${probe.node}) through ${hostPort(t.host, t.port)} to reach only ` +
              `[${t.backends.join(', ')}]${t.everyBackend ? ', each of them' : ''}, in two polls in a row`,
            async () => {
              const c = counts(
                await probe.connect({
                  host: t.host,
                  port: t.port,
                  count: Math.max(10, t.everyBackend ? 6 * t.backends.length : 0),
                  mode: t.mode ?? 'tcp',
                  timeoutMs: 1000,
                }),
              );
              const stray = Object.keys(c).filter((k) => !t.backends.includes(k));
              const right = stray.length === 0 && (!t.everyBackend || t.backends.every((b) => c[b]));
              streak = right ? streak + 1 : 0;
              if (streak >= 2) rightSomewhere = true;
              return { ok: streak >= 2, confirming: streak === 1, state: { answeredBy: c } };
            },
            { kind: 'Service proxy', since, intervalMs: 250, arrived: () => rightSomewhere },
          );
        }),
      );
      const ms = Math.max(...per.map((p) => p.ms));
      // Not counting the confirming poll: 1 means right at the first look.
      const polls = Math.max(...per.map((p) => p.polls - 1));
      evidence.convergence(label, 'Service proxy', polls, ms, `${hostPort(t.host, t.port)} from ${probes.length} node(s)`, polls > 1);
      return ms;
    },
  };
}

/** The bounded wait for a Service's EndpointSlices. */
function slicesOf(f: SuiteFixture, evidence: Evidence): SuiteSlices {
  return {
    slicesSettled: async (label, service, ips, since) => {
      const r = await slicesSettled(f.ns, service, ips, { since });
      evidence.convergence(label, 'EndpointSlices', r.polls, r.ms, `${service} (${ips.length} ready)`, r.polls > 1);
      return r.endpoints;
    },
  };
}

export { kube };

/** A setup step that runs once, on first use, so that each test states what it needs
 *  (and a focused run of one test still finds its Services in place). */
export function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= fn());
}
