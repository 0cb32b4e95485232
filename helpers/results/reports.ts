// Reports from one run: JUnit XML (stable classnames, failure text with the question,
// the expected and the actual answer), JSON (every check with status, duration, skip
// reason and the suite's evidence), a Markdown summary, and one self-contained HTML file.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkDef, type Level, type Source } from '../../suites/registry.ts';
import { claimInTitle, idInTitle } from '../../suites/data/sources.ts';
import type { Measurement } from '../harness/evidence.ts';
import { causeLines, ROOT, type DetectedCluster } from '../config/target.ts';
import yaml from 'js-yaml';
import { ICONS, junitCase, junitErrorSuite, mdCell, writeReportDir, xml } from './render.ts';
import { htmlReport } from './html.ts';
import { any, arr, bool, check, num, obj, oneOf, opt, type Schema, str } from '../../probe/schema.ts';
import { applyKnownDifferences, profileResults, type Implementation, type KnownMatch, type ProfileResult } from './conformance.ts';
import type { KnownDifference } from '../../suites/data/known-differences.ts';

/** The report's version: results.json names it; a file without one is read as the version
 *  before (0.1: no implementation, profiles or not-selected count); any other is refused. */
export const REPORT_API_VERSION = 'svc-conformance/v1';
export const REPORT_KIND = 'RunReport';
export const CONFORMANCE_KIND = 'ConformanceReport';

interface JestAssertion {
  title: string;
  fullName: string;
  ancestorTitles: string[];
  status: string;
  duration?: number | null;
  failureMessages: string[];
}
interface JestFile {
  name: string;
  assertionResults: JestAssertion[];
  message?: string;
  status: string;
}
export interface JestJson {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  numRuntimeErrorTestSuites: number;
  testResults: JestFile[];
  startTime: number;
}

export interface Check {
  /** The check's id (suites/registry.ts); undefined for a test outside the registry. */
  id?: string;
  level?: Level;
  source?: Source;
  suite: string;
  classname: string;
  name: string;
  /** warning: a failed expected-level check (not under --strict); informational: an
   *  informational check that could not measure (never a failure). */
  status: 'passed' | 'failed' | 'skipped' | 'warning' | 'informational';
  durationMs: number;
  skipReason?: string;
  failure?: string;
  /** The IP families the check ran in (its questions, virtual IPs, addresses), from its
   *  evidence; absent for a check that is not about addresses. */
  families?: string[];
  /** A known difference of the implementation explains this failure or warning (it keeps its status). */
  knownDifference?: { reason: string; url: string };
  /** --retries: every attempt that failed, in order (the last one's text is `failure` when
   *  the check failed). */
  attempts?: { attempt: number; failure: string }[];
  /** Passed only on a retry: reported as flaky, never as a plain pass. */
  flaky?: boolean;
}

export interface EvidenceFile {
  suite: string;
  items: { check: string; detail?: string; kind: string; text?: string; value?: unknown }[];
}

/** The skip reason of a check that --focus/--skip left out. */
export const NOT_SELECTED = 'not selected in this run';

export interface RunReport {
  apiVersion: string;
  kind: string;
  runId: string;
  cluster: string;
  /** The cluster's identity, as the preflight read it (JUnit properties cluster.*). */
  identity?: Record<string, string>;
  /** Causes the preflight saw that fail many checks at once: said once, above the checks. */
  causes?: string[];
  startedAt: string;
  durationMs: number;
  /** skipped: checks the run selected that could not run (a requirement unmet);
   *  notSelected: those --focus/--skip/--conformance-profile/--rerun-failed left out;
   *  flaky: passed only on a retry (counted in passed too). */
  counts: {
    passed: number;
    failed: number;
    skipped: number;
    warnings: number;
    notSelected?: number;
    flaky?: number;
    informational?: number;
  };
  /** What the run cost the cluster (helpers/cluster/cost.ts): API requests, exec sessions,
   *  Pods created, and the nodes its probes ran on of the schedulable ones. */
  cost?: { apiCalls: number; execSessions: number; podsCreated: number };
  /** The nodes "from every node" meant: those the probes ran on, of the schedulable ones, and the rule that chose them. */
  coverage?: { probeNodes: string[]; schedulableNodes: number; zones: number; rule: string };
  /** The implementation under test: as named (--implementation), else detected. */
  implementation?: Implementation;
  /** Each conformance profile that applies to it (suites/data/profiles.ts). */
  profiles?: ProfileResult[];
  /** Known differences (suites/data/known-differences.ts, --known-differences) that explain a
   *  failure or warning of this run, and those whose check passed here (stale: fixed upstream?). */
  knownDifferences?: { matched: KnownMatch[]; stale: KnownMatch[] };
  /** How the checks were chosen: the flags, and for --rerun-failed the earlier report and its ids. */
  selection?: {
    focus?: string;
    skip?: string;
    conformanceProfile?: string;
    rerunFailed?: { from: string; ids: string[] };
    retries?: number;
  };
  checks: Check[];
  suiteErrors: { suite: string; message: string }[];
  evidence: EvidenceFile[];
}

