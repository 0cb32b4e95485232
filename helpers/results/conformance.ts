// What a run's report says about conformance: the implementation under test (named by the
// user, else detected: the Service proxy and its mode, the DNS server, a cache in front),
// each conformance profile's result (suites/data/profiles.ts), and the known differences
// (suites/data/known-differences.ts, and a user's own file) that explain a failure or have
// gone stale. Pure functions over the report; the CLI and the matrix call them.
import * as fs from 'node:fs';
import yaml from 'js-yaml';
import { checkDef } from '../../suites/registry.ts';
import { PROFILES, inProfile, type ConformanceProfile } from '../../suites/data/profiles.ts';
import { KNOWN_DIFFERENCES, type KnownDifference } from '../../suites/data/known-differences.ts';
import type { ClusterProfile, DetectedCluster } from '../config/target.ts';
import { hasCache } from '../lib/dns-path.ts';
import { arr, check, obj, oneOf, opt, str } from '../../probe/schema.ts';

/** A part of the cluster the checks exercise, as the preflight recognised it. */
export interface Component {
  role: 'service-proxy' | 'dns' | 'dns-cache';
  /** kube-proxy-<mode>, kube-router, cilium; coredns (or the DNS image's name); node-local-dns, dnsmasq, unbound. */
  name: string;
  version: string;
  /** Where the name and version were read. */
  from: string;
}

export interface Implementation {
  name: string;
  version: string;
  url?: string;
  /** flags: --implementation (or its file); detected: from the components. */
  from: 'flags' | 'file' | 'detected';
  components: Component[];
}

/** The tag of an image reference (without a digest), or undefined. */
const tagOf = (image?: string): string | undefined => {
  if (!image) return undefined;
  const noDigest = image.split('@')[0]!;
  const last = noDigest.split('/').pop()!;
  return last.includes(':') ? last.split(':').pop() : undefined;
};
const baseName = (image: string): string => image.split('@')[0]!.split('/').pop()!.split(':')[0]!;

/** The components of a cluster, from what the preflight read (and the bundled cluster's
 *  profile, which knows the versions it built). */
export function componentsOf(c?: DetectedCluster, profile?: ClusterProfile): Component[] {
  if (!c) return [];
  const out: Component[] = [];
  if (c.serviceProxy?.name === 'cilium' && c.serviceProxy.kubeProxyReplacement)
    out.push({ role: 'service-proxy', name: 'cilium', version: c.serviceProxy.version, from: 'the cilium-agent image in kube-system' });
  else if (c.kubeRouterImages?.length || profile?.serviceProxy === 'kube-router')
    out.push({
      role: 'service-proxy',
      name: 'kube-router',
      version: tagOf(c.kubeRouterImages?.[0]) ?? profile?.serviceProxyVersion ?? 'unknown',
      from: c.kubeRouterImages?.length ? 'the kube-router image in kube-system' : 'the bundled cluster',
    });
  else if (c.kubeProxy === 'present')
    out.push({
      role: 'service-proxy',
      name: `kube-proxy-${c.proxyMode}`,
      version: profile?.kubeProxyVersion || tagOf(c.kubeProxyImages?.[0]) || c.version,
      from: profile?.kubeProxyVersion
        ? 'kube-proxy --version on the nodes'
        : c.kubeProxyImages?.length
          ? 'the kube-proxy image in kube-system'
          : 'the API server version',
    });
  const dnsImage = c.dnsImages?.[0];
  if (dnsImage)
    out.push({
      role: 'dns',
      name: /coredns/.test(dnsImage) ? 'coredns' : baseName(dnsImage),
      version: tagOf(dnsImage) ?? 'unknown',
      from: 'the image of the k8s-app=kube-dns Pods',
    });
  if (c.dnsCacheImages?.length)
    out.push({
      role: 'dns-cache',
      // NodeLocal DNSCache runs node-cache (CoreDNS; the bundled cluster runs CoreDNS itself),
      // or another server in its place under the same name (dnsmasq, unbound).
      name: /^(k8s-dns-node-cache|coredns)$/.test(baseName(c.dnsCacheImages[0]!)) ? 'node-local-dns' : baseName(c.dnsCacheImages[0]!),
      version: tagOf(c.dnsCacheImages[0]) ?? 'unknown',
      from: 'the image of the k8s-app=node-local-dns Pods',
    });
  else if (hasCache(c.dnsPath))
    out.push({ role: 'dns-cache', name: 'unknown', version: 'unknown', from: 'the DNS path (a cache answers)' });
  return out;
}

