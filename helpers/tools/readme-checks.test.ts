// The README's table of checks is the registry's: regenerate it with
// `node helpers/tools/readme-checks.ts --write` after changing suites/data/registry.ts or
// suites/data/dns-table.ts.
import { describe, expect, test } from '@jest/globals';
import * as fs from 'node:fs';
import { checksTable, differencesTable, DIFF_BEGIN, DIFF_END, README, readmeSection } from './readme-checks.ts';
import { KNOWN_DIFFERENCES } from '../../suites/data/known-differences.ts';
import { REGISTRY } from '../../suites/data/registry.ts';

describe('README table of checks', () => {
  test('is exactly the one generated from the registry', () => {
    expect(readmeSection(fs.readFileSync(README, 'utf8'))).toBe(checksTable());
  });
});

describe('README known differences', () => {
  test('are exactly the ones generated from suites/data/known-differences.ts', () => {
    expect(readmeSection(fs.readFileSync(README, 'utf8'), DIFF_BEGIN, DIFF_END)).toBe(differencesTable());
  });
  test('name only registered checks, each with its evidence', () => {
    const ids = new Set(REGISTRY.map((c) => c.id));
    for (const d of KNOWN_DIFFERENCES) {
      expect({ column: d.column, unknown: d.checks.filter((c) => !ids.has(c)) }).toEqual({ column: d.column, unknown: [] });
      expect(d.evidence.length).toBeGreaterThan(20);
    }
  });
});
