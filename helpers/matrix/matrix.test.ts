// The matrix file and the matrix report, fed with a real matrix run's columns
// (helpers/testdata/matrix-run, see its README). The matrix itself, against the bundled
// cluster, is helpers/e2e/lifecycle/matrix.test.ts.
import { describe, expect, test } from '@jest/globals';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tally } from '../cli/tally.ts';
import { selectChecks } from '../../suites/registry.ts';
import {
  assemble,
  matrixExitCode,
  matrixJunit,
  matrixMarkdown,
  oneLine,
  parseMatrix,
  readColumn,
  readMatrix,
  writeMatrixReports,
  type ColumnResult,
} from './matrix.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const data = path.join(here, '..', 'testdata', 'matrix-run');
const ROOT = path.join(here, '..', '..');

describe('matrix file', () => {
  const file = path.join(ROOT, 'examples', 'matrix', 'example.yaml');

  test('the shipped matrices parse; paths are resolved, ${SVC_CACHE_DIR} expanded and a Corefile file read', () => {
    const m = readMatrix(file);
    expect(m.columns.map((c) => c.name)).toEqual([
      'k8s-1-37-iptables',
      'k8s-1-37-nftables',
      'k8s-1-36',
      'k8s-1-35',
      'coredns-1-15',
      'node-local-dns-link-local',
      'node-local-dns-service-ip',
      'ipvs',
      'kube-router',
      'kube-proxy-1-36-skew',
      'dns-image-custom',
      'cilium',
    ]);
    expect(m.columns.every((c) => c.profile === 'privileged')).toBe(true);
    expect(m.columns.find((c) => c.name === 'cilium')!.kind).toEqual({ nodes: 3, proxy: 'cilium' });
    const custom = m.columns.find((c) => c.name === 'dns-image-custom')!.cluster!;
    expect(custom.dnsImage).toMatch(/^\/.*\/images\/coredns-custom-v1\.14\.7\.tar$/);
    expect(String(custom.dnsImage)).not.toContain('${');
    expect(custom.corefile).toContain('    chaos\n');
    expect(
      readMatrix(path.join(ROOT, 'examples', 'matrix', 'ci.yaml')).columns.map((c) => [
        c.name,
        c.cluster?.proxyMode,
        c.profile,
        c.cluster?.ipFamilies,
      ]),
    ).toEqual([
      ['iptables', 'iptables', 'privileged', undefined],
      ['nftables', 'nftables', 'privileged', undefined],
      ['node-local-dns', 'iptables', 'privileged', undefined],
      ['ipv6', 'iptables', 'privileged', ['IPv6']],
      ['dual-stack', 'iptables', 'privileged', ['IPv6', 'IPv4']],
    ]);
    const caches = parseMatrix(
      {
        columns: [
          {
            name: 'unbound',
            cluster: { nodeLocalDNS: 'service-ip', nodeLocalDNSServer: 'unbound' },
            conformanceProfile: 'dns-cache',
            implementation: { name: 'unbound' },
          },
        ],
      },
      'm.yaml',
    ).columns;
    expect(caches.map((c) => [c.name, c.cluster?.nodeLocalDNSServer, c.conformanceProfile, c.implementation?.name])).toEqual([
      ['unbound', 'unbound', 'dns-cache', 'unbound'],
    ]);
    expect(() => parseMatrix({ columns: [{ name: 'x', cluster: {}, conformanceProfile: 'dnss' }] }, 'm.yaml')).toThrow(
      /conformanceProfile: no profile 'dnss'; the profiles are basics, dns/,
    );
    expect(
      readMatrix(path.join(ROOT, 'examples', 'matrix', 'conformance.yaml')).columns.map((c) => [c.name, c.profile, c.implementation?.name]),
    ).toEqual([
      ['iptables', 'privileged', undefined],
      ['nftables', 'privileged', undefined],
      ['node-local-dns', 'privileged', 'node-local-dns'],
      ['dnsmasq', 'default', 'dnsmasq'],
      ['unbound', 'default', 'unbound'],
    ]);
    const vm = readMatrix(path.join(ROOT, 'examples', 'matrix', 'ci-vm.yaml'));
    expect(vm.columns.map((c) => [c.name, c.cluster])).toEqual([
      ['ipvs', { proxyMode: 'ipvs' }],
      ['kube-router', { serviceProxy: 'kube-router' }],
    ]);
    const vmChecks = selectChecks(vm.focus, undefined).map((c) => c.id);
    expect(vmChecks).toEqual(
      expect.arrayContaining(['rules.clusterip.rule', 'proxy.affinity.timeout', 'proxy.clusterip.hairpin', 'proxy.nodeport.reach']),
    );
    expect(vmChecks.filter((id) => !/^(rules|proxy)\./.test(id))).toEqual([]);
  });

  test.each([
    [{ columns: [] }, /columns must be a non-empty list/],
    [{ columns: [{ name: 'a', cluster: { nodez: 1 } }] }, /columns\[0\]\.cluster: unknown key\(s\) nodez; known: .*kubernetesVersion/],
    [{ columns: [{ name: 'a', cluster: {}, kubeconfig: '/k' }] }, /needs exactly one of cluster .*, kubeconfig or kind/],
    [{ columns: [{ name: 'A b', cluster: {} }] }, /name 'A b' must be lower-case/],
    [
      {
        columns: [
          { name: 'a', cluster: {} },
          { name: 'a', kubeconfig: '/k' },
        ],
      },
      /two columns are named 'a'/,
    ],
    [{ profile: 'root', columns: [{ name: 'a', cluster: {} }] }, /profile must be default or privileged/],
    [{ focus: '(', columns: [{ name: 'a', cluster: {} }] }, /focus is not a valid regular expression/],
    [{ colums: [] }, /unknown key\(s\) colums/],
    [{ columns: [{ name: 'a', cluster: { corefile: 'no-such-Corefile' } }] }, /corefile names .*no-such-Corefile, which does not exist/],
    [{ columns: [{ name: 'a', kind: { proxy: 'calico' } }] }, /columns\[0\]\.kind\.proxy must be kube-proxy, cilium \(got "calico"\)/],
    [
      { columns: [{ name: 'a', kind: { proxy: 'cilium', proxyMode: 'nftables' } }] },
      /proxyMode is kube-proxy's; with proxy cilium no kube-proxy runs/,
    ],
    [{ columns: [{ name: 'a', kind: { nodez: 3 } }] }, /columns\[0\]\.kind: unknown key\(s\) nodez; known: nodes, proxy/],
  ])('%j is refused with a sentence that names the fix', (doc, message) => {
    expect(() => parseMatrix(doc, path.join(os.tmpdir(), 'm.yaml'))).toThrow(message);
  });
});

