// Convergence after a change: the one rule every check follows. After any change
// (apply, scale, readiness flip, delete, reschedule, label) the first assertion is a
// wait for the cluster to reach the expected state, bounded by a stated bound and
// measured from the change; the exact assertion comes after it. A cluster that is slow
// is reported as slow ("not converged within N ms", with the last state seen), never
// as a wrong answer; one that gave the same wrong answer from the first look to the last
// is reported as that ("the same wrong answer for the whole bound").
//
// Slow must not read as wrong. An answer may be called wrong at the bound only when the
// change was seen to arrive somewhere else (another server or node answered it, the API
// holds it: `arrived`). Otherwise the wait keeps watching past the bound, up to a stated
// limit (slowLimitMs), and a state that comes right in that time is reported as slow, with
// the time it took and the component that was slow ("slow: 31 s against a bound of 10 s").
// The bounds are verdicts, so SVC_TIMEOUT_SCALE does not stretch them.
import type { Observation } from './wait.ts';
import { currentTarget } from '../config/target.ts';
import { variableAndFlag } from '../config/variables.ts';
import { describeState as describe, sleep } from './wait.ts';

export type ConvergenceKind = 'DNS' | 'EndpointSlices' | 'Service proxy';

export class NotConverged extends Error {
  readonly lastState: unknown;
  readonly elapsedMs: number;
  /** Right, but only after the bound (within the limit): slow, not wrong. */
  readonly slow: boolean;

  constructor(message: string, lastState: unknown, elapsedMs: number, slow = false) {
    super(message);
    this.name = 'NotConverged';
    this.lastState = lastState;
    this.elapsedMs = elapsedMs;
    this.slow = slow;
  }
}

/** Who makes each kind of state converge: named when it is slow. */
export const SLOW_COMPONENT: Record<ConvergenceKind, string> = {
  DNS: 'the DNS server(s) asked (or the EndpointSlices they follow)',
  EndpointSlices: 'the EndpointSlice controller (kube-controller-manager)',
  'Service proxy': 'the Service proxy on the node (or the EndpointSlices it follows)',
};

/** How long a wait keeps watching when nothing shows the change arrived elsewhere: 30 s
 *  past its bound (a 30 s batching period is a legal EndpointSlice controller setting). */
export const SLOW_MARGIN_MS = 30_000;
export const slowLimitMs = (boundMs: number): number => boundMs + SLOW_MARGIN_MS;

/** The run's bound for a kind of convergence, and where it is set (shown in failures):
 *  DNS and EndpointSlices share the convergence bound; the proxy has its own. */
export function runBound(kind: ConvergenceKind): { boundMs: number; boundName: string } {
  const t = currentTarget();
  return kind === 'Service proxy'
    ? { boundMs: t.proxyBoundMs, boundName: variableAndFlag('SVC_PROXY_BOUND_MS') }
    : { boundMs: t.convergenceBoundMs, boundName: variableAndFlag('SVC_CONVERGENCE_BOUND_MS') };
}

export interface ConvergeOptions<T> {
  kind: ConvergenceKind;
  /** The bound in ms, and where it comes from (shown in the failure); default: the
   *  run's bound for this kind (runBound). */
  boundMs?: number;
  boundName?: string;
  /** When the change happened (Date.now()); the bound and the measurement start here. */
  since?: number;
  intervalMs?: number;
  /** Renders the last state for the failure message (default: JSON). */
  render?: (state: T) => string;
  /** What makes two wrong states the same answer (default: their rendering): timings and
   *  other noise left out, so that an answer that never changed is seen as such. */
  sameAnswer?: (state: T) => string;
  /** Whether a (wrong) observation shows the change arrived somewhere else (another server
   *  or node has it right). Without it, or while it says no, the wait watches past the bound
   *  up to slowLimitMs before it calls anything wrong. */
  arrived?: (state: T) => boolean;
  /** Return a state that came right after the bound (within the limit) with `slowMs` set,
   *  instead of failing: for waits that are not the check's subject (a fixture's), which
   *  report the slowness and go on. */
  slowOk?: boolean;
}

/** Polls `observe` until it reports ok or the bound (from `since`) has passed. Returns
 *  the ms from `since` to the first ok observation and that observation's state. */