export const stripAnsi = (s: string): string => s.replace(/\u001b\[[0-9;]*m/g, '');

const EVIDENCE_FILE = obj({
  suite: str,
  runId: opt(str),
  items: arr(obj({ check: str, detail: opt(str), kind: oneOf('transcript', 'measurement', 'info', 'counts', 'family'), text: opt(str) })),
});

export interface VerdictLine {
  id: string;
  status: 'skipped' | 'warning' | 'informational';
  reason?: string;
  message?: string;
}

/** The verdicts a run's workers recorded (helpers/harness/check.ts), by check id. */
export function readVerdicts(evidenceDir: string, runId: string): Map<string, VerdictLine> {
  const dir = path.join(evidenceDir, 'verdicts');
  const out = new Map<string, VerdictLine>();
  if (!fs.existsSync(dir)) return out;
  for (const f of fs.readdirSync(dir).filter((x) => x.startsWith(`${runId}.`) && x.endsWith('.jsonl'))) {
    for (const line of fs.readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean)) {
      const v = JSON.parse(line) as VerdictLine;
      if (typeof v.id !== 'string' || !['skipped', 'warning', 'informational'].includes(v.status))
        throw new Error(`${path.join(dir, f)}: not a verdict line: ${line.slice(0, 200)}`);
      out.set(v.id, v);
    }
  }
  return out;
}

