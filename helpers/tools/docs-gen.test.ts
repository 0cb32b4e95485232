// The generated sections of the docs are the data's: the table of checks in docs/checks.md
// (the checks of suites/*.test.ts and suites/data/dns-table.ts), the README's "Known differences" and
// docs/known-differences.md (suites/data/known-differences.ts), the table of variables in
// docs/configuration.md (helpers/config/variables.ts, cluster/env-keys.json). Regenerate them with
// `node helpers/tools/docs-gen.ts --write` after changing that data.
import { describe, expect, test } from '@jest/globals';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readSection, render, resultsSchema, SECTIONS, shortUpstream, WHOLE_FILES } from './docs-gen.ts';
import { KNOWN_DIFFERENCES } from '../../suites/data/known-differences.ts';
import { REGISTRY } from '../../suites/registry.ts';
import { ROOT } from '../config/target.ts';

describe('generated sections of the docs', () => {
  test('cover the checks, the known differences, the variables, the profiles and kept reports, and the results schema', () => {
    expect(SECTIONS.map((s) => s.file).sort()).toEqual([
      'README.md',
      'docs/checks.md',
      'docs/configuration.md',
      'docs/conformance.md',
      'docs/conformance.md',
      'docs/known-differences.md',
    ]);
    expect(WHOLE_FILES.map((w) => w.file)).toEqual(['docs/results.schema.json']);
  });

  test('the published results schema is the one the readers check', () => {
    expect(fs.readFileSync(path.join(ROOT, 'docs', 'results.schema.json'), 'utf8')).toBe(resultsSchema());
  });

  test.each(SECTIONS.map((s) => [s.file, s] as const))('%s is exactly what the data generates', (file, s) => {
    const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
    expect(readSection(text, s)).toBe(s.generate());
  });

  test('regenerating changes nothing', () => {
    expect(
      render()
        .filter((f) => f.generated !== f.text)
        .map((f) => f.file),
    ).toEqual([]);
  });

  test('the README keeps a "Known differences" section holding the generated one', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const s = SECTIONS.find((x) => x.file === 'README.md')!;
    const heading = readme.indexOf('\n## Known differences\n');
    expect(heading).toBeGreaterThan(0);
    const next = readme.indexOf('\n## ', heading + 1);
    const at = readme.indexOf(s.begin);
    expect(at > heading && (next < 0 || at < next)).toBe(true);
  });

  test('a stale section is found', () => {
    const s = SECTIONS[0]!;
    const stale = `${s.begin}\n| an old row |\n${s.end}\n`;
    expect(readSection(stale, s)).not.toBe(s.generate());
    expect(readSection('no markers here', s)).toBeUndefined();
  });
});

describe('known differences', () => {
  test('name only registered checks, each with its evidence', () => {
    const ids = new Set(REGISTRY.map((c) => c.id));
    for (const d of KNOWN_DIFFERENCES) {
      expect({ column: d.column, unknown: d.checks.filter((c) => !ids.has(c)) }).toEqual({ column: d.column, unknown: [] });
      expect(d.evidence.length).toBeGreaterThan(20);
    }
  });

  test("an upstream link's short label ends at its first issue reference", () => {
    expect(shortUpstream('kubernetes/kubernetes#89358: kube-proxy ipvs session affinity')).toBe('kubernetes/kubernetes#89358');
    expect(shortUpstream('related: cloudnativelabs/kube-router#827, the same route error')).toBe(
      'related: cloudnativelabs/kube-router#827',
    );
    expect(shortUpstream('a page without an issue number')).toBe('a page without an issue number');
  });
});
