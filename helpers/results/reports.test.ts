// The reports from a real run (helpers/testdata/run-extra-names, see its README): the
// verdicts the workers wrote turn Jest passes into warnings and give skips their reason;
// every result carries its id, level and source; warnings come first in the summary.
import { describe, expect, test } from '@jest/globals';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as os from 'node:os';
import { cacheLags, closingLines, collect, htmlReport, junit, markdown, readRunReport, writeReports, type JestJson } from './reports.ts';
import { tally } from '../cli/tally.ts';

const dir = path.join(path.dirname(path.dirname(fileURLToPath(import.meta.url))), 'testdata', 'run-extra-names');
const jest = JSON.parse(fs.readFileSync(path.join(dir, 'jest.json'), 'utf8')) as JestJson;
const report = collect([jest], path.join(dir, 'evidence'), { runId: 'rfis2131', cluster: 'https://172.30.0.1:6443', durationMs: 1000 });

describe('reports with levels and verdicts', () => {
  test('failed expected-level checks are warnings, with their message; skips carry their reason', () => {
    const byId = new Map(report.checks.map((c) => [c.id, c]));
    expect(byId.get('dns.statefulset.no-names-without-service')).toMatchObject({ status: 'warning', level: 'expected' });
    expect(byId.get('dns.statefulset.no-names-without-service')!.failure).toMatch(
      /^DNS not converged within 10000 ms .*orphan-0\.orphan-other/,
    );
    expect(byId.get('dns.pair.names-under-service-name')).toMatchObject({ status: 'warning', level: 'expected' });
    expect(byId.get('dns.pair.pod-names')).toMatchObject({ status: 'passed', level: 'required' });
    expect(byId.get('rules.kube-proxy.mode')).toMatchObject({
      status: 'skipped',
      skipReason: 'privileged profile not enabled (--profile privileged / SVC_PRIVILEGED=1)',
    });
    expect(report.counts).toMatchObject({ failed: 0, warnings: 2, skipped: 4 });
    expect(report.checks.every((c) => c.id && c.source?.url.startsWith('https://'))).toBe(true);
  });

  test('verdict lines of another run are not mixed in', () => {
    const other = collect([jest], path.join(dir, 'evidence'), { runId: 'rother', cluster: 'x', durationMs: 1 });
    expect(other.counts.warnings).toBe(0);
  });

  test('JUnit carries id, level, source and verdict; the summary lists warnings before the table', () => {
    const xml = junit(report);
    expect(xml).toContain('<property name="id" value="dns.pair.names-under-service-name"/><property name="level" value="expected"/>');
    expect(xml).toMatch(
      /<property name="verdict" value="warning"\/><\/properties><system-out>WARNING \(expected level, does not fail the run\): DNS not converged/,
    );
    const md = markdown(report);
    expect(md.indexOf('## Warnings')).toBeGreaterThan(0);
    expect(md.indexOf('## Warnings')).toBeLessThan(md.indexOf('| | Id | Level |'));
  });
});

