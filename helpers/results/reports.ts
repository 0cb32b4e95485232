// Reports from one run: JUnit XML (stable classnames, failure text with the question,
// the expected and the actual answer), JSON (every check with status, duration, skip
// reason and the suite's evidence), a Markdown summary, and one self-contained HTML file.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkDef, type Level, type Source } from '../../suites/registry.ts';
import { claimInTitle, idInTitle } from '../../suites/data/sources.ts';
import type { Measurement } from '../harness/evidence.ts';
import { causeLines, type DetectedCluster } from '../config/target.ts';
import { html, ICONS, junitCase, junitErrorSuite, mdCell, writeReportDir, xml } from './render.ts';
import { any, arr, check, num, obj, oneOf, opt, type Schema, str } from '../../probe/schema.ts';

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
}

export interface EvidenceFile {
  suite: string;
  items: { check: string; kind: string; text?: string; value?: unknown }[];
}

/** The skip reason of a check that --focus/--skip left out. */
export const NOT_SELECTED = 'not selected in this run';

export interface RunReport {
  runId: string;
  cluster: string;
  /** The cluster's identity, as the preflight read it (JUnit properties cluster.*). */
  identity?: Record<string, string>;
  /** Causes the preflight saw that fail many checks at once: said once, above the checks. */
  causes?: string[];
  startedAt: string;
  durationMs: number;
  counts: { passed: number; failed: number; skipped: number; warnings: number };
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
  meta: { runId: string; cluster: string; durationMs: number; identity?: Record<string, string>; causes?: string[] },
): RunReport {
  const verdicts = readVerdicts(evidenceDir, meta.runId);
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
          skipReason: status === 'skipped' ? ((v?.status === 'skipped' ? v.reason : undefined) ?? NOT_SELECTED) : undefined,
          failure: a.failureMessages.length ? stripAnsi(a.failureMessages.join('\n')) : v?.message,
        });
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
  const counts = {
    passed: checks.filter((c) => c.status === 'passed').length,
    failed: checks.filter((c) => c.status === 'failed').length + suiteErrors.length,
    skipped: checks.filter((c) => c.status === 'skipped').length,
    warnings: checks.filter((c) => c.status === 'warning').length,
  };
  return {
    runId: meta.runId,
    cluster: meta.cluster,
    ...(meta.identity ? { identity: meta.identity } : {}),
    ...(meta.causes?.length ? { causes: meta.causes } : {}),
    startedAt: new Date(Date.now() - meta.durationMs).toISOString(),
    durationMs: meta.durationMs,
    counts,
    checks,
    suiteErrors,
    evidence,
  };
}

const COUNTS = obj({ passed: num, failed: num, skipped: num, warnings: num });
const RUN_REPORT = obj({
  runId: str,
  cluster: str,
  identity: opt(any),
  causes: opt(arr(str)),
  startedAt: str,
  durationMs: num,
  counts: COUNTS,
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
    }),
  ),
  suiteErrors: arr(obj({ suite: str, message: str })),
  evidence: arr(any),
});

/** A run's results.json (written by writeReports), validated: the matrix and the test
 *  command read runs only through this. */
export function readRunReport(file: string): RunReport {
  return readResults<RunReport>(RUN_REPORT, file, 'the run results');
}

/** A run's results.json from its text (`where` names where the text came from). */
export function parseRunReport(text: string, where: string): RunReport {
  return parseResults<RunReport>(RUN_REPORT, text, `the run results ${where}`);
}

