// Waits poll a condition against a deadline and, when they give up, report the last
// state they observed. Polling (rather than watches, which client-node 2.x ends
// after 30 s of silence) keeps every wait restartable and its last state known.
import { currentTarget } from '../config/target.ts';
import { interruptedBy } from '../config/interrupt.ts';

export interface Observation<T> {
  ok: boolean;
  state: T;
  /** Right, but to be confirmed by the next observation (a wait that needs two right
   *  polls in a row): the bound does not end the wait before that next one. */
  confirming?: boolean;
}

export class WaitTimeout extends Error {
  readonly lastState: unknown;

  constructor(what: string, ms: number, lastState: unknown) {
    super(`timed out after ${(ms / 1000).toFixed(1)} s waiting for ${what}.\nLast observed state:\n${describeState(lastState)}`);
    this.name = 'WaitTimeout';
    this.lastState = lastState;
  }
}

/** A state for a failure message: strings as they are, anything else as JSON. */
export function describeState(v: unknown): string {
  if (typeof v === 'string') return v;
  try {
    return JSON.stringify(v, null, 2);
  } catch {
    return String(v);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it reports ok; the deadline is scaled by SVC_TIMEOUT_SCALE. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<Observation<T>>,
  opts: { timeoutMs: number; intervalMs?: number },
): Promise<T> {
  const timeoutMs = opts.timeoutMs * currentTarget().timeoutScale;
  const deadline = Date.now() + timeoutMs;
  let last: unknown = '(no observation yet)';
  for (;;) {
    // An interrupted run stops waiting (the CLI then removes what the run made).
    const sig = interruptedBy();
    if (sig) throw new Error(`${sig}: stopped waiting for ${what}`);
    try {
      const o = await check();
      if (o.ok) return o.state;
      last = o.state;
    } catch (e) {
      // A check may know that waiting cannot help (an image that cannot be pulled).
      if ((e as { fatal?: boolean }).fatal) throw e;
      last = `check failed: ${(e as Error).message}`;
    }
    if (Date.now() >= deadline) throw new WaitTimeout(what, timeoutMs, last);
    await sleep(opts.intervalMs ?? 250);
  }
}
