// Unit tests for the in-cluster parts: the RBAC printed by `manifest` is the one the
// preflight checks and manifests/rbac/ grants; the Job and the Sonobuoy plugin have the
// shapes their tools read; a run's reports survive the round trip through a Pod's log
// (fed with a real run's results).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, test } from '@jest/globals';
import yaml from 'js-yaml';
import { ROOT } from '../config/target.ts';
import { readRunReport } from '../results/reports.ts';
import { manifest, rbacObjects, reportFromLog, reportsBlock, summaryLines, writeDoneFile } from './ship.ts';

const docs = (text: string): Record<string, unknown>[] => yaml.loadAll(text).filter(Boolean) as Record<string, unknown>[];
const REAL_RUN = path.join(ROOT, 'helpers/testdata/matrix-run/reference');

describe('in-cluster runs', () => {
  test('the RBAC is manifests/rbac/*.yaml: one source, the permissions the preflight checks', () => {
    const files = docs(fs.readFileSync(path.join(ROOT, 'manifests/rbac/default.yaml'), 'utf8')).filter((d) => d.kind !== 'Namespace');
    // The same rules, in any order, with the same verbs in any order.
    const norm = (objs: Record<string, unknown>[]): unknown[] =>
      objs.map((o) =>
        o.rules
          ? {
              ...o,
              rules: (o.rules as { verbs: string[] }[])
                .map((r) => ({ ...r, verbs: [...r.verbs].sort() }))
                .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
            }
          : o,
      );
    expect(norm(rbacObjects('svc-conformance', false))).toEqual(norm(files));
    const privileged = docs(fs.readFileSync(path.join(ROOT, 'manifests/rbac/privileged.yaml'), 'utf8'));
    expect(rbacObjects('svc-conformance', true).slice(files.length)).toEqual(privileged);
  });

  test('manifest: Namespace, RBAC and a Job for the ServiceAccount; another namespace renames the cluster-wide objects', () => {
    const objs = docs(
      manifest({ namespace: 'conf', image: 'reg.example/svc:1', privileged: false, runFlags: ['--focus', 'dns'], sonobuoy: false }),
    );
    expect(objs.map((o) => o.kind)).toEqual(['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Job']);
    expect(objs.map((o) => (o.metadata as { name: string }).name)).toEqual([
      'conf',
      'svc-conformance',
      'svc-conformance-conf',
      'svc-conformance-conf',
      'svc-conformance',
    ]);
    const pod = (objs[4] as { spec: { template: { spec: Record<string, unknown> } } }).spec.template.spec;
    expect(pod.serviceAccountName).toBe('svc-conformance');
    const c = (pod.containers as Record<string, unknown>[])[0]!;
    expect(c.image).toBe('reg.example/svc:1');
    expect(c.args).toEqual(['run', '--in-cluster', '--quiet', '--focus', 'dns', '--report-dir', '/reports']);
  });

  test('manifest --sonobuoy: a Job-driver plugin with JUnit results and the done file', () => {
    const [p] = docs(manifest({ namespace: 'x', image: 'i', privileged: true, runFlags: [], sonobuoy: true })) as {
      'sonobuoy-config': Record<string, string>;
      spec: { args: string[] };
    }[];
    expect(p!['sonobuoy-config']).toMatchObject({ driver: 'Job', 'plugin-name': 'svc-conformance', 'result-format': 'junit' });
    expect(p!.spec.args).toEqual(expect.arrayContaining(['--in-cluster', '--done-file', '--profile', 'privileged']));
  });

  test("a finished run's reports come back from its log, whatever surrounds them", () => {
    const real = readRunReport(path.join(REAL_RUN, 'results.json'));
    const log = `svc-conformance: preflight passed\n[1/2] x pass 1.0 s\n${reportsBlock(REAL_RUN)}trailing line\n`;
    expect(reportFromLog(log, 'pod p')).toEqual(real);
    expect(() => reportFromLog('svc-conformance: preflight passed\n', 'pod p')).toThrow(/pod p: its log has no svc-conformance reports/);
    expect(summaryLines(real).at(-1)).toBe(
      `svc-conformance: ${real.counts.passed} passed, ${real.counts.failed} failed, ${real.counts.skipped} skipped, ${real.counts.notSelected} not selected`,
    );
  });

  test('the done file names the report directory; a run that wrote no JUnit gets one error that says why', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'svc-done-'));
    writeDoneFile(path.join(dir, 'done'), path.join(dir, 'reports'), 'the cluster at https://x does not answer');
    expect(fs.readFileSync(path.join(dir, 'done'), 'utf8')).toBe(path.join(dir, 'reports'));
    expect(fs.readFileSync(path.join(dir, 'reports', 'junit.xml'), 'utf8')).toMatch(
      /<error message="the run wrote no reports: the cluster at https:\/\/x does not answer/,
    );
    fs.rmSync(dir, { recursive: true });
  });
});
