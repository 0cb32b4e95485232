// The registry and the suites agree: every registered check is run by exactly one
// check() call in its suite file (or, for a DNS table row, by that suite's dnsRows), and
// every check() call names a registered id.
import { describe, expect, test } from '@jest/globals';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DNS_ROWS } from './dns-table.ts';
import { REGISTRY } from './registry.ts';

const suites = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = (suite: string): string => fs.readFileSync(path.join(suites, `${suite}.test.ts`), 'utf8');

describe('check registry', () => {
  test('every registered check is run by its suite, once', () => {
    const rows = new Set(DNS_ROWS.map((r) => r.id));
    const problems = REGISTRY.flatMap((c) => {
      const text = source(c.suite);
      if (rows.has(c.id))
        return text.includes(`dnsRows(ctx, '${c.suite}'`) ? [] : [`${c.id}: suites/${c.suite}.test.ts does not run its DNS rows`];
      const n = text.split(`check('${c.id}'`).length - 1;
      return n === 1 ? [] : [`${c.id}: ${n} check() calls in suites/${c.suite}.test.ts`];
    });
    expect(problems).toEqual([]);
  });

  test('every check() in the suites names a registered id of that suite', () => {
    const ids = new Map(REGISTRY.map((c) => [c.id, c.suite]));
    const problems: string[] = [];
    for (const f of fs.readdirSync(suites).filter((x) => x.endsWith('.test.ts'))) {
      for (const m of fs.readFileSync(path.join(suites, f), 'utf8').matchAll(/\bcheck\('([^']+)'/g)) {
        if (ids.get(m[1]!) !== f.replace(/\.test\.ts$/, ''))
          problems.push(`${f}: check('${m[1]}') is not a registered check of this suite`);
      }
    }
    expect(problems).toEqual([]);
  });
});