export function collect(
  results: JestJson[],
  evidenceDir: string,
  meta: {
    runId: string;
    cluster: string;
    durationMs: number;
    identity?: Record<string, string>;
    causes?: string[];
    implementation?: Implementation;
    /** Known differences from a --known-differences file, beside the suite's own. */
    knownDifferences?: KnownDifference[];
    selection?: RunReport['selection'];
    coverage?: RunReport['coverage'];
    /** The ids the run selected (absent: every check): a check outside them is not
     *  selected, even where a requirement would also have skipped it. */
    selected?: string[];
  },
): RunReport {
  const chosen = meta.selected ? new Set(meta.selected) : undefined;
  const verdicts = readVerdicts(evidenceDir, meta.runId);
  const attempts = readAttempts(evidenceDir, meta.runId);
  const checks: Check[] = [];
  const suiteErrors: { suite: string; message: string }[] = [];
  for (const r of results) {
    for (const f of r.testResults) {
      const suite = path.basename(f.name).replace(/\.test\.[jt]s$/, '');
      if (f.status === 'failed' && f.assertionResults.length === 0 && f.message) suiteErrors.push({ suite, message: stripAnsi(f.message) });
      for (const a of f.assertionResults) {
        const id = idInTitle(a.title);
        const def = id
          ? (() => {
              try {
                return checkDef(id);
              } catch {
                return undefined;
              }
            })()
          : undefined;
        const v = id ? verdicts.get(id) : undefined;
        let status: Check['status'] = a.status === 'passed' ? 'passed' : a.status === 'failed' ? 'failed' : 'skipped';
        if (status === 'passed' && v && v.status !== 'skipped') status = v.status;
        checks.push({
          id,
          level: def?.level,
          source: def?.source,
          suite,
          classname: `svc-conformance.${suite}${a.ancestorTitles.length ? `.${a.ancestorTitles.join(' / ')}` : ''}`,
          name: a.title,
          status,
          durationMs: a.duration ?? 0,
          skipReason:
            status === 'skipped'
              ? chosen && id && !chosen.has(id)
                ? NOT_SELECTED
                : ((v?.status === 'skipped' ? v.reason : undefined) ?? NOT_SELECTED)
              : undefined,
          failure: a.failureMessages.length ? stripAnsi(a.failureMessages.join('\n')) : v?.message,
        });
        const tries = id ? attempts.get(id) : undefined;
        if (tries?.length) {
          const c = checks[checks.length - 1]!;
          c.attempts = tries;
          if (c.status === 'passed') c.flaky = true;
        }
      }
    }
  }
  const evidence: EvidenceFile[] = fs.existsSync(evidenceDir)
    ? fs
        .readdirSync(evidenceDir)
        .filter((f) => f.endsWith('.json'))
        .map((f) => {
          const file = path.join(evidenceDir, f);
          let v: unknown;
          try {
            v = JSON.parse(fs.readFileSync(file, 'utf8'));
          } catch (e) {
            throw new Error(`evidence file ${file} is not JSON: ${(e as Error).message}`);
          }
          return check<EvidenceFile>(EVIDENCE_FILE, v, `evidence file ${file}`);
        })
    : [];
  // The families each check ran in, in the order the cluster gives them (IPv4 before IPv6).
  for (const c of checks) {
    const fams = new Set(
      evidence.flatMap((e) => e.items.filter((i) => i.kind === 'family' && i.check === c.id).map((i) => String(i.value))),
    );
    if (fams.size) c.families = [...fams].sort();
  }
  const counts = countsOf(checks, suiteErrors.length);
  const cost = readCost(evidenceDir, meta.runId);
  const components = meta.implementation?.components ?? [];
  const knownDifferences = applyKnownDifferences(checks, components, meta.knownDifferences);
  return {
    apiVersion: REPORT_API_VERSION,
    kind: REPORT_KIND,
    runId: meta.runId,
    cluster: meta.cluster,
    ...(meta.identity ? { identity: meta.identity } : {}),
    ...(meta.causes?.length ? { causes: meta.causes } : {}),
    startedAt: new Date(Date.now() - meta.durationMs).toISOString(),
    durationMs: meta.durationMs,
    counts,
    ...(cost ? { cost } : {}),
    ...(meta.coverage ? { coverage: meta.coverage } : {}),
    ...(meta.implementation
      ? { implementation: meta.implementation, profiles: profileResults(checks, components, NOT_SELECTED), knownDifferences }
      : {}),
    ...(meta.selection ? { selection: meta.selection } : {}),
    checks,
    suiteErrors,
    evidence,
  };
}

/** The median of some numbers (the mean of the middle two for an even count); undefined for none. */
export function median(xs: number[]): number | undefined {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1]! + s[m]!) / 2;
}

/** A run's counts: real skips apart from checks not selected; flaky passes counted in passed too. */
export function countsOf(checks: Check[], suiteErrors: number): RunReport['counts'] {
  return {
    passed: checks.filter((c) => c.status === 'passed').length,
    failed: checks.filter((c) => c.status === 'failed').length + suiteErrors,
    skipped: checks.filter((c) => c.status === 'skipped' && c.skipReason !== NOT_SELECTED).length,
    warnings: checks.filter((c) => c.status === 'warning').length,
    notSelected: checks.filter((c) => c.status === 'skipped' && c.skipReason === NOT_SELECTED).length,
    flaky: checks.filter((c) => c.flaky).length,
    informational: checks.filter((c) => c.status === 'informational').length,
  };
}

/** What the run cost the cluster: every process's counts (helpers/cluster/cost.ts writeCost)
 *  summed; undefined when none were written. */
