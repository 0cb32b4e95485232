// The bundled cluster's own lifecycle, run last and only against the bundled cluster
// (scripts/test.sh with SVC_LIFECYCLE=1): bad input and faults give a clear message and
// leave nothing behind; a cluster with another domain serves names under that domain;
// and `down` leaves the machine as it found it. Runs as root (it drives cluster.sh).
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from '../../cluster/apply.ts';
import { childEnv, DEFAULT_PROFILE_PATH } from '../../config/target.ts';

const CLUSTER = path.join(ROOT, 'cluster', 'cluster.sh');
const STATE = path.dirname(DEFAULT_PROFILE_PATH);
// The suite's own files (configs, evidence), removed at the end.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'svc-lifecycle-'));

function cluster(args: string[], env: Record<string, string> = {}, timeoutMs = 600_000): { code: number; out: string; ms: number } {
  const start = Date.now();
  const r = spawnSync('bash', [CLUSTER, ...args], { env: childEnv(env), encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}`, ms: Date.now() - start };
}

function sh(cmd: string): string {
  return spawnSync('bash', ['-c', cmd], { encoding: 'utf8' }).stdout;
}

/** Everything a cluster could leave on this machine, as text lines to compare. */
function listing(): Record<string, string[]> {
  const lines = (s: string): string[] =>
    s
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .sort();
  return {
    links: lines(sh("ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//'")),
    netns: lines(sh('ip netns list')),
    routes: lines(sh('ip route show; ip -6 route show')),
    iptables: lines(sh("iptables-save 2>/dev/null | grep -v '^#' | sed 's/\\[[0-9:]*\\]//'")),
    // Stateless (-s): rules without their counters, which other traffic (dockerd's) moves.
    nft: lines(sh('nft -s list ruleset 2>/dev/null')),
    mounts: lines(sh(`findmnt -rn -o TARGET | grep -E '^(${STATE}|/run/netns)' || true`)),
    cgroups: lines(sh('find /sys/fs/cgroup -maxdepth 2 -name svc-conformance 2>/dev/null')),
    processes: lines(sh("pgrep -af '/var/cache/svc-conformance/' | grep -v pgrep | awk '{print $2}' || true")),
    state: lines(sh(`ls -d ${STATE} 2>/dev/null || true`)),
  };
}

const isRoot = process.getuid?.() === 0;
let baseline: Record<string, string[]> = {};

beforeAll(() => {
  if (!isRoot) throw new Error('the lifecycle suite drives the bundled cluster and needs root');
  const down = cluster(['down']);
  if (down.code !== 0) throw new Error(`cluster down failed before the lifecycle suite:\n${down.out}`);
  baseline = listing();
}, 120_000);

afterAll(() => {
  cluster(['down']);
  fs.rmSync(tmp, { recursive: true, force: true });
}, 120_000);

describe('bundled cluster: bad input and faults', () => {
  test('an unknown config key is refused by name, and nothing is made', () => {
    const file = path.join(tmp, 'bad.json');
    fs.writeFileSync(file, JSON.stringify({ nodes: 1, nodez: 2 }));
    const r = cluster(['up'], { SVC_CLUSTER_CONFIG: file });
    expect({ code: r.code, says: /unknown config key\(s\) in .*: nodez/.test(r.out) }).toEqual({ code: 1, says: true });
    expect(listing()).toEqual(baseline);
  });

  test('an unsupported Kubernetes version is refused with the versions that work', () => {
    const r = cluster(['up'], { SVC_K8S_VERSION: 'v1.30.4' });
    expect({ code: r.code, says: /v1\.30\.4 is not supported: use v1\.35\.0 or newer/.test(r.out) }).toEqual({ code: 1, says: true });
    expect(listing()).toEqual(baseline);
  });

  test('not being root is refused with what to do', () => {
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'bash', CLUSTER, 'up'], { encoding: 'utf8' });
    expect({ code: r.status, says: /needs root/.test(`${r.stdout}${r.stderr}`) }).toEqual({ code: 1, says: true });
    expect(listing()).toEqual(baseline);
  });

  test('a missing package is named with the apt-get command that installs it', () => {
    const r = cluster(['up'], { PATH: '/usr/local/bin:/usr/bin:/bin' });
    expect({ code: r.code, says: /missing packages: .*iptables.*apt-get install -y/.test(r.out) }).toEqual({ code: 1, says: true });
    expect(listing()).toEqual(baseline);
  });

  test('VM nodes without QEMU are refused before anything starts, with the package to install', () => {
    // Every command of the usual PATH but qemu-system-x86_64.
    const bin = path.join(tmp, 'no-qemu-bin');
    fs.mkdirSync(bin, { recursive: true });
    for (const dir of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'])
      for (const f of fs.existsSync(dir) ? fs.readdirSync(dir) : [])
        if (!f.startsWith('qemu-system') && !fs.existsSync(path.join(bin, f))) fs.symlinkSync(path.join(dir, f), path.join(bin, f));
    const r = cluster(['up'], { SVC_PROXY_MODE: 'ipvs', PATH: bin });
    expect({ code: r.code, says: /qemu-system-x86_64' not found: .*apt-get install -y qemu-system-x86/.test(r.out) }).toEqual({
      code: 1,
      says: true,
    });
    expect(listing()).toEqual(baseline);
  });

  test('proxyMode with serviceProxy kube-router is refused: kube-router replaces kube-proxy', () => {
    const r = cluster(['up'], { SVC_SERVICE_PROXY: 'kube-router', SVC_PROXY_MODE: 'ipvs' });
    expect({ code: r.code, says: /serviceProxy kube-router replaces kube-proxy.*leave proxyMode/.test(r.out) }).toEqual({
      code: 1,
      says: true,
    });
    expect(listing()).toEqual(baseline);
  });

  test('a port already in use is named, with its owner', async () => {
    const server = net.createServer().listen(23790, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const r = cluster(['up']);
      expect({ code: r.code, says: /port 23790 on 127\.0\.0\.1 is already in use/.test(r.out) }).toEqual({ code: 1, says: true });
    } finally {
      server.close();
    }
    expect(listing()).toEqual(baseline);
  });

  test('a leftover from a crash is found and named, with the command that removes it', () => {
    fs.mkdirSync(STATE, { recursive: true });
    const r = cluster(['up']);
    expect({ code: r.code, says: /leftover cluster[\s\S]*state directory[\s\S]*cluster\.sh down/.test(r.out) }).toEqual({
      code: 1,
      says: true,
    });
    expect(cluster(['down']).code).toBe(0);
    expect(listing()).toEqual(baseline);
  });

  test('a component that exits during up shows the tail of its log, and up removes what it made', () => {
    const file = path.join(tmp, 'crash.json');
    fs.writeFileSync(file, JSON.stringify({ nodes: 1, extraFlags: { 'kube-apiserver': ['--no-such-flag=1'] } }));
    const r = cluster(['up'], { SVC_CLUSTER_CONFIG: file });
    expect({
      code: r.code,
      exited: /kube-apiserver exited while waiting for kube-apiserver \/readyz/.test(r.out),
      tail: /unknown flag: --no-such-flag/.test(r.out),
    }).toEqual({ code: 1, exited: true, tail: true });
    expect(listing()).toEqual(baseline);
  });
});

describe('bundled cluster: another cluster domain, and down', () => {
  const DOMAIN = 'conformance.test';

  test(`with the domain set to ${DOMAIN}, names resolve under that domain and not under cluster.local`, () => {
    const up = cluster(['up'], { SVC_BUNDLED_CLUSTER_DOMAIN: DOMAIN, SVC_NODES: '2' });
    if (up.code !== 0) throw new Error(`cluster up with domain ${DOMAIN} failed:\n${up.out.slice(-3000)}`);
    expect(up.ms).toBeGreaterThan(0);
    process.stdout.write(`  [measure] lifecycle: up (2 nodes, warm) took ${up.ms} ms\n`);
    const profile = JSON.parse(fs.readFileSync(DEFAULT_PROFILE_PATH, 'utf8')) as { clusterDomain: string; dnsServiceIP: string };
    expect(profile.clusterDomain).toBe(DOMAIN);
    // The conformance suites themselves, against this cluster: they detect the domain.
    const evidenceDir = fs.mkdtempSync(path.join(tmp, 'evidence-'));
    const run = spawnSync(
      process.execPath,
      ['node_modules/jest/bin/jest.js', '--selectProjects', 'cluster', '--', 'suites/clusterip', 'suites/statefulset'],
      {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 300_000,
        env: childEnv({
          NODE_OPTIONS: '--experimental-vm-modules',
          SVC_PROFILE: DEFAULT_PROFILE_PATH,
          SVC_EVIDENCE_DIR: evidenceDir,
          SVC_RUN_CONFIG: '',
          KUBECONFIG: '',
          SVC_KUBECONFIG: '',
        }),
      },
    );
    const setup = fs.readFileSync(path.join(evidenceDir, 'clusterip.json'), 'utf8');
    expect({
      code: run.status,
      tail: run.status === 0 ? '' : `${run.stdout}${run.stderr}`.slice(-4000),
      domainDetected: setup.includes(`cluster domain ${DOMAIN} (from resolv.conf)`),
    }).toEqual({ code: 0, tail: '', domainDetected: true });
    const dig = (name: string): string =>
      sh(
        `nsenter --net=/run/netns/svc-node-1 dig +short +time=2 +tries=1 @${profile.dnsServiceIP} ${name} A; nsenter ` +
          `--net=/run/netns/svc-node-1 dig +time=2 +tries=1 @${profile.dnsServiceIP} ${name} A | grep -o 'status: [A-Z]*'`,
      );
    expect(dig(`kubernetes.default.svc.${DOMAIN}`)).toMatch(/^10\.96\.0\.1\nstatus: NOERROR/);
    expect(dig('kubernetes.default.svc.cluster.local')).toMatch(/status: (NXDOMAIN|REFUSED|SERVFAIL)/);
  }, 600_000);

  test('down removes every process, namespace, link, route, rule, mount, cgroup and state directory that up made', () => {
    const down = cluster(['down']);
    process.stdout.write(`  [measure] lifecycle: down took ${down.ms} ms\n`);
    expect(down.code).toBe(0);
    expect(listing()).toEqual(baseline);
    expect(cluster(['down']).code).toBe(0); // idempotent
  }, 120_000);
});
