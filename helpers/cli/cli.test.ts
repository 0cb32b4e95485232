// Unit tests for the runner's pure parts: flag parsing, mirror rewriting, name filters.
import { describe, expect, test } from '@jest/globals';
import { mergeInputs, validateInput } from '../config/target.ts';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REGISTRY } from '../../suites/registry.ts';
import { closingLines, readRunReport } from '../results/reports.ts';
import { inputFromFlags, listChecks, mirror, parseCli, selectFor } from './cli.ts';
import { selectChecks, selectionPattern } from './plan.ts';

describe('runner flags', () => {
  test('run is the default command; values are kept', () => {
    const { command, values } = parseCli(['--kubeconfig', '/k', '--focus', 'dns', '--parallel', '2']);
    expect({ command, kubeconfig: values.kubeconfig, focus: values.focus, parallel: values.parallel }).toEqual({
      command: 'run',
      kubeconfig: '/k',
      focus: 'dns',
      parallel: '2',
    });
  });

  test('bad input is a usage error naming the flag', () => {
    expect(() => parseCli(['run', '--timeout-scale', 'x'])).toThrow(/--timeout-scale must be a positive number/);
    expect(() => parseCli(['run', '--local', '--kubeconfig', '/k'])).toThrow(/--local .* cannot be combined/);
    expect(() => parseCli(['run', '--cluster-domain', 'bad domain'])).toThrow(/not a DNS name/);
    expect(() => parseCli(['run', '--kind', '--kubeconfig', '/k'])).toThrow(/--kind starts a cluster of its own/);
    expect(() => parseCli(['run', '--kind-nodes', '2'])).toThrow(/go with --kind/);
    expect(() => parseCli(['run', '--kind', '--kind-nodes', '9'])).toThrow(/--kind-nodes must be 1 to 5/);
    expect(() => parseCli(['run', '--kind', '--kind-proxy-mode', 'ipvs'])).toThrow(/--kind-proxy-mode must be iptables or nftables/);
    expect(() => parseCli(['run', '--kind', '--kind-ip-family', 'ipv5'])).toThrow(/--kind-ip-family must be ipv4, ipv6 or dual/);
    expect(() => parseCli(['run', '--kind-ip-family', 'dual'])).toThrow(/go with --kind/);
    expect(() => parseCli(['matrix', 'm.yaml', '--kubeconfig', '/k'])).toThrow(
      "matrix takes --report-dir, --focus, --skip, --strict, --parallel, --column-results; a column's cluster, profile and kubeconfig come from the matrix file (not --kubeconfig)",
    );
  });

  test('flags and environment are checked by one set of rules, which names the source', () => {
    expect(() => parseCli(['run', '--convergence-bound', '0'])).toThrow("--convergence-bound must be a positive number (got '0')");
    expect(() => parseCli(['run', '--run-id', 'Bad_Id'])).toThrow("--run-id 'Bad_Id' must be lower-case letters");
    const fromEnv = { timeoutScale: Number('x'), sources: { timeoutScale: { name: 'SVC_TIMEOUT_SCALE', raw: 'x' } } };
    expect(() => validateInput(fromEnv)).toThrow("SVC_TIMEOUT_SCALE must be a positive number (got 'x')");
    // A flag overrides the environment, and is what an error then names.
    const merged = mergeInputs(fromEnv, inputFromFlags(parseCli(['run', '--timeout-scale', '2']).values));
    expect(() => validateInput(merged)).not.toThrow();
    expect(merged.timeoutScale).toBe(2);
    const env = { clusterDomain: 'a..b', sources: { clusterDomain: { name: 'SVC_CLUSTER_DOMAIN', raw: 'a..b' } } };
    expect(() => validateInput(mergeInputs(env))).toThrow("SVC_CLUSTER_DOMAIN 'a..b' is not a DNS name");
  });

  test('--image-registry rewrites Docker Hub and registry.k8s.io references onto the mirror', () => {
    expect(mirror('docker.io/library/node:24-slim', 'mirror.local:5000')).toBe('mirror.local:5000/library/node:24-slim');
    expect(mirror('node:24-slim', 'mirror.local:5000/')).toBe('mirror.local:5000/library/node:24-slim');
    expect(mirror('registry.k8s.io/pause:3.10.1', 'mirror.local')).toBe('mirror.local/pause:3.10.1');
  });

  test('--focus and --skip select by id and claim; Jest gets exactly those ids', () => {
    const sel = selectChecks('^dns\\.headless', 'srv');
    expect(sel.length).toBeGreaterThan(1);
    expect(sel.every((c) => c.id.startsWith('dns.headless') && !/srv/.test(c.id) && !/srv/.test(c.claim))).toBe(true);
    const re = new RegExp(selectionPattern(sel)!);
    const title = (c: { id: string; claim: string }): string => `headless Service ${c.claim} [${c.id}]`;
    expect(
      listChecks()
        .filter((c) => re.test(title(c)))
        .map((c) => c.id),
    ).toEqual(sel.map((c) => c.id));
    expect(selectionPattern(REGISTRY)).toBeUndefined();
    expect(selectChecks('no such check')).toEqual([]);
  });

  test('the scale profile runs only when asked for: by the profile, or a focus on its ids (not a word of a claim)', () => {
    const scale = REGISTRY.filter((c) => c.id.startsWith('scale.')).map((c) => c.id);
    expect(scale.length).toBeGreaterThan(1);
    const ids = (cs: { id: string }[]): string[] => cs.map((c) => c.id);
    expect(ids(selectChecks()).filter((id) => scale.includes(id))).toEqual([]);
    expect(ids(selectChecks('steady')).filter((id) => scale.includes(id))).toEqual([]);
    expect(ids(selectChecks('^scale\\.dns'))).toEqual(scale.filter((id) => id.startsWith('scale.dns')));
    expect(ids(selectFor(parseCli(['run', '--conformance-profile', 'scale']).values).selected)).toEqual(scale);
    expect(ids(selectFor(parseCli(['run']).values).selected)).toEqual(ids(REGISTRY).filter((id) => !scale.includes(id)));
  });

  test('--scale takes SERVICESxENDPOINTS and says what it needs otherwise', () => {
    expect(mergeInputs({}, inputFromFlags(parseCli(['run', '--scale', '200x5']).values)).scale).toBe('200x5');
    for (const bad of ['0x5', '10x', 'many', '100000x1', '10x5000'])
      expect(() => parseCli(['run', '--scale', bad])).toThrow(
        new RegExp(`--scale must be SERVICESxENDPOINTS, e\\.g\\. 1000x10: .* \\(got '${bad}'\\)`),
      );
  });

  test('list prints the registry: every check with id, level and source', () => {
    const checks = listChecks();
    expect(checks.length).toBeGreaterThan(40);
    expect(checks.find((c) => c.id === 'dns.statefulset.reschedule')).toMatchObject({ suite: 'statefulset', level: 'required' });
    expect(checks.filter((c) => !/^[a-z]+(\.[a-z0-9-]+)+$/.test(c.id) || !c.source.includes('https://'))).toEqual([]);
  });
});

