// `svc-conformance matrix` on the bundled cluster (scripts/test.sh with SVC_LIFECYCLE=1; it
// brings clusters up and down, so it runs with the lifecycle suite): four columns, a
// reference cluster, the same cluster through its kubeconfig, one with a broken Corefile
// (cluster/examples/Corefile.wrong-answers) and one that cannot come up (a dnsImage that is
// no OCI archive). The broken column's difference must be the report's first line; the
// column that cannot come up is reported with its log and the matrix goes on; the HTML
// renders in headless Chromium. Runs as root.
import { afterAll, describe, expect, test } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from '../../cluster/apply.ts';
import { childEnv, DEFAULT_PROFILE_PATH, WITHOUT_THIS_RUN } from '../../config/target.ts';
import { inChromium } from '../../tools/chromium.ts';
import type { MatrixReport } from '../../matrix/matrix.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'svc-matrix-'));
const out = path.join(tmp, 'report');
const STATE = path.dirname(DEFAULT_PROFILE_PATH);
const CLEAN = { ...WITHOUT_THIS_RUN, SVC_NODES: '4', SVC_COREFILE: '' };
// Three checks: the ClusterIP A record (which the broken Corefile answers wrongly), the
// schema TXT and the server's version.bind (identity), by id.
const FOCUS = '^(dns\\.clusterip\\.a|dns\\.schema\\.version|dns\\.identity\\.version-bind)$';

let run: { code: number; out: string; ms: number } | undefined;
function matrix(): { code: number; out: string; ms: number; report: MatrixReport; md: string } {
  if (!run) {
    const file = path.join(tmp, 'matrix.yaml');
    fs.writeFileSync(
      file,
      [
        '# written by helpers/e2e/lifecycle/matrix.test.ts',
        'profile: default',
        `focus: '${FOCUS}'`,
        'columns:',
        '  - name: reference',
        '    cluster: { nodes: 1 }',
        '  - name: same-by-kubeconfig',
        `    kubeconfig: ${path.join(STATE, 'admin.conf')}`,
        '  - name: broken',
        `    cluster: { nodes: 1, corefile: ${path.join(ROOT, 'cluster', 'examples', 'Corefile.wrong-answers')} }`,
        '  - name: cannot-come-up',
        '    cluster: { nodes: 1, dnsImage: /etc/hostname }',
      ].join('\n') + '\n',
    );
    const start = Date.now();
    // SVC_NODES in the caller's environment must not reach a column: each is what the file says.
    const r = spawnSync('node', [path.join(ROOT, 'bin', 'svc-conformance.cjs'), 'matrix', file, '--report-dir', out], {
      cwd: tmp,
      encoding: 'utf8',
      timeout: 1_200_000,
      env: childEnv(CLEAN),
    });
    run = { code: r.status ?? -1, out: `${r.stdout}${r.stderr}`, ms: Date.now() - start };
  }
  const json = path.join(out, 'matrix.json');
  if (!fs.existsSync(json)) throw new Error(`the matrix wrote no ${json} (exit ${run.code}); its output ends:\n${run.out.slice(-4000)}`);
  return {
    ...run,
    report: JSON.parse(fs.readFileSync(json, 'utf8')) as MatrixReport,
    md: fs.readFileSync(path.join(out, 'matrix.md'), 'utf8'),
  };
}

afterAll(() => {
  spawnSync('bash', [path.join(ROOT, 'cluster', 'cluster.sh'), 'down'], { env: childEnv(CLEAN), encoding: 'utf8' });
  fs.rmSync(tmp, { recursive: true, force: true });
}, 120_000);

