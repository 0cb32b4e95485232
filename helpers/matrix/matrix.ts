// svc-conformance matrix: the checks over several clusters, one column each, in one report.
// A column is a bundled-cluster config (any key of cluster/cluster.json, brought up with
// cluster/cluster.sh) or the kubeconfig of a cluster the user already has. Each column's
// run is an ordinary `svc-conformance run` in a child process with its own report dir;
// the matrix reads back its results.json and run config and writes one report whose
// headline is what differs between the columns.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import yaml from 'js-yaml';
import { REGISTRY, selectChecks } from '../../suites/registry.ts';
import { applyKnownDifferences, componentsOf, type Implementation } from '../results/conformance.ts';
import { PROFILES, profileNamed } from '../../suites/data/profiles.ts';
import { claimInTitle } from '../../suites/data/sources.ts';
import {
  cacheDir,
  childEnv,
  codeFile,
  HAS_CLUSTER_BUILDS,
  loadPublished,
  ROOT,
  scaleSize,
  type Target,
  UsageError,
} from '../config/target.ts';
import { onInterrupt } from '../config/interrupt.ts';
import { clusterConfigNames } from '../config/variables.ts';
import { html, junitCase, junitErrorSuite, mdCell, statusText, writeReportDir, xml } from '../results/render.ts';
import { scaleSteps } from '../results/scale.ts';
import { MEASURES, type Measure, rowsOf } from '../lib/scale.ts';
import type { Percentiles } from '../lib/stats.ts';
import { arr, num, obj, oneOf, str } from '../../probe/schema.ts';
import {
  conformanceReport,
  conformanceYaml,
  measurements,
  median,
  NOT_SELECTED,
  readResults,
  readRunReport,
  type Check,
  type RunReport,
} from '../results/reports.ts';

const CLUSTER_SH = path.join(ROOT, 'cluster', 'cluster.sh');

// ------------------------------------------------------------------------ the matrix file
export type Profile = 'default' | 'privileged';
export interface ColumnSpec {
  name: string;
  /** A bundled cluster: keys of cluster/cluster.json merged over its defaults. */
  cluster?: Record<string, unknown>;
  /** Or a cluster the user has. */
  kubeconfig?: string;
  context?: string;
  /** Or a kind cluster the column starts and removes (`run --kind`): the --kind-* flags. */
  kind?: KindColumn;
  profile: Profile;
  /** The implementation the column's reports name (run --implementation); absent: detected. */
  implementation?: { name: string; version?: string; url?: string };
  /** Only this conformance profile's checks (run --conformance-profile). */
  conformanceProfile?: string;
  /** The scale profile's size (run --scale SERVICESxENDPOINTS). */
  scale?: string;
}
export interface KindColumn {
  nodes?: number;
  proxy?: 'kube-proxy' | 'cilium';
  proxyMode?: 'iptables' | 'nftables';
  ipFamily?: 'ipv4' | 'ipv6' | 'dual';
  image?: string;
}
export interface MatrixSpec {
  file: string;
  focus?: string;
  skip?: string;
  strict?: boolean;
  columns: ColumnSpec[];
}

const NAME = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;

/** Reads and validates a matrix file (YAML or JSON). Relative paths in it (corefile,
 *  kubeProxyBinary, dnsImage, kubeconfig) are relative to the file; ${SVC_CACHE_DIR} is
 *  where cluster/build.sh caches its builds; a corefile that names a file is its text. */
export function readMatrix(file: string): MatrixSpec {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read the matrix file ${file}: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = yaml.load(text);
  } catch (e) {
    throw new UsageError(`the matrix file ${file} is not valid YAML or JSON: ${(e as Error).message}`);
  }
  return parseMatrix(doc, file);
}