export interface ImplementationInput {
  name?: string;
  version?: string;
  url?: string;
  /** A YAML or JSON file with name, version and url. */
  file?: string;
}

const IMPLEMENTATION_FILE = obj({ name: str, version: opt(str), url: opt(str) });

/** Reads an --implementation-file: name, version, url. */
export function readImplementationFile(file: string): { name: string; version?: string; url?: string } {
  let doc: unknown;
  try {
    doc = yaml.load(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`--implementation-file ${file}: ${(e as Error).message}`);
  }
  return check(IMPLEMENTATION_FILE, doc, `--implementation-file ${file} (name, and optionally version and url)`);
}

/** The implementation under test: as given (flags win over the file), else the Service
 *  proxy, else the DNS server. A name without a version takes the version of the component
 *  of that name. */
export function implementationOf(given: ImplementationInput, components: Component[]): Implementation {
  const fromFile = given.file ? readImplementationFile(given.file) : undefined;
  const name = given.name ?? fromFile?.name;
  const url = given.url ?? fromFile?.url;
  if (name) {
    const version = given.version ?? fromFile?.version ?? components.find((c) => c.name === name)?.version ?? 'unknown';
    return { name, version, ...(url ? { url } : {}), from: given.name ? 'flags' : 'file', components };
  }
  const main = components.find((c) => c.role === 'service-proxy') ?? components.find((c) => c.role === 'dns');
  return {
    name: main?.name ?? 'unknown',
    version: given.version ?? main?.version ?? 'unknown',
    ...(url ? { url } : {}),
    from: 'detected',
    components,
  };
}

// ------------------------------------------------------------------------------ profiles
/** What the profiles need of a check's result. */
export interface CheckResult {
  id?: string;
  level?: string;
  status: 'passed' | 'failed' | 'skipped' | 'warning' | 'informational';
  skipReason?: string;
  failure?: string;
  knownDifference?: { reason: string; url: string };
}

export interface ProfileResult {
  name: string;
  title: string;
  /** success: every check passed; partial: none failed, some skipped, warned or not
   *  selected; failure: some check failed. */
  result: 'success' | 'partial' | 'failure';
  counts: { passed: number; failed: number; warnings: number; skipped: number; notSelected: number };
  failed: { id: string; reason: string; knownDifference?: string }[];
  warnings: { id: string; reason: string; knownDifference?: string }[];
  skipped: { id: string; reason: string }[];
}

const firstLine = (s?: string): string => (s ?? '').split('\n').find((l) => l.trim()) ?? '';

/** The profiles that apply to the implementation's Service proxy (all without `proxies`). */
export function applicableProfiles(components: Component[]): ConformanceProfile[] {
  const proxy = components.find((c) => c.role === 'service-proxy')?.name;
  return PROFILES.filter((p) => !p.proxies || (proxy !== undefined && (p.proxies as string[]).includes(proxy)));
}

/** Each applicable profile's result over a run's checks. `notSelected` is the skip reason
 *  of a check --focus/--skip left out. */
export function profileResults(checks: CheckResult[], components: Component[], notSelected: string): ProfileResult[] {
  const of = (p: ConformanceProfile): CheckResult[] => checks.filter((c) => c.id && c.level && inProfile(p, c.id, c.level as never));
  // An opt-in profile (scale) is reported only by a run that selected some of its checks.
  const asked = (p: ConformanceProfile): boolean =>
    !p.optIn || of(p).some((c) => !(c.status === 'skipped' && c.skipReason === notSelected));
  return applicableProfiles(components)
    .filter(asked)
    .map((p) => {
      const mine = of(p);
      const ns = mine.filter((c) => c.status === 'skipped' && c.skipReason === notSelected);
      const skipped = mine.filter((c) => c.status === 'skipped' && c.skipReason !== notSelected);
      const failed = mine.filter((c) => c.status === 'failed');
      const warnings = mine.filter((c) => c.status === 'warning');
      const passed = mine.filter((c) => c.status === 'passed' || c.status === 'informational');
      const known = (c: CheckResult): { knownDifference?: string } => (c.knownDifference ? { knownDifference: c.knownDifference.url } : {});
      return {
        name: p.name,
        title: p.title,
        result: failed.length ? 'failure' : skipped.length || warnings.length || ns.length ? 'partial' : 'success',
        counts: {
          passed: passed.length,
          failed: failed.length,
          warnings: warnings.length,
          skipped: skipped.length,
          notSelected: ns.length,
        },
        failed: failed.map((c) => ({ id: c.id!, reason: firstLine(c.failure), ...known(c) })),
        warnings: warnings.map((c) => ({ id: c.id!, reason: firstLine(c.failure), ...known(c) })),
        skipped: skipped.map((c) => ({ id: c.id!, reason: c.skipReason ?? '' })),
      };
    });
}

