import { createHash } from 'node:crypto';

/**
 * Opaque paging tokens shared by the protocol layers (each wraps them in its API's own
 * parameter names and errors). A token names the last item returned, not an offset, so items
 * added or removed between two pages are neither skipped nor repeated; it may also carry a
 * scope (a hash of the request's other parameters) so that a token is refused by a different
 * query, as AWS refuses it.
 */
export interface Page<T> {
  items: T[];
  /** Present when more items follow. */
  nextToken?: string;
}

export interface KeyedPageOptions {
  /** The token the caller sent (undefined or '' for the first page). */
  token: string | undefined;
  /** Page size; undefined: everything after the token. */
  max: number | undefined;
  /** What the token is bound to (see pageScope); a token of another scope is invalid. */
  scope?: string;
  /** The API's error for a token it did not issue. */
  invalid: (token: string) => Error;
}

/**
 * A page of `items` — in ascending order of `key` — after the token. Without a token and without
 * `max`, the whole list is one page.
 */
export function keyedPage<T>(items: readonly T[], key: (t: T) => string, opts: KeyedPageOptions): Page<T> {
  let start = 0;
  if (opts.token !== undefined && opts.token !== '') {
    let decoded: { k?: unknown; f?: unknown };
    try {
      decoded = JSON.parse(Buffer.from(opts.token, 'base64url').toString('utf8')) as { k?: unknown; f?: unknown };
    } catch {
      throw opts.invalid(opts.token);
    }
    if (decoded === null || typeof decoded !== 'object' || typeof decoded.k !== 'string' || decoded.f !== (opts.scope ?? null)) {
      throw opts.invalid(opts.token);
    }
    const after = decoded.k;
    start = items.findIndex((t) => key(t) > after);
    if (start < 0) start = items.length;
  }
  if (opts.max === undefined && start === 0) return { items: [...items] };
  const limit = opts.max ?? items.length;
  const page = items.slice(start, start + limit);
  const last = page[page.length - 1];
  const out: Page<T> = { items: page };
  if (start + limit < items.length && last !== undefined) {
    out.nextToken = Buffer.from(JSON.stringify({ k: key(last), f: opts.scope ?? null }), 'utf8').toString('base64url');
  }
  return out;
}

/** A short hash of whatever identifies a query (operation, region, its other parameters). */
export function pageScope(...parts: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16);
}

/** A sortable key: a time in ms (fixed width), then an id. */
export function timeKey(ms: number, id: string): string {
  return `${String(Math.max(0, Math.floor(ms))).padStart(16, '0')}|${id}`;
}