export function parseMatrix(doc: unknown, file: string): MatrixSpec {
  const bad = (what: string): never => {
    throw new UsageError(`matrix file ${file}: ${what} (see docs/matrix.md)`);
  };
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) bad('must be a mapping with a list of columns');
  const d = doc as Record<string, unknown>;
  const known = ['columns', 'profile', 'focus', 'skip', 'strict'];
  const unknown = Object.keys(d).filter((k) => !known.includes(k));
  if (unknown.length) bad(`unknown key(s) ${unknown.join(', ')}; known: ${known.join(', ')}`);
  const str = (v: unknown, what: string): string | undefined =>
    v === undefined ? undefined : typeof v === 'string' ? v : bad(`${what} must be a string`);
  const profileOf = (v: unknown, what: string): Profile | undefined =>
    v === undefined
      ? undefined
      : v === 'default' || v === 'privileged'
        ? v
        : bad(`${what} must be default or privileged (got ${JSON.stringify(v)})`);
  const profile = profileOf(d.profile, 'profile') ?? 'default';
  for (const k of ['focus', 'skip'] as const) {
    const v = str(d[k], k);
    if (v !== undefined) {
      try {
        new RegExp(v);
      } catch (e) {
        bad(`${k} is not a valid regular expression: ${(e as Error).message}`);
      }
    }
  }
  if (d.strict !== undefined && typeof d.strict !== 'boolean') bad('strict must be true or false');
  if (!Array.isArray(d.columns) || d.columns.length === 0) bad('columns must be a non-empty list');
  const dir = path.dirname(path.resolve(file));
  const expand = (v: string): string => v.replace(/\$\{SVC_CACHE_DIR\}/g, cacheDir()).replace(/^~(?=\/)/, os.homedir());
  const abs = (v: string): string => path.resolve(dir, expand(v));
  const seen = new Set<string>();
  const columns = (d.columns as unknown[]).map((c, i): ColumnSpec => {
    const where = `columns[${i}]`;
    if (!c || typeof c !== 'object' || Array.isArray(c)) bad(`${where} must be a mapping`);
    const col = c as Record<string, unknown>;
    const ck = ['name', 'cluster', 'kubeconfig', 'context', 'kind', 'profile', 'implementation', 'conformanceProfile', 'scale'];
    const extra = Object.keys(col).filter((k) => !ck.includes(k));
    if (extra.length) bad(`${where}: unknown key(s) ${extra.join(', ')}; known: ${ck.join(', ')}`);
    const name = str(col.name, `${where}.name`) ?? bad(`${where} needs a name`);
    if (!NAME.test(name)) bad(`${where}.name '${name}' must be lower-case letters, digits and dashes (it names a directory)`);
    if (seen.has(name)) bad(`two columns are named '${name}'`);
    seen.add(name);
    const out: ColumnSpec = { name, profile: profileOf(col.profile, `${where}.profile`) ?? profile };
    if (col.conformanceProfile !== undefined) {
      const cp = str(col.conformanceProfile, `${where}.conformanceProfile`)!;
      if (!profileNamed(cp))
        bad(`${where}.conformanceProfile: no profile '${cp}'; the profiles are ${PROFILES.map((p) => p.name).join(', ')}`);
      out.conformanceProfile = cp;
    }
    if (col.scale !== undefined) {
      const raw = String(col.scale as string | number);
      try {
        scaleSize(raw, `${where}.scale`);
      } catch (e) {
        bad((e as Error).message);
      }
      out.scale = raw;
    }
    if (col.implementation !== undefined) {
      const im = col.implementation as Record<string, unknown>;
      if (!im || typeof im !== 'object' || Array.isArray(im)) bad(`${where}.implementation must be a mapping: name, version, url`);
      const ex = Object.keys(im).filter((x) => !['name', 'version', 'url'].includes(x));
      if (ex.length) bad(`${where}.implementation: unknown key(s) ${ex.join(', ')}; known: name, version, url`);
      out.implementation = {
        name: str(im.name, `${where}.implementation.name`) ?? bad(`${where}.implementation needs a name`),
        version: str(im.version, `${where}.implementation.version`),
        url: str(im.url, `${where}.implementation.url`),
      };
    }
    if ([col.cluster, col.kubeconfig, col.kind].filter((v) => v !== undefined).length !== 1)
      bad(`${where} (${name}) needs exactly one of cluster (a bundled-cluster config), kubeconfig or kind (a kind cluster's settings)`);
    if (col.kind !== undefined) {
      if (!col.kind || typeof col.kind !== 'object' || Array.isArray(col.kind)) bad(`${where}.kind must be a mapping`);
      const k = col.kind as Record<string, unknown>;
      const kk = ['nodes', 'proxy', 'proxyMode', 'ipFamily', 'image'];
      const ex = Object.keys(k).filter((x) => !kk.includes(x));
      if (ex.length) bad(`${where}.kind: unknown key(s) ${ex.join(', ')}; known: ${kk.join(', ')}`);
      const one = <T extends string>(key: string, allowed: readonly T[]): T | undefined =>
        k[key] === undefined
          ? undefined
          : allowed.includes(k[key] as T)
            ? (k[key] as T)
            : bad(`${where}.kind.${key} must be ${allowed.join(', ')} (got ${JSON.stringify(k[key])})`);
      if (k.nodes !== undefined && !(Number.isInteger(k.nodes) && (k.nodes as number) >= 1 && (k.nodes as number) <= 5))
        bad(`${where}.kind.nodes must be 1 to 5`);
      out.kind = {
        nodes: k.nodes as number | undefined,
        proxy: one('proxy', ['kube-proxy', 'cilium'] as const),
        proxyMode: one('proxyMode', ['iptables', 'nftables'] as const),
        ipFamily: one('ipFamily', ['ipv4', 'ipv6', 'dual'] as const),
        image: str(k.image, `${where}.kind.image`),
      };
      if (out.kind.proxy === 'cilium' && out.kind.proxyMode)
        bad(`${where}.kind: proxyMode is kube-proxy's; with proxy cilium no kube-proxy runs`);
      if (!HAS_CLUSTER_BUILDS && (out.kind.proxy === 'cilium' || !out.kind.image))
        bad(
          `${where} (${name}) needs the repository's cluster builds (our kind node image, Cilium): run the matrix from a clone of the repository`,
        );
      return out;
    }
    if (col.kubeconfig !== undefined) {
      out.kubeconfig = abs(str(col.kubeconfig, `${where}.kubeconfig`)!);
      out.context = str(col.context, `${where}.context`);
      return out;
    }
    if (col.context !== undefined) bad(`${where} (${name}): context goes with kubeconfig`);
    if (!HAS_CLUSTER_BUILDS)
      bad(
        `${where} (${name}) is a bundled cluster, which needs the repository's cluster builds (cluster/, absent from the npm package): ` +
          'give the column a kubeconfig, or run the matrix from a clone of the repository after scripts/setup.sh',
      );
    const defaults = JSON.parse(fs.readFileSync(path.join(ROOT, 'cluster', 'cluster.json'), 'utf8')) as Record<string, unknown>;
    if (!col.cluster || typeof col.cluster !== 'object' || Array.isArray(col.cluster))
      bad(`${where}.cluster must be a mapping of cluster/cluster.json keys`);
    const cluster = { ...(col.cluster as Record<string, unknown>) };
    const unknownKeys = Object.keys(cluster).filter((k) => !(k in defaults));
    if (unknownKeys.length) bad(`${where}.cluster: unknown key(s) ${unknownKeys.join(', ')}; known: ${Object.keys(defaults).join(', ')}`);
    for (const k of ['kubeProxyBinary', 'dnsImage'] as const) if (typeof cluster[k] === 'string') cluster[k] = abs(cluster[k]);
    for (const key of ['corefile', 'nodeLocalDNSCorefile'] as const) {
      const v = cluster[key];
      if (typeof v === 'string' && !v.includes('\n')) {
        const f = abs(v);
        if (!fs.existsSync(f))
          bad(`${where}.cluster.${key} names ${f}, which does not exist (give a Corefile's text or the path of a file)`);
        cluster[key] = fs.readFileSync(f, 'utf8');
      }
    }
    out.cluster = cluster;
    return out;
  });
  return {
    file: path.resolve(file),
    focus: str(d.focus, 'focus'),
    skip: str(d.skip, 'skip'),
    strict: d.strict as boolean | undefined,
    columns,
  };
}

// ------------------------------------------------------------------------ running columns
export interface Identity {
  kubernetes?: string;
  nodes?: number;
  proxyMode?: string;
  /** The families the cluster serves Services in, primary first. */
  ipFamilies?: string;
  kubeProxy?: string;
  dnsImage?: string;
  /** version.bind CH TXT, where the server answers it. */
  dnsVersion?: string;
  /** dns-version.<zone> TXT. */
  schemaVersion?: string;
  /** How Pods reach the DNS: the resolver, the Service, a cache in front (preflight). */
  dnsPath?: string;
}
export interface Stat {
  n: number;
  medianMs?: number;
  worstMs?: number;
}
export interface Cell {
  status: Check['status'];
  suite: string;
  claim: string;
  failure?: string;
  skipReason?: string;
  transcripts?: string;
  /** A failure suites/data/known-differences.ts records for this column: still a failure
   *  (its verdict is the check's), explained by that difference and not counted as failed. */
  knownDifference?: string;
}
export interface ColumnResult {
  name: string;
  kind: 'bundled' | 'kubeconfig' | 'kind';
  describe: string;
  profile: Profile;
  /** ran: the run finished and wrote results; not-up: the cluster did not come up; no-run:
   *  the run stopped before it wrote results (preflight, usage). */
  state: 'ran' | 'not-up' | 'no-run';
  exitCode?: number;
  message?: string;
  logTail?: string;
  /** Relative to the matrix report dir. */
  log?: string;
  reportDir?: string;
  upMs?: number;
  runMs?: number;
  counts?: RunReport['counts'];
  identity: Identity;
  /** DNS waits after changes: those seen converging, and those right at the first look
   *  (their time is only an upper bound). */
  dns: { converged: Stat; firstLook: Stat; cacheLag?: Stat };
  spread: { check: string; text?: string; counts: unknown }[];
  checks: Record<string, Cell>;
  /** The implementation its run named or detected (its conformance report's). */
  implementation?: Implementation;
  /** The scale profile's measures at each size (when the column ran it). */
  scale?: ScaleRow[];
}
/** One size of a column's scale run: each measure's percentiles and misses. */
export interface ScaleRow {
  services: number;
  endpoints: number;
  measures: Partial<Record<Measure, { p?: Percentiles; missed: number }>>;
}
export interface MatrixRow {
  id: string;
  level: string;
  source?: { title: string; url: string };
  claim: string;
  cells: Record<string, Cell | undefined>;
}
export interface MatrixReport {
  file: string;
  startedAt: string;
  durationMs: number;
  columns: ColumnResult[];
  rows: MatrixRow[];
  /** Ids of rows whose result differs between columns that ran, most severe first. */
  differences: string[];
  /** failed: the failures no known difference explains; knownDifferences: those it does. */
  counts: { passed: number; failed: number; skipped: number; warnings: number; columnsNotUp: number; knownDifferences?: number };
}