describe('matrix report from real columns', () => {
  const col = (name: string): ColumnResult =>
    readColumn(
      {
        name,
        kind: 'bundled',
        describe: name,
        profile: 'default',
        state: 'ran',
        exitCode: name === 'broken' ? 1 : 0,
        reportDir: `columns/${name}/run`,
      },
      path.join(data, name),
    );
  const notUp: ColumnResult = readColumn(
    {
      name: 'cannot-come-up',
      kind: 'bundled',
      describe: 'dnsImage=/etc/hostname',
      profile: 'default',
      state: 'not-up',
      exitCode: 1,
      message: 'the bundled cluster did not come up: dnsImage /etc/hostname: no io.containerd.image.name annotation in its index.json',
      logTail: fs.readFileSync(path.join(data, 'cannot-come-up.txt'), 'utf8'),
    },
    path.join(data, 'no-such-dir'),
  );
  // The focus the captured run used (by id).
  const focus = '^(dns\\.clusterip\\.a|dns\\.schema\\.version|dns\\.identity\\.version-bind)$';
  const report = assemble('matrix.yaml', [col('reference'), col('broken'), notUp], Date.now() - 1000, { focus });

  test("identity and measurements are read back from each column's run", () => {
    const ref = report.columns[0]!;
    expect(ref.identity).toEqual({
      kubernetes: 'v1.37.2',
      nodes: 1,
      ipFamilies: 'IPv4',
      proxyMode: 'iptables',
      kubeProxy: 'v1.37.2',
      dnsImage: 'svc-conformance.local/coredns:v1.14.7',
      schemaVersion: '1.1.0',
      dnsVersion: 'not answered (REFUSED)',
    });
    expect(ref.dns.converged.n + ref.dns.firstLook.n).toBeGreaterThan(0);
    expect(ref.dns.firstLook.worstMs).toBeGreaterThanOrEqual(ref.dns.firstLook.medianMs!);
  });

  test('the difference is the headline; rows are the selected checks only; a column that did not run is no difference', () => {
    expect(report.differences).toEqual(['dns.clusterip.a']);
    expect(report.rows.map((r) => r.id).sort()).toEqual(['dns.clusterip.a', 'dns.identity.version-bind', 'dns.schema.version']);
    const md = matrixMarkdown(report);
    expect(md.split('\n')[0]).toBe(
      '# svc-conformance matrix: 1 check(s) differ between the columns; first: dns.clusterip.a (reference ✅ pass, broken ❌ FAIL)',
    );
    expect(md.indexOf('## Differences')).toBeLessThan(md.indexOf('## Checks'));
    expect(md).toContain('### cannot-come-up: the bundled cluster did not come up');
    expect(notUp.logTail).toContain('[cluster] error: dnsImage /etc/hostname');
    expect(matrixExitCode(report)).toBe(1);
    expect(matrixExitCode(assemble('m', [col('reference')], Date.now()))).toBe(0);
  });

  test('a failure the known differences record for its column still reads fail, is counted apart and alone does not fail the matrix', () => {
    const ipvs: ColumnResult = readColumn(
      {
        name: 'ipvs',
        kind: 'bundled',
        describe: 'proxyMode=ipvs',
        profile: 'privileged',
        state: 'ran',
        exitCode: 1,
        reportDir: 'columns/ipvs/run',
      },
      path.join(data, 'ipvs'),
    );
    const r = assemble('m', [ipvs], Date.now());
    const cell = r.rows.find((x) => x.id === 'proxy.affinity.timeout')!.cells.ipvs!;
    expect({
      status: cell.status,
      known: cell.knownDifference?.endsWith('(https://github.com/kubernetes/kubernetes/issues/89358)'),
    }).toEqual({
      status: 'failed',
      known: true,
    });
    const unexplained = r.rows.filter((x) => x.cells.ipvs?.status === 'failed' && !x.cells.ipvs.knownDifference).map((x) => x.id);
    expect(unexplained.every((id) => id.startsWith('dns.negative.'))).toBe(true);
    expect({ failed: r.counts.failed, known: r.counts.knownDifferences }).toEqual({ failed: unexplained.length, known: 1 });
    expect(matrixExitCode(r)).toBe(1);
    // The same run with only the known difference failing: the matrix passes, and says why.
    const onlyKnown = assemble(
      'm',
      [{ ...ipvs, checks: Object.fromEntries(Object.entries(ipvs.checks).filter(([id]) => !unexplained.includes(id))) }],
      Date.now(),
    );
    expect(matrixExitCode(onlyKnown)).toBe(0);
    expect(matrixMarkdown(onlyKnown)).toContain('known difference');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'svc-matrix-known-'));
    writeMatrixReports(dir, onlyKnown);
    const t = tally({ jest: [], runs: [], matrices: [path.join(dir, 'matrix.json')] });
    expect(t.failed).toBe(false);
    expect(t.lines.some((l) => l.startsWith('test: known difference (fails as documented) proxy.affinity.timeout in column ipvs'))).toBe(
      true,
    );
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("the test command's tally reads matrix.json through its schema", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'svc-matrix-tally-'));
    writeMatrixReports(dir, report);
    const t = tally({ jest: [], runs: [], matrices: [path.join(dir, 'matrix.json')] });
    const c = report.counts;
    expect(t.lines.at(-1)).toBe(`svc-conformance: ${c.passed} passed, ${c.failed + c.columnsNotUp} failed, ${c.skipped} skipped`);
    fs.writeFileSync(path.join(dir, 'matrix.json'), JSON.stringify({ ...report, counts: { passed: 1 } }));
    const bad = tally({ jest: [], runs: [], matrices: [path.join(dir, 'matrix.json')] });
    expect(bad.failed).toBe(true);
    expect(bad.lines[0]).toMatch(/^test: no results in .*matrix\.json: the matrix results .* does not match its contract/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('JUnit: one suite per column, the difference marked, the column that did not run an error', () => {
    const xml = matrixJunit(report);
    expect(xml).toMatch(/<testsuite name="svc-conformance\.matrix\.broken" tests="3" failures="1"/);
    expect(xml).toMatch(
      /name="[^"]*\[dns\.clusterip\.a\]"><properties><property name="id" value="dns\.clusterip\.a"\/><property name="level" value="required"\/><property name="differs" value="true"\/><\/properties><failure message="NotConverged: DNS not converged within/,
    );
    expect(xml).toContain(
      '<testcase classname="svc-conformance.matrix.cannot-come-up" name="the cluster comes up and the run starts"><error',
    );
  });
});

describe('the one-line summary of a failure', () => {
  test("skips Jest's diff boilerplate (the lb.grpc.headless-round-robin failure of the first example-matrix run, 2026-11-26)", () => {
    const failure =
      'Error: expect(received).toEqual(expected) // deep equality\n\n- Expected  - 0\n+ Received  + 2\n\n  Array [\n+   "error: DEADLINE_EXCEEDED: ' +
      'Deadline exceeded after 3.011s,waiting for name resolution",\n    "grpc-backend-74b9f4646d-4lm8z",\n ' +
      ' ]\n    at toEqual (/work/main/suites/proxy-behaviour.test.ts:73:35)';
    expect(oneLine(failure)).toBe('+   "error: DEADLINE_EXCEEDED: Deadline exceeded after 3.011s,waiting for name resolution",');
    expect(oneLine('NotConverged: DNS not converged within 10000 ms (x)\nStill not')).toBe(
      'NotConverged: DNS not converged within 10000 ms (x)',
    );
  });
});