describe('a cache in front of the replicas', () => {
  // The dns-cache suite's evidence of a real run on NodeLocal DNSCache (service-ip, 3 nodes).
  const nl = path.join(path.dirname(path.dirname(fileURLToPath(import.meta.url))), 'testdata', 'run-node-local');
  const r = collect([], path.join(nl, 'evidence'), {
    runId: 'rjaqadde',
    cluster: "https://172.30.0.1:6443 (DNS: a cache answers at the DNS Service's own address)",
    durationMs: 1,
  });

  test('its lag behind the replicas is listed per check in the summary and the HTML report', () => {
    expect(cacheLags(r)).toEqual([
      {
        check: 'dns.cache.ttl-honoured',
        ms: 28346,
        name: expect.stringMatching(
          /^DNS cache lag behind the replicas \(allowed: the TTL, 30 s\): cached-name\..* A$/,
        ) as unknown as string,
      },
    ]);
    expect(markdown(r)).toMatch(/## DNS cache lag behind the replicas[\s\S]*- `dns\.cache\.ttl-honoured` 28346 ms/);
    expect(htmlReport(r)).toMatch(/<table id="cache-lag">.*<code>dns\.cache\.ttl-honoured<\/code><\/td><td>28346 ms/);
  });

  test('one closing line for run, npm test and matrix: warnings on their own line, never counted as passed', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'svc-reports-'));
    writeReports(out, report);
    const back = readRunReport(path.join(out, 'results.json'));
    expect(back.counts).toEqual(report.counts);
    expect(report.counts.warnings).toBeGreaterThan(0);
    const lines = closingLines(back.counts, ['a.b']);
    expect(lines).toEqual([
      expect.stringMatching(/^svc-conformance: \d+ warning\(s\): expected-level checks that failed .*: a\.b$/),
      `svc-conformance: ${report.counts.passed} passed, ${report.counts.failed} failed, ${report.counts.skipped} skipped`,
    ]);
    // The test command's tally over the same run plus a Jest run of the tool's own tests.
    const t = tally({ jest: [path.join(dir, 'jest.json')], runs: [path.join(out, 'results.json')], matrices: [] });
    expect(t.lines.at(-1)).toBe(
      `svc-conformance: ${report.counts.passed + jest.numPassedTests} passed, ` +
        `${report.counts.failed + jest.numFailedTests} failed, ${report.counts.skipped + jest.numPendingTests} skipped`,
    );
    expect(t.lines.filter((l) => l.startsWith('test: warning (expected level) ')).length).toBe(report.counts.warnings);
    // A run that left no results is a failure, never a run of nothing.
    const missing = tally({ jest: [], runs: [path.join(out, 'nope.json')], matrices: [] });
    expect({ failed: missing.failed, last: missing.lines.at(-1) }).toEqual({
      failed: true,
      last: 'svc-conformance: 0 passed, 1 failed, 0 skipped',
    });
    fs.rmSync(out, { recursive: true, force: true });
  });
});

describe('IP families per check', () => {
  // The dns-records suite of a real run (privileged profile) on a dual-stack bundled cluster
  // with IPv6 first (helpers/testdata/run-dual-stack, see its README).
  const ds = path.join(path.dirname(path.dirname(fileURLToPath(import.meta.url))), 'testdata', 'run-dual-stack');
  const j = JSON.parse(fs.readFileSync(path.join(ds, 'jest.json'), 'utf8')) as JestJson;
  const r = collect([j], path.join(ds, 'evidence'), { runId: 'rep1wya0', cluster: 'https://[fd00:172:30::1]:6443', durationMs: 1 });
  const byId = new Map(r.checks.map((c) => [c.id, c]));

  test('each check lists the families its questions and connections were in', () => {
    // Both families for the dual-stack Services and every 'address' question; only the
    // primary family (IPv6) for the PTR of a single-stack Service and for SRV and TXT checks.
    expect(byId.get('dns.aaaa.dual-stack')!.families).toEqual(['IPv4', 'IPv6']);
    expect(byId.get('dns.case.service')!.families).toEqual(['IPv4', 'IPv6']);
    expect(byId.get('dns.ptr.clusterip')!.families).toEqual(['IPv6']);
    expect(byId.get('dns.ptr.statefulset-pod')!.families).toEqual(['IPv6']);
    expect(byId.get('dns.schema.version')!.families).toBeUndefined();
  });

  test('the summary, the HTML report and JUnit show them', () => {
    expect(markdown(r)).toMatch(/\| dns\.aaaa\.dual-stack \| required \| [^|]+ \| IPv4, IPv6 \|/);
    expect(htmlReport(r)).toContain('<th>Families</th>');
    expect(junit(r)).toContain('<property name="families" value="IPv4,IPv6"/>');
  });
});
