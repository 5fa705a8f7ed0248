import { AsyncLocalStorage } from 'node:async_hooks';
import { now } from './clock.js';
import { env } from './env.js';

type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level | 'silent', number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type LogFields = Record<string, unknown>;

/** The configured level; `info` while the environment does not parse (the handler reports that at cold start). */
function threshold(): Level | 'silent' {
  try {
    return env().AMI_FACTORY_LOG_LEVEL;
  } catch {
    return 'info';
  }
}

/**
 * Structured JSON logs, one object per line, with the persistent keys (build id, image id,
 * function) on every line, on stdout as Lambda expects (CloudWatch Logs, or the local cloud's
 * per-function log). `AMI_FACTORY_LOG_LEVEL` sets the threshold (default info).
 */
export class Logger {
  /**
   * Per-invocation keys, in the invocation's async context: an execution environment runs one
   * invocation at a time, but a test may run several handlers in one process.
   */
  private readonly context = new AsyncLocalStorage<LogFields>();
  private readonly base: LogFields;

  constructor(
    private readonly service: string,
    keys: LogFields = {},
  ) {
    this.base = { ...keys };
  }

  /** Starts a fresh set of keys for the current invocation (its async continuation). */
  resetKeys(): void {
    this.context.enterWith({});
  }

  /** Keys added to every following line of this invocation (e.g. `buildId`, `imageId`). */
  appendKeys(keys: LogFields): void {
    let store = this.context.getStore();
    if (store === undefined) {
      store = {};
      this.context.enterWith(store);
    }
    for (const [k, v] of Object.entries(keys)) {
      if (v !== undefined) store[k] = v;
    }
  }

  debug(message: string, fields?: LogFields): void {
    this.write('debug', message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.write('info', message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.write('warn', message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.write('error', message, fields);
  }

  private write(level: Level, message: string, fields?: LogFields): void {
    if (ORDER[level] < ORDER[threshold()]) return;
    const line = JSON.stringify(
      { level, time: now().toISOString(), service: this.service, message, ...this.base, ...this.context.getStore(), ...fields },
      (_k, v: unknown) => (v instanceof Error ? { name: v.name, message: v.message } : v),
    );
    process.stdout.write(`${line}\n`);
  }
}