// ---------------------------------------------------------------------- known differences
/** Whether a version is in a range: '*', an exact version, or bounds such as
 *  '>=v1.20.0 <v1.21.0' (numeric parts compared; a leading v ignored). */
export function versionIn(version: string, range: string): boolean {
  const parts = (v: string): number[] => v.replace(/^v/, '').split(/[.+-]/).slice(0, 3).map(Number);
  const cmp = (a: string, b: string): number => {
    const x = parts(a);
    const y = parts(b);
    for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
    return 0;
  };
  if (range.trim() === '*') return true;
  if (parts(version).some(Number.isNaN)) return false;
  return range
    .trim()
    .split(/\s+/)
    .every((term) => {
      const m = /^(>=|<=|>|<|=)?(.+)$/.exec(term)!;
      const c = cmp(version, m[2]!);
      return { '>=': c >= 0, '<=': c <= 0, '>': c > 0, '<': c < 0, '=': c === 0 }[m[1] ?? '='];
    });
}

export interface KnownMatch {
  check: string;
  component: string;
  versions: string;
  reason: string;
  url: string;
  /** Where the entry was read: the suite's data file, or a --known-differences file. */
  from: string;
}

const USER_ENTRIES = arr(
  obj({
    component: str,
    versions: str,
    checks: arr(str),
    verdict: opt(oneOf('fail', 'warning')),
    reason: str,
    url: str,
  }),
);

/** A --known-differences file: a YAML or JSON list of {component, versions, checks, reason, url}. */
export function readKnownDifferences(file: string): KnownDifference[] {
  let doc: unknown;
  try {
    doc = yaml.load(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`--known-differences ${file}: ${(e as Error).message}`);
  }
  const entries = check<
    { component: string; versions: string; checks: string[]; verdict?: 'fail' | 'warning'; reason: string; url: string }[]
  >(USER_ENTRIES, doc, `--known-differences ${file} (a list of {component, versions, checks, reason, url})`);
  for (const e of entries)
    for (const id of e.checks)
      try {
        checkDef(id);
      } catch {
        throw new Error(`--known-differences ${file}: ${id} is not a check id (svc-conformance list prints them)`);
      }
  return entries.map((e) => ({
    implementation: `${e.component} ${e.versions}`,
    component: e.component,
    versions: e.versions,
    column: '',
    checks: e.checks,
    verdict: e.verdict ?? 'fail',
    reason: e.reason,
    difference: e.reason,
    evidence: `from ${file}`,
    upstream: { title: e.url, url: e.url },
    source: file,
  }));
}

/** Marks the checks a known difference of the run's components explains (failed or
 *  warned: they keep their status), and returns those matches and the stale entries (a
 *  check of theirs passed in this run: fixed upstream?). */
export function applyKnownDifferences(
  checks: CheckResult[],
  components: Component[],
  extra: KnownDifference[] = [],
): { matched: KnownMatch[]; stale: KnownMatch[] } {
  const matched: KnownMatch[] = [];
  const stale: KnownMatch[] = [];
  const byId = new Map(checks.filter((c) => c.id).map((c) => [c.id!, c]));
  for (const d of [...KNOWN_DIFFERENCES, ...extra]) {
    const comp = components.find((c) => c.name === d.component && versionIn(c.version, d.versions));
    if (!comp) continue;
    for (const id of d.checks) {
      const c = byId.get(id);
      if (!c) continue;
      const m: KnownMatch = {
        check: id,
        component: `${comp.name} ${comp.version}`,
        versions: d.versions,
        reason: d.reason,
        url: d.upstream?.url ?? '',
        from: d.source ?? 'suites/data/known-differences.ts',
      };
      if (c.status === 'failed' || c.status === 'warning') {
        c.knownDifference = { reason: d.reason, url: m.url };
        matched.push(m);
      } else if (c.status === 'passed') stale.push(m);
    }
  }
  return { matched, stale };
}
