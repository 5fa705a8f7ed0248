import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * One JSON document on disk, written atomically (temp file + fsync + rename), so a crash
 * leaves either the previous world or the new one, never half of each.
 *
 * Writes are coalesced: `markDirty()` schedules one write on the next tick, so a burst of
 * mutations inside one request costs one write. `flush()` writes now (used on close).
 * With no path (tests), the document lives only in memory.
 */
export class JsonFileStore<T> {
  data: T;
  private dirty = false;
  private scheduled: NodeJS.Immediate | undefined;

  constructor(
    private readonly path: string | undefined,
    initial: () => T,
  ) {
    this.data = path !== undefined && existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : initial();
    if (path !== undefined && !existsSync(path)) {
      this.dirty = true;
      this.flush();
    }
  }

  /** Records that `data` changed; one atomic write follows on the next turn of the event loop. */
  markDirty(): void {
    if (this.path === undefined) return;
    this.dirty = true;
    if (this.scheduled === undefined) {
      this.scheduled = setImmediate(() => {
        this.scheduled = undefined;
        this.flush();
      });
    }
  }

  flush(): void {
    if (this.scheduled !== undefined) {
      clearImmediate(this.scheduled);
      this.scheduled = undefined;
    }
    if (this.path === undefined || !this.dirty) return;
    this.dirty = false;
    writeJsonAtomic(this.path, this.data);
  }
}

export function writeJsonAtomic(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${Date.now()}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  writeFileSync(tmp, JSON.stringify(value));
  const fd = openSync(tmp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