export function readCost(evidenceDir: string, runId: string): RunReport['cost'] {
  const dir = path.join(evidenceDir, 'cost');
  if (!fs.existsSync(dir)) return undefined;
  const files = fs.readdirSync(dir).filter((f) => f.startsWith(`${runId}.`) && f.endsWith('.json'));
  if (!files.length) return undefined;
  const sum = { apiCalls: 0, execSessions: 0, podsCreated: 0 };
  for (const f of files) {
    const c = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Partial<typeof sum>;
    for (const k of Object.keys(sum) as (keyof typeof sum)[]) sum[k] += Number(c[k] ?? 0);
  }
  return sum;
}

/** "probes on 3 of 200 schedulable nodes (node-a, node-b, node-c), 1 node(s) of each zone". */
export const coverageText = (c: NonNullable<RunReport['coverage']>): string =>
  `probes on ${c.probeNodes.length} of ${c.schedulableNodes} schedulable node(s)${c.zones ? ` in ${c.zones} zone(s)` : ''} ` +
  `(${c.probeNodes.slice(0, 12).join(', ')}${c.probeNodes.length > 12 ? `, … ${c.probeNodes.length - 12} more` : ''}): ${c.rule}`;

/** "412 API requests, 37 exec sessions, 21 Pods created". */
export const costText = (c: NonNullable<RunReport['cost']>): string =>
  `${c.apiCalls} API requests, ${c.execSessions} exec sessions, ${c.podsCreated} Pods created`;

/** --retries: the attempts that failed, by check id (helpers/harness/check.ts writes them). */
export function readAttempts(evidenceDir: string, runId: string): Map<string, { attempt: number; failure: string }[]> {
  const dir = path.join(evidenceDir, 'attempts');
  const out = new Map<string, { attempt: number; failure: string }[]>();
  if (!fs.existsSync(dir)) return out;
  for (const f of fs.readdirSync(dir).filter((x) => x.startsWith(`${runId}.`) && x.endsWith('.jsonl'))) {
    for (const line of fs.readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean)) {
      const a = JSON.parse(line) as { id: string; attempt: number; failure: string };
      out.set(
        a.id,
        [...(out.get(a.id) ?? []), { attempt: a.attempt, failure: a.failure }].sort((x, y) => x.attempt - y.attempt),
      );
    }
  }
  return out;
}

const COUNTS = obj({
  passed: num,
  failed: num,
  skipped: num,
  warnings: num,
  notSelected: opt(num),
  flaky: opt(num),
  informational: opt(num),
});
const COMPONENT = obj({ role: oneOf('service-proxy', 'dns', 'dns-cache'), name: str, version: str, from: str });
const ID_REASON = obj({ id: str, reason: str, knownDifference: opt(str) });
const KNOWN_MATCH = obj({ check: str, component: str, versions: str, reason: str, url: str, from: str });
const IMPLEMENTATION = obj({
  name: str,
  version: str,
  url: opt(str),
  from: oneOf('flags', 'file', 'detected'),
  components: arr(COMPONENT),
});
const PROFILE_RESULT = obj({
  name: str,
  title: str,
  result: oneOf('success', 'partial', 'failure'),
  counts: obj({ passed: num, failed: num, warnings: num, skipped: num, notSelected: num }),
  failed: arr(ID_REASON),
  warnings: arr(ID_REASON),
  skipped: arr(obj({ id: str, reason: str })),
});
/** A run's results.json (svc-conformance/v1): published as docs/results.schema.json. */
export const RUN_REPORT = obj({
  apiVersion: oneOf(REPORT_API_VERSION),
  kind: oneOf(REPORT_KIND),
  runId: str,
  cluster: str,
  identity: opt(any),
  causes: opt(arr(str)),
  startedAt: str,
  durationMs: num,
  counts: COUNTS,
  cost: opt(obj({ apiCalls: num, execSessions: num, podsCreated: num })),
  coverage: opt(obj({ probeNodes: arr(str), schedulableNodes: num, zones: num, rule: str })),
  implementation: opt(IMPLEMENTATION),
  profiles: opt(arr(PROFILE_RESULT)),
  knownDifferences: opt(obj({ matched: arr(KNOWN_MATCH), stale: arr(KNOWN_MATCH) })),
  selection: opt(
    obj({
      focus: opt(str),
      skip: opt(str),
      conformanceProfile: opt(str),
      rerunFailed: opt(obj({ from: str, ids: arr(str) })),
      retries: opt(num),
    }),
  ),
  checks: arr(
    obj({
      id: opt(str),
      suite: str,
      classname: str,
      name: str,
      status: oneOf('passed', 'failed', 'skipped', 'warning', 'informational'),
      durationMs: num,
      skipReason: opt(str),
      failure: opt(str),
      families: opt(arr(str)),
      knownDifference: opt(obj({ reason: str, url: str })),
      attempts: opt(arr(obj({ attempt: num, failure: str }))),
      flaky: opt(bool),
    }),
  ),
  suiteErrors: arr(obj({ suite: str, message: str })),
  evidence: arr(any),
});