const MATRIX_REPORT = obj({
  file: str,
  startedAt: str,
  durationMs: num,
  columns: arr(obj({ name: str, kind: oneOf('bundled', 'kubeconfig', 'kind'), state: oneOf('ran', 'not-up', 'no-run') })),
  rows: arr(obj({ id: str, claim: str })),
  differences: arr(str),
  counts: obj({ passed: num, failed: num, skipped: num, warnings: num, columnsNotUp: num }),
});

/** A matrix's matrix.json (written by writeMatrixReports), validated: the test command's
 *  tally reads it. */
export const readMatrixReport = (file: string): MatrixReport => readResults<MatrixReport>(MATRIX_REPORT, file, 'the matrix results');

export interface MatrixOptions {
  reportDir: string;
  focus?: string;
  skip?: string;
  strict?: boolean;
  parallel?: string;
  nodeBin: string;
  log?: (line: string) => void;
  /** Columns not run again: their results are an earlier run's report dir (--column-results). */
  earlier?: Record<string, string>;
}

/** The run config a run wrote into its report dir (run-config-<id>.json), if any. */
function runConfigIn(runDir: string): Target | undefined {
  const file = fs.readdirSync(runDir).find((f) => /^run-config-.*\.json$/.test(f));
  return file ? loadPublished(path.join(runDir, file)) : undefined;
}

/** An earlier run's report dir taken as a column: it must be the column's profile and, for a
 *  bundled column that names one, its proxy mode (else the column would describe another run). */
function earlierRunMismatch(col: MatrixSpec['columns'][number], runDir: string): string | undefined {
  if (!fs.existsSync(path.join(runDir, 'results.json'))) return `${runDir} has no results.json (an earlier run's --report-dir)`;
  const t = runConfigIn(runDir);
  if (!t) return `${runDir} has no run-config-*.json`;
  if (t.privileged !== (col.profile === 'privileged'))
    return `${runDir} is a ${t.privileged ? 'privileged' : 'default'}-profile run; column ${col.name} is ${col.profile}`;
  const mode = col.cluster?.proxyMode;
  if (typeof mode === 'string' && t.cluster?.proxyMode !== mode)
    return `${runDir} ran against kube-proxy in ${t.cluster?.proxyMode ?? 'an unknown'} mode; column ${col.name} is ${mode}`;
  return undefined;
}

interface Running {
  stop(): void;
}

function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n').trim();
}

/** Runs a child to its end, its output into `logFile` (appended); resolves with its exit code. */
function runChild(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  logFile: string,
  control: { current?: Running },
): Promise<number> {
  return new Promise((resolve) => {
    const out = fs.openSync(logFile, 'a');
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', out, out] });
    control.current = {
      stop: () => {
        try {
          child.kill('SIGINT');
        } catch {
          /* gone */
        }
      },
    };
    child.on('exit', (code, sig) => {
      fs.closeSync(out);
      control.current = undefined;
      resolve(code ?? (sig ? 130 : 1));
    });
    child.on('error', (e) => {
      fs.appendFileSync(logFile, `\n${e.message}\n`);
    });
  });
}

/** Whole milliseconds, as the matrix reports them. */
const medianMs = (xs: number[]): number | undefined => {
  const m = median(xs);
  return m === undefined ? undefined : Math.round(m);
};

/** A column's results, read back from its run's report dir. */
export function readColumn(base: Omit<ColumnResult, 'identity' | 'dns' | 'spread' | 'checks'>, runDir: string): ColumnResult {
  const out: ColumnResult = { ...base, identity: {}, dns: { converged: { n: 0 }, firstLook: { n: 0 } }, spread: [], checks: {} };
  const resultsFile = path.join(runDir, 'results.json');
  if (!fs.existsSync(resultsFile)) return { ...out, state: base.state === 'ran' ? 'no-run' : base.state };
  const r = readRunReport(resultsFile);
  out.counts = r.counts;
  out.runMs = r.durationMs;
  const t = runConfigIn(runDir);
  // Known differences: as the run marked them; a run from before reports carried them gets
  // them from the components its run config names.
  if (!r.knownDifferences) applyKnownDifferences(r.checks, componentsOf(t?.cluster, t?.profile));
  if (r.implementation) out.implementation = r.implementation;
  if (t) {
    out.identity.kubernetes = t.cluster?.version;
    out.identity.nodes = t.cluster?.schedulableNodes;
    const sp = t.cluster?.serviceProxy;
    out.identity.proxyMode =
      (sp ? `${sp.name} ${sp.version}${sp.kubeProxyReplacement ? ' (kube-proxy replacement)' : ''}; ` : '') +
      (t.cluster?.kubeProxy === 'absent' ? 'no kube-proxy' : (t.cluster?.proxyMode ?? ''));
    out.identity.kubeProxy = t.profile?.kubeProxyVersion || t.cluster?.kubeProxyImages?.join(', ') || undefined;
    out.identity.dnsImage = t.cluster?.dnsImages?.join(', ') || t.profile?.images?.coredns;
    out.identity.ipFamilies = t.cluster?.ipFamilies.join(', ');
    out.identity.dnsPath = t.cluster?.dnsPath?.summary ?? (t.cluster?.dnsPathError ? `not detected: ${t.cluster.dnsPathError}` : undefined);
  }
  const items = r.evidence.flatMap((e) => e.items.map((i) => ({ ...i, suite: e.suite })));
  const info = (id: string): unknown => items.find((i) => i.check === id && i.kind === 'info' && i.value !== undefined)?.value;
  const schema = info('dns.schema.version');
  if (typeof schema === 'string') out.identity.schemaVersion = schema;
  const vb = info('dns.identity.version-bind') as { versions?: string[]; answers?: { rcode: string }[] } | undefined;
  if (vb)
    out.identity.dnsVersion = vb.versions?.length
      ? vb.versions.join(', ')
      : `not answered (${[...new Set((vb.answers ?? []).map((a) => a.rcode))].join(', ')})`;
  const measured = measurements(r);
  const dns = measured.filter((m) => m.kind === 'DNS');
  const lags = measured.filter((m) => m.kind === 'DNS cache lag' && m.converged).map((m) => m.value);
  const stat = (ms: number[]): Stat => ({ n: ms.length, medianMs: medianMs(ms), worstMs: ms.length ? Math.max(...ms) : undefined });
  out.dns = {
    converged: stat(dns.filter((m) => m.converged).map((m) => m.value)),
    firstLook: stat(dns.filter((m) => !m.converged).map((m) => m.value)),
    ...(lags.length ? { cacheLag: stat(lags) } : {}),
  };
  out.spread = items.filter((i) => i.kind === 'counts').map((i) => ({ check: i.check, text: i.text, counts: i.value }));
  const steps = scaleSteps(r);
  if (steps.length) {
    const per = Object.fromEntries(MEASURES.map((m) => [m.key, rowsOf(steps, m.key)]));
    out.scale = steps.map((st, i) => ({
      services: st.services,
      endpoints: st.endpoints,
      measures: Object.fromEntries(MEASURES.map((m) => [m.key, { p: per[m.key]![i]!.overall, missed: per[m.key]![i]!.missed }])),
    }));
  }
  for (const c of r.checks) {
    if (!c.id) continue;
    const transcripts = items
      .filter((i) => i.check === c.id && i.kind === 'transcript' && i.text)
      .map((i) => i.text!)
      .join('\n\n');
    out.checks[c.id] = {
      status: c.status,
      suite: c.suite,
      claim: claimInTitle(c.name),
      failure: c.failure,
      skipReason: c.skipReason,
      transcripts: transcripts || undefined,
      ...(c.knownDifference ? { knownDifference: `${c.knownDifference.reason} (${c.knownDifference.url})` } : {}),
    };
  }
  for (const e of r.suiteErrors)
    out.checks[`suite:${e.suite}`] = { status: 'failed', suite: e.suite, claim: `suite ${e.suite} could not set up`, failure: e.message };
  return out;
}

