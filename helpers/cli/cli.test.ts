// Unit tests for the runner's pure parts: flag parsing, mirror rewriting, name filters.
import { describe, expect, test } from '@jest/globals';
import { mergeInputs, validateInput } from '../config/target.ts';
import { inputFromFlags, listChecks, mirror, parseCli } from './cli.ts';
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
    expect(selectionPattern(selectChecks())).toBeUndefined();
    expect(selectChecks('no such check')).toEqual([]);
  });

  test('list prints the registry: every check with id, level and source', () => {
    const checks = listChecks();
    expect(checks.length).toBeGreaterThan(40);
    expect(checks.find((c) => c.id === 'dns.statefulset.reschedule')).toMatchObject({ suite: 'statefulset', level: 'required' });
    expect(checks.filter((c) => !/^[a-z]+(\.[a-z0-9-]+)+$/.test(c.id) || !c.source.includes('https://'))).toEqual([]);
  });
});
