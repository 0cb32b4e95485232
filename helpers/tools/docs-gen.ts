// The generated parts of the documentation, each between two HTML comment markers:
//   - docs/checks.md: the table of checks, from the registry (suites/registry.ts: the checks
//     the suite files declare);
//   - README.md, "Known differences": a compact table of the known differences
//     (suites/data/known-differences.ts), one row per implementation and difference;
//   - docs/known-differences.md: the same differences in full, with evidence and code.
//   - docs/configuration.md: every SVC_* variable (helpers/config/variables.ts), with its flag,
//     default and what reads it.
// `node helpers/tools/docs-gen.ts --write` rewrites every section; without --write it only
// says which files are stale (exit 1). A unit test (helpers/tools/docs-gen.test.ts) fails
// while any section differs from what this generates.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REGISTRY } from '../../suites/registry.ts';
import { KNOWN_DIFFERENCES, type KnownDifference } from '../../suites/data/known-differences.ts';
import { ROOT } from '../config/target.ts';
import { allVariables, type Part, type Variable } from '../config/variables.ts';
import { PROFILES, inProfile } from '../../suites/data/profiles.ts';
import { readConformanceReport, RUN_REPORT, type ConformanceReport } from '../results/reports.ts';
import { jsonSchemaOf } from '../../probe/schema.ts';

const TOOL = 'node helpers/tools/docs-gen.ts --write';

/** One generated section: the file (relative to the root), its markers and its generator. */
export interface DocSection {
  file: string;
  begin: string;
  end: string;
  generate: () => string;
}

const begin = (name: string, from: string): string => `<!-- ${name}:begin (generated from ${from}: ${TOOL}) -->`;
const end = (name: string): string => `<!-- ${name}:end -->`;

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** docs/checks.md, "What is checked": every check of the registry, then the proxy checks against upstream e2e. */
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

const checkIds = (d: KnownDifference): string => d.checks.map((c) => `\`${c}\``).join(', ');

/** docs/known-differences.md: one row per implementation and difference, with the evidence and the code. */
export function differencesTable(): string {
  if (KNOWN_DIFFERENCES.length === 0) return 'None recorded.';
  return [
    '| Implementation (column) | Checks | Verdict | Difference | Evidence | Upstream |',
    '|---|---|---|---|---|---|',
    ...KNOWN_DIFFERENCES.map(
      (d) =>
        `| ${cell(d.implementation)} (\`${d.column}\`) | ${checkIds(d)} | ${d.verdict} ` +
        `| ${cell(d.difference)}${d.code ? ` (${cell(d.code)})` : ''} | ${cell(d.evidence)} ` +
        `| ${d.upstream ? `[${cell(d.upstream.title)}](${d.upstream.url})` : 'none found'} |`,
    ),
  ].join('\n');
}

/** A difference in short: its first clause, up to the first colon (the rest says how). */
export const shortDifference = (d: KnownDifference): string => d.difference.split(': ')[0]!;

/** An upstream link's label in short: its title up to the first owner/repo#number in it. */
export function shortUpstream(title: string): string {
  const m = /[\w.-]+\/[\w.-]+#\d+/.exec(title);
  return m ? title.slice(0, m.index + m[0].length) : title;
}

/** README.md, "Known differences": the compact table; the evidence is in docs/known-differences.md. */
export function differencesSummary(): string {
  if (KNOWN_DIFFERENCES.length === 0) return 'None recorded.';
  const columns = new Set(KNOWN_DIFFERENCES.map((d) => d.column));
  return [
    `${KNOWN_DIFFERENCES.length} known differences in ${columns.size} implementations ` +
      `(matrix columns ${[...columns].map((c) => `\`${c}\``).join(', ')}):`,
    '',
    '| Implementation (column) | Component, versions | Checks | Verdict | Difference | Upstream |',
    '|---|---|---|---|---|---|',
    ...KNOWN_DIFFERENCES.map(
      (d) =>
        `| ${cell(d.implementation)} (\`${d.column}\`) | \`${d.component}\` ${cell(d.versions)} | ${checkIds(d)} | ${d.verdict} | ${cell(d.reason)} ` +
        `| ${d.upstream ? `[${cell(shortUpstream(d.upstream.title))}](${d.upstream.url})` : 'none found'} |`,
    ),
  ].join('\n');
}

/** Markdown table cell text: `|` escaped everywhere, `<` and `>` outside code spans. */
const mdCell = (s: string): string =>
  s
    .split('`')
    .map((part, i) => (i % 2 ? part.replace(/\|/g, '\\|') : cell(part)))
    .join('`');