const SEVERITY: Record<Check['status'], number> = { failed: 4, warning: 3, informational: 2, skipped: 1, passed: 0 };

/** The rows (registry order, then anything else a column ran) and the differences. */
export function assemble(
  file: string,
  columns: ColumnResult[],
  startedAt: number,
  selection?: { focus?: string; skip?: string },
): MatrixReport {
  const ran = columns.filter((c) => c.state === 'ran');
  const ids = [...REGISTRY.map((c) => c.id)];
  for (const c of ran) for (const id of Object.keys(c.checks)) if (!ids.includes(id)) ids.push(id);
  // A check no column selected (--focus/--skip) is no row.
  // (Checks whose requirements a column lacks are skipped with that reason, selected or not.)
  // Opt-in checks (scale) count here like any other: a column that did not ask for them has them not selected.
  const chosen = new Set(selectChecks(selection?.focus, selection?.skip, { optIn: true }).map((c) => c.id));
  const selected = (id: string): boolean =>
    ran.some((c) => {
      const cell = c.checks[id];
      if (!cell || (cell.status === 'skipped' && cell.skipReason === NOT_SELECTED)) return false;
      // A check the registry does not know (an older run's) counts when its column ran it.
      return chosen.has(id) || !REGISTRY.some((d) => d.id === id);
    });
  const rows: MatrixRow[] = ids.filter(selected).map((id) => {
    const def = REGISTRY.find((c) => c.id === id);
    const cells = Object.fromEntries(columns.map((c) => [c.name, c.checks[id]]));
    const any = Object.values(cells).find(Boolean);
    return {
      id,
      level: def?.level ?? (id.startsWith('suite:') ? 'required' : ''),
      source: def?.source,
      claim: def?.claim ?? any?.claim ?? id,
      cells,
    };
  });
  // A cell its column did not select (--focus, or the column's conformanceProfile) is no
  // difference and no count.
  const chosenCell = (cell?: Cell): Cell | undefined =>
    cell && !(cell.status === 'skipped' && cell.skipReason === NOT_SELECTED) ? cell : undefined;
  const differs = (r: MatrixRow): boolean =>
    new Set(ran.filter((c) => chosenCell(r.cells[c.name]) || !r.cells[c.name]).map((c) => r.cells[c.name]?.status ?? 'not run')).size > 1;
  const weight = (r: MatrixRow): number => Math.max(...ran.map((c) => SEVERITY[chosenCell(r.cells[c.name])?.status ?? 'passed']));
  const differences = rows
    .filter(differs)
    .sort((a, b) => weight(b) - weight(a))
    .map((r) => r.id);
  // Counted over the rows (the selected checks), in every column that ran.
  const cells = ran.flatMap((c) => rows.map((r) => chosenCell(r.cells[c.name])).filter(Boolean)) as Cell[];
  const n = (...st: Check['status'][]): number => cells.filter((x) => st.includes(x.status) && !x.knownDifference).length;
  const sum = (k: 'passed' | 'failed' | 'skipped' | 'warnings'): number =>
    k === 'passed' ? n('passed', 'informational') : k === 'failed' ? n('failed') : k === 'skipped' ? n('skipped') : n('warning');
  const knownDifferences = cells.filter((x) => x.knownDifference).length;
  const notUp = columns.filter((c) => c.state !== 'ran').length;
  return {
    file,
    startedAt: new Date(startedAt).toISOString(),
    durationMs: Date.now() - startedAt,
    columns,
    rows,
    differences,
    counts: {
      passed: sum('passed'),
      failed: sum('failed'),
      skipped: sum('skipped'),
      warnings: sum('warnings'),
      columnsNotUp: notUp,
      knownDifferences,
    },
  };
}

/** A column's failures that no known difference explains. */
const unexplained = (r: MatrixReport, c: ColumnResult): string[] =>
  r.rows.filter((row) => row.cells[c.name]?.status === 'failed' && !row.cells[c.name]?.knownDifference).map((row) => row.id);

