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
import { applyKnownDifferences, implementationOf, type Component } from './conformance.ts';
import type { KnownDifference } from '../../suites/data/known-differences.ts';

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

describe('the HTML report', () => {
  const testdata = path.join(path.dirname(path.dirname(fileURLToPath(import.meta.url))), 'testdata');
  const components: Component[] = [
    { role: 'service-proxy', name: 'kube-proxy-iptables', version: 'v1.37.2', from: 'kube-proxy --version on the nodes' },
    { role: 'dns', name: 'coredns', version: 'v1.14.7', from: 'the image of the k8s-app=kube-dns Pods' },
  ];
  /** The element with this id, as text (the report's tables and lists do not nest in their own kind). */
  const byId = (page: string, tag: string, id: string): string => {
    const m = new RegExp(`<${tag} id="${id}"[\\s\\S]*?</${tag}>`).exec(page);
    if (!m) throw new Error(`no <${tag} id="${id}">`);
    return m[0];
  };
  const text = (s: string): string =>
    s
      .replace(/<[^>]+>/g, ' ')
      .replace(/\s+/g, ' ')
      .replace(/ ([.,;)])/g, '$1')
      .trim();

  // run-extra-names, with the implementation detected, one --known-differences entry (a
  // warning it explains, a pass it names: stale) and a --retries attempt file: one check
  // passed on its retry, a warning that failed on both.
  const evidence = fs.mkdtempSync(path.join(os.tmpdir(), 'svc-html-'));
  fs.cpSync(path.join(dir, 'evidence'), evidence, { recursive: true });
  fs.mkdirSync(path.join(evidence, 'attempts'));
  fs.writeFileSync(
    path.join(evidence, 'attempts', 'rfis2131.1.jsonl'),
    [
      { id: 'dns.pair.pod-names', attempt: 1, failure: 'DNS not converged within 10000 ms: mysql-0.mysql A' },
      { id: 'dns.pair.names-under-service-name', attempt: 1, failure: 'DNS not converged within 10000 ms (first attempt)' },
    ]
      .map((a) => JSON.stringify(a))
      .join('\n') + '\n',
  );
  const kd: KnownDifference = {
    implementation: 'coredns *',
    component: 'coredns',
    versions: '*',
    column: '',
    checks: ['dns.pair.names-under-service-name', 'dns.pair.pod-names'],
    verdict: 'warning',
    reason: 'extra names from a template',
    difference: '',
    evidence: '',
    upstream: { title: 'an issue', url: 'https://example.org/issues/1' },
    source: 'known.yaml',
  };
  const r = collect([jest], evidence, {
    runId: 'rfis2131',
    cluster: 'https://172.30.0.1:6443',
    durationMs: 1000,
    implementation: implementationOf({}, components),
    knownDifferences: [kd],
    selection: { retries: 1 },
  });
  const page = htmlReport(r);
  fs.rmSync(evidence, { recursive: true, force: true });

  test('the sections come in order, the summary counts flaky checks', () => {
    const marks = [
      'id="summary"',
      'id="implementation"',
      'id="profiles"',
      'id="areas"',
      '<h2>Failures</h2>',
      '<h2>Warnings</h2>',
      '<h2>Flaky</h2>',
      '<h2>Known differences</h2>',
      '<h2>Measurements</h2>',
      '<table id="checks">',
      '<h2>Evidence',
    ].map((m) => page.indexOf(m));
    expect(marks.every((m, i) => m > 0 && (i === 0 || m > marks[i - 1]!))).toBe(true);
    expect(text(byId(page, 'p', 'summary'))).toBe(
      'Run rfis2131 against https://172.30.0.1:6443: 8 passed, 0 failed, 2 warnings, 4 skipped (1 flaky: passed only on a retry) in 1.0 s.',
    );
    expect(text(byId(page, 'p', 'implementation'))).toMatch(
      /kube-proxy-iptables v1\.37\.2 \(detected from the cluster\)\. Components: Service proxy: kube-proxy-iptables v1\.37\.2; DNS: coredns v1\.14\.7\./,
    );
  });

  test('each profile: its result, its counts, and what did not pass with the reason', () => {
    const profiles = byId(page, 'table', 'profiles');
    expect(profiles.match(/<tr class="profile /g)).toHaveLength(r.profiles!.length);
    expect(text(profiles)).toMatch(/DNS \(the specification\) dns partial 8 0 2 0 0 2 not passed: 2 warnings/);
    expect(profiles).toMatch(/<span class="badge partial">partial<\/span>/);
    expect(profiles).toMatch(
      /<li class="warning"><b>warning<\/b> <code>dns\.pair\.names-under-service-name<\/code>: DNS not converged[^<]*<a class="badge known" href="https:\/\/example\.org\/issues\/1">/,
    );
    expect(text(profiles)).toMatch(/Rules on the nodes: kube-proxy iptables rules-iptables partial 0 0 0 4 0 4 not passed: 4 skipped/);
    expect(profiles).toContain('privileged profile not enabled');
  });

  test('counts by area; skips and checks not selected apart', () => {
    expect(text(byId(page, 'table', 'areas'))).toMatch(/ DNS 8 0 2 0 0 0 Rules on the nodes 0 0 0 4 0 0 All 8 0 2 4 0 0$/);
    // A real run focused on three checks (0.1 results.json: its not-selected skips are read apart).
    const focused = htmlReport(readRunReport(path.join(testdata, 'matrix-run', 'broken', 'results.json')));
    expect(text(byId(focused, 'p', 'summary'))).toMatch(/: 2 passed, 1 failed, 0 warnings, 5 skipped, 66 not selected in /);
    expect(text(byId(focused, 'table', 'areas'))).toMatch(/ DNS 2 1 0 1 0 43 Service proxy 0 0 0 0 0 12 .* All 2 1 0 5 0 66$/);
    const notSelected = byId(focused, 'details', 'not-selected');
    expect(notSelected).toContain('<summary>66 checks not selected in this run</summary>');
    expect(notSelected.match(/<li>/g)).toHaveLength(66);
    const checks = byId(focused, 'table', 'checks');
    expect(checks).not.toContain('not selected in this run</small>');
    expect(checks.match(/<tr class="(passed|failed|skipped|warning|informational)/g)).toHaveLength(8);
  });

  test('warnings and failures show their known difference and every attempt; flaky checks have their own section', () => {
    expect(page).toMatch(
      /<details open class="warning"><summary>dns\.pair\.names-under-service-name: [^<]*\(expected level\) <span class="badge known">known difference<\/span><\/summary><p class="known"><b>Known difference:<\/b> extra names from a template \(<a href="https:\/\/example\.org\/issues\/1">/,
    );
    expect(page).toMatch(/<summary>attempt 1: DNS not converged within 10000 ms \(first attempt\)<\/summary>/);
    const flaky = byId(page, 'div', 'flaky');
    expect(flaky).toMatch(
      /<summary>dns\.pair\.pod-names: [^<]*<\/summary>.*attempt 1: DNS not converged within 10000 ms: mysql-0\.mysql A/,
    );
    expect(flaky.match(/<details /g)).toHaveLength(1);
    expect(page).toContain('<tr class="passed flaky"><td>pass (flaky)</td><td><code>dns.pair.pod-names</code>');
    // No flaky section without a flaky check.
    expect(htmlReport(report)).not.toContain('<h2>Flaky</h2>');
    // A real failure explained by a known difference (kube-proxy ipvs, helpers/testdata/matrix-run/ipvs).
    const ipvs = readRunReport(path.join(testdata, 'matrix-run', 'ipvs', 'results.json'));
    const ic: Component[] = [{ role: 'service-proxy', name: 'kube-proxy-ipvs', version: 'v1.37.2', from: 'x' }];
    ipvs.knownDifferences = applyKnownDifferences(ipvs.checks, ic);
    const ipvsPage = htmlReport(ipvs);
    expect(ipvsPage).toMatch(
      /<details open class="failure"><summary>proxy-affinity: [^<]*\[proxy\.affinity\.timeout\] <span class="badge known">known difference<\/span><\/summary><p class="known"><b>Known difference:<\/b> ClientIP affinity outlasts timeoutSeconds[^<]*\(<a href="https:\/\/github\.com\/kubernetes\/kubernetes\/issues\/89358">/,
    );
    expect(text(byId(ipvsPage, 'table', 'known-differences'))).toMatch(
      /proxy\.affinity\.timeout kube-proxy-ipvs v1\.37\.2 ClientIP affinity/,
    );
  });

  test('known differences: those that explain a verdict and the stale ones', () => {
    const known = text(byId(page, 'table', 'known-differences'));
    expect(known).toMatch(
      /dns\.pair\.names-under-service-name coredns v1\.14\.7 extra names from a template https:\/\/example\.org\/issues\/1 known\.yaml/,
    );
    expect(known).toMatch(/dns\.pair\.pod-names coredns v1\.14\.7 extra names from a template passed here: fixed upstream\?/);
    const none = collect([jest], path.join(dir, 'evidence'), {
      runId: 'rfis2131',
      cluster: 'x',
      durationMs: 1,
      implementation: implementationOf({}, components),
    });
    expect(htmlReport(none)).toContain('<h2>Known differences</h2><p id="known-differences">None.</p>');
    // A report without an implementation (0.1) has no profiles and no known differences.
    expect(htmlReport(report)).not.toMatch(/id="(profiles|implementation|known-differences)"/);
  });

  test('the checks: one table, a body per suite with its counts', () => {
    const checks = byId(page, 'table', 'checks');
    expect(page.match(/id="checks"/g)).toHaveLength(1);
    expect(
      [...checks.matchAll(/<tbody class="suite"><tr class="suite-head"><th colspan="7">([^<]+) <small>([^<]+)<\/small>/g)].map((m) => [
        m[1],
        m[2],
      ]),
    ).toEqual([
      ['proxy-rules', '4 skipped'],
      ['statefulset', '3 passed, 1 warning'],
      ['service-pair', '5 passed (1 flaky), 1 warning'],
    ]);
    expect(checks).toMatch(
      /<tr class="skipped"><td>skip<\/td><td><code>rules\.kube-proxy\.mode<\/code>.*<small>privileged profile not enabled/,
    );
    expect(page).not.toContain('id="not-selected"');
  });

  test('measurements: one chart per kind, first looks drawn hollow, the bound marked, the cache lag table kept', () => {
    const nl = path.join(testdata, 'run-node-local');
    const cache = htmlReport(collect([], path.join(nl, 'evidence'), { runId: 'rjaqadde', cluster: 'x', durationMs: 1 }));
    const labels = [...cache.matchAll(/<svg role="img" aria-label="([^"]+)"/g)].map((m) => m[1]);
    expect(labels).toEqual([
      'DNS convergence times: 2 right at the first look (at most): median 1.47 s, max 1.56 s',
      'DNS cache lag behind the replicas: 1 saw the change (measured): median 28.3 s, max 28.3 s; 1 right at the first look (at most): median 1.78 s, max 1.78 s; allowed 30 s',
    ]);
    expect(cache.match(/<circle class="dot first-look"[^>]*fill="#fff"/g)).toHaveLength(3);
    expect(cache.match(/<circle class="dot converged"/g)).toHaveLength(1);
    expect(cache).toMatch(/<line class="bound"/);
    expect(cache).toMatch(
      /<title>28\.3 s · dns\.cache\.ttl-honoured: DNS cache lag behind the replicas \(allowed: the TTL, 30 s\): cached-name\./,
    );
    expect(cache).toContain('<table id="cache-lag">');
    const ds = path.join(testdata, 'run-dual-stack');
    const dual = htmlReport(
      collect([JSON.parse(fs.readFileSync(path.join(ds, 'jest.json'), 'utf8')) as JestJson], path.join(ds, 'evidence'), {
        runId: 'rep1wya0',
        cluster: 'x',
        durationMs: 1,
      }),
    );
    expect([...dual.matchAll(/<svg role="img" aria-label="([^:"]+):/g)].map((m) => m[1])).toEqual([
      'DNS convergence times',
      'Service proxy convergence times',
      'EndpointSlices times',
    ]);
    // 9 ms to 4.5 s: a logarithmic axis; the node count of a proxy wait is in its dot's title.
    expect(dual).toContain('time (logarithmic scale)');
    expect(dual).toMatch(
      /<title>3\.59 s · dns\.aaaa\.dual-stack: Service proxy converged: \[fd00:10:96::daf9\]:80 from 2 node\(s\)<\/title>/,
    );
    expect(page).toContain('<p>No convergence measurements in this run.</p>');
  });

  test('self-contained: no script, no external resource, links only to sources and known differences', () => {
    for (const p of [page, htmlReport(readRunReport(path.join(testdata, 'matrix-run', 'ipvs', 'results.json')))]) {
      expect(p).not.toMatch(/<script|<link|<img|<iframe|\ssrc=|url\(|@import/i);
      const hrefs = new Set([...p.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&')));
      const allowed = new Set(
        [...r.checks, ...readRunReport(path.join(testdata, 'matrix-run', 'ipvs', 'results.json')).checks].map((c) => c.source?.url),
      );
      allowed.add('https://example.org/issues/1');
      expect([...hrefs].filter((h) => !allowed.has(h))).toEqual([]);
    }
  });
});