const CONFORMANCE_REPORT = obj({
  apiVersion: oneOf(REPORT_API_VERSION),
  kind: oneOf(CONFORMANCE_KIND),
  implementation: IMPLEMENTATION,
  date: str,
  suite: obj({ name: str, version: str }),
  cluster: any,
  reproduce: str,
  summary: COUNTS,
  profiles: arr(PROFILE_RESULT),
  knownDifferences: obj({ matched: arr(KNOWN_MATCH), stale: arr(KNOWN_MATCH) }),
});

/** A run's results.json (written by writeReports), validated: the matrix and the test
 *  command read runs only through this. */
export function readRunReport(file: string): RunReport {
  return readResults<RunReport>(RUN_REPORT, file, 'the run results', upgradeRunReport);
}

/** A run's results.json from its text (`where` names where the text came from). */
export function parseRunReport(text: string, where: string): RunReport {
  return parseResults<RunReport>(RUN_REPORT, text, `the run results ${where}`, upgradeRunReport);
}

/** A results file (a run's, a matrix's), read and checked against its schema. */
export function readResults<T>(schema: Schema, file: string, what: string, upgrade?: Upgrade): T {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${what} ${file}: ${(e as Error).message}`);
  }
  return parseResults<T>(schema, text, `${what} ${file}`, upgrade);
}

/** Reads an earlier version of a results file as the current one, or refuses it (throws). */
type Upgrade = (v: unknown, what: string) => unknown;

function parseResults<T>(schema: Schema, text: string, what: string, upgrade?: Upgrade): T {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`cannot read ${what}: ${(e as Error).message}`);
  }
  if (upgrade) v = upgrade(v, what);
  return check<T>(schema, v, what);
}

/** A results.json of an earlier version, read as this one: before svc-conformance/v1 a file
 *  had no apiVersion, and counted checks not selected among the skipped. Another version is
 *  refused, saying which. */
function upgradeRunReport(v: unknown, what: string): unknown {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
  const r = v as Record<string, unknown>;
  if (r.apiVersion === REPORT_API_VERSION) return v;
  if (r.apiVersion !== undefined)
    throw new Error(
      `cannot read ${what}: it is apiVersion ${JSON.stringify(r.apiVersion)}, and this svc-conformance reads ${REPORT_API_VERSION} ` +
        '(and the unversioned files of 0.1): read it with the svc-conformance that wrote it, or run the checks again with this one',
    );
  const checks = Array.isArray(r.checks) ? (r.checks as Check[]) : undefined;
  const suiteErrors = Array.isArray(r.suiteErrors) ? r.suiteErrors.length : 0;
  return { ...r, apiVersion: REPORT_API_VERSION, kind: REPORT_KIND, ...(checks ? { counts: countsOf(checks, suiteErrors) } : {}) };
}

/** The lines that close a run, `npm test` and a matrix: the warnings (expected-level
 *  checks that failed) on their own line, never counted as passed, then the counts. */
export { causeLines };

/** The known differences of a run, one line each: those that explain a failure or warning
 *  here, and those whose check passed (stale). */
export function knownLines(k?: RunReport['knownDifferences']): string[] {
  return [
    ...(k?.matched ?? []).map(
      (m) => `svc-conformance: known difference ${m.check} (${m.component}, ${m.versions}): ${m.reason} ${m.url} [${m.from}]`,
    ),
    ...(k?.stale ?? []).map(
      (m) =>
        `svc-conformance: STALE known difference ${m.check} (${m.component}, ${m.versions}) passed here: fixed upstream? ${m.url} [${m.from}]`,
    ),
  ];
}

export function closingLines(c: RunReport['counts'], warningIds: string[] = []): string[] {
  const w = c.warnings
    ? [
        `svc-conformance: ${c.warnings} warning(s): expected-level checks that failed (documented default behaviour ` +
          `the specification leaves open; --strict fails them)${warningIds.length ? `: ${warningIds.join(', ')}` : ''}`,
      ]
    : [];
  const flaky = c.flaky ? ` (${c.flaky} only on a retry: flaky)` : '';
  const ns = c.notSelected ? `, ${c.notSelected} not selected` : '';
  // Informational checks whose measure missed its target: reported, never counted as passed or failed.
  const info = c.informational ? `, ${c.informational} informational (measured beyond the target, not counted)` : '';
  return [...w, `svc-conformance: ${c.passed} passed${flaky}, ${c.failed} failed, ${c.skipped} skipped${info}${ns}`];
}

export function junit(r: RunReport): string {
  // The cluster's identity on every suite (JUnit has properties per testsuite).
  const props = r.identity
    ? `    <properties>\n${Object.entries(r.identity)
        .map(([k, v]) => `      <property name="cluster.${xml(k)}" value="${xml(v)}"/>`)
        .join('\n')}\n    </properties>\n`
    : '';
  const bySuite = new Map<string, Check[]>();
  for (const c of r.checks) bySuite.set(c.suite, [...(bySuite.get(c.suite) ?? []), c]);
  const suites = [...bySuite.entries()].map(([suite, cs]) => {
    const cases = cs
      .map((c) =>
        junitCase({
          classname: c.classname,
          name: c.name,
          timeS: c.durationMs / 1000,
          status: c.status,
          level: c.level,
          failure: c.failure,
          skipReason: c.skipReason,
          properties: c.id
            ? {
                id: c.id,
                level: c.level ?? '',
                source: c.source ? `${c.source.title} ${c.source.url}` : '',
                verdict: c.flaky ? 'flaky' : c.status,
                ...(c.attempts?.length ? { 'failed-attempts': String(c.attempts.length) } : {}),
                ...(c.knownDifference ? { 'known-difference': `${c.knownDifference.reason} ${c.knownDifference.url}` } : {}),
                ...(c.families ? { families: c.families.join(',') } : {}),
              }
            : {},
        }),
      )
      .join('\n');
    const f = cs.filter((c) => c.status === 'failed').length;
    const s = cs.filter((c) => c.status === 'skipped').length;
    const t = cs.reduce((a, c) => a + c.durationMs, 0) / 1000;
    return (
      `  <testsuite name="svc-conformance.${xml(suite)}" tests="${cs.length}" failures="${f}" ` +
      `skipped="${s}" errors="0" time="${t.toFixed(3)}">\n${props}${cases}\n  </testsuite>`
    );
  });
  for (const e of r.suiteErrors) {
    suites.push(junitErrorSuite(`svc-conformance.${e.suite}`, 'suite setup', e.message, e.message));
  }
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="svc-conformance" tests="${r.checks.length}" failures="${r.counts.failed}" ` +
    `skipped="${r.counts.skipped}" time="${(r.durationMs / 1000).toFixed(3)}">\n${suites.join('\n')}\n</testsuites>\n`
  );
}

