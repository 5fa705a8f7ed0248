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
 * A state file that cannot be read back: not JSON (truncated, edited) or not the shape of the
 * service's state. The file is left as it is (nothing overwrites it): the message names it and
 * what is wrong, so it can be repaired, moved away, or the state folder reset.
 */
export class StateFileError extends Error {
  override name = 'StateFileError';
  constructor(
    readonly file: string,
    readonly problem: string,
    cause?: unknown,
  ) {
    super(
      `The state file ${file} cannot be read: ${problem}. It was left untouched; move it away (the service starts empty) or restore it, then start again`,
      cause === undefined ? undefined : { cause },
    );
  }
}

/**
 * The document in `path`, checked against the shape of an empty state (`empty`): a JSON object
 * whose object-valued members are objects and whose other members, when present, have the same
 * type. Anything else is a StateFileError.
 */
function readStateFile<T>(path: string, empty: T): T {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new StateFileError(path, `it cannot be opened (${(e as NodeJS.ErrnoException).code ?? String(e)})`, e);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const problem =
      text.trim() === '' ? 'it is empty' : `it is not valid JSON (${e instanceof Error ? e.message : String(e)}; ${text.length} bytes)`;
    throw new StateFileError(path, problem, e);
  }
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(value))
    throw new StateFileError(
      path,
      `it holds ${Array.isArray(value) ? 'an array' : String(value === null ? 'null' : typeof value)}, not a state object`,
    );
  if (isObject(empty)) {
    for (const [key, model] of Object.entries(empty)) {
      const got = value[key];
      if (isObject(model) && !isObject(got))
        throw new StateFileError(path, `its "${key}" is ${got === undefined ? 'missing' : 'not an object'}`);
      if (!isObject(model) && got !== undefined && typeof got !== typeof model) {
        throw new StateFileError(path, `its "${key}" is a ${typeof got}, not a ${typeof model}`);
      }
    }
  }
  return value as T;
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
