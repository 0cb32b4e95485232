// The runner as CI users meet it, against the bundled cluster: flags and exit codes,
// preflight failures as sentences (missing permissions among them), reports with the
// evidence, and cleanup after a run that was killed midway. Runs from scripts/test.sh after
// the conformance run, which went as the ServiceAccount manifests/rbac/ binds (least
// privilege: scripts/sa-kubeconfig.sh).
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import * as yaml from 'js-yaml';
import { ROOT } from '../cluster/apply.ts';
import { kube } from '../cluster/kube.ts';
import { childEnv, currentTarget, WITHOUT_THIS_RUN } from '../config/target.ts';
import { inChromium } from '../tools/chromium.ts';
import { CORDON_ANNOTATION } from '../cluster/nodes.ts';
import { RUN_LABEL } from '../cluster/namespace.ts';

const CLI = path.join(ROOT, 'bin', 'svc-conformance.cjs');
/** The CLI resolves its own run: nothing of this test run's target reaches it. */
const CLEAN = { ...WITHOUT_THIS_RUN };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'svc-runner-'));
const adminKubeconfig = (): string => currentTarget().kubeconfig!;

function cli(args: string[], env: Record<string, string> = {}, timeoutMs = 600_000): { code: number; out: string } {
  const r = spawnSync('node', [CLI, ...args], { cwd: tmp, encoding: 'utf8', timeout: timeoutMs, env: childEnv({ ...CLEAN, ...env }) });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** What a run that did not pass says about itself: each failing check's own message (from
 *  its results.json), or, when the run wrote no report, the end of its output. */
function explain(r: { code: number; out: string }, reportDir: string): string {
  if (r.code === 0) return '';
  const file = path.join(reportDir, 'results.json');
  if (!fs.existsSync(file)) return `exit ${r.code}, no ${file}; the run's output ends:\n${r.out.slice(-4000)}`;
  const report = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    checks: { suite: string; name: string; status: string; failure?: string }[];
    suiteErrors: { suite: string; message: string }[];
  };
  const failed = [
    ...report.checks.filter((c) => c.status === 'failed').map((c) => `FAILED ${c.suite}: ${c.name}\n${c.failure ?? ''}`),
    ...report.suiteErrors.map((e) => `SUITE ERROR ${e.suite}\n${e.message}`),
  ];
  return `exit ${r.code}; ${failed.length} failing check(s):\n\n${failed.join('\n\n') || `(none recorded; the run's output ends:\n${r.out.slice(-4000)})`}`;
}

async function runNamespaces(): Promise<string[]> {
  const list = await kube().core.listNamespace({ labelSelector: RUN_LABEL });
  return list.items.filter((n) => n.status?.phase !== 'Terminating').map((n) => n.metadata!.name!);
}