const srcLink = (c: Check): string => (c.source ? `[${c.source.title}](${c.source.url})` : '');

export function markdown(r: RunReport): string {
  const icon = (s: Check['status']): string => ICONS[s];
  const lines = [
    `# svc-conformance run ${r.runId}`,
    '',
    `Cluster: ${r.cluster}. **${r.counts.passed} passed, ${r.counts.failed} failed, ${r.counts.warnings} ` +
      `warnings, ${r.counts.skipped} skipped** in ${(r.durationMs / 1000).toFixed(1)} s.`,
    '',
  ];
  if (r.causes?.length) lines.push('## One cause for many checks (seen by the preflight)', '', ...r.causes.map((c) => `- ❗ ${c}`), '');
  const warnings = r.checks.filter((c) => c.status === 'warning');
  if (warnings.length) {
    lines.push(
      '## Warnings (expected-level checks: documented default behaviour the specification leaves open; `--strict` fails them)',
      '',
    );
    for (const c of warnings) lines.push(`- ⚠️ \`${c.id}\` ${claimInTitle(c.name)} (${srcLink(c)}): ${(c.failure ?? '').split('\n')[0]}`);
    lines.push('');
  }
  lines.push(
    '| | Id | Level | Check | Families | Source | Time |',
    '|---|---|---|---|---|---|---|',
    ...r.checks.map(
      (c) =>
        `| ${icon(c.status)} | ${c.id ?? ''} | ${c.level ?? ''} | ${mdCell(claimInTitle(c.name))}${c.skipReason ? ` (${c.skipReason})` : ''} ` +
        `| ${(c.families ?? []).join(', ')} | ${srcLink(c)} | ${(c.durationMs / 1000).toFixed(1)} s |`,
    ),
  );
  const lags = cacheLags(r);
  if (lags.length) {
    lines.push(
      '',
      '## DNS cache lag behind the replicas',
      '',
      'A cache in front of the replicas may serve an answer until its TTL runs out; each wait where it did:',
      '',
    );
    for (const l of lags) lines.push(`- \`${l.check}\` ${l.ms} ms: ${l.name.replace(/</g, '&lt;').replace(/>/g, '&gt;')}`);
  }
  const flaky = r.checks.filter((c) => c.flaky);
  if (flaky.length) {
    lines.push('', '## Flaky (passed only on a retry)', '');
    for (const c of flaky)
      lines.push(
        `- \`${c.id}\`: ${(c.attempts ?? []).map((x) => `attempt ${x.attempt}: ${(x.failure.split('\n')[0] ?? '').slice(0, 200)}`).join('; ')}`,
      );
  }
  const known = r.knownDifferences;
  if (known && (known.matched.length || known.stale.length)) {
    lines.push('', '## Known differences', '');
    for (const m of known.matched) lines.push(`- \`${m.check}\` (${m.component}): ${mdCell(m.reason)} ${m.url}`);
    for (const m of known.stale) lines.push(`- stale: \`${m.check}\` (${m.component}) passed here: fixed upstream? ${m.url}`);
  }
  const failed = r.checks.filter((c) => c.status === 'failed');
  if (failed.length || r.suiteErrors.length) {
    lines.push('', '## Failures');
    for (const c of failed) lines.push('', `### ${c.suite}: ${c.name}`, '', '```', (c.failure ?? '').slice(0, 6000), '```');
    for (const e of r.suiteErrors) lines.push('', `### ${e.suite}: suite setup`, '', '```', e.message.slice(0, 6000), '```');
  }
  return lines.join('\n') + '\n';
}