/** What reads a variable, in the table's order: its label in the table, and in the count. */
const PARTS: { part: Part; label: string; count: string }[] = [
  { part: 'run', label: 'run', count: 'a run' },
  { part: 'cluster', label: 'bundled cluster', count: 'the bundled cluster' },
  { part: 'test', label: 'npm test', count: 'npm test' },
  { part: 'scripts', label: 'scripts', count: 'scripts' },
  { part: 'self', label: "the tool's own tests", count: "the tool's own tests" },
  { part: 'probe', label: 'probe Pods', count: 'the probe' },
  { part: 'parameter', label: "bundled cluster's add-ons", count: "the bundled cluster's add-on scripts as parameters, not settings" },
];
const partIndex = (p: Part): number => PARTS.findIndex((x) => x.part === p);
const files = (list: readonly string[]): string => list.map((f) => `\`${f}\``).join(', ');

/** The "Read by" cell: the part, and the files that read it where the part does not say. */
function readBy(v: Variable): string {
  const label = PARTS[partIndex(v.part)]!.label;
  const head = v.input ? 'run input' : v.clusterKey ? `bundled cluster (\`${v.clusterKey}\` in \`cluster/cluster.json\`)` : label;
  const readers = v.readIn.filter((f) => !(v.clusterKey && f === 'cluster/lib.sh'));
  const also = v.parameterOf ? `; also set by \`cluster/addons-apply.sh\` for ${files(v.parameterOf)}` : '';
  return `${head}${readers.length ? `: ${files(readers)}` : ''}${also}`;
}

/** docs/configuration.md, "Variables": every SVC_* variable, grouped by what reads it. */
export function variablesTable(): string {
  const vars = allVariables(ROOT).sort((a, b) => partIndex(a.part) - partIndex(b.part) || a.name.localeCompare(b.name));
  const counts = PARTS.map((p) => ({ ...p, n: vars.filter((v) => v.part === p.part).length })).filter((p) => p.n > 0);
  return [
    `${vars.length} variables, read by ${counts.map((p) => `${p.count} (${p.n})`).join(', ')}.`,
    '',
    '| Variable | Flag | Default | Read by | What it does |',
    '|---|---|---|---|---|',
    ...vars.map(
      (v) => `| \`${v.name}\` | ${v.flag ? `\`${v.flag}\`` : '—'} | ${mdCell(v.default)} | ${mdCell(readBy(v))} | ${mdCell(v.what)} |`,
    ),
  ].join('\n');
}

/** docs/conformance.md, "Profiles": each profile, what it holds, how many checks. */
export function profilesTable(): string {
  return [
    '| Profile | Title | Applies to | Checks | What it holds |',
    '|---|---|---|---|---|',
    ...PROFILES.map(
      (p) =>
        `| \`${p.name}\` | ${cell(p.title)} | ${p.proxies ? p.proxies.map((x) => `\`${x}\``).join(', ') : 'every cluster'} ` +
        `| ${REGISTRY.filter((c) => inProfile(p, c.id, c.level)).length} | ${cell(p.description)} |`,
    ),
  ].join('\n');
}

/** The conformance reports kept in the repository: conformance/reports/<implementation>/<version>.yaml. */
export function conformanceReports(root = ROOT): { file: string; report: ConformanceReport }[] {
  const dir = path.join(root, 'conformance', 'reports');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .sort()
    .flatMap((impl) =>
      fs.statSync(path.join(dir, impl)).isDirectory()
        ? fs
            .readdirSync(path.join(dir, impl))
            .filter((f) => f.endsWith('.yaml'))
            .sort()
            .map((f) => {
              const file = path.join('conformance', 'reports', impl, f);
              return { file, report: readConformanceReport(path.join(root, file)) };
            })
        : [],
    );
}

/** docs/conformance.md, "Implementations": implementation × profile, from the kept reports. */
export function implementationsTable(root = ROOT): string {
  const reports = conformanceReports(root);
  if (!reports.length) return 'No reports kept yet.';
  const mark = { success: '✅ success', partial: '🟡 partial', failure: '❌ failure' } as const;
  const names = PROFILES.map((p) => p.name);
  return [
    `| Implementation | Version | ${names.map((n) => `\`${n}\``).join(' | ')} | Known differences | Report |`,
    `|---|---|${names.map(() => '---').join('|')}|---|---|`,
    ...reports.map(({ file, report: r }) => {
      const cells = names.map((n) => {
        const p = r.profiles.find((x) => x.name === n);
        return p
          ? `${mark[p.result]}${p.result === 'success' ? '' : ` (${p.counts.failed}F ${p.counts.warnings}W ${p.counts.skipped}S${p.counts.notSelected ? ` ${p.counts.notSelected}N` : ''})`}`
          : '—';
      });
      const known = r.knownDifferences.matched.map((k) => `[\`${k.check}\`](${k.url})`).join(', ') || 'none';
      return `| ${cell(r.implementation.name)} | ${cell(r.implementation.version)} | ${cells.join(' | ')} | ${known} | [${path.basename(file)}](../${file}) |`;
    }),
    '',
    'F failed, W warnings, S skipped (a requirement the cluster lacks; each report lists the ids and reasons), N not selected by the run. — : the profile does not apply.',
  ].join('\n');
}

