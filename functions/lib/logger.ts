import { appendFileSync } from 'node:fs';

type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level | 'silent', number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type LogFields = Record<string, unknown>;

/**
 * Structured JSON logs, one object per line, with the persistent keys (build id, image id,
 * function) on every line. `AMI_FACTORY_LOG_LEVEL` sets the threshold (default info);
 * `AMI_FACTORY_LOG_FILE` sends lines to a file instead of stdout (the local cloud uses it
 * so handler logs do not interleave with the CLI's progress).
 */
export class Logger {
  private keys: LogFields;

  constructor(
    private readonly service: string,
    keys: LogFields = {},
  ) {
    this.keys = { ...keys };
  }

  /** Keys added to every following line (e.g. `buildId`, `imageId`). */
  appendKeys(keys: LogFields): void {
    for (const [k, v] of Object.entries(keys)) {
      if (v !== undefined) this.keys[k] = v;
    }
  }

  resetKeys(): void {
    this.keys = {};
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
    const threshold = (process.env.AMI_FACTORY_LOG_LEVEL ?? 'info') as Level | 'silent';
    if (ORDER[level] < (ORDER[threshold] ?? ORDER.info)) return;
    const line = JSON.stringify(
      { level, time: new Date().toISOString(), service: this.service, message, ...this.keys, ...fields },
      (_k, v: unknown) => (v instanceof Error ? { name: v.name, message: v.message } : v),
    );
    const file = process.env.AMI_FACTORY_LOG_FILE;
    if (file !== undefined && file !== '') appendFileSync(file, `${line}\n`);
    else process.stdout.write(`${line}\n`);
  }
}