/** The run's measurements, typed (helpers/harness/evidence.ts), with their suite and check.
 *  Results written before measurements carried their kind (older versions' results.json,
 *  given to the matrix with --column-results, and helpers/testdata) get it from their name,
 *  here and nowhere else. */
export function measurements(r: RunReport): (Measurement & { suite: string; check: string })[] {
  const legacy = (m: Measurement): Measurement => {
    if (m.kind !== undefined || m.unit !== 'ms') return m;
    const k =
      /^(DNS cache lag|DNS cache right at the first look|DNS|EndpointSlices|Service proxy) (converged|convergence|right at the first look)?/.exec(
        m.name,
      );
    if (!k) return m;
    if (k[1]!.startsWith('DNS cache')) return { ...m, kind: 'DNS cache lag', converged: k[1] === 'DNS cache lag' };
    return k[2] ? { ...m, kind: k[1] as Measurement['kind'], converged: k[2] !== 'right at the first look' } : m;
  };
  return r.evidence.flatMap((e) =>
    e.items.filter((i) => i.kind === 'measurement').map((i) => ({ suite: e.suite, check: i.check, ...legacy(i.value as Measurement) })),
  );
}

/** A cache's lag behind the replicas, per check (measured where a cache was in front). */
export function cacheLags(r: RunReport): { check: string; name: string; ms: number }[] {
  return measurements(r)
    .filter((m) => m.kind === 'DNS cache lag' && m.converged)
    .map((m) => ({ check: m.check, name: m.name, ms: m.value }));
}

