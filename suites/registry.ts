// The check registry, collected from the suite files: each check is declared once, as one
// value in its suite (suites/<suite>.test.ts: id, claim, level, source, requirements, why,
// upstream e2e spec and its body), and the DNS table's rows (suites/data/dns-table.ts) by
// the suites that declare them (dnsRows). Read by `svc-conformance list` and the run's
// selection (helpers/cli), the reports, the matrix and the docs generator
// (helpers/tools/docs-gen.ts), outside Jest too: it imports every suite file, which then
// only records its checks (helpers/harness/declare.ts) and runs nothing. A suite file must
// not import it (the registry imports the suite files).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { collectSuites } from '../helpers/harness/declare.ts';
import { DNS_ROWS } from './data/dns-table.ts';
import { isOptIn } from './data/profiles.ts';
import type { CheckDef, Level, Requirement, Source } from './data/sources.ts';

export type { CheckDef, Level, Requirement, Source };

/** The order of the suites in `list`, the reports and the matrix; a suite file not named
 *  here comes after these, by name (a unit test asks for every suite here). */
export const SUITE_ORDER = [
  'clusterip',
  'headless',
  'statefulset',
  'external-endpoints',
  'endpointslices',
  'dns-records',
  'dns-negative',
  'dns-cache',
  'dns-externalname',
  'dns-not-ready',
  'dns-large',
  'dns-resolver',
  'service-pair',
  'proxy-behaviour',
  'proxy-nodeport',
  'proxy-changes',
  'proxy-affinity',
  'proxy-external-ips',
  'proxy-host-network',
  'proxy-source',
  'proxy-traffic-policy',
  'proxy-terminating',
  'proxy-udp',
  'proxy-rules',
  'smoke',
  'scale',
];

// The suite files beside this module: suites/*.test.ts in the repository, dist/suites/*.test.js
// in the package.
const here = fileURLToPath(import.meta.url);
const TEST_EXT = `.test${path.extname(here)}`;
/** The suites, one per file suites/<name>.test.ts, in their order. */
export const SUITES: string[] = fs
  .readdirSync(path.dirname(here))
  .filter((f) => f.endsWith(TEST_EXT))
  .map((f) => f.slice(0, -TEST_EXT.length))
  .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
function rank(suite: string): number {
  const i = SUITE_ORDER.indexOf(suite);
  return i < 0 ? SUITE_ORDER.length : i;
}

const declared = await collectSuites(() =>
  Promise.all(SUITES.map((s) => import(pathToFileURL(path.join(path.dirname(here), `${s}${TEST_EXT}`)).href))),
);

const tableRow = new Map(DNS_ROWS.map((r, i) => [r.id, i]));
const checks = SUITES.flatMap((s) => {
  const d = declared.get(s);
  if (!d) throw new Error(`suites/${s}${TEST_EXT} defines no suite ${s} (defineSuite('${s}'))`);
  for (const ids of d.prefetches)
    for (const id of ids) if (!d.checks.some((c) => c.id === id)) throw new Error(`prefetch: check ${id} is not in suite ${s}`);
  return d.checks;
});

/** Every check: suite by suite (SUITE_ORDER), each suite's own checks in the order it
 *  declares them, then the DNS table's rows in the table's order. */
export const REGISTRY: CheckDef[] = [
  ...checks.filter((c) => !tableRow.has(c.id)),
  ...checks.filter((c) => tableRow.has(c.id)).sort((a, b) => tableRow.get(a.id)! - tableRow.get(b.id)!),
];

const byId = new Map<string, CheckDef>();
for (const c of REGISTRY) {
  const other = byId.get(c.id);
  if (other) throw new Error(`check id ${c.id} is declared twice (suites ${other.suite} and ${c.suite})`);
  byId.set(c.id, c);
}
for (const r of DNS_ROWS)
  if (byId.get(r.id)?.suite !== r.suite)
    throw new Error(`DNS table row ${r.id} is not declared by its suite ${r.suite} (dnsRows in suites/${r.suite}${TEST_EXT})`);

export function checkDef(id: string): CheckDef {
  const c = byId.get(id);
  if (!c) throw new Error(`no check ${id} in the suites (suites/*${TEST_EXT})`);
  return c;
}

/** The checks --focus and --skip select: each regular expression is matched against the
 *  check's id and its claim (`svc-conformance list` prints both). */
export function selectChecks(focus?: string, skip?: string, opts: { optIn?: boolean } = {}): CheckDef[] {
  const f = focus ? new RegExp(focus) : undefined;
  const s = skip ? new RegExp(skip) : undefined;
  const hit = (re: RegExp, c: CheckDef): boolean => re.test(c.id) || re.test(c.claim);
  // An opt-in profile's checks (scale) run only when asked for: by that profile
  // (opts.optIn), or by a focus that matches their id (a word of a claim is not enough).
  const asked = (c: CheckDef): boolean => !isOptIn(c.id) || opts.optIn === true || (f !== undefined && f.test(c.id));
  return REGISTRY.filter((c) => asked(c) && (!f || hit(f, c)) && !(s && hit(s, c)));
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Jest's --testNamePattern for a selection: the ids in the titles (`claim [id]`), exactly;
 *  undefined when every check is selected. */
export function selectionPattern(selected: CheckDef[]): string | undefined {
  if (selected.length === REGISTRY.length) return undefined;
  return `\\[(?:${selected.map((c) => escape(c.id)).join('|')})\\]$`;
}