/** Runs every column in turn; a column that cannot come up is recorded and the matrix goes on. */
export async function runMatrix(spec: MatrixSpec, o: MatrixOptions): Promise<{ report: MatrixReport; interrupted: boolean }> {
  const log = o.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  const started = Date.now();
  fs.rmSync(o.reportDir, { recursive: true, force: true });
  fs.mkdirSync(path.join(o.reportDir, 'columns'), { recursive: true });
  const control: { current?: Running; interrupted: boolean } = { interrupted: false };
  const stopHandling = onInterrupt(
    (sig) => {
      control.interrupted = true;
      log(`svc-conformance matrix: ${sig}: stopping the column that runs; the columns after it are not run`);
      control.current?.stop();
    },
    { then: 'continue' },
  );
  // The variables cluster/lib.sh takes its config from (helpers/config/variables.ts): a
  // column is what its file says, so none of them may leak from the user's shell into a
  // column's cluster.
  const clusterEnv = (extra: Record<string, string> = {}): Record<string, string> =>
    childEnv({ ...Object.fromEntries([...clusterConfigNames(ROOT), 'KUBECONFIG', 'SVC_KUBECONFIG'].map((k) => [k, ''])), ...extra });
  let bundledUsed = false;
  const results: ColumnResult[] = [];
  try {
    for (const col of spec.columns) {
      if (control.interrupted) break;
      const colDir = path.join(o.reportDir, 'columns', col.name);
      const runDir = path.join(colDir, 'run');
      fs.mkdirSync(colDir, { recursive: true });
      const logFile = path.join(colDir, 'column.log');
      const rel = (p: string): string => path.relative(o.reportDir, p);
      const describe = col.cluster
        ? `bundled cluster: ${
            Object.keys(col.cluster).length
              ? Object.entries(col.cluster)
                  .map(
                    ([k, v]) =>
                      `${k}=${k === 'corefile' || k === 'nodeLocalDNSCorefile' ? '(Corefile in the column dir)' : typeof v === 'string' ? v : JSON.stringify(v)}`,
                  )
                  .join(', ')
              : 'cluster.json defaults'
          }`
        : col.kind
          ? `kind cluster: ${
              Object.entries(col.kind)
                .filter(([, v]) => v !== undefined)
                .map(([k, v]) => `${k}=${String(v)}`)
                .join(', ') || "the kind target's defaults"
            }`
          : `kubeconfig ${col.kubeconfig}${col.context ? ` (context ${col.context})` : ''}`;
      const base = {
        name: col.name,
        kind: col.cluster ? ('bundled' as const) : col.kind ? ('kind' as const) : ('kubeconfig' as const),
        describe,
        profile: col.profile,
        log: rel(logFile),
      };
      const earlier = o.earlier?.[col.name];
      if (earlier !== undefined) {
        const runDirEarlier = path.resolve(earlier);
        const wrong = earlierRunMismatch(col, runDirEarlier);
        if (wrong) throw new UsageError(`--column-results ${col.name}=${earlier}: ${wrong}`);
        fs.writeFileSync(logFile, `# not run again: the results of the earlier run in ${runDirEarlier}\n`);
        const c = readColumn(
          {
            ...base,
            describe: `${describe}; results of the earlier run in ${earlier}`,
            state: 'ran',
            exitCode: 0,
            reportDir: rel(runDirEarlier),
          },
          runDirEarlier,
        );
        if (c.counts?.failed) c.exitCode = 1;
        log(
          `svc-conformance matrix: column ${col.name}: the earlier run in ` +
            `${earlier}${c.counts ? ` (${c.counts.passed} passed, ${c.counts.failed} failed, ${c.counts.warnings} warnings, ${c.counts.skipped} skipped)` : ''}`,
        );
        results.push(c);
        continue;
      }
      log(`svc-conformance matrix: column ${col.name}: ${describe}, ${col.profile} profile`);
      const args = ['--no-warnings', codeFile('helpers/cli/cli'), 'run', '--report-dir', runDir, '--profile', col.profile];
      for (const [flag, v] of [
        ['--focus', o.focus ?? spec.focus],
        ['--skip', o.skip ?? spec.skip],
        ['--parallel', o.parallel],
      ] as const)
        if (v) args.push(flag, v);
      if (o.strict ?? spec.strict) args.push('--strict');
      if (col.conformanceProfile) args.push('--conformance-profile', col.conformanceProfile);
      if (col.scale) args.push('--scale', col.scale);
      if (col.implementation) {
        args.push('--implementation', col.implementation.name);
        if (col.implementation.version) args.push('--implementation-version', col.implementation.version);
        if (col.implementation.url) args.push('--implementation-url', col.implementation.url);
      }
      let env: Record<string, string>;
      let upMs: number | undefined;
      if (col.cluster) {
        bundledUsed = true;
        const cfg = path.join(colDir, 'cluster-config.json');
        fs.writeFileSync(cfg, JSON.stringify(col.cluster, null, 2));
        if (col.cluster.corefile) fs.writeFileSync(path.join(colDir, 'Corefile'), String(col.cluster.corefile));
        if (col.cluster.nodeLocalDNSCorefile)
          fs.writeFileSync(path.join(colDir, 'Corefile.node-local-dns'), String(col.cluster.nodeLocalDNSCorefile));
        env = clusterEnv({ SVC_CLUSTER_CONFIG: cfg });
        fs.writeFileSync(logFile, `# cluster.sh down, then up with ${cfg}\n`);
        await runChild('bash', [CLUSTER_SH, 'down'], env, logFile, control);
        const t0 = Date.now();
        const up = control.interrupted ? 130 : await runChild('bash', [CLUSTER_SH, 'up'], env, logFile, control);
        upMs = Date.now() - t0;
        if (up !== 0) {
          const text = fs.readFileSync(logFile, 'utf8');
          const why = /\[cluster\] error: (.*)/.exec(text)?.[1] ?? `cluster.sh up exited ${up}`;
          log(`svc-conformance matrix: column ${col.name}: the cluster did not come up: ${why}`);
          results.push(
            readColumn(
              { ...base, state: 'not-up', exitCode: up, message: `the bundled cluster did not come up: ${why}`, logTail: tail(text), upMs },
              runDir,
            ),
          );
          continue;
        }
        log(`svc-conformance matrix: column ${col.name}: cluster up in ${(upMs / 1000).toFixed(1)} s`);
        args.push('--local');
      } else if (col.kind) {
        // The run starts its kind cluster and removes it (its log has the times).
        env = childEnv({ KUBECONFIG: '', SVC_KUBECONFIG: '' });
        args.push('--kind');
        const k = col.kind;
        if (k.nodes) args.push('--kind-nodes', String(k.nodes));
        if (k.proxy) args.push('--kind-proxy', k.proxy);
        if (k.proxyMode) args.push('--kind-proxy-mode', k.proxyMode);
        if (k.ipFamily) args.push('--kind-ip-family', k.ipFamily);
        if (k.image) args.push('--kind-image', k.image);
        fs.writeFileSync(logFile, '');
      } else {
        env = childEnv({ KUBECONFIG: '', SVC_KUBECONFIG: '' });
        args.push('--kubeconfig', col.kubeconfig!);
        if (col.context) args.push('--context', col.context);
        fs.writeFileSync(logFile, '');
      }
      fs.appendFileSync(logFile, `\n# svc-conformance ${args.slice(2).join(' ')}\n`);
      const t1 = Date.now();
      const code = control.interrupted ? 130 : await runChild(o.nodeBin, args, env, logFile, control);
      const c = readColumn({ ...base, state: 'ran', exitCode: code, upMs, reportDir: rel(runDir) }, runDir);
      const counts = c.counts
        ? ` (${c.counts.passed} passed, ${c.counts.failed} failed, ${c.counts.warnings} warnings, ${c.counts.skipped} skipped)`
        : '';
      log(`svc-conformance matrix: column ${col.name}: exit ${code} in ${((Date.now() - t1) / 1000).toFixed(1)} s${counts}`);
      // What failed, in the log itself: a CI log that keeps only its tail still says why.
      for (const [id, cell] of Object.entries(c.checks))
        if (cell.status === 'failed' || cell.status === 'warning')
          log(
            `svc-conformance matrix: column ${col.name}: ${cell.status === 'failed' ? 'failed' : 'warning'} ${id}` +
              `${cell.knownDifference ? ' (known difference)' : ''}: ${oneLine(cell.failure).slice(0, 400)}`,
          );
      if (c.state === 'no-run') {
        // No results: the run stopped before its checks (preflight, usage); its log says why.
        const text = fs.readFileSync(logFile, 'utf8');
        c.logTail = tail(text);
        c.message = text
          .split('\n')
          .reverse()
          .find((l) => l.startsWith('svc-conformance: ') && !/reports in|removed|preflight passed/.test(l))
          ?.replace('svc-conformance: ', '');
      } else if (code !== 0) {
        c.message = c.counts?.failed ? `${c.counts.failed} check(s) failed` : `the run exited ${code}`;
      }
      results.push(c);
    }
  } finally {
    if (bundledUsed) {
      // The matrix brought bundled clusters up: it leaves none running.
      await runChild('bash', [CLUSTER_SH, 'down'], clusterEnv(), path.join(o.reportDir, 'cluster-down.log'), {});
    }
    stopHandling();
  }
  return {
    report: assemble(spec.file, results, started, { focus: o.focus ?? spec.focus, skip: o.skip ?? spec.skip }),
    interrupted: control.interrupted,
  };
}

