// The README's table of checks, generated from the registry (suites/data/registry.ts).
// `node helpers/tools/readme-checks.ts --write` rewrites it between the markers; a unit test
// (helpers/tools/readme-checks.test.ts) fails when the README and the registry differ.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REGISTRY } from '../../suites/data/registry.ts';
import { ROOT } from '../config/target.ts';

export const BEGIN = '<!-- checks:begin (generated from suites/data/registry.ts: node helpers/tools/readme-checks.ts --write) -->';
export const END = '<!-- checks:end -->';
export const README = path.join(ROOT, 'README.md');

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function checksTable(): string {
  const levels = { required: 0, expected: 0, informational: 0 };
  for (const c of REGISTRY) levels[c.level]++;
  const lines = [
    `${REGISTRY.length} checks: ${levels.required} required, ${levels.expected} expected, ${levels.informational} informational.`,
    '',
    '| Suite | Id | Level | Claim | Source |',
    '|---|---|---|---|---|',
    ...[...REGISTRY]
      .sort((a, b) => a.suite.localeCompare(b.suite) || a.id.localeCompare(b.id))
      .map(
        (c) =>
          `| ${c.suite} | \`${c.id}\` | ${c.level} | ${cell(c.claim)}${c.requires?.length ? ` (needs: ${c.requires.join(', ')})` : ''} ` +
          `| [${cell(c.source.title)}](${c.source.url}) |`,
      ),
  ];
  // Proxy checks against upstream e2e (test/e2e/network): what covers the same behaviour.
  const proxy = [...REGISTRY].filter((c) => c.e2e !== undefined).sort((a, b) => a.id.localeCompare(b.id));
  const only = proxy.filter((c) => c.e2e === null);
  lines.push(
    '',
    `Service proxy checks and the upstream e2e spec that covers the same behaviour ` +
      `(${proxy.length - only.length} of ${proxy.length}; ${only.length} only here):`,
    '',
    '| Id | Level | Upstream e2e spec |',
    '|---|---|---|',
    ...proxy.map((c) => `| \`${c.id}\` | ${c.level} | ${c.e2e ? cell(c.e2e) : '(none: only svc-conformance checks this)'} |`),
  );
  return lines.join('\n');
}

export function readmeSection(text: string): string | undefined {
  const i = text.indexOf(BEGIN);
  const j = text.indexOf(END);
  return i >= 0 && j > i ? text.slice(i + BEGIN.length, j).trim() : undefined;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1]) && process.argv.includes('--write')) {
  const text = fs.readFileSync(README, 'utf8');
  const i = text.indexOf(BEGIN);
  const j = text.indexOf(END);
  if (i < 0 || j < i) throw new Error(`README.md lacks the markers ${BEGIN} ... ${END}`);
  fs.writeFileSync(README, `${text.slice(0, i + BEGIN.length)}\n${checksTable()}\n${text.slice(j)}`);
  process.stdout.write('README.md: table of checks regenerated\n');
}
