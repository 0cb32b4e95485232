// The kind target's lifecycle (scripts/test.sh with SVC_LIFECYCLE=1; needs Docker, as CI
// has it): `svc-conformance run --kind` end to end, an interrupt, a node image that is not
// there, and the kind cluster and the bundled cluster side by side, each leaving the other
// alone. After every test, Docker holds nothing of ours (containers, networks, volumes).
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from '../../cluster/apply.ts';
import { childEnv, WITHOUT_THIS_RUN } from '../../config/target.ts';
import { leftovers } from '../../targets/kind/provider.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'svc-kind-lc-'));
const NODE = process.execPath;
const CLEAN = { ...WITHOUT_THIS_RUN };
const KIND_CLI = path.join(ROOT, 'helpers', 'targets', 'kind', 'cli.ts');
const CLUSTER = path.join(ROOT, 'cluster', 'cluster.sh');
const docker = (args: string[]): string => spawnSync('docker', args, { encoding: 'utf8' }).stdout;
/** What Docker has of the kind target at all (by label), and networks named like ours. */
const ours = (name: string): string[] => [
  ...leftovers(name),
  ...docker(['network', 'ls', '--format', '{{.Name}}'])
    .split('\n')
    .filter((n) => n === `svc-kind-${name}`),
];
/** The node containers' /var volumes are anonymous (no label): Docker's volumes before and after. */
const volumes = (): string[] => docker(['volume', 'ls', '-q']).split('\n').filter(Boolean).sort();
let volumesBefore: string[] = [];
beforeAll(() => {
  volumesBefore = volumes();
});

afterAll(() => {
  spawnSync(NODE, ['--no-warnings', KIND_CLI, 'down'], { encoding: 'utf8' });
  spawnSync('bash', [CLUSTER, 'down'], { env: childEnv(CLEAN), encoding: 'utf8' });
  fs.rmSync(tmp, { recursive: true, force: true });
}, 120_000);

describe('the kind target', () => {
  test('svc-conformance run --kind starts a kind cluster, passes the smoke checks on it and removes it', () => {
    const out = path.join(tmp, 'run');
    const r = spawnSync(
      NODE,
      [
        '--no-warnings',
        path.join(ROOT, 'helpers', 'cli', 'cli.ts'),
        'run',
        '--kind',
        '--kind-nodes',
        '1',
        '--focus',
        '^bed\\.',
        '--report-dir',
        out,
      ],
      { cwd: ROOT, encoding: 'utf8', timeout: 600_000, env: childEnv(CLEAN) },
    );
    const text = `${r.stdout}${r.stderr}`;
    const name = /network svc-kind-(\S+);/.exec(text)?.[1];
    expect({ exit: r.status, name: typeof name }).toEqual({ exit: 0, name: 'string' });
    const results = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')) as { checks: { id: string; status: string }[] };
    const bed = results.checks.filter((c) => c.id.startsWith('bed.'));
    expect(bed.length).toBeGreaterThanOrEqual(4);
    expect(bed.filter((c) => c.status !== 'passed')).toEqual([]);
    expect(text).toMatch(/teardown: [\d.]+ s, nothing left/);
    expect({ left: ours(name!), volumes: volumes() }).toEqual({ left: [], volumes: volumesBefore });
  }, 660_000);

  test('an interrupt while the cluster runs a command stops it, removes the cluster and exits 130', async () => {
    const name = `lc-int-${process.pid}`;
    const child = spawn(NODE, ['--no-warnings', KIND_CLI, 'exec', '--nodes', '1', '--name', name, '--', 'sleep', '600'], {
      cwd: ROOT,
      env: childEnv(CLEAN),
    });
    let text = '';
    child.stderr.on('data', (d: Buffer) => {
      text += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 300_000;
    while (!/ up in /.test(text) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 500));
    expect({ up: / up in /.test(text), log: / up in /.test(text) ? '' : text.slice(-2000) }).toEqual({ up: true, log: '' });
    expect(ours(name).length).toBeGreaterThan(0);
    const t0 = Date.now();
    child.kill('SIGINT');
    const code = await exited;
    expect({ code, left: ours(name), volumes: volumes(), seconds: (Date.now() - t0) / 1000 < 60 }).toEqual({
      code: 130,
      left: [],
      volumes: volumesBefore,
      seconds: true,
    });
  }, 420_000);

  test('a node image that is not on the Docker host is refused with what to do, and nothing is made', () => {
    const name = `lc-img-${process.pid}`;
    const r = spawnSync(
      NODE,
      ['--no-warnings', KIND_CLI, 'exec', '--image', 'svc-conformance.local/kind-node:does-not-exist', '--name', name, '--', 'true'],
      { cwd: ROOT, encoding: 'utf8', env: childEnv(CLEAN), timeout: 120_000 },
    );
    expect(r.status).toBe(3);
    expect(r.stderr).toContain(
      'node image svc-conformance.local/kind-node:does-not-exist is not on this Docker host: build ours with cluster/kind/node-image.sh',
    );
    expect(ours(name)).toEqual([]);
  }, 150_000);

  test('the kind cluster and the bundled cluster leave each other alone (teardown, cluster down)', () => {
    const env = childEnv({ ...CLEAN, SVC_NODES: '1' });
    spawnSync('bash', [CLUSTER, 'down'], { env, encoding: 'utf8' });
    const up = spawnSync('bash', [CLUSTER, 'up'], { env, encoding: 'utf8', timeout: 300_000 });
    expect({ up: up.status, log: up.status === 0 ? '' : up.stderr.slice(-2000) }).toEqual({ up: 0, log: '' });
    // A kind cluster comes and goes: the bundled cluster is still healthy (status checks DNS too).
    const name = `lc-side-${process.pid}`;
    const k1 = spawnSync(NODE, ['--no-warnings', KIND_CLI, 'exec', '--nodes', '1', '--name', name, '--', 'kubectl', 'get', 'nodes'], {
      cwd: ROOT,
      encoding: 'utf8',
      env,
      timeout: 400_000,
    });
    expect({ exit: k1.status, nodes: /Ready/.test(k1.stdout) }).toEqual({ exit: 0, nodes: true });
    const status = spawnSync('bash', [CLUSTER, 'status'], { env, encoding: 'utf8', timeout: 120_000 });
    expect({ status: status.status, dns: /DNS: kubernetes\.default\.svc\.\S+ answers/.test(status.stdout) }).toEqual({
      status: 0,
      dns: true,
    });
    // The bundled cluster goes down while a kind cluster runs: kind's nodes stay Ready.
    const name2 = `lc-side2-${process.pid}`;
    const script = `bash ${CLUSTER} down >/dev/null && kubectl wait --for=condition=Ready nodes --all --timeout=60s && kubectl get --raw /readyz`;
    const k2 = spawnSync(NODE, ['--no-warnings', KIND_CLI, 'exec', '--nodes', '1', '--name', name2, '--', 'bash', '-c', script], {
      cwd: ROOT,
      encoding: 'utf8',
      env,
      timeout: 400_000,
    });
    expect({ exit: k2.status, out: k2.status === 0 ? '' : `${k2.stdout}${k2.stderr}`.slice(-2000) }).toEqual({ exit: 0, out: '' });
    expect({ left: [...ours(name), ...ours(name2)], volumes: volumes() }).toEqual({ left: [], volumes: volumesBefore });
  }, 900_000);
});