describe('svc-conformance matrix', () => {
  test('a deliberate difference (a broken Corefile in one column) is the first line of the report, with both answers', () => {
    const m = matrix();
    const ran = Object.fromEntries(m.report.columns.map((c) => [c.name, c.state]));
    expect({ ran, code: m.code }).toEqual({
      ran: { reference: 'ran', 'same-by-kubeconfig': 'ran', broken: 'ran', 'cannot-come-up': 'not-up' },
      code: 1,
    });
    expect(m.report.differences[0]).toBe('dns.clusterip.a');
    const first = m.md.split('\n')[0]!;
    expect(first).toMatch(
      /^# svc-conformance matrix: \d+ check\(s\) differ between the columns; first: dns\.clusterip\.a \(reference ✅ pass, same-by-kubeconfig ✅ pass, broken ❌ FAIL\)$/,
    );
    expect(m.out).toContain(first.replace(/^# /, ''));
    // Side by side: the reference's transcript (the ClusterIP) and the broken column's
    // failure (question, server, rcode, the wrong record, what was expected).
    const row = m.report.rows.find((r) => r.id === 'dns.clusterip.a')!;
    expect(row.cells.reference?.transcripts).toMatch(/Question:\tweb-api\..* A/);
    for (const part of ['question: web-api.', 'rcode: NOERROR', '10.96.255.254', 'expected: rcode NOERROR, A {10.96.'])
      expect(row.cells.broken?.failure).toContain(part);
    // The same cluster through its kubeconfig agrees with the bundled column on every check.
    expect(m.report.rows.filter((r) => r.cells.reference?.status !== r.cells['same-by-kubeconfig']?.status).map((r) => r.id)).toEqual([]);
  }, 1_300_000);

  test('a column whose cluster cannot come up is reported with its log tail, and the matrix goes on', () => {
    const m = matrix();
    const c = m.report.columns.find((x) => x.name === 'cannot-come-up')!;
    expect(c.message).toMatch(/^the bundled cluster did not come up: dnsImage \/etc\/hostname: no io\.containerd\.image\.name annotation/);
    expect(c.logTail).toContain('[cluster] error: dnsImage /etc/hostname');
    expect(m.md).toMatch(/## Columns that did not run\n\n### cannot-come-up: the bundled cluster did not come up: dnsImage/);
    expect(fs.readFileSync(path.join(out, 'matrix-junit.xml'), 'utf8')).toMatch(
      /<testcase classname="svc-conformance\.matrix\.cannot-come-up" name="the cluster comes up and the run starts"><error message="the bundled cluster did not come up: dnsImage/,
    );
    // Identity per column: Kubernetes version, the DNS image (the reference's own CoreDNS), schema.
    const ref = m.report.columns.find((x) => x.name === 'reference')!;
    expect(ref.identity).toMatchObject({
      kubernetes: expect.stringMatching(/^v1\.\d+\.\d+$/),
      nodes: 1,
      dnsImage: expect.stringMatching(/coredns/),
      schemaVersion: '1.1.0',
      dnsVersion: expect.stringMatching(/^not answered \(/),
    });
    expect(ref.runMs).toBeGreaterThan(0);
    // The matrix leaves no bundled cluster running.
    expect(fs.existsSync(DEFAULT_PROFILE_PATH)).toBe(false);
  }, 1_300_000);

  test("the HTML report renders in headless Chromium: differences first, the column that did not run, links to each column's report", async () => {
    matrix();
    await inChromium(path.join(out, 'matrix.html'), { width: 1400, height: 1000 }, async (page, errors) => {
      const firstH2 = await page.locator('h2').first().innerText();
      const firstDiff = await page.locator('section.diff').first().getAttribute('data-id');
      const headline = await page.locator('#headline').innerText();
      const notUp = await page.locator('details.notup[open] summary').first().innerText();
      const cells = await page.locator('#matrix tbody tr').count();
      const link = await page.locator('#matrix a[href$="/report.html"]').first().getAttribute('href');
      fs.mkdirSync(path.join(ROOT, 'reports'), { recursive: true });
      await page.screenshot({ path: path.join(ROOT, 'reports', 'matrix-screenshot.png'), fullPage: false });
      expect({
        firstH2,
        firstDiff,
        headline: headline.includes('first: dns.clusterip.a'),
        notUp: notUp.startsWith('cannot-come-up:'),
        rows: cells,
        linked: link !== null && fs.existsSync(path.join(out, link)),
        errors,
      }).toEqual({ firstH2: 'Differences', firstDiff: 'dns.clusterip.a', headline: true, notUp: true, rows: 3, linked: true, errors: [] });
    });
  }, 1_300_000);

  test('an interrupted matrix stops the running column, takes its cluster down, writes what it has and exits 130', async () => {
    const file = path.join(tmp, 'interrupt.yaml');
    fs.writeFileSync(file, 'columns:\n  - name: first\n    cluster: { nodes: 1 }\n  - name: never\n    cluster: { nodes: 1 }\n');
    const dir = path.join(tmp, 'interrupted');
    const child = spawn('node', [path.join(ROOT, 'bin', 'svc-conformance.cjs'), 'matrix', file, '--report-dir', dir], {
      cwd: tmp,
      env: childEnv(CLEAN),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (b: Buffer) => {
      output += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      output += b.toString();
    });
    const exited = new Promise<number>((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig ? 128 : -1))));
    // Interrupt once the first column's run has passed its preflight (its suites are starting).
    const log = path.join(dir, 'columns', 'first', 'column.log');
    const deadline = Date.now() + 300_000;
    while (!(fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes('preflight passed'))) {
      if (Date.now() > deadline)
        throw new Error(`the first column's run did not get past its preflight in 300 s; the matrix said:\n${output.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    child.kill('SIGINT');
    const code = await exited;
    const report = JSON.parse(fs.readFileSync(path.join(dir, 'matrix.json'), 'utf8')) as MatrixReport;
    expect({
      code,
      columns: report.columns.map((c) => [c.name, c.state]),
      clusterLeft: fs.existsSync(DEFAULT_PROFILE_PATH),
      says: /SIGINT: stopping the column that runs/.test(output),
    }).toEqual({ code: 130, columns: [['first', 'no-run']], clusterLeft: false, says: true });
  }, 600_000);
});
