import { isJsonObject, type JsonObject, type JsonValue } from '../json.js';

/**
 * EventBridge event patterns (content filtering), as Event Ruler implements them:
 * - a pattern is a JSON object; every leaf is an array of matchers (OR), fields are ANDed;
 * - a matcher is a literal (string, number, boolean, null: exact match, numbers compared
 *   numerically) or an object with one of `prefix`, `suffix`, `equals-ignore-case`,
 *   `wildcard`, `anything-but`, `numeric`, `exists`, `cidr`;
 * - `"$or": [{…}, {…}]` (2+ objects) ORs sub-patterns at any level;
 * - an array in the event matches when any of its elements does; objects inside arrays
 *   are matched element by element (array-consistent, like `rulesForJSONEvent`);
 * - `exists` looks at leaves only: a field holding an object does not "exist".
 *
 * Our own code: AWS's matcher (Event Ruler) is Java and no maintained JavaScript library
 * implements EventBridge's pattern language.
 */
export class InvalidEventPatternError extends Error {
  override name = 'InvalidEventPatternException';
  constructor(reason: string) {
    super(`Event pattern is not valid. Reason: ${reason}`);
  }
}

const MATCHERS = new Set(['prefix', 'suffix', 'equals-ignore-case', 'wildcard', 'anything-but', 'numeric', 'exists', 'cidr']);
/** Numeric matching is limited to ±5.0e9 (Event Ruler). */
const NUMERIC_LIMIT = 5e9;

/** Parses and validates an EventPattern string; throws InvalidEventPatternError. */
export function parseEventPattern(text: string): JsonObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new InvalidEventPatternError(e instanceof Error ? e.message : 'not JSON');
  }
  validateEventPattern(parsed as JsonValue);
  return parsed as JsonObject;
}

export function validateEventPattern(pattern: JsonValue): void {
  if (!isJsonObject(pattern)) throw new InvalidEventPatternError('Filter is not an object');
  checkObject(pattern, '');
}

/** True when `event` (any JSON value, normally an event envelope) matches the validated `pattern`. */
export function matchesEventPattern(pattern: JsonObject, event: JsonValue | undefined): boolean {
  return matchObject(pattern, event);
}

// ---------------------------------------------------------------------------------------------
// validation

function isOrArray(v: JsonValue | undefined): v is JsonObject[] {
  return Array.isArray(v) && v.length >= 2 && v.every((o) => isJsonObject(o) && Object.keys(o).every((k) => !MATCHERS.has(k)));
}

function checkObject(p: JsonObject, path: string): void {
  const keys = Object.keys(p);
  if (keys.length === 0) throw new InvalidEventPatternError(`Empty objects are not allowed${path === '' ? '' : ` at ${path}`}`);
  for (const k of keys) {
    const v = p[k] as JsonValue;
    const at = path === '' ? k : `${path}.${k}`;
    if (k === '$or' && isOrArray(v)) {
      for (const sub of v) checkObject(sub, path);
    } else if (Array.isArray(v)) {
      if (v.length === 0) throw new InvalidEventPatternError(`Empty arrays are not allowed at ${at}`);
      for (const m of v) checkMatcher(m, at);
    } else if (isJsonObject(v)) {
      checkObject(v, at);
    } else {
      throw new InvalidEventPatternError(`"${at}" must be an object or an array`);
    }
  }
}