/** docs/results.schema.json: the JSON Schema of a run's results.json, from the schema the readers check. */
export function resultsSchema(): string {
  return `${JSON.stringify(
    {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      title: 'svc-conformance run results (results.json), apiVersion svc-conformance/v1',
      ...jsonSchemaOf(RUN_REPORT),
    },
    null,
    2,
  )}\n`;
}

/** Files generated whole (not between markers). */
export const WHOLE_FILES: { file: string; generate: () => string }[] = [{ file: 'docs/results.schema.json', generate: resultsSchema }];

export const SECTIONS: DocSection[] = [
  { file: 'docs/conformance.md', begin: begin('profiles', 'suites/data/profiles.ts'), end: end('profiles'), generate: profilesTable },
  {
    file: 'docs/conformance.md',
    begin: begin('implementations', 'conformance/reports/'),
    end: end('implementations'),
    generate: () => implementationsTable(),
  },
  { file: 'docs/checks.md', begin: begin('checks', 'suites/registry.ts'), end: end('checks'), generate: checksTable },
  {
    file: 'README.md',
    begin: begin('differences', 'suites/data/known-differences.ts'),
    end: end('differences'),
    generate: differencesSummary,
  },
  {
    file: 'docs/known-differences.md',
    begin: begin('differences-evidence', 'suites/data/known-differences.ts'),
    end: end('differences-evidence'),
    generate: differencesTable,
  },
  {
    file: 'docs/configuration.md',
    begin: begin('variables', 'helpers/config/variables.ts'),
    end: end('variables'),
    generate: variablesTable,
  },
];

/** The text between a section's markers, or undefined when the text lacks them. */
export function readSection(text: string, s: DocSection): string | undefined {
  const i = text.indexOf(s.begin);
  const j = text.indexOf(s.end, i);
  return i >= 0 && j > i ? text.slice(i + s.begin.length, j).trim() : undefined;
}

/** The text with a section's body generated afresh between its markers. */
export function replaceSection(text: string, s: DocSection): string {
  const i = text.indexOf(s.begin);
  const j = text.indexOf(s.end, i);
  if (i < 0 || j < i) throw new Error(`${s.file} lacks the markers ${s.begin} ... ${s.end}`);
  return `${text.slice(0, i + s.begin.length)}\n${s.generate()}\n${text.slice(j)}`;
}

/** Every file with generated sections: its text now, and as generated. */
export function render(root = ROOT): { file: string; text: string; generated: string }[] {
  const files = [...new Set(SECTIONS.map((s) => s.file))];
  const read = (file: string): string => (fs.existsSync(path.join(root, file)) ? fs.readFileSync(path.join(root, file), 'utf8') : '');
  return [
    ...files.map((file) => {
      const text = read(file);
      const generated = SECTIONS.filter((s) => s.file === file).reduce((t, s) => replaceSection(t, s), text);
      return { file, text, generated };
    }),
    ...WHOLE_FILES.map((w) => ({ file: w.file, text: read(w.file), generated: w.generate() })),
  ];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const write = process.argv.includes('--write');
  const stale = render().filter((f) => f.generated !== f.text);
  if (write) for (const f of stale) fs.writeFileSync(path.join(ROOT, f.file), f.generated);
  for (const f of stale) process.stdout.write(`${f.file}: ${write ? 'regenerated' : `stale (run ${TOOL})`}\n`);
  if (stale.length === 0) process.stdout.write('docs: generated sections up to date\n');
  if (!write && stale.length > 0) process.exitCode = 1;
}
