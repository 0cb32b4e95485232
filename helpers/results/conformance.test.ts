// Conformance on real reports (helpers/testdata/matrix-run: a privileged run on kube-proxy's
// ipvs mode, written before svc-conformance/v1, and its run config): the components the
// preflight recognised, the profiles' results, a known difference marked where it occurs and
// reported stale where its check passed, and the versioned report read, upgraded or refused.
import { describe, expect, test } from '@jest/globals';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REGISTRY } from '../../suites/registry.ts';
import { PROFILES, inProfile } from '../../suites/data/profiles.ts';
import { KNOWN_DIFFERENCES } from '../../suites/data/known-differences.ts';
import type { Target } from '../config/target.ts';
import { applyKnownDifferences, componentsOf, implementationOf, profileResults, readKnownDifferences, versionIn } from './conformance.ts';
import {
  conformanceReport,
  countsOf,
  NOT_SELECTED,
  parseRunReport,
  readConformanceReport,
  readRunReport,
  REPORT_API_VERSION,
} from './reports.ts';
import { conformanceYaml, junit, knownLines, markdown } from './reports.ts';

const data = path.join(path.dirname(path.dirname(fileURLToPath(import.meta.url))), 'testdata', 'matrix-run');
const runConfig = (dir: string): Target => {
  const f = fs.readdirSync(path.join(data, dir)).find((x) => x.startsWith('run-config-'))!;
  return JSON.parse(fs.readFileSync(path.join(data, dir, f), 'utf8')) as Target;
};
const ipvsConfig = runConfig('ipvs');
const fresh = () => readRunReport(path.join(data, 'ipvs', 'results.json'));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'svc-conformance-'));

describe('the implementation under test', () => {
  test('its components, as the preflight and the bundled profile name them', () => {
    expect(componentsOf(ipvsConfig.cluster, ipvsConfig.profile)).toEqual([
      { role: 'service-proxy', name: 'kube-proxy-ipvs', version: 'v1.37.2', from: 'kube-proxy --version on the nodes' },
      { role: 'dns', name: 'coredns', version: 'v1.14.7', from: 'the image of the k8s-app=kube-dns Pods' },
    ]);
  });

  test('detected by default; named by flags or a file, a bare name taking its component version', () => {
    const comps = componentsOf(ipvsConfig.cluster, ipvsConfig.profile);
    expect(implementationOf({}, comps)).toMatchObject({ name: 'kube-proxy-ipvs', version: 'v1.37.2', from: 'detected' });
    expect(implementationOf({ name: 'coredns' }, comps)).toMatchObject({ name: 'coredns', version: 'v1.14.7', from: 'flags' });
    const file = path.join(tmp, 'impl.yaml');
    fs.writeFileSync(file, 'name: acme-proxy\nversion: 2.3.4\nurl: https://example.com/acme\n');
    expect(implementationOf({ file }, comps)).toMatchObject({
      name: 'acme-proxy',
      version: '2.3.4',
      url: 'https://example.com/acme',
      from: 'file',
    });
    fs.writeFileSync(file, 'version: 1\n');
    expect(() => implementationOf({ file }, comps)).toThrow(
      /impl.yaml \(name, and optionally version and url\) does not match.*\n.*\$\.name: expected a string/,
    );
  });
});

describe('profiles', () => {
  test('every check is in a profile, and every prefix of a profile names some check', () => {
    const orphans = REGISTRY.filter((c) => !PROFILES.some((p) => inProfile(p, c.id, c.level))).map((c) => c.id);
    expect(orphans).toEqual([]);
    for (const p of PROFILES)
      for (const prefix of [...p.include, ...(p.exclude ?? [])])
        expect([p.name, REGISTRY.some((c) => c.id.startsWith(prefix))]).toEqual([p.name, true]);
  });

  test("the real ipvs run: each applicable profile's result, with ids and reasons", () => {
    const r = fresh();
    const comps = componentsOf(ipvsConfig.cluster, ipvsConfig.profile);
    const results = profileResults(r.checks, comps, NOT_SELECTED);
    expect(results.map((p) => p.name)).toEqual([
      'basics',
      'dns',
      'dns-cache',
      'service-proxy-core',
      'service-proxy-extended',
      'rules-ipvs',
    ]);
    const by = Object.fromEntries(results.map((p) => [p.name, p]));
    // The six dns.negative failures (probe timeouts on the VM node) fail the DNS profile.
    expect(by.dns!.result).toBe('failure');
    expect(by.dns!.failed.map((f) => f.id).sort()).toEqual(
      r.checks
        .filter((c) => c.status === 'failed' && c.id!.startsWith('dns.'))
        .map((c) => c.id)
        .sort(),
    );
    // proxy.affinity.timeout (required level) fails both Service proxy profiles.
    expect(by['service-proxy-core']!.failed.map((f) => f.id)).toEqual(['proxy.affinity.timeout']);
    expect(by['service-proxy-extended']!.result).toBe('failure');
    // A requirement the cluster lacks makes a profile partial, with the reason.
    expect(by['service-proxy-core']!.skipped.find((s) => s.id === 'net.external.outside-host')?.reason).toMatch(
      /needs a host outside the cluster/,
    );
    expect(by['rules-ipvs']!.result).toBe('success');
  });
});