function checkMatcher(m: JsonValue, at: string): void {
  if (m === null || typeof m === 'string' || typeof m === 'boolean') return;
  if (typeof m === 'number') {
    if (!Number.isFinite(m)) throw new InvalidEventPatternError(`Invalid number at ${at}`);
    return;
  }
  if (Array.isArray(m)) throw new InvalidEventPatternError(`Match value must be String, number, true, false, or null at ${at}`);
  const keys = Object.keys(m);
  if (keys.length !== 1) throw new InvalidEventPatternError(`Only one key allowed in match expression at ${at}`);
  const op = keys[0] as string;
  const v = m[op] as JsonValue;
  const bad = (why: string): never => {
    throw new InvalidEventPatternError(`${op} match ${why} at ${at}`);
  };
  switch (op) {
    case 'prefix':
    case 'suffix':
      if (typeof v === 'string') return;
      if (isJsonObject(v) && Object.keys(v).length === 1 && typeof v['equals-ignore-case'] === 'string') return;
      return bad('pattern must be a string or {"equals-ignore-case": string}');
    case 'equals-ignore-case':
      if (typeof v !== 'string') bad('pattern must be a string');
      return;
    case 'wildcard':
      if (typeof v !== 'string') bad('pattern must be a string');
      checkWildcard(v as string, at);
      return;
    case 'exists':
      if (typeof v !== 'boolean') bad('pattern must be true or false');
      return;
    case 'cidr':
      if (typeof v !== 'string' || parseCidr(v) === undefined) bad('pattern must be an IPv4 or IPv6 CIDR block');
      return;
    case 'numeric':
      parseNumeric(v, at);
      return;
    case 'anything-but':
      checkAnythingBut(v, at);
      return;
    default:
      throw new InvalidEventPatternError(`Unrecognized match type ${op} at ${at}`);
  }
}

function checkWildcard(s: string, at: string): void {
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') {
      const n = s[i + 1];
      if (n !== '*' && n !== '\\') throw new InvalidEventPatternError(`Invalid escape in wildcard pattern at ${at}`);
      i++;
    } else if (c === '*' && s[i + 1] === '*') {
      throw new InvalidEventPatternError(`Consecutive wildcard characters are not allowed at ${at}`);
    }
  }
}

function checkAnythingBut(v: JsonValue, at: string): void {
  const bad = (): never => {
    throw new InvalidEventPatternError(
      `Value of anything-but must be a string, a number, a list of either, or a prefix/suffix/equals-ignore-case/wildcard object at ${at}`,
    );
  };
  if (typeof v === 'string') return;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) bad();
    return;
  }
  if (Array.isArray(v)) {
    if (v.length === 0) bad();
    if (!(v.every((x) => typeof x === 'string') || v.every((x) => typeof x === 'number'))) bad();
    return;
  }
  if (isJsonObject(v)) {
    const keys = Object.keys(v);
    if (keys.length !== 1) bad();
    const k = keys[0] as string;
    const inner = v[k] as JsonValue;
    const strings =
      typeof inner === 'string'
        ? [inner]
        : Array.isArray(inner) && inner.length > 0 && inner.every((x) => typeof x === 'string')
          ? (inner as string[])
          : undefined;
    if (strings === undefined) return bad();
    if (k === 'prefix' || k === 'suffix') {
      if (typeof inner !== 'string' || inner === '') bad();
      return;
    }
    if (k === 'equals-ignore-case') return;
    if (k === 'wildcard') {
      for (const s of strings) checkWildcard(s, at);
      return;
    }
  }
  bad();
}

interface NumericRange {
  eq?: number;
  lower?: { value: number; inclusive: boolean };
  upper?: { value: number; inclusive: boolean };
}

function parseNumeric(v: JsonValue, at: string): NumericRange {
  const bad = (why: string): never => {
    throw new InvalidEventPatternError(`numeric match ${why} at ${at}`);
  };
  if (!Array.isArray(v) || v.length === 0 || v.length % 2 !== 0) return bad('must be a list of operator/value pairs');
  const r: NumericRange = {};
  for (let i = 0; i < v.length; i += 2) {
    const op = v[i];
    const n = v[i + 1];
    if (typeof n !== 'number' || !Number.isFinite(n)) return bad('values must be numbers');
    if (n < -NUMERIC_LIMIT || n > NUMERIC_LIMIT) return bad('values must be between -5.0e9 and 5.0e9');
    switch (op) {
      case '=':
        if (v.length !== 2) bad('"=" must be the only operator');
        r.eq = n;
        break;
      case '>':
      case '>=':
        if (r.lower !== undefined) bad('has more than one lower bound');
        r.lower = { value: n, inclusive: op === '>=' };
        break;
      case '<':
      case '<=':
        if (r.upper !== undefined) bad('has more than one upper bound');
        r.upper = { value: n, inclusive: op === '<=' };
        break;
      default:
        return bad(`has an unrecognized operator ${JSON.stringify(op)}`);
    }
  }
  if (r.lower !== undefined && r.upper !== undefined && !(r.lower.value < r.upper.value)) bad('bottom must be less than top');
  return r;
}

