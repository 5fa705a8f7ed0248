/**
 * The factory's clock. Handlers read the time through here, not `Date.now()`, so the
 * embedded local cloud can run them on its simulated clock (its EC2 judges "in the past"
 * and image ages by that clock, and its time scale compresses waits). On AWS nothing is
 * installed and this is the system clock.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Resolves after `ms` milliseconds of this clock's time. */
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
};

const KEY = Symbol.for('ami-factory.clock');
type WithClock = { [KEY]?: Clock };

/** The clock in force: the one a local cloud installed, else the system clock. */
export function clock(): Clock {
  return (globalThis as WithClock)[KEY] ?? systemClock;
}

/** The current time as a Date (see `clock`). */
export function now(): Date {
  return new Date(clock().now());
}

/**
 * Installs a clock for the handlers of this process (the local cloud does, at start) and
 * returns a function that restores the previous one.
 */
export function installClock(c: Clock): () => void {
  const g = globalThis as WithClock;
  const previous = g[KEY];
  g[KEY] = c;
  return () => {
    if (g[KEY] !== c) return;
    if (previous === undefined) delete g[KEY];
    else g[KEY] = previous;
  };
}
