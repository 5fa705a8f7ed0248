import { invalidValue, missing } from './errors.js';

/**
 * The form-urlencoded body of an EC2 Query request, as a tree: `Filter.1.Value.2=x` becomes
 * `{ Filter: { '1': { Value: { '2': 'x' } } } }`. Lists are flattened from 1 (aws-facts.md).
 */
export type ParamNode = string | ParamTree;
export interface ParamTree {
  [key: string]: ParamNode;
}

export function parseQueryBody(body: string): Params {
  const root: ParamTree = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const parts = key.split('.');
    let node: ParamTree = root;
    for (let i = 0; i < parts.length - 1; i++) {
      const part = parts[i] as string;
      const next = node[part];
      if (typeof next === 'object') {
        node = next;
      } else {
        const created: ParamTree = {};
        // A scalar and a structure under the same key: the structure wins (EC2 ignores the scalar).
        node[part] = created;
        node = created;
      }
    }
    const leaf = parts[parts.length - 1] as string;
    if (typeof node[leaf] !== 'object') node[leaf] = value;
  }
  return new Params(root, '');
}

const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** Typed access to a parameter tree; `path` names it in error messages. */
export class Params {
  constructor(
    readonly tree: ParamTree,
    readonly path: string,
  ) {}

  private name(key: string): string {
    return this.path === '' ? key : `${this.path}.${key}`;
  }

  has(key: string): boolean {
    return this.tree[key] !== undefined;
  }

  str(key: string): string | undefined {
    const v = this.tree[key];
    return typeof v === 'string' ? v : undefined;
  }

  required(key: string): string {
    const v = this.str(key);
    if (v === undefined || v === '') throw missing(this.name(key));
    return v;
  }

  bool(key: string): boolean | undefined {
    const v = this.str(key);
    if (v === undefined) return undefined;
    const lower = v.toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
    throw invalidValue(`Invalid value '${v}' for ${this.name(key)}; a boolean (true|false) is expected`);
  }

  int(key: string): number | undefined {
    const v = this.str(key);
    if (v === undefined) return undefined;
    if (!/^-?\d+$/.test(v)) throw invalidValue(`Invalid value '${v}' for ${this.name(key)}; an integer is expected`);
    return Number(v);
  }

  /** An ISO-8601 timestamp, as epoch milliseconds. */
  time(key: string): number | undefined {
    const v = this.str(key);
    if (v === undefined) return undefined;
    const ms = Date.parse(v);
    if (!ISO.test(v) || Number.isNaN(ms))
      throw invalidValue(`Invalid value '${v}' for ${this.name(key)}; an ISO-8601 timestamp is expected`);
    return ms;
  }

  child(key: string): Params | undefined {
    const v = this.tree[key];
    return typeof v === 'object' ? new Params(v, this.name(key)) : undefined;
  }

  /** `Key.1`, `Key.2`, ... as strings (in index order). */
  strings(key: string): string[] {
    return this.indexed(key).flatMap(([, v]) => (typeof v === 'string' ? [v] : []));
  }

  /** `Key.1.*`, `Key.2.*`, ... as structures (in index order). */
  list(key: string): Params[] {
    return this.indexed(key).flatMap(([i, v]) => (typeof v === 'object' ? [new Params(v, `${this.name(key)}.${i}`)] : []));
  }

  private indexed(key: string): [number, ParamNode][] {
    const v = this.tree[key];
    if (typeof v !== 'object') return [];
    return Object.entries(v)
      .filter(([k]) => /^\d+$/.test(k))
      .map(([k, n]): [number, ParamNode] => [Number(k), n])
      .sort((a, b) => a[0] - b[0]);
  }
}