// ---------------------------------------------------------------------------------------------
// matching

function matchObject(p: JsonObject, ev: JsonValue | undefined): boolean {
  if (Array.isArray(ev)) {
    const elements = ev.filter((e) => e !== null && typeof e === 'object');
    if (elements.length === 0) return matchObject(p, undefined);
    return elements.some((e) => matchObject(p, e));
  }
  for (const [k, pv] of Object.entries(p)) {
    if (k === '$or' && isOrArray(pv)) {
      if (!pv.some((sub) => matchObject(sub, ev))) return false;
      continue;
    }
    const child = isJsonObject(ev) ? ev[k] : undefined;
    if (Array.isArray(pv)) {
      if (!matchLeaf(pv, leafValues(child))) return false;
    } else if (isJsonObject(pv)) {
      if (!matchObject(pv, child)) return false;
    }
  }
  return true;
}

type Leaf = string | number | boolean | null;

function leafValues(v: JsonValue | undefined): Leaf[] {
  if (v === undefined) return [];
  if (Array.isArray(v)) return v.flatMap((x) => leafValues(x));
  if (isJsonObject(v)) return [];
  return [v];
}

function matchLeaf(matchers: JsonValue[], values: Leaf[]): boolean {
  return matchers.some((m) => {
    if (isJsonObject(m)) {
      if ('exists' in m) return m.exists === true ? values.length > 0 : values.length === 0;
      return values.some((v) => matchExpression(m, v));
    }
    return values.some((v) => exactEquals(m, v));
  });
}

function exactEquals(m: JsonValue, v: Leaf): boolean {
  if (m === null) return v === null;
  return typeof m === typeof v && m === v;
}

function lower(s: string): string {
  return s.toLowerCase();
}

function matchExpression(m: JsonObject, v: Leaf): boolean {
  const [op, arg] = Object.entries(m)[0] as [string, JsonValue];
  switch (op) {
    case 'prefix':
    case 'suffix': {
      if (typeof v !== 'string') return false;
      const ignoreCase = isJsonObject(arg);
      const want = ignoreCase ? String(arg['equals-ignore-case']) : String(arg);
      const s = ignoreCase ? lower(v) : v;
      const w = ignoreCase ? lower(want) : want;
      return op === 'prefix' ? s.startsWith(w) : s.endsWith(w);
    }
    case 'equals-ignore-case':
      return typeof v === 'string' && lower(v) === lower(String(arg));
    case 'wildcard':
      return typeof v === 'string' && wildcardRegExp(String(arg)).test(v);
    case 'numeric':
      return typeof v === 'number' && inRange(parseNumeric(arg, ''), v);
    case 'cidr':
      return typeof v === 'string' && ipInCidr(v, String(arg));
    case 'anything-but':
      return anythingBut(arg, v);
    default:
      return false;
  }
}

