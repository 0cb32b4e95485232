// The registry and the suite files agree on names: every suite a check is registered for
// is a file suites/<suite>.test.ts, and every suite file has registered checks. That each
// suite declares exactly its own checks is enforced where they are declared
// (defineSuite in helpers/harness/suite.ts), in every run.
import { describe, expect, test } from '@jest/globals';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DNS_ROWS } from './dns-table.ts';
import { REGISTRY } from './registry.ts';

const suites = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('check registry', () => {
  test('names only suites that exist, and every suite has checks', () => {
    const files = fs
      .readdirSync(suites)
      .filter((f) => f.endsWith('.test.ts'))
      .map((f) => f.replace(/\.test\.ts$/, ''))
      .sort();
    expect([...new Set(REGISTRY.map((c) => c.suite))].sort()).toEqual(files);
  });

  test('every DNS table row is a registered check of its suite', () => {
    const suiteOf = new Map(REGISTRY.map((c) => [c.id, c.suite]));
    expect(DNS_ROWS.filter((r) => suiteOf.get(r.id) !== r.suite).map((r) => r.id)).toEqual([]);
  });
});
