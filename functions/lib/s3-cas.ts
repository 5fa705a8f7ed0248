import { S3_ERROR } from './error-codes.js';
import { hasErrorName } from './errors.js';

/**
 * Compare-and-swap of one object in S3: read it with its ETag, change it, write it with
 * `If-Match` on that ETag. S3 refuses the write when another writer won (412 PreconditionFailed,
 * or 409 ConditionalRequestConflict while a concurrent conditional write is in flight); the
 * object is then read again and the change applied again, up to `attempts` times.
 */
export interface CompareAndSwap<T> {
  read: () => Promise<{ value: T; etag: string } | undefined>;
  write: (next: T, ifMatch: string) => Promise<void>;
  /** The new value, or its argument itself when there is nothing to write. */
  change: (current: T) => T;
  attempts: number;
  /** The error when every attempt lost its race. */
  contention: () => Error;
}

/** A conditional write lost to another writer (If-Match or If-None-Match did not hold). */
export function lostRace(e: unknown): boolean {
  return hasErrorName(e, S3_ERROR.preconditionFailed, S3_ERROR.conditionalRequestConflict);
}

/** The stored value after the change; undefined when there is no object. */
export async function compareAndSwap<T>(op: CompareAndSwap<T>): Promise<T | undefined> {
  for (let attempt = 1; attempt <= op.attempts; attempt++) {
    const current = await op.read();
    if (current === undefined) return undefined;
    const next = op.change(current.value);
    if (next === current.value) return next;
    try {
      await op.write(next, current.etag);
      return next;
    } catch (e) {
      if (!lostRace(e)) throw e;
    }
  }
  throw op.contention();
}
