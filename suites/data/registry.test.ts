// The registry (suites/registry.ts) is collected from the suite files: every suite file
// defines its suite under its own name and has checks, every suite has its place in the
// order, every DNS table row is declared by its suite, and collecting runs nothing: no test
// is declared to Jest and no run config is read (`svc-conformance list` imports the suites
// before any run config exists).
import { describe, expect, test } from '@jest/globals';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DNS_ROWS } from './dns-table.ts';
import { REGISTRY, SUITE_ORDER, SUITES } from '../registry.ts';
import { resolveTarget, useTarget } from '../../helpers/config/target.ts';

const suites = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const files = fs
  .readdirSync(suites)
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => f.replace(/\.test\.ts$/, ''))
  .sort();

describe('check registry', () => {
  test('holds every suite file, each with checks, and orders every suite', () => {
    expect([...SUITES].sort()).toEqual(files);
    expect([...new Set(REGISTRY.map((c) => c.suite))].sort()).toEqual(files);
    expect([...SUITE_ORDER].sort()).toEqual(files);
  });

  test('every DNS table row is a check of its suite', () => {
    const suiteOf = new Map(REGISTRY.map((c) => [c.id, c.suite]));
    expect(DNS_ROWS.filter((r) => suiteOf.get(r.id) !== r.suite).map((r) => r.id)).toEqual([]);
  });

  test('lists suite by suite, then the DNS table in its order', () => {
    const rows = new Set(DNS_ROWS.map((r) => r.id));
    const own = REGISTRY.filter((c) => !rows.has(c.id));
    expect(REGISTRY.slice(own.length).map((c) => c.id)).toEqual(DNS_ROWS.map((r) => r.id));
    const order = own.map((c) => SUITE_ORDER.indexOf(c.suite));
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  test('collecting the suites reads no run config', () => {
    // (Nor does it declare their checks to Jest: they would run here, and fail, in this file.)
    const kubeconfig = path.join(os.tmpdir(), `svc-registry-test-${process.pid}.kubeconfig`);
    fs.writeFileSync(kubeconfig, '');
    try {
      expect(() => useTarget(resolveTarget({ kubeconfig, profilePath: '/nonexistent', runId: 'registrytest' }))).not.toThrow();
    } finally {
      fs.rmSync(kubeconfig, { force: true });
    }
  });

  test('no suite file imports the registry (it imports them)', () => {
    const importers = files.filter((f) =>
      /from '\.\/registry\.ts'|import\('\.\/registry\.ts'\)/.test(fs.readFileSync(path.join(suites, `${f}.test.ts`), 'utf8')),
    );
    expect(importers).toEqual([]);
  });
});