describe('conformance profiles, reruns and retries (helpers/testdata/run-retries: real runs)', () => {
  const data = path.join(path.dirname(path.dirname(fileURLToPath(import.meta.url))), 'testdata', 'run-retries');
  const earlierDir = (file: string): string => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'svc-rerun-'));
    fs.copyFileSync(path.join(data, file), path.join(dir, 'results.json'));
    return dir;
  };

  test('--conformance-profile selects its checks; an unknown name says which exist', () => {
    const { selected } = selectFor(parseCli(['run', '--conformance-profile', 'rules-nftables']).values);
    expect(selected.map((c) => c.id).sort()).toEqual(
      REGISTRY.filter((c) => /^(rules\.|proxy\.kube-proxy\.)/.test(c.id) && !c.id.startsWith('rules.cilium.'))
        .map((c) => c.id)
        .sort(),
    );
    expect(() => parseCli(['run', '--conformance-profile', 'dnss'])).toThrow(/no profile 'dnss'; the profiles are basics, dns, dns-cache/);
  });

  test('--rerun-failed selects what failed in the earlier run, and refuses a run where nothing did', () => {
    const dir = earlierDir('failed.json');
    const { selected, rerun } = selectFor(parseCli(['run', '--rerun-failed', dir]).values);
    expect(selected.map((c) => c.id)).toEqual(['rules.clusterip.rule', 'rules.clusterip.reject']);
    expect(rerun).toEqual({ from: dir, ids: ['rules.clusterip.rule', 'rules.clusterip.reject'] });
    // The rerun's own report: one check flaky, so it is chosen again; a report where nothing
    // failed, warned or was flaky is refused.
    expect(selectFor(parseCli(['run', '--rerun-failed', earlierDir('rerun.json')]).values).rerun?.ids).toEqual(['rules.clusterip.rule']);
    const clean = readRunReport(path.join(data, 'rerun.json'));
    const passedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'svc-rerun-'));
    fs.writeFileSync(
      path.join(passedDir, 'results.json'),
      JSON.stringify({ ...clean, checks: clean.checks.map((c) => ({ ...c, flaky: undefined })) }),
    );
    expect(() => selectFor(parseCli(['run', '--rerun-failed', passedDir]).values)).toThrow(
      /no check failed, warned or was flaky in that run/,
    );
    expect(() => parseCli(['run', '--rerun-failed', '/nonexistent'])).toThrow(/no results.json there/);
    expect(() => parseCli(['run', '--rerun-failed', dir, '--focus', 'dns'])).toThrow(/cannot be combined with --focus/);
  });

  test('a check that passed only on a retry is flaky: its attempts kept, named in the closing line', () => {
    const r = readRunReport(path.join(data, 'rerun.json'));
    const rule = r.checks.find((c) => c.id === 'rules.clusterip.rule')!;
    expect({ status: rule.status, flaky: rule.flaky, attempts: rule.attempts?.map((a) => a.attempt) }).toEqual({
      status: 'passed',
      flaky: true,
      attempts: [1],
    });
    expect(rule.attempts![0]!.failure).toMatch(/^Service proxy not converged within 20000 ms/);
    expect(closingLines(r.counts).at(-1)).toBe(
      'svc-conformance: 2 passed (1 only on a retry: flaky), 0 failed, 0 skipped, 105 not selected',
    );
    expect(() => parseCli(['run', '--retries', 'x'])).toThrow(/--retries must be a whole number/);
  });
});