function anythingBut(arg: JsonValue, v: Leaf): boolean {
  if (Array.isArray(arg)) return !arg.some((x) => exactEquals(x, v));
  if (!isJsonObject(arg)) return !exactEquals(arg, v);
  if (typeof v !== 'string') return true;
  const [op, inner] = Object.entries(arg)[0] as [string, JsonValue];
  const list = Array.isArray(inner) ? inner.map(String) : [String(inner)];
  switch (op) {
    case 'prefix':
      return !list.some((p) => v.startsWith(p));
    case 'suffix':
      return !list.some((p) => v.endsWith(p));
    case 'equals-ignore-case':
      return !list.some((p) => lower(p) === lower(v));
    case 'wildcard':
      return !list.some((p) => wildcardRegExp(p).test(v));
    default:
      return false;
  }
}

function inRange(r: NumericRange, n: number): boolean {
  if (r.eq !== undefined) return n === r.eq;
  if (r.lower !== undefined && !(r.lower.inclusive ? n >= r.lower.value : n > r.lower.value)) return false;
  if (r.upper !== undefined && !(r.upper.inclusive ? n <= r.upper.value : n < r.upper.value)) return false;
  return true;
}

const wildcardCache = new Map<string, RegExp>();

function wildcardRegExp(pattern: string): RegExp {
  const cached = wildcardCache.get(pattern);
  if (cached !== undefined) return cached;
  let src = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '\\' && i + 1 < pattern.length) {
      src += escapeRegExp(pattern[i + 1] as string);
      i++;
    } else if (c === '*') {
      src += '[\\s\\S]*';
    } else {
      src += escapeRegExp(c);
    }
  }
  const re = new RegExp(`^${src}$`, 'u');
  if (wildcardCache.size > 1000) wildcardCache.clear();
  wildcardCache.set(pattern, re);
  return re;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

// ---------------------------------------------------------------------------------------------
// IP addresses (IPv4 and IPv6) for `cidr`

interface Cidr {
  v6: boolean;
  base: bigint;
  bits: number;
}

function parseIPv4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const b = Number(p);
    if (b > 255) return undefined;
    n = (n << 8n) | BigInt(b);
  }
  return n;
}

function parseIPv6(s: string): bigint | undefined {
  let text = s;
  // An embedded IPv4 tail (::ffff:10.0.0.1) stands for the last two groups.
  const lastColon = text.lastIndexOf(':');
  if (lastColon >= 0 && text.includes('.', lastColon)) {
    const v4 = parseIPv4(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    text = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string): bigint[] | undefined => {
    if (h === '') return [];
    const gs = h.split(':');
    return gs.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g)) ? gs.map((g) => BigInt(`0x${g}`)) : undefined;
  };
  const head = groups(halves[0] as string);
  const rest = halves.length === 2 ? groups(halves[1] as string) : [];
  if (head === undefined || rest === undefined) return undefined;
  const explicit = head.length + rest.length;
  if (halves.length === 1 ? explicit !== 8 : explicit > 7) return undefined;
  const all = [...head, ...Array<bigint>(8 - explicit).fill(0n), ...rest];
  return all.reduce((acc, g) => (acc << 16n) | g, 0n);
}

function parseCidr(s: string): Cidr | undefined {
  const [addr, len, ...extra] = s.split('/');
  if (addr === undefined || extra.length > 0) return undefined;
  const v6 = addr.includes(':');
  const base = v6 ? parseIPv6(addr) : parseIPv4(addr);
  if (base === undefined) return undefined;
  const max = v6 ? 128 : 32;
  const bits = len === undefined ? max : /^\d{1,3}$/.test(len) ? Number(len) : NaN;
  if (!(bits >= 0 && bits <= max)) return undefined;
  return { v6, base, bits };
}

export function ipInCidr(ip: string, cidr: string): boolean {
  const c = parseCidr(cidr);
  if (c === undefined) return false;
  const v6 = ip.includes(':');
  if (v6 !== c.v6) return false;
  const n = v6 ? parseIPv6(ip) : parseIPv4(ip);
  if (n === undefined) return false;
  const width = BigInt(v6 ? 128 : 32);
  const shift = width - BigInt(c.bits);
  return n >> shift === c.base >> shift;
}