/** Waits until the run with this id has made at least n namespaces. */
async function newRunNamespaces(runId: string, n: number): Promise<string[]> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const fresh = (await runNamespaces()).filter((x) => x.includes(`-${runId}-`));
    if (fresh.length >= n) return fresh;
    if (Date.now() > deadline) throw new Error(`the run made only ${fresh.length} namespace(s) in 120 s: ${fresh.join(', ')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function cordoned(): Promise<string[]> {
  return (await kube().core.listNode()).items
    .filter((n) => n.spec?.unschedulable || n.metadata?.annotations?.[CORDON_ANNOTATION])
    .map((n) => n.metadata!.name!);
}

/** A kubeconfig for a ServiceAccount, from a TokenRequest. */
async function saKubeconfig(ns: string, sa: string): Promise<string> {
  const tr = await kube().core.createNamespacedServiceAccountToken({
    name: sa,
    namespace: ns,
    body: { spec: { expirationSeconds: 3600, audiences: [] } },
  });
  const cluster = kube().kc.getCurrentCluster()!;
  const ca = cluster.caData ?? fs.readFileSync(cluster.caFile!).toString('base64');
  const file = path.join(tmp, `${sa}.kubeconfig`);
  fs.writeFileSync(
    file,
    yaml.dump({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'sa',
      clusters: [{ name: 'c', cluster: { server: cluster.server, 'certificate-authority-data': ca } }],
      users: [{ name: sa, user: { token: tr.status!.token } }],
      contexts: [{ name: 'sa', context: { cluster: 'c', user: sa } }],
    }),
  );
  return file;
}

const objects = (): k8s.KubernetesObjectApi => k8s.KubernetesObjectApi.makeApiClient(kube().kc);
const rbac = yaml.loadAll(fs.readFileSync(path.join(ROOT, 'manifests', 'rbac', 'default.yaml'), 'utf8')) as k8s.KubernetesObject[];

beforeAll(async () => {
  // A previous run's svc-conformance namespace may still be terminating.
  for (let i = 0; i < 240; i++) {
    const ns = await kube()
      .core.readNamespace({ name: 'svc-conformance' })
      .catch(() => undefined);
    if (!ns || ns.status?.phase !== 'Terminating') break;
    await new Promise((r) => setTimeout(r, 250));
  }
  for (const o of rbac) await objects().patch(o, undefined, undefined, 'svc-conformance-test', true, k8s.PatchStrategy.ServerSideApply);
  await kube()
    .core.createNamespacedServiceAccount({ namespace: 'svc-conformance', body: { metadata: { name: 'no-rights' } } })
    .catch(() => undefined);
}, 60_000);

afterAll(async () => {
  for (const o of [...rbac].reverse())
    await objects()
      .delete(o)
      .catch(() => undefined);
  fs.rmSync(tmp, { recursive: true, force: true });
}, 60_000);

describe('svc-conformance CLI', () => {
  test('--help lists every flag with examples and exits 0; --list prints the checks and runs nothing', async () => {
    const help = cli(['--help']);
    expect(help.code).toBe(0);
    for (const flag of [
      '--kubeconfig',
      '--context',
      '--focus',
      '--skip',
      '--profile',
      '--probe-image',
      '--node-tools-image',
      '--image-registry',
      '--cluster-domain',
      '--convergence-bound',
      '--proxy-bound',
      '--timeout-scale',
      '--parallel',
      '--report-dir',
      '--keep-namespaces',
      '--list',
      '--local',
      '--strict',
      'Examples:',
      'cleanup',
    ]) {
      expect(help.out).toContain(flag);
    }
    const before = await runNamespaces();
    const list = cli(['run', '--list']);
    expect({
      code: list.code,
      hasChecks: list.out.split('\n').filter((l) => /^[a-z]+\.[a-z0-9.-]+ +(required|expected|informational) /.test(l)).length > 40,
    }).toEqual({ code: 0, hasChecks: true });
    expect(await runNamespaces()).toEqual(before);
  });

  test('usage errors exit 2 with what is wrong', () => {
    for (const [args, says] of [
      [['run', '--bogus'], /Unknown option '--bogus'/],
      [['run', '--profile', 'x'], /--profile must be default or privileged/],
      [['run', '--focus', '('], /--focus is not a valid regular expression/],
      [['run', '--parallel', '0'], /--parallel must be a positive number/],
      [['frobnicate'], /unknown command 'frobnicate'/],
    ] as const) {
      const r = cli([...args]);
      expect({ args, code: r.code, says: says.test(r.out) }).toEqual({ args, code: 2, says: true });
    }
  });

  test('an unreachable cluster exits 3 and says which server did not answer', () => {
    const f = path.join(tmp, 'unreachable.kubeconfig');
    fs.writeFileSync(
      f,
      'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: ' +
        '[{name: u, user: {token: x}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n',
    );
    const r = cli(['run', '--kubeconfig', f]);
    expect({ code: r.code, says: /the cluster at https:\/\/127\.0\.0\.1:1 does not answer/.test(r.out) }).toEqual({ code: 3, says: true });
  });

  test('missing permissions exit 3 with each one listed, before any namespace is made', async () => {
    const before = await runNamespaces();
    const r = cli(['run', '--kubeconfig', await saKubeconfig('svc-conformance', 'no-rights')]);
    expect({
      code: r.code,
      says: /lack \d+ permission\(s\)[\s\S]*create namespaces[\s\S]*manifests\/rbac\/default\.yaml/.test(r.out),
    }).toEqual({ code: 3, says: true });
    expect(await runNamespaces()).toEqual(before);
  });

  test('a probe image that cannot be pulled exits 3 naming the image and the flag', async () => {
    const r = cli(['run', '--kubeconfig', adminKubeconfig(), '--probe-image', 'registry.invalid/no-such/node:0']);
    expect({ code: r.code, says: /probe image registry\.invalid\/no-such\/node:0 cannot be pulled .*--probe-image/.test(r.out) }).toEqual({
      code: 3,
      says: true,
    });
    expect(await runNamespaces()).toEqual([]);
  }, 180_000);

  test('a failing check exits 1, and its JUnit failure shows the question, the expected and the actual answer', () => {
    const dir = path.join(tmp, 'fail-report');
    const r = cli([
      'run',
      '--kubeconfig',
      adminKubeconfig(),
      '--focus',
      'answers exactly its ClusterIP',
      '--cluster-domain',
      'wrong-domain.test',
      '--report-dir',
      dir,
    ]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^svc-conformance: \d+ passed, [1-9]\d* failed, \d+ skipped, \d+ not selected$/m);
    const junit = fs.readFileSync(path.join(dir, 'junit.xml'), 'utf8');
    expect(junit).toMatch(
      /<testcase classname="svc-conformance\.clusterip\.ClusterIP Service" name="web-api\.&lt;ns&gt;\.svc\.&lt;zone&gt; answers exactly its ClusterIP[^"]*\[dns\.clusterip\.a\]"[^>]*><properties><property name="id" value="dns\.clusterip\.a"\/><property name="level" value="required"\/>.*?<\/properties><failure/,
    );
    for (const part of ['question: web-api.', '.svc.wrong-domain.test. A @', 'rcode: ', 'expected: rcode NOERROR, A {10.96.'])
      expect(junit).toContain(part);
  }, 300_000);

  test('a failing expected-level check is a warning: exit 0, listed first in the summary; --strict makes it exit 1', () => {
    // An expected-level row (NODATA for AAAA) asked under a wrong cluster domain cannot
    // get its answer: it fails, and its level decides what that means for the run.
    const args = [
      'run',
      '--kubeconfig',
      adminKubeconfig(),
      '--focus',
      'dns\\.negative\\.aaaa-nodata',
      '--cluster-domain',
      'wrong-domain.test',
    ];
    const dir = path.join(tmp, 'warn-report');
    const r = cli([...args, '--report-dir', dir]);
    expect({
      code: r.code,
      says: /1 warning\(s\): .*dns\.negative\.aaaa-nodata/.test(r.out),
      closing: /^svc-conformance: 0 passed, 0 failed, \d+ skipped, \d+ not selected$/m.test(r.out),
    }).toEqual({ code: 0, says: true, closing: true });
    const summary = fs.readFileSync(path.join(dir, 'summary.md'), 'utf8');
    expect(summary.indexOf('## Warnings')).toBeGreaterThan(0);
    expect(summary.indexOf('## Warnings')).toBeLessThan(summary.indexOf('| | Id | Level |'));
    const results = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8')) as {
      checks: { id?: string; status: string; level?: string }[];
    };
    expect(results.checks.find((c) => c.id === 'dns.negative.aaaa-nodata')).toMatchObject({ status: 'warning', level: 'expected' });
    const strict = cli([...args, '--strict', '--report-dir', path.join(tmp, 'strict-report')]);
    expect({
      code: strict.code,
      closing: /^svc-conformance: 0 passed, 1 failed, \d+ skipped, \d+ not selected$/m.test(strict.out),
    }).toEqual({
      code: 1,
      closing: true,
    });
  }, 300_000);

  test('the HTML report renders in headless Chromium: the table of checks, the failure opened, no console errors', async () => {
    await inChromium(path.join(tmp, 'fail-report', 'report.html'), { width: 1280, height: 900 }, async (page, errors) => {
      const rows = await page.locator('#checks tbody tr').count();
      const failedRows = await page.locator('#checks tbody tr.failed').count();
      const failureOpen = await page.locator('details.failure[open] pre').first().isVisible();
      const failureText = await page.locator('details.failure pre').first().innerText();
      fs.mkdirSync(path.join(ROOT, 'reports'), { recursive: true });
      await page.screenshot({ path: path.join(ROOT, 'reports', 'report-screenshot.png'), fullPage: false });
      expect({
        rows: rows > 0,
        failedRows: failedRows > 0,
        failureOpen,
        hasQuestion: failureText.includes('question: web-api.'),
        errors,
      }).toEqual({ rows: true, failedRows: true, failureOpen: true, hasQuestion: true, errors: [] });
    });
  }, 120_000);

  test('a focused run passes with exit 0 and writes JUnit, JSON, Markdown and HTML reports with evidence', () => {
    const dir = path.join(tmp, 'report');
    const r = cli(
      [
        'run',
        '--kubeconfig',
        adminKubeconfig(),
        '--focus',
        '^(dns\\.headless\\.|service\\.headless\\.|dns\\.statefulset\\.reschedul)',
        '--report-dir',
        dir,
      ],
      { GITHUB_STEP_SUMMARY: path.join(tmp, 'step-summary.md') },
    );
    expect({ code: r.code, failures: explain(r, dir) }).toEqual({ code: 0, failures: '' });
    expect(r.out).toMatch(/^svc-conformance: \d+ passed, 0 failed, \d+ skipped, \d+ not selected$/m);
    const results = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8')) as {
      checks: { status: string; classname: string }[];
      evidence: { items: { kind: string }[] }[];
    };
    expect(results.checks.length).toBeGreaterThan(3);
    expect(results.checks.every((c) => c.classname.startsWith('svc-conformance.'))).toBe(true);
    expect(results.evidence.flatMap((e) => e.items).some((i) => i.kind === 'measurement')).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'report.html'), 'utf8')).toContain('<table id="checks">');
    expect(fs.readFileSync(path.join(tmp, 'step-summary.md'), 'utf8')).toContain('# svc-conformance run');
    fs.copyFileSync(path.join(dir, 'report.html'), path.join(tmp, 'pass.html'));
    // Progress: one numbered line per selected check, then the count.
    const progress = r.out.split('\n').filter((l) => /^\[\d+\/\d+\] [a-z]/.test(l));
    expect(progress.length).toBe(5);
    expect(progress.at(-1)).toMatch(/^\[5\/5\] [a-z0-9.-]+ pass \d+\.\d s$/);
    expect(r.out).toContain('svc-conformance: 5 of 5 check(s) finished');
    // The cluster's identity, as JUnit properties.
    const junit = fs.readFileSync(path.join(dir, 'junit.xml'), 'utf8');
    for (const p of ['kubernetes-version', 'proxy-mode', 'dns-image', 'ip-families'])
      expect(junit).toMatch(new RegExp(`<property name="cluster\\.${p}" value="[^"]+"/>`));
    // results DIR: the summary of the reports on disk, exit 0 (no failure).
    const summary = cli(['results', dir]);
    expect(summary.code).toBe(0);
    expect(summary.out).toMatch(/^svc-conformance: 5 passed, 0 failed, \d+ skipped, \d+ not selected$/m);
    expect(summary.out).toMatch(/^  Kubernetes v\d+\.\d+\.\d+, kube-proxy /m);
  }, 300_000);

  test('--list-images names every image the run pulls; --dry-run lists what it would create, cluster-scoped first; nothing is made', async () => {
    const before = await runNamespaces();
    const images = cli(['run', '--kubeconfig', adminKubeconfig(), '--list-images', '--profile', 'privileged']);
    expect(images.code).toBe(0);
    const t = currentTarget();
    expect(images.out).toContain(t.probeImage);
    expect(images.out).toMatch(/kube-proxy rules on the nodes/);
    const dry = cli(['run', '--kubeconfig', adminKubeconfig(), '--dry-run', '--focus', '^dns\\.headless\\.']);
    expect(dry.code).toBe(0);
    const lines = dry.out.split('\n');
    const cluster = lines.indexOf('Cluster-scoped:');
    const namespaced = lines.findIndex((l) => l.startsWith('Namespaced'));
    expect(cluster).toBeGreaterThan(0);
    expect(namespaced).toBeGreaterThan(cluster);
    expect(lines.slice(cluster, namespaced).some((l) => /^  Namespace svc-headless-/.test(l))).toBe(true);
    expect(lines.slice(namespaced).some((l) => /StatefulSet|Service/.test(l))).toBe(true);
    expect(await runNamespaces()).toEqual(before);
    // A selection of nothing is a usage error that says where the ids are.
    const none = cli(['run', '--kubeconfig', adminKubeconfig(), '--dry-run', '--focus', 'no such check']);
    expect({ code: none.code, says: /select no check .* svc-conformance list/.test(none.out) }).toEqual({ code: 2, says: true });
  }, 120_000);

  test('a run killed midway leaves namespaces that cleanup removes; nothing is left cordoned', async () => {
    const id = `killed-${Date.now().toString(36).slice(-4)}`;
    const child = spawn('node', [CLI, 'run', '--run-id', id, '--kubeconfig', adminKubeconfig(), '--report-dir', path.join(tmp, 'killed')], {
      cwd: tmp,
      detached: true,
      stdio: 'ignore',
      env: childEnv(CLEAN),
    });
    await newRunNamespaces(id, 2);
    process.kill(-child.pid!, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    expect((await runNamespaces()).length).toBeGreaterThan(0);
    const c = cli(['cleanup', '--kubeconfig', adminKubeconfig()]);
    expect({ code: c.code, says: /removed namespace\//.test(c.out) }).toEqual({ code: 0, says: true });
    expect(await runNamespaces()).toEqual([]);
    expect(await cordoned()).toEqual([]);
  }, 240_000);

  test('SIGTERM stops a run, removes its namespaces and exits 130', async () => {
    const id = `term-${Date.now().toString(36).slice(-4)}`;
    const child = spawn(
      'node',
      [CLI, 'run', '--run-id', id, '--kubeconfig', adminKubeconfig(), '--report-dir', path.join(tmp, 'terminated')],
      { cwd: tmp, stdio: 'ignore', env: childEnv(CLEAN) },
    );
    await newRunNamespaces(id, 2);
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(130);
    expect((await runNamespaces()).filter((x) => x.includes(`-${id}-`))).toEqual([]);
    expect(await cordoned()).toEqual([]);
  }, 240_000);
});
