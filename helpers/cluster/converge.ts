// Convergence after a change: the one rule every check follows. After any change
// (apply, scale, readiness flip, delete, reschedule, label) the first assertion is a
// wait for the cluster to reach the expected state, bounded by a stated bound and
// measured from the change; the exact assertion comes after it. A cluster that is slow
// is reported as slow ("not converged within N ms", with the last state seen), never
// as a wrong answer; one that gave the same wrong answer from the first look to the last
// is reported as that ("the same wrong answer for the whole bound"). The bounds are verdicts, so SVC_TIMEOUT_SCALE does not stretch them.
import type { Observation } from './wait.ts';
import { currentTarget } from '../config/target.ts';
import { describeState as describe, sleep } from './wait.ts';

export type ConvergenceKind = 'DNS' | 'EndpointSlices' | 'Service proxy';

export class NotConverged extends Error {
  readonly lastState: unknown;
  readonly elapsedMs: number;

  constructor(message: string, lastState: unknown, elapsedMs: number) {
    super(message);
    this.name = 'NotConverged';
    this.lastState = lastState;
    this.elapsedMs = elapsedMs;
  }
}

/** The run's bound for a kind of convergence, and where it is set (shown in failures):
 *  DNS and EndpointSlices share the convergence bound; the proxy has its own. */
export function runBound(kind: ConvergenceKind): { boundMs: number; boundName: string } {
  const t = currentTarget();
  return kind === 'Service proxy'
    ? { boundMs: t.proxyBoundMs, boundName: 'SVC_PROXY_BOUND_MS / --proxy-bound' }
    : { boundMs: t.convergenceBoundMs, boundName: 'SVC_CONVERGENCE_BOUND_MS / --convergence-bound' };
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
}

/** Polls `observe` until it reports ok or the bound (from `since`) has passed. Returns
 *  the ms from `since` to the first ok observation and that observation's state. */
export async function converge<T>(
  what: string,
  observe: () => Promise<Observation<T>>,
  opts: ConvergeOptions<T>,
): Promise<{ ms: number; state: T; polls: number }> {
  const { boundMs, boundName } =
    opts.boundMs === undefined ? runBound(opts.kind) : { boundMs: opts.boundMs, boundName: opts.boundName ?? "this check's bound" };
  const since = opts.since ?? Date.now();
  const deadline = since + boundMs;
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
  for (let polls = 1; ; polls++) {
    let confirming = false;
    try {
      const o = await observe();
      if (o.ok) return { ms: Date.now() - since, state: o.state, polls };
      confirming = o.confirming === true;
      last = o.state;
      observed = true;
      lastError = undefined;
      const key = opts.sameAnswer ? opts.sameAnswer(o.state) : text(o.state);
      if (wrong++ === 0) {
        firstText = text(o.state);
        firstKey = key;
        firstMs = Date.now() - since;
      } else if (key !== firstKey) changed = true;
    } catch (e) {
      if ((e as { fatal?: boolean }).fatal) throw e;
      lastError = (e as Error).message;
      changed = true;
    }
    const now = Date.now();
    // A right observation waiting for its confirmation gets that one more poll, even past
    // the bound: a wait that starts late (after an earlier check's long wait on the same
    // change) must not fail a state that was right at its first look.
    if (now >= deadline && !confirming) {
      const elapsed = now - since;
      if (wrong > 1 && !changed) {
        throw new NotConverged(
          `${opts.kind}: the same wrong answer for the whole bound of ${boundMs} ms (${boundName}): ${what}.\n` +
            `A stable wrong answer, not a slow one: all ${wrong} observations, from ` +
            `${firstMs} ms to ${elapsed} ms after the change, were this one:\n${firstText}`,
          last,
          elapsed,
        );
      }
      const state =
        lastError !== undefined ? `the last observation failed: ${lastError}` : observed ? text(last as T) : '(nothing observed)';
      throw new NotConverged(
        `${opts.kind} not converged within ${boundMs} ms (${boundName}): ${what}.\n` +
          `Still not as expected ${elapsed} ms after the ` +
          `change${opts.sameAnswer ? '; the answer changed while it was watched' : ''}. Last observed state:\n${state}`,
        last,
        elapsed,
      );
    }
    await sleep(Math.min(opts.intervalMs ?? 200, Math.max(0, deadline - now)));
  }
}