export { htmlReport } from './html.ts';

export function writeReports(dir: string, r: RunReport, reproduce?: string): string[] {
  const md = markdown(r);
  return writeReportDir(
    dir,
    [
      ['junit.xml', junit(r)],
      ['results.json', JSON.stringify(r, null, 2)],
      ['summary.md', md],
      ['report.html', htmlReport(r)],
      ...(r.implementation ? ([['conformance.yaml', conformanceYaml(conformanceReport(r, reproduce ?? ''))]] as [string, string][]) : []),
    ],
    md,
  );
}

/** What an implementation publishes (conformance/reports/<implementation>/<version>.yaml):
 *  who was tested, on what cluster, each profile's result and the known differences, with
 *  the command that reproduces it. Made from a run's report, never by hand. */
export interface ConformanceReport {
  apiVersion: string;
  kind: string;
  implementation: Implementation;
  date: string;
  suite: { name: string; version: string };
  cluster: Record<string, string>;
  reproduce: string;
  summary: RunReport['counts'];
  profiles: ProfileResult[];
  knownDifferences: { matched: KnownMatch[]; stale: KnownMatch[] };
}

export function conformanceReport(r: RunReport, reproduce: string): ConformanceReport {
  if (!r.implementation) throw new Error(`run ${r.runId} names no implementation (its results.json is from before svc-conformance/v1)`);
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
  const id = r.identity ?? {};
  return {
    apiVersion: REPORT_API_VERSION,
    kind: CONFORMANCE_KIND,
    implementation: r.implementation,
    date: r.startedAt,
    suite: { name: pkg.name, version: pkg.version },
    cluster: Object.fromEntries(
      (['kubernetes-version', 'schedulable-nodes', 'ip-families', 'proxy-mode', 'service-proxy', 'dns-path'] as const)
        .filter((k) => id[k] !== undefined)
        .map((k) => [k, id[k]!]),
    ),
    reproduce,
    summary: r.counts,
    profiles: r.profiles ?? [],
    knownDifferences: r.knownDifferences ?? { matched: [], stale: [] },
  };
}

export const conformanceYaml = (c: ConformanceReport): string =>
  `# Generated by svc-conformance from a real run; not edited by hand. Reproduce: ${c.reproduce}\n${yaml.dump(c, { lineWidth: 140, noRefs: true })}`;

/** A conformance report (YAML), checked: apiVersion, kind and the fields the table reads. */
export function readConformanceReport(file: string): ConformanceReport {
  let doc: unknown;
  try {
    doc = yaml.load(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read the conformance report ${file}: ${(e as Error).message}`);
  }
  return check<ConformanceReport>(CONFORMANCE_REPORT, doc, `the conformance report ${file}`);
}

/** The cluster's identity for the reports (JUnit properties cluster.*): what the preflight read. */
export function clusterIdentity(c: DetectedCluster): Record<string, string> {
  return {
    server: c.server,
    'kubernetes-version': c.version,
    'proxy-mode': c.kubeProxy === 'present' ? c.proxyMode : 'no kube-proxy',
    ...(c.serviceProxy
      ? {
          'service-proxy': `${c.serviceProxy.name} ${c.serviceProxy.version}${c.serviceProxy.kubeProxyReplacement ? ' (kube-proxy replacement)' : ''}`,
        }
      : {}),
    'dns-image': (c.dnsImages ?? []).join(',') || 'unknown',
    'ip-families': c.ipFamilies.join(','),
    'schedulable-nodes': String(c.schedulableNodes),
    'dns-path': c.dnsPath?.summary ?? `not detected${c.dnsPathError ? `: ${c.dnsPathError}` : ''}`,
  };
}