describe('known differences', () => {
  test('versions: exact, bounds and any', () => {
    expect(versionIn('v1.37.2', 'v1.37.2')).toBe(true);
    expect(versionIn('v1.37.2', '>=v1.37.0 <v1.38.0')).toBe(true);
    expect(versionIn('v1.38.0', '>=v1.37.0 <v1.38.0')).toBe(false);
    expect(versionIn('1.20.2', 'v1.20.2')).toBe(true);
    expect(versionIn('unknown', '>=v1.0.0')).toBe(false);
    expect(versionIn('unknown', '*')).toBe(true);
  });

  test('marked where its check fails (keeping its status) and stale where it passes', () => {
    const r = fresh();
    const comps = componentsOf(ipvsConfig.cluster, ipvsConfig.profile);
    // A user's own entry for a check that passed in this run: stale.
    const file = path.join(tmp, 'known.yaml');
    fs.writeFileSync(
      file,
      [
        '- component: kube-proxy-ipvs',
        "  versions: '>=v1.37.0 <v1.38.0'",
        '  checks: [proxy.clusterip.hairpin]',
        '  reason: hairpin was broken once',
        '  url: https://github.com/example/example/issues/1',
        '- component: kube-proxy-ipvs',
        "  versions: '<v1.30.0'",
        '  checks: [proxy.affinity.timeout]',
        '  reason: an older version only',
        '  url: https://github.com/example/example/issues/2',
      ].join('\n'),
    );
    const { matched, stale } = applyKnownDifferences(r.checks, comps, readKnownDifferences(file));
    expect(matched).toEqual([
      expect.objectContaining({
        check: 'proxy.affinity.timeout',
        component: 'kube-proxy-ipvs v1.37.2',
        url: 'https://github.com/kubernetes/kubernetes/issues/89358',
        from: 'suites/data/known-differences.ts',
      }),
    ]);
    expect(stale).toEqual([expect.objectContaining({ check: 'proxy.clusterip.hairpin', from: file })]);
    const timeout = r.checks.find((c) => c.id === 'proxy.affinity.timeout')!;
    expect(timeout.status).toBe('failed');
    expect(timeout.knownDifference?.url).toBe('https://github.com/kubernetes/kubernetes/issues/89358');
    // The same run's components under another proxy match nothing.
    expect(
      applyKnownDifferences(fresh().checks, [{ role: 'service-proxy', name: 'kube-proxy-iptables', version: 'v1.37.2', from: 'x' }])
        .matched,
    ).toEqual([]);
  });

  test('a --known-differences entry naming no check is refused', () => {
    const file = path.join(tmp, 'bad.yaml');
    fs.writeFileSync(file, "- {component: cilium, versions: '*', checks: [proxy.no-such], reason: r, url: u}\n");
    expect(() => readKnownDifferences(file)).toThrow(/proxy.no-such is not a check id/);
  });

  test('every entry of the data file names a component and versions a run can match', () => {
    for (const d of KNOWN_DIFFERENCES) {
      expect(d.component).toMatch(/^(kube-proxy-(iptables|nftables|ipvs)|kube-router|cilium|coredns|node-local-dns)$/);
      expect(d.reason.includes('\n')).toBe(false);
    }
  });
});

