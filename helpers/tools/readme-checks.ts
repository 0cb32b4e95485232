// The README's table of checks, generated from the registry (suites/data/registry.ts), and
// its known differences (suites/data/known-differences.ts).
// `node helpers/tools/readme-checks.ts --write` rewrites it between the markers; a unit test
// (helpers/tools/readme-checks.test.ts) fails when the README and the registry differ.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REGISTRY } from '../../suites/data/registry.ts';
import { KNOWN_DIFFERENCES } from '../../suites/data/known-differences.ts';
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

export const DIFF_BEGIN =
  '<!-- differences:begin (generated from suites/data/known-differences.ts: node helpers/tools/readme-checks.ts --write) -->';
export const DIFF_END = '<!-- differences:end -->';

/** The README's "Known differences": one row per implementation and difference. */
export function differencesTable(): string {
  if (KNOWN_DIFFERENCES.length === 0) return 'None recorded.';
  return [
    '| Implementation (column) | Checks | Verdict | Difference | Evidence | Upstream |',
    '|---|---|---|---|---|---|',
    ...KNOWN_DIFFERENCES.map(
      (d) =>
        `| ${cell(d.implementation)} (\`${d.column}\`) | ${d.checks.map((c) => `\`${c}\``).join(', ')} | ${d.verdict} ` +
        `| ${cell(d.difference)}${d.code ? ` (${cell(d.code)})` : ''} | ${cell(d.evidence)} ` +
        `| ${d.upstream ? `[${cell(d.upstream.title)}](${d.upstream.url})` : 'none found'} |`,
    ),
  ].join('\n');
}

/** The text between two markers, or undefined when the README lacks them. */
export function readmeSection(text: string, begin = BEGIN, end = END): string | undefined {
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  return i >= 0 && j > i ? text.slice(i + begin.length, j).trim() : undefined;
}

function replaceSection(text: string, begin: string, end: string, body: string): string {
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`README.md lacks the markers ${begin} ... ${end}`);
  return `${text.slice(0, i + begin.length)}\n${body}\n${text.slice(j)}`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1]) && process.argv.includes('--write')) {
  const text = fs.readFileSync(README, 'utf8');
  const out = replaceSection(replaceSection(text, BEGIN, END, checksTable()), DIFF_BEGIN, DIFF_END, differencesTable());
  fs.writeFileSync(README, out);
  process.stdout.write('README.md: table of checks and known differences regenerated\n');
}
