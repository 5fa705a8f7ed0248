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
    this.data = path !== undefined && existsSync(path) ? readStateFile(path, initial()) : initial();
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

/**
 * A state file that cannot be taken as the world it should hold: not JSON (truncated,
 * empty, garbage) or not of the document's shape. Names the file and what is wrong; the
 * file is left as it was, for its owner to look at or move away.
 */
export class StateFileError extends Error {
  override readonly name = 'StateFileError';
  constructor(
    readonly path: string,
    readonly problem: string,
    options?: ErrorOptions,
  ) {
    super(`State file ${path} cannot be read: ${problem}. It was left untouched; move it away to start from an empty world.`, options);
  }
}

type Kind = 'object' | 'array' | 'string' | 'number' | 'boolean' | 'null';

function kindOf(value: unknown): Kind | 'other' {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  const t = typeof value;
  return t === 'object' || t === 'string' || t === 'number' || t === 'boolean' ? t : 'other';
}

/**
 * Reads a state document and checks it against the shape of the empty one: the same kind
 * at the top, and every top-level field of the empty document present with the same kind
 * (so `regions` is an object, `version` a number). Deeper structure is each service's own.
 */
export function readStateFile<T>(path: string, empty: T): T {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new StateFileError(path, `it could not be read (${(e as Error).message})`, { cause: e });
  }
  if (text.trim() === '') throw new StateFileError(path, 'it is empty');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new StateFileError(path, `it is not valid JSON, perhaps truncated (${(e as Error).message})`, { cause: e });
  }
  const want = kindOf(empty);
  const got = kindOf(value);
  if (got !== want) throw new StateFileError(path, `it holds ${article(got)}, not ${article(want)}`);
  if (want === 'object') {
    const doc = value as Record<string, unknown>;
    for (const [key, initial] of Object.entries(empty as Record<string, unknown>)) {
      if (!Object.hasOwn(doc, key)) throw new StateFileError(path, `field "${key}" is missing`);
      const k = kindOf(doc[key]);
      if (k !== kindOf(initial)) throw new StateFileError(path, `field "${key}" is ${article(k)}, not ${article(kindOf(initial))}`);
    }
  }
  return value as T;
}

function article(kind: Kind | 'other'): string {
  return kind === 'array' || kind === 'object' || kind === 'other' ? `an ${kind}` : kind === 'null' ? 'null' : `a ${kind}`;
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
  // The rename is durable only once the folder's entry is on disk (POSIX; not possible on Windows).
  if (process.platform !== 'win32') {
    const dir = openSync(dirname(path), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  }
}