/** 0 when every column came up and ran, and every failed check in it is a known difference
 *  of that column (suites/data/known-differences.ts); 1 otherwise. */
export function matrixExitCode(r: MatrixReport): number {
  return r.columns.every(
    (c) => c.state === 'ran' && (c.exitCode === 0 || (c.exitCode === 1 && unexplained(r, c).length === 0 && c.counts !== undefined)),
  )
    ? 0
    : 1;
}

// ------------------------------------------------------------------------------- reports
const cellText = (c?: Cell): string => `${statusText(c?.status)}${c?.knownDifference ? ' (known difference)' : ''}`;
/** The first telling line of a message: Jest's diff boilerplate is skipped, so a failed
 *  toEqual shows its first differing item rather than "expect(received).toEqual(expected)". */
const BOILERPLATE = /^\s*$|^\s*(Error: )?expect\(|^\s*[-+] (Expected|Received)\s|^\s*(Array|Object) [[{]$/;
export const oneLine = (s?: string): string => {
  const lines = (s ?? '').split('\n');
  return (lines.find((l) => !BOILERPLATE.test(l)) ?? lines.find((l) => l.trim()) ?? '').trim();
};

/** What a column answered for a check: its failure, its transcripts, or why it skipped. */
export function answerOf(c?: Cell): string {
  if (!c) return 'not run in this column';
  if (c.status === 'skipped') return `skipped: ${c.skipReason ?? ''}`;
  const answer = c.status === 'passed' ? (c.transcripts ?? 'passed (no transcript recorded)') : (c.failure ?? c.transcripts ?? c.status);
  const text = c.knownDifference ? `known difference: ${c.knownDifference}\n${answer}` : answer;
  return text.length > 4000 ? `${text.slice(0, 4000)}\n… (${text.length - 4000} more characters in the column's report)` : text;
}

/** The same words without the emoji (headless browsers may lack an emoji font). */
const plainText = (c?: Cell): string => cellText(c).replace(/^\S+ /, '');

export function headline(r: MatrixReport, label: (c?: Cell) => string = cellText): string {
  const ran = r.columns.filter((c) => c.state === 'ran');
  if (r.differences.length) {
    const row = r.rows.find((x) => x.id === r.differences[0])!;
    return (
      `${r.differences.length} check(s) differ between the columns; first: ${row.id} ` +
      `(${ran.map((c) => `${c.name} ${label(row.cells[c.name])}`).join(', ')})`
    );
  }
  return ran.length > 1 ? `no check differs between the ${ran.length} columns that ran` : `${ran.length} column(s) ran: nothing to compare`;
}

function identityLines(c: ColumnResult): [string, string][] {
  const id = c.identity;
  return [
    ['Kubernetes', id.kubernetes ?? '?'],
    ['Nodes', String(id.nodes ?? '?')],
    ['IP families', id.ipFamilies ?? '?'],
    ['Proxy', `${id.proxyMode ?? '?'}${id.kubeProxy ? ` (kube-proxy ${id.kubeProxy})` : ''}`],
    ['DNS image', id.dnsImage ?? '?'],
    ['DNS path', id.dnsPath ?? '?'],
    ['DNS version (version.bind)', id.dnsVersion ?? '?'],
    ['Schema (dns-version TXT)', id.schemaVersion ?? '?'],
    ['Cluster up', c.upMs !== undefined ? `${(c.upMs / 1000).toFixed(1)} s` : '—'],
    ['Run time', c.runMs !== undefined ? `${(c.runMs / 1000).toFixed(1)} s` : '—'],
    [
      'DNS converged after a change',
      c.dns.converged.n
        ? `median ${c.dns.converged.medianMs} ms, worst ${c.dns.converged.worstMs} ms (${c.dns.converged.n} waits)`
        : 'no wait had to look twice',
    ],
    [
      'DNS cache lag behind the replicas',
      c.dns.cacheLag ? `median ${c.dns.cacheLag.medianMs} ms, worst ${c.dns.cacheLag.worstMs} ms (${c.dns.cacheLag.n} waits)` : 'no cache',
    ],
    [
      'DNS right at the first look (upper bounds)',
      c.dns.firstLook.n ? `median ${c.dns.firstLook.medianMs} ms, worst ${c.dns.firstLook.worstMs} ms (${c.dns.firstLook.n} waits)` : '—',
    ],
    [
      'Result',
      c.counts
        ? `${c.counts.passed} passed, ${c.counts.failed} failed, ${c.counts.warnings} warnings, ${c.counts.skipped} skipped (exit ${c.exitCode})`
        : (c.message ?? c.state),
    ],
  ];
}

/** Requests per backend, largest first (backend names differ from run to run). */
const spreadText = (s: ColumnResult['spread'][number]): string => {
  const v = s.counts;
  const flat =
    v && typeof v === 'object' && Object.values(v).every((x) => typeof x === 'number')
      ? Object.values(v as Record<string, number>).sort((a, b) => b - a)
      : undefined;
  return `${s.check}: ${flat ? `${flat.join('/')} over ${flat.length} backend(s)` : JSON.stringify(v)}`;
};

export function matrixMarkdown(r: MatrixReport): string {
  const cols = r.columns;
  // Table cells: pipes escaped, and `<ns>` kept visible (GitHub would read it as a tag).
  const esc = mdCell;
  const lines = [`# svc-conformance matrix: ${headline(r)}`, ''];
  lines.push(
    `Matrix ${path.basename(r.file)}, ${cols.length} column(s) in ${(r.durationMs / 1000).toFixed(0)} ` +
      `s: ${cols.map((c) => `**${c.name}** (${c.describe}, ${c.profile} profile)`).join('; ')}.`,
    '',
  );
  const notUp = cols.filter((c) => c.state !== 'ran');
  if (r.differences.length) {
    lines.push(
      '## Differences',
      '',
      `| Check | Level | ${cols.map((c) => c.name).join(' | ')} |`,
      `|---|---|${cols.map(() => '---').join('|')}|`,
    );
    for (const id of r.differences) {
      const row = r.rows.find((x) => x.id === id)!;
      lines.push(
        `| \`${id}\` ${esc(row.claim)} | ${row.level} | ` +
          `${cols.map((c) => (c.state === 'ran' ? `${cellText(row.cells[c.name])}${row.cells[c.name]?.status !== 'passed' ? `: ${esc(oneLine(answerOf(row.cells[c.name]))).slice(0, 160)}` : ''}` : '—')).join(' | ')} |`,
      );
    }
    lines.push('');
    for (const id of r.differences) {
      const row = r.rows.find((x) => x.id === id)!;
      lines.push(`<details><summary><code>${id}</code>: the answers side by side</summary>`, '');
      for (const c of cols.filter((x) => x.state === 'ran'))
        lines.push(`**${c.name}** (${cellText(row.cells[c.name])}):`, '', '```', answerOf(row.cells[c.name]), '```', '');
      lines.push('</details>', '');
    }
  }
  if (notUp.length) {
    lines.push('## Columns that did not run', '');
    for (const c of notUp) lines.push(`### ${c.name}: ${c.message ?? c.state}`, '', '```', c.logTail ?? '', '```', '');
  }
  lines.push(
    '## Checks',
    '',
    `| Id | Level | Claim | ${cols.map((c) => c.name).join(' | ')} |`,
    `|---|---|---|${cols.map(() => '---').join('|')}|`,
  );
  for (const row of r.rows)
    lines.push(
      `| ${row.id} | ${row.level} | ${esc(row.claim)}${row.source ? ` ([source](${row.source.url}))` : ''} ` +
        `| ${cols.map((c) => (c.state === 'ran' ? cellText(row.cells[c.name]) : '—')).join(' | ')} |`,
    );
  const scaled = cols.filter((c) => c.scale?.length);
  if (scaled.length) {
    lines.push(
      '',
      '## At scale',
      '',
      SCALE_INTRO,
      '',
      `| Column | Services | ${SCALE_HEADS.join(' | ')} |`,
      `|---|---|${SCALE_HEADS.map(() => '---').join('|')}|`,
    );
    for (const c of scaled)
      for (const row of c.scale!) lines.push(`| ${c.name} | ${row.services} × ${row.endpoints} | ${scaleCells(row).join(' | ')} |`);
  }
  lines.push('', '## Columns', '', `| | ${cols.map((c) => c.name).join(' | ')} |`, `|---|${cols.map(() => '---').join('|')}|`);
  const idl = cols.map(identityLines);
  for (let i = 0; i < idl[0]!.length; i++) lines.push(`| ${idl[0]![i]![0]} | ${idl.map((l) => esc(l[i]![1])).join(' | ')} |`);
  lines.push(
    `| Request spread | ${cols
      .map((c) =>
        esc(
          c.spread
            .filter((s) => s.check === 'proxy.clusterip.spread' || s.check.startsWith('lb.'))
            .map(spreadText)
            .join('; ') || '—',
        ),
      )
      .join(' | ')} |`,
  );
  lines.push(`| Report | ${cols.map((c) => (c.reportDir ? `${c.reportDir}/report.html` : (c.log ?? '—'))).join(' | ')} |`);
  return lines.join('\n') + '\n';
}

const h = html;

const SCALE_INTRO =
  'The scale profile in each column: Services × endpoints; each measure as p50 / p99 (nearest rank) and the changes or ' +
  'queries missed. Network programming: from the API write until every node served the change (upstream SLO: p99 <= 30 s).';
const SCALE_HEADS = ['network programming p50 / p99', 'missed', 'DNS programming p50 / p99', 'missed', 'DNS lookup p50 / p99', 'lost'];
const fmtMs = (v?: number): string =>
  v === undefined ? '—' : v < 1000 ? `${+v.toFixed(v < 10 ? 2 : 0)} ms` : `${+(v / 1000).toFixed(2)} s`;
function scaleCells(row: ScaleRow): string[] {
  return (['programming', 'dns-programming', 'dns-lookup'] as const).flatMap((k) => {
    const m = row.measures[k];
    return [m?.p ? `${fmtMs(m.p.p50)} / ${fmtMs(m.p.p99)}` : '—', String(m?.missed ?? '—')];
  });
}

export function matrixHtml(r: MatrixReport): string {
  const cols = r.columns;
  const cls = (c?: Cell): string => c?.status ?? 'notrun';
  const link = (col: ColumnResult, c?: Cell): string =>
    col.reportDir && c
      ? ` <a href="${h(col.reportDir)}/report.html">report</a> · <a href="${h(col.reportDir)}/evidence/${h(c.suite)}.json">evidence</a>`
      : '';
  const diffs = r.differences
    .map((id) => {
      const row = r.rows.find((x) => x.id === id)!;
      const ran = cols.filter((c) => c.state === 'ran');
      return (
        `<section class="diff" data-id="${h(id)}"><h3><code>${h(id)}</code> ${h(row.claim)} <small>(${h(row.level)})</small></h3><div ` +
        `class="side" style="grid-template-columns:repeat(${ran.length},1fr)">${ran.map((c) => `<div><div class="cell ${cls(row.cells[c.name])}"><b>${h(c.name)}</b>: ${h(plainText(row.cells[c.name]))}${link(c, row.cells[c.name])}</div><pre>${h(answerOf(row.cells[c.name]))}</pre></div>`).join('')}</div></section>`
      );
    })
    .join('\n');
  const notUp = cols
    .filter((c) => c.state !== 'ran')
    .map(
      (c) =>
        `<details open class="notup"><summary>${h(c.name)}: ${h(c.message ?? c.state)}</summary><pre>${h(c.logTail ?? '')}</pre><p>Log: ` +
        `<a href="${h(c.log ?? '')}">${h(c.log ?? '')}</a></p></details>`,
    )
    .join('\n');
  const head = cols.map((c) => `<th>${h(c.name)}<br><small>${h(c.profile)}</small></th>`).join('');
  const rows = r.rows
    .map(
      (row) =>
        `<tr${r.differences.includes(row.id) ? ' class="differs"' : ''}><td><code>${h(row.id)}</code></td><td>${h(row.level)}</td><td>${h(row.claim)}${row.source ? ` <a href="${h(row.source.url)}">${h(row.source.title)}</a>` : ''}</td>${cols.map((c) => (c.state === 'ran' ? `<td class="${cls(row.cells[c.name])}">${c.reportDir ? `<a href="${h(c.reportDir)}/report.html">${h(plainText(row.cells[c.name]))}</a>` : h(plainText(row.cells[c.name]))}</td>` : '<td class="notrun">—</td>')).join('')}</tr>`,
    )
    .join('\n');
  const idl = cols.map(identityLines);
  const idRows =
    idl[0]!.map((_, i) => `<tr><th>${h(idl[0]![i]![0])}</th>${idl.map((l) => `<td>${h(l[i]![1])}</td>`).join('')}</tr>`).join('\n') +
    `<tr><th>Request spread</th>${cols.map((c) => `<td>${c.spread.length ? `<ul>${c.spread.map((s) => `<li>${h(spreadText(s))}</li>`).join('')}</ul>` : '—'}</td>`).join('')}</tr>` +
    `<tr><th>Column</th>${cols.map((c) => `<td>${h(c.describe)}<br><a href="${h(c.log ?? '')}">log</a>${c.reportDir ? ` · <a href="${h(c.reportDir)}/report.html">report</a> · <a href="${h(c.reportDir)}/results.json">results.json</a>` : ''}</td>`).join('')}</tr>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>svc-conformance matrix</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#111}table{border-collapse:collapse;width:100%}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
td.passed,.cell.passed{background:#dcfce7}td.failed,.cell.failed{background:#fee2e2;font-weight:bold}td.skipped,.cell.skipped{background:#f3f4f6}td.warning,.cell.warning{background:#fef3c7;font-weight:bold}td.informational,.cell.informational{background:#e0f2fe}td.notrun{color:#888}
tr.differs td:first-child{border-left:4px solid #b91c1c}.side{display:grid;gap:8px}.cell{padding:4px 8px}pre{white-space:pre-wrap;background:#f8fafc;padding:8px;border:1px solid #e5e7eb;margin:0;max-height:30em;overflow:auto;font-size:12px}
#headline{font-size:1.2em;font-weight:bold}details.notup summary{color:#b91c1c;font-weight:bold}
</style></head><body>
<h1>svc-conformance matrix</h1>
<p id="headline">${h(headline(r, plainText))}</p>
<p>${h(path.basename(r.file))}: ${cols.length} column(s) in ${(r.durationMs / 1000).toFixed(0)} s.</p>
<h2 id="differences">Differences</h2>${diffs || '<p>None: every check has the same result in every column that ran.</p>'}
${notUp ? `<h2 id="not-up">Columns that did not run</h2>${notUp}` : ''}
<h2>Checks</h2><table id="matrix"><thead><tr><th>Id</th><th>Level</th><th>Claim and source</th>${head}</tr></thead><tbody>
${rows}
</tbody></table>
${
  cols.some((c) => c.scale?.length)
    ? `<h2 id="scale">At scale</h2><p>${h(SCALE_INTRO)}</p><table id="scale-table"><thead><tr><th>Column</th><th>Services × endpoints</th>${SCALE_HEADS.map((x) => `<th>${h(x)}</th>`).join('')}</tr></thead><tbody>${cols
        .flatMap((c) =>
          (c.scale ?? []).map(
            (row) =>
              `<tr><td>${h(c.name)}</td><td>${row.services} × ${row.endpoints}</td>${scaleCells(row)
                .map((x) => `<td>${h(x)}</td>`)
                .join('')}</tr>`,
          ),
        )
        .join('')}</tbody></table>`
    : ''
}
<h2>Columns</h2><table id="columns"><thead><tr><th></th>${head}</tr></thead><tbody>
${idRows}
</tbody></table>
</body></html>
`;
}

export function matrixJunit(r: MatrixReport): string {
  const x = xml;
  const suites = r.columns.map((c) => {
    if (c.state !== 'ran')
      return junitErrorSuite(
        `svc-conformance.matrix.${c.name}`,
        'the cluster comes up and the run starts',
        c.message ?? c.state,
        c.logTail ?? '',
      );
    const cases = r.rows
      .filter((row) => row.cells[c.name])
      .map((row) => {
        const cell = row.cells[c.name]!;
        return junitCase(
          {
            classname: `svc-conformance.matrix.${c.name}.${cell.suite}`,
            name: `${cell.claim} [${row.id}]`,
            status: cell.status,
            level: row.level,
            failure: cell.failure,
            skipReason: cell.skipReason,
            properties: { id: row.id, level: row.level, differs: String(r.differences.includes(row.id)) },
          },
          oneLine,
        );
      })
      .join('\n');
    const cs = r.rows.map((row) => row.cells[c.name]).filter(Boolean) as Cell[];
    return (
      `  <testsuite name="svc-conformance.matrix.${x(c.name)}" tests="${cs.length}" failures="${cs.filter((y) => y.status === 'failed').length}" ` +
      `skipped="${cs.filter((y) => y.status === 'skipped').length}" errors="0" time="${((c.runMs ?? 0) / 1000).toFixed(3)}">\n${cases}\n  </testsuite>`
    );
  });
  const all = r.columns.filter((c) => c.state === 'ran').flatMap((c) => r.rows.map((row) => row.cells[c.name]).filter(Boolean)) as Cell[];
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="svc-conformance-matrix" tests="${all.length + r.counts.columnsNotUp}" ` +
    `failures="${all.filter((y) => y.status === 'failed').length}" errors="${r.counts.columnsNotUp}" ` +
    `skipped="${all.filter((y) => y.status === 'skipped').length}">\n${suites.join('\n')}\n</testsuites>\n`
  );
}

export function writeMatrixReports(dir: string, r: MatrixReport): string[] {
  const md = matrixMarkdown(r);
  writeConformanceReports(dir, r);
  return writeReportDir(
    dir,
    [
      ['matrix.html', matrixHtml(r)],
      ['matrix.md', md],
      ['matrix.json', JSON.stringify(r, null, 2)],
      ['matrix-junit.xml', matrixJunit(r)],
    ],
    md,
  );
}

/** Each column's conformance report, under conformance/<implementation>/<version>.yaml of the
 *  matrix's report dir (scripts/conformance-reports.sh copies them into the repository), with
 *  the matrix command that reproduces it. Two columns of one implementation and version: the
 *  second is named <version>-<column>. Returns the files written. */
export function writeConformanceReports(dir: string, r: MatrixReport): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const c of r.columns) {
    if (c.state !== 'ran' || !c.reportDir || !c.implementation) continue;
    const results = path.join(dir, c.reportDir, 'results.json');
    if (!fs.existsSync(results)) continue;
    const run = readRunReport(results);
    const file = path.relative(ROOT, r.file).startsWith('..') ? r.file : path.relative(ROOT, r.file);
    const report = conformanceReport(run, `svc-conformance matrix ${file} (column ${c.name}, ${c.profile} profile)`);
    const safe = (x: string): string => x.replace(/[^A-Za-z0-9._-]/g, '_');
    const base = path.join(dir, 'conformance', safe(report.implementation.name));
    let name = safe(report.implementation.version);
    if (seen.has(path.join(base, name))) name = `${name}-${c.name}`;
    seen.add(path.join(base, name));
    fs.mkdirSync(base, { recursive: true });
    fs.writeFileSync(path.join(base, `${name}.yaml`), conformanceYaml(report));
    out.push(path.join(base, `${name}.yaml`));
  }
  return out;
}
