// Interrupts in one place. SIGINT and SIGTERM reach every process of a run (the CLI, a
// kind target it started, Jest and its workers): each part that must stop or undo
// something registers it here, and this module alone listens for the signals.
//
// On the first signal every registered handler runs, all at once, and the process exits
// with 130 once they are done, unless a handler registered with `then: 'continue'`: that
// caller's own flow goes on (it stops its child, removes what it made) and returns 130
// itself. A second signal while they run is reported and otherwise ignored, so that a
// cleanup is not cut short. With no handler registered, a signal ends the process the
// usual way.

type Handler = { fn: (sig: NodeJS.Signals) => unknown; then: 'exit' | 'continue' };

const handlers = new Set<Handler>();
let received: NodeJS.Signals | undefined;

const onSignal = (sig: NodeJS.Signals): void => {
  if (received) {
    process.stderr.write(`svc-conformance: ${sig} again: still stopping after ${received}\n`);
    return;
  }
  received = sig;
  const now = [...handlers];
  void Promise.allSettled(now.map(async (h) => h.fn(sig))).then(() => {
    if (!now.some((h) => h.then === 'continue')) process.exit(130);
  });
};

const listen = (on: boolean): void => {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    if (on) process.on(sig, onSignal);
    else process.off(sig, onSignal);
  }
};

/** Registers what to do on SIGINT/SIGTERM; returns the function that unregisters it. */
export function onInterrupt(fn: (sig: NodeJS.Signals) => unknown, opts: { then?: 'exit' | 'continue' } = {}): () => void {
  const h: Handler = { fn, then: opts.then ?? 'exit' };
  if (!handlers.size) listen(true);
  handlers.add(h);
  return () => {
    handlers.delete(h);
    if (!handlers.size) listen(false);
  };
}

/** The signal that interrupted this process, if one did. */
export const interruptedBy = (): NodeJS.Signals | undefined => received;