describe('the versioned report', () => {
  test('a report from before svc-conformance/v1 is read, its checks not selected counted apart', () => {
    const text = fs.readFileSync(path.join(data, 'reference', 'results.json'), 'utf8');
    const old = JSON.parse(text) as { apiVersion?: string; counts: { skipped: number } };
    expect(old.apiVersion).toBeUndefined();
    const r = parseRunReport(text, 'reference');
    expect(r.apiVersion).toBe(REPORT_API_VERSION);
    expect(r.counts.skipped + r.counts.notSelected!).toBe(old.counts.skipped);
    expect(r.counts).toEqual(countsOf(r.checks, r.suiteErrors.length));
  });

  test('another apiVersion is refused, saying which one this reads', () => {
    const text = JSON.stringify({
      ...JSON.parse(fs.readFileSync(path.join(data, 'reference', 'results.json'), 'utf8')),
      apiVersion: 'svc-conformance/v2',
    });
    expect(() => parseRunReport(text, 'x')).toThrow(/apiVersion "svc-conformance\/v2", and this svc-conformance reads svc-conformance\/v1/);
  });

  test('a conformance report is written and read back', () => {
    const r = fresh();
    const comps = componentsOf(ipvsConfig.cluster, ipvsConfig.profile);
    r.implementation = implementationOf({}, comps);
    r.profiles = profileResults(r.checks, comps, NOT_SELECTED);
    r.knownDifferences = applyKnownDifferences(r.checks, comps);
    const file = path.join(tmp, 'v1.37.2.yaml');
    fs.writeFileSync(file, conformanceYaml(conformanceReport(r, 'svc-conformance run --local --profile privileged')));
    const back = readConformanceReport(file);
    expect(back.implementation.name).toBe('kube-proxy-ipvs');
    expect(back.profiles.find((p) => p.name === 'rules-ipvs')!.result).toBe('success');
    expect(back.knownDifferences.matched.map((k) => k.check)).toEqual(['proxy.affinity.timeout']);
    expect(fs.readFileSync(file, 'utf8')).toMatch(/^# Generated by svc-conformance from a real run; not edited by hand/);
  });
});

describe('known differences in one real run (helpers/testdata/run-retries/known-demo.json)', () => {
  // The bundled cluster with kube-proxy kept off node-2, run with --known-differences
  // known-demo.known-differences.yaml: one entry explains the failure, the other's check passed.
  const dir = path.join(path.dirname(path.dirname(fileURLToPath(import.meta.url))), 'testdata', 'run-retries');
  test('the failure is known (still failed), the passing entry is stale, and the closing lines say both', () => {
    const r = readRunReport(path.join(dir, 'known-demo.json'));
    expect(r.checks.find((c) => c.id === 'rules.clusterip.rule')).toMatchObject({
      status: 'failed',
      knownDifference: { url: 'https://github.com/example/example/issues/1' },
    });
    expect(r.knownDifferences!.matched.map((m) => m.check)).toEqual(['rules.clusterip.rule']);
    expect(r.knownDifferences!.stale.map((m) => m.check)).toEqual(['dns.clusterip.a']);
    expect(r.counts.failed).toBe(1);
    expect(knownLines(r.knownDifferences)).toEqual([
      expect.stringMatching(
        /^svc-conformance: known difference rules\.clusterip\.rule \(kube-proxy-iptables v1\.37\.2, >=v1\.37\.0 <v1\.38\.0\): kube-proxy kept off node-2/,
      ),
      expect.stringMatching(
        /^svc-conformance: STALE known difference dns\.clusterip\.a \(kube-proxy-iptables v1\.37\.2, \*\) passed here: fixed upstream\? https:\/\/github\.com\/example\/example\/issues\/2/,
      ),
    ]);
    // Read again from the same entries, the run's checks give the same answer.
    const again = applyKnownDifferences(
      r.checks.map((c) => ({ ...c, knownDifference: undefined })),
      r.implementation!.components,
      readKnownDifferences(path.join(dir, 'known-demo.known-differences.yaml')),
    );
    expect([again.matched.map((m) => m.check), again.stale.map((m) => m.check)]).toEqual([['rules.clusterip.rule'], ['dns.clusterip.a']]);
  });
});

describe('flaky and known in the JUnit and Markdown reports (real runs)', () => {
  const dir = path.join(path.dirname(path.dirname(fileURLToPath(import.meta.url))), 'testdata', 'run-retries');
  test('a flaky pass says so in JUnit and the summary; a known difference and a stale entry are listed', () => {
    const rerun = readRunReport(path.join(dir, 'rerun.json'));
    expect(junit(rerun)).toMatch(
      /<property name="id" value="rules\.clusterip\.rule"\/>.*<property name="verdict" value="flaky"\/><property name="failed-attempts" value="1"\/>/,
    );
    expect(markdown(rerun)).toMatch(
      /## Flaky \(passed only on a retry\)\n\n- `rules\.clusterip\.rule`: attempt 1: Service proxy not converged within 20000 ms/,
    );
    const md = markdown(readRunReport(path.join(dir, 'known-demo.json')));
    expect(md).toContain('## Known differences');
    expect(md).toMatch(/- `rules\.clusterip\.rule` \(kube-proxy-iptables v1\.37\.2\): kube-proxy kept off node-2/);
    expect(md).toMatch(/- stale: `dns\.clusterip\.a` \(kube-proxy-iptables v1\.37\.2\) passed here: fixed upstream\?/);
  });
});
