// The run config is made once and frozen; interrupts are handled in one place. Both are
// shown in child processes: a fresh module state each, and real signals.
import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { childEnv, ROOT, WITHOUT_THIS_RUN } from './target.ts';

const NODE = path.join(ROOT, 'node_modules', '.bin', 'node');

/** Runs a module body in a child Node (type stripping), from a temporary file under the root. */
function runChild(body: string, env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const dir = fs.mkdtempSync(path.join(ROOT, 'helpers', 'config', '.child-'));
  try {
    const file = path.join(dir, 'child.ts');
    fs.writeFileSync(file, body);
    const r = spawnSync(NODE, ['--no-warnings', file], {
      encoding: 'utf8',
      env: childEnv({ ...WITHOUT_THIS_RUN, ...env }),
      timeout: 20_000,
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('the run config', () => {
  test('is set once per process, frozen, and gets its cluster facts once', () => {
    const profile = path.join(os.tmpdir(), `svc-config-test-${process.pid}.json`);
    fs.writeFileSync(profile, '{}');
    const r = runChild(
      `
import { currentTarget, detected, publishTarget, resolveTarget, useTarget } from '../target.ts';
const dir = ${JSON.stringify(os.tmpdir())};
const kc = ${JSON.stringify(profile)};
const t = resolveTarget({ kubeconfig: kc, profilePath: '/nonexistent', runId: 'cfgtest' });
useTarget(t);
const out = [];
const tryIt = (what, fn) => { try { fn(); out.push(what + ': ok'); } catch (e) { out.push(what + ': ' + e.message); } };
tryIt('mutate', () => { currentTarget().strict = true; });
tryIt('second config', () => useTarget({ ...t, runId: 'other' }));
const cluster = { server: 's', version: 'v1.35.0', schedulableNodes: 2, ipFamilies: ['IPv4'], kubeProxy: 'present', proxyMode: 'iptables' };
publishTarget(t, cluster, dir);
tryIt('facts mutate', () => { detected().ipFamilies.push('IPv6'); });
tryIt('facts twice', () => publishTarget(t, cluster, dir));
out.push('nodes ' + detected().schedulableNodes + ', strict ' + currentTarget().strict);
console.log(out.join('\\n'));
`,
    );
    fs.rmSync(profile, { force: true });
    fs.rmSync(path.join(os.tmpdir(), 'run-config-cfgtest.json'), { force: true });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual([
      "mutate: Cannot assign to read only property 'strict' of object '#<Object>'",
      'second config: the run config is set once per process: run cfgtest has one, run other was given',
      'facts mutate: Cannot add property 1, object is not extensible',
      'facts twice: the cluster facts of run cfgtest are set once per process',
      'nodes 2, strict false',
    ]);
  });
});

describe('interrupts', () => {
  const body = (then: string): string => `
import { onInterrupt } from '../interrupt.ts';
onInterrupt(async () => { await new Promise((r) => setTimeout(r, 200)); console.log('namespaces removed'); });
onInterrupt(() => console.log('cordons undone'));
const off = onInterrupt(() => console.log('never: unregistered'));
off();
onInterrupt(() => console.log('flow told'), { then: '${then}' });
setTimeout(() => { process.kill(process.pid, 'SIGINT'); process.kill(process.pid, 'SIGTERM'); }, 50);
setTimeout(() => { console.log('flow finished'); process.exit(7); }, 1500);
`;

  test('run every registered handler once, then exit 130', () => {
    const r = runChild(body('exit'));
    expect(r.stdout.trim().split('\n').sort()).toEqual(['cordons undone', 'flow told', 'namespaces removed']);
    expect(r.stderr).toContain('SIGTERM again: still stopping after SIGINT');
    expect(r.status).toBe(130);
  });

  test('leave the exit to a flow that continues (it returns 130 itself)', () => {
    const r = runChild(body('continue'));
    expect(r.stdout.trim().split('\n').sort()).toEqual(['cordons undone', 'flow finished', 'flow told', 'namespaces removed']);
    expect(r.status).toBe(7);
  });
});