export async function converge<T>(
  what: string,
  observe: () => Promise<Observation<T>>,
  opts: ConvergeOptions<T>,
): Promise<{ ms: number; state: T; polls: number; slowMs?: number; rightFromMs: number }> {
  const { boundMs, boundName } =
    opts.boundMs === undefined ? runBound(opts.kind) : { boundMs: opts.boundMs, boundName: opts.boundName ?? "this check's bound" };
  const since = opts.since ?? Date.now();
  const deadline = since + boundMs;
  const limit = since + slowLimitMs(boundMs);
  // When a wrong observation first showed the change had arrived elsewhere (ms after it).
  let arrivedMs: number | undefined;
  let last: T | undefined;
  let lastError: string | undefined;
  let observed = false;
  // Whether every wrong observation looked the same: a state that never changed during the
  // whole bound is a stable wrong answer, not a slow one, and the failure says so.
  let firstText: string | undefined;
  let firstMs = 0;
  let firstKey: string | undefined;
  let wrong = 0;
  let changed = false;
  const text = (state: T): string => (opts.render ? opts.render(state) : describe(state));
  // When the observation that started the current run of right ones was asked (a wait that
  // needs two right polls in a row confirms the first with the next).
  let rightAskedAt: number | undefined;
  for (let polls = 1; ; polls++) {
    let confirming = false;
    const askedAt = Date.now();
    try {
      const o = await observe();
      if (o.ok) {
        const ms = Date.now() - since;
        // Right only after the bound: the first right look was asked past the deadline,
        // after a look that was not right (the very first look at a change long past its
        // bound is not slow: nothing was seen wrong).
        const firstRight = rightAskedAt ?? askedAt;
        if (firstRight > deadline && polls > 1 && (wrong > 0 || lastError !== undefined)) {
          if (opts.slowOk) return { ms, state: o.state, polls, slowMs: ms, rightFromMs: firstRight - since };
          throw new NotConverged(
            `${opts.kind} slow: as expected only ${ms} ms after the change, against a bound of ${boundMs} ms (${boundName}): ${what}.\n` +
              `Slow, not wrong: ${SLOW_COMPONENT[opts.kind]} took ${(ms / 1000).toFixed(1)} s; nothing showed the change ` +
              `elsewhere before, so the wait watched past the bound (up to ${slowLimitMs(boundMs)} ms). ` +
              `Last state before it came right:\n${observed ? text(last as T) : '(nothing observed)'}`,
            o.state,
            ms,
            true,
          );
        }
        return { ms, state: o.state, polls, rightFromMs: firstRight - since };
      }
      confirming = o.confirming === true;
      rightAskedAt = confirming ? (rightAskedAt ?? askedAt) : undefined;
      last = o.state;
      observed = true;
      lastError = undefined;
      if (arrivedMs === undefined && opts.arrived?.(o.state)) arrivedMs = Date.now() - since;
      const key = opts.sameAnswer ? opts.sameAnswer(o.state) : text(o.state);
      if (confirming) {
        /* right, to be confirmed: not a wrong answer */
      } else if (wrong++ === 0) {
        firstText = text(o.state);
        firstKey = key;
        firstMs = Date.now() - since;
      } else if (key !== firstKey) changed = true;
    } catch (e) {
      // A fatal error, or this wait's own slow verdict (thrown above), ends the wait.
      if ((e as { fatal?: boolean }).fatal || (e instanceof NotConverged && e.slow)) throw e;
      lastError = (e as Error).message;
      changed = true;
    }
    const now = Date.now();
    // A right observation waiting for its confirmation gets that one more poll, even past
    // the bound: a wait that starts late (after an earlier check's long wait on the same
    // change) must not fail a state that was right at its first look.
    // Past the bound, the wait goes on to the limit unless the change was seen elsewhere:
    // then this answer is late or wrong, and the verdict is due now.
    const watching = now >= deadline && arrivedMs === undefined && now < limit;
    if (now >= deadline && !confirming && !watching) {
      const elapsed = now - since;
      const arrival =
        arrivedMs !== undefined
          ? `The change had arrived elsewhere ${arrivedMs} ms after it (another server or node had it right), and this answer stayed wrong.`
          : `Nothing showed the change arriving anywhere else: watched ${elapsed} ms, past the bound to the limit of ${slowLimitMs(boundMs)} ms.`;
      if (wrong > 1 && !changed) {
        throw new NotConverged(
          `${opts.kind}: the same wrong answer for the whole bound of ${boundMs} ms (${boundName}): ${what}.\n` +
            `A stable wrong answer, not a slow one: all ${wrong} observations, from ` +
            `${firstMs} ms to ${elapsed} ms after the change, were this one. ${arrival}\n${firstText}`,
          last,
          elapsed,
        );
      }
      const state =
        lastError !== undefined ? `the last observation failed: ${lastError}` : observed ? text(last as T) : '(nothing observed)';
      throw new NotConverged(
        `${opts.kind} not converged within ${boundMs} ms (${boundName}): ${what}.\n` +
          `Still not as expected ${elapsed} ms after the ` +
          `change${opts.sameAnswer ? '; the answer changed while it was watched' : ''}. ${arrival} Last observed state:\n${state}`,
        last,
        elapsed,
      );
    }
    await sleep(Math.min(opts.intervalMs ?? 200, Math.max(0, (now < deadline ? deadline : limit) - now)));
  }
}