/** A results file (a run's, a matrix's), read and checked against its schema. */
export function readResults<T>(schema: Schema, file: string, what: string): T {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${what} ${file}: ${(e as Error).message}`);
  }
  return parseResults<T>(schema, text, `${what} ${file}`);
}

function parseResults<T>(schema: Schema, text: string, what: string): T {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`cannot read ${what}: ${(e as Error).message}`);
  }
  return check<T>(schema, v, what);
}

/** The lines that close a run, `npm test` and a matrix: the warnings (expected-level
 *  checks that failed) on their own line, never counted as passed, then the counts. */
export { causeLines };

export function closingLines(c: RunReport['counts'], warningIds: string[] = []): string[] {
  const w = c.warnings
    ? [
        `svc-conformance: ${c.warnings} warning(s): expected-level checks that failed (documented default behaviour ` +
          `the specification leaves open; --strict fails them)${warningIds.length ? `: ${warningIds.join(', ')}` : ''}`,
      ]
    : [];
  return [...w, `svc-conformance: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`];
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
                verdict: c.status,
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

function chart(r: RunReport): string {
  const points = measurements(r).filter((p) => p.converged && p.kind !== 'DNS cache lag');
  if (!points.length) return '<p>No convergence measurements in this run.</p>';
  const max = Math.max(...points.map((p) => p.value), 1);
  const rowH = 22;
  const bars = points
    .map((p, i) => {
      const w = Math.max(2, (p.value / max) * 420);
      return (
        `<text x="0" y="${i * rowH + 15}" font-size="11">${html(`${p.suite}: ${p.name}`).slice(0, 80)}</text><rect x="460" y="${i * rowH + 4}" ` +
        `width="${w.toFixed(1)}" height="14" fill="#3b82f6"/><text x="${(465 + w).toFixed(1)}" y="${i * rowH + 15}" font-size="11">${p.value} ms</text>`
      );
    })
    .join('');
  return (
    `<svg role="img" aria-label="DNS convergence times" width="1000" ` +
    `height="${points.length * rowH + 8}" xmlns="http://www.w3.org/2000/svg">${bars}</svg>`
  );
}

export function htmlReport(r: RunReport): string {
  const label: Record<Check['status'], string> = {
    passed: 'pass',
    failed: 'FAIL',
    skipped: 'skip',
    warning: 'warning',
    informational: 'info',
  };
  const rows = r.checks
    .map(
      (c) =>
        `<tr class="${c.status}"><td>${label[c.status]}</td><td><code>${html(c.id ?? '')}</code></td><td>${html(c.level ?? '')}</td><td>${html(c.suite)}</td><td>${html(claimInTitle(c.name))}${c.skipReason ? `<br><small>${html(c.skipReason)}</small>` : ''}</td><td>${html((c.families ?? []).join(', '))}</td><td>${c.source ? `<a href="${html(c.source.url)}">${html(c.source.title)}</a>` : ''}</td><td>${(c.durationMs / 1000).toFixed(1)} s</td></tr>`,
    )
    .join('\n');
  const warnings = r.checks
    .filter((c) => c.status === 'warning')
    .map(
      (c) =>
        `<details open class="warning"><summary>${html(`${c.id}: ${claimInTitle(c.name)}`)} ` +
        `(expected level)</summary><pre>${html(c.failure ?? '')}</pre></details>`,
    )
    .join('\n');
  const failures = [
    ...r.checks.filter((c) => c.status === 'failed').map((c) => ({ title: `${c.suite}: ${c.name}`, text: c.failure ?? '' })),
    ...r.suiteErrors.map((e) => ({ title: `${e.suite}: suite setup`, text: e.message })),
  ]
    .map((f) => `<details open class="failure"><summary>${html(f.title)}</summary><pre>${html(f.text)}</pre></details>`)
    .join('\n');
  const transcripts = r.evidence
    .map((e) => {
      const items = e.items.filter((i) => i.kind === 'transcript' || i.kind === 'info' || i.kind === 'counts' || i.kind === 'measurement');
      if (!items.length) return '';
      return (
        `<details><summary>${html(e.suite)} ` +
        `(${items.length})</summary>${items.map((i) => `<div class="ev"><b>${html(i.check)}</b> <i>${i.kind}</i><pre>${html(i.text ?? '')}${i.value !== undefined ? html(`\n${JSON.stringify(i.value, null, 2)}`) : ''}</pre></div>`).join('')}</details>`
      );
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>svc-conformance ${html(r.runId)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#111}table{border-collapse:collapse;width:100%}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
tr.passed td:first-child{background:#dcfce7}tr.failed td:first-child{background:#fee2e2;font-weight:bold}tr.skipped td:first-child{background:#f3f4f6}tr.warning td:first-child{background:#fef3c7;font-weight:bold}tr.informational td:first-child{background:#e0f2fe}details.warning summary{color:#92400e;font-weight:bold}
pre{white-space:pre-wrap;background:#f8fafc;padding:8px;border:1px solid #e5e7eb}details.failure summary{color:#b91c1c;font-weight:bold}.ev{margin:6px 0}
</style></head><body>
<h1>svc-conformance</h1>
<p id="summary">Run ${html(r.runId)} against ${html(r.cluster)}: <b>${r.counts.passed} passed, ${r.counts.failed} failed, ${r.counts.warnings} warnings, ${r.counts.skipped} skipped</b> in ${(r.durationMs / 1000).toFixed(1)} s.</p>
${r.causes?.length ? `<h2>One cause for many checks</h2><p>Seen by the preflight, before any check ran:</p><ul id="causes">${r.causes.map((c) => `<li>${html(c)}</li>`).join('')}</ul>` : ''}
<h2>Failures</h2>${failures || '<p>None.</p>'}
<h2>Warnings</h2><p>Expected-level checks: documented default behaviour that the specification leaves open. They do not fail the run (<code>--strict</code> makes them fail).</p>${warnings || '<p>None.</p>'}
<h2>Checks</h2><table id="checks"><thead><tr><th>Result</th><th>Id</th><th>Level</th><th>Suite</th><th>Claim</th><th>Families</th><th>Source</th><th>Time</th></tr></thead><tbody>
${rows}
</tbody></table>
<h2>Convergence (DNS, EndpointSlices, Service proxy)</h2>${chart(r)}
<h2>DNS cache lag behind the replicas</h2>${
    cacheLags(r).length
      ? `<p>A cache in front of the replicas may serve an answer until its TTL runs out; each wait where it did:</p><table id="cache-lag"><thead><tr><th>Check</th><th>Lag</th><th>Question</th></tr></thead><tbody>${cacheLags(
          r,
        )
          .map((l) => `<tr><td><code>${html(l.check)}</code></td><td>${l.ms} ms</td><td>${html(l.name)}</td></tr>`)
          .join('')}</tbody></table>`
      : '<p>No cache lagged behind the replicas (or none is in front of them).</p>'
  }
<h2>Evidence: transcripts and measurements</h2>${transcripts || '<p>None.</p>'}
</body></html>
`;
}

export function writeReports(dir: string, r: RunReport): string[] {
  const md = markdown(r);
  return writeReportDir(
    dir,
    [
      ['junit.xml', junit(r)],
      ['results.json', JSON.stringify(r, null, 2)],
      ['summary.md', md],
      ['report.html', htmlReport(r)],
    ],
    md,
  );
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
