// The README's table of checks is the registry's: regenerate it with
// `node helpers/tools/readme-checks.ts --write` after changing suites/data/registry.ts or
// suites/data/dns-table.ts.
import { describe, expect, test } from '@jest/globals';
import * as fs from 'node:fs';
import { checksTable, README, readmeSection } from './readme-checks.ts';

describe('README table of checks', () => {
  test('is exactly the one generated from the registry', () => {
    expect(readmeSection(fs.readFileSync(README, 'utf8'))).toBe(checksTable());
  });
});
