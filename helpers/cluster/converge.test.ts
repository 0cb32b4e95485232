// Unit tests for the convergence wait: it measures from the change, returns as soon as
// the state is right, and when the bound passes it says "not converged within N ms"
// with the bound's name and the last state it saw (never a bare timeout).
import { describe, expect, test } from '@jest/globals';
import { converge, NotConverged, SLOW_MARGIN_MS } from './converge.ts';

describe('converge', () => {
  test('returns the time from the change and the number of polls once the state is right', async () => {
    let n = 0;
    const since = Date.now() - 50;
    const r = await converge('three polls', async () => ({ ok: ++n === 3, state: n }), {
      kind: 'DNS',
      boundMs: 5000,
      boundName: 'test bound',
      since,
      intervalMs: 10,
    });
    expect(r.polls).toBe(3);
    expect(r.state).toBe(3);
    expect(r.ms).toBeGreaterThanOrEqual(50);
  });

  test('past the bound it reports "not converged", the bound, and the last state observed', async () => {
    let n = 0;
    const err = await converge('the answer to be right', async () => ({ ok: false, state: { answers: [`wrong ${++n}`] } }), {
      kind: 'Service proxy',
      boundMs: 120,
      boundName: 'SVC_PROXY_BOUND_MS',
      intervalMs: 20,
      arrived: () => true,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotConverged);
    const msg = (err as Error).message;
    expect(msg).toMatch(/^Service proxy not converged within 120 ms \(SVC_PROXY_BOUND_MS\): the answer to be right\./);
    expect(msg).toContain(`"wrong ${n}"`);
    expect((err as NotConverged).elapsedMs).toBeGreaterThanOrEqual(120);
  });

  test('a wrong answer that never changed during the bound is reported as a stable wrong answer, not as slow', async () => {
    const err = await converge(
      'x.example A to be NXDOMAIN',
      async () => ({ ok: false, state: { rcode: 'NOERROR', answers: ['x.example A 10.0.0.1'] } }),
      { kind: 'DNS', boundMs: 100, boundName: 'b', intervalMs: 10, arrived: () => true },
    ).catch((e: unknown) => e);
    const msg = (err as Error).message;
    expect(msg).toMatch(
      /^DNS: the same wrong answer for the whole bound of 100 ms \(b\): x\.example A to be NXDOMAIN\.\nA stable wrong answer, not a slow one: all \d+ observations, from \d+ ms to \d+ ms after the change, were this one\. The change had arrived elsewhere \d+ ms after it/,
    );
    expect(msg).toContain('x.example A 10.0.0.1');
    // Timings differ at every look; the answer does not: still stable, given what makes answers the same.
    let ms = 0;
    const timed = await converge('z A', async () => ({ ok: false, state: { rcode: 'NOERROR', data: '10.0.0.1', ms: ++ms } }), {
      kind: 'DNS',
      boundMs: 100,
      boundName: 'b',
      intervalMs: 10,
      sameAnswer: (s) => `${s.rcode} ${s.data}`,
      arrived: () => true,
    }).catch((e: unknown) => e);
    expect((timed as Error).message).toMatch(/^DNS: the same wrong answer for the whole bound/);
    // One look only (a change long past its bound) is not called stable.
    const once = await converge('y', async () => ({ ok: false, state: 'wrong' }), {
      kind: 'DNS',
      boundMs: 10,
      boundName: 'b',
      since: Date.now() - 60_000,
    }).catch((e: unknown) => e);
    expect((once as Error).message).toMatch(/^DNS not converged within 10 ms/);
    expect((once as Error).message).toContain('Nothing showed the change arriving anywhere else');
  });

  test('an observation that throws is reported as such; a fatal one stops the wait at once', async () => {
    const err = await converge(
      'x',
      async () => {
        throw new Error('connection refused');
      },
      { kind: 'DNS', boundMs: 60, boundName: 'b', intervalMs: 10, since: Date.now() - SLOW_MARGIN_MS },
    ).catch((e: unknown) => e);
    expect((err as Error).message).toContain('the last observation failed: connection refused');
    const fatal = Object.assign(new Error('image cannot be pulled'), { fatal: true });
    const start = Date.now();
    await expect(
      converge(
        'x',
        async () => {
          throw fatal;
        },
        { kind: 'DNS', boundMs: 10_000, boundName: 'b' },
      ),
    ).rejects.toBe(fatal);
    expect(Date.now() - start).toBeLessThan(1000);
  });

  test('a change long past its bound still gets one observation: a right state passes', async () => {
    const r = await converge('already right', async () => ({ ok: true, state: 'ok' }), {
      kind: 'EndpointSlices',
      boundMs: 10,
      boundName: 'b',
      since: Date.now() - 60_000,
    });
    expect(r.polls).toBe(1);
  });

  // Slow must not read as wrong: with nothing showing the change elsewhere, the wait
  // watches past the bound (the bound plus SLOW_MARGIN_MS); a state that comes right
  // there is slow, named with the component, never "a stable wrong answer".
  test('right only after the bound, with nothing arrived elsewhere: slow, with the time and the component', async () => {
    const since = Date.now();
    const err = await converge(
      'the EndpointSlices of ns/web to list exactly [10.0.0.1] as ready',
      async () => ({
        ok: Date.now() - since > 150,
        state: { ready: Date.now() - since > 150 ? ['10.0.0.1'] : [] },
      }),
      { kind: 'EndpointSlices', boundMs: 50, boundName: 'b', intervalMs: 10, since },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotConverged);
    expect((err as NotConverged).slow).toBe(true);
    expect((err as Error).message).toMatch(
      /^EndpointSlices slow: as expected only \d+ ms after the change, against a bound of 50 ms \(b\)/,
    );
    expect((err as Error).message).toContain('the EndpointSlice controller (kube-controller-manager) took');
    expect((err as Error).message).not.toContain('stable wrong answer');
    // A wait that is not the check's subject gets the state and the time instead.
    const t0 = Date.now();
    const ok = await converge('late', async () => ({ ok: Date.now() - t0 > 150, state: 1 }), {
      kind: 'EndpointSlices',
      boundMs: 50,
      boundName: 'b',
      intervalMs: 10,
      since: t0,
      slowOk: true,
    });
    expect(ok.slowMs).toBeGreaterThan(150);
  });

  test('a right look asked before the bound and confirmed after it is not slow', async () => {
    let n = 0;
    const since = Date.now();
    const r = await converge(
      'two right polls in a row',
      async () => {
        n++;
        if (n === 1) {
          await new Promise((res) => setTimeout(res, 80));
          return { ok: false, state: 'right', confirming: true };
        }
        return { ok: true, state: 'right' };
      },
      { kind: 'Service proxy', boundMs: 40, boundName: 'b', since },
    );
    expect(r.slowMs).toBeUndefined();
    expect(r.polls).toBe(2);
  });
});
