import { BlockList, isIP } from 'node:net';
import type { ConditionKeyInfo } from './actions.js';
import type { ContextKeys, ContextScalar } from './context.js';
import { RequestNotUnderstoodError } from './errors.js';
import { isPlainObject, jsonPathKey } from './json-path.js';
import { isDate, matchesArn, matchesPieces, parseTemplate, resolveTemplate, TemplateSyntaxError, type Template } from './patterns.js';

/**
 * The Condition element ("IAM JSON policy elements: Condition operators"; "Conditions with
 * multiple context keys or values"; "Single-valued vs. multivalued context keys"):
 *
 * - every operator of a Condition block, and every key under an operator, must be true (AND);
 * - the values listed for one key are alternatives (OR): a value of the request matches when
 *   it matches any of them; for a negated operator (StringNotEquals, NumericNotEquals,
 *   DateNotEquals, StringNotEqualsIgnoreCase, StringNotLike, NotIpAddress, ArnNotEquals,
 *   ArnNotLike) the request value must match none of them (NOR);
 * - a key absent from the request makes the condition false, except for negated operators
 *   (true), `…IfExists` (true) and `Null` (which tests exactly that);
 * - `ForAllValues:` is true when every value of the request matches (also when the key is
 *   absent or its set is empty); `ForAnyValue:` when at least one does (false when absent or
 *   empty). With a negated operator, "matches" means "matches none of the policy's values";
 * - multivalued keys (`ArrayOf…` in the Service Authorization Reference, like aws:TagKeys)
 *   need a set operator ("Multivalued context keys require a condition set operator"), so a
 *   policy testing one without ForAllValues/ForAnyValue is refused, as IAM Access Analyzer
 *   refuses it ("Missing qualifier");
 * - policy variables work in the values of String and ARN operators only (Access Analyzer:
 *   "Policy variables can only be used with String and ARN operators"); `Null…IfExists` is
 *   refused ("Null with if exists"), and so is a Bool with several values ("Invalid condition
 *   multiple Boolean").
 */

export type ConditionFamily = 'String' | 'Numeric' | 'Date' | 'Bool' | 'Binary' | 'IpAddress' | 'Arn' | 'Null';

interface OperatorSpec {
  family: ConditionFamily;
  negated: boolean;
  /** String: how text compares; Numeric/Date: the ordering test. */
  mode: 'equals' | 'equalsIgnoreCase' | 'like' | 'lt' | 'lte' | 'gt' | 'gte' | 'eq';
}

const comparisons = (family: 'Numeric' | 'Date'): Record<string, OperatorSpec> => ({
  [`${family}Equals`]: { family, negated: false, mode: 'eq' },
  [`${family}NotEquals`]: { family, negated: true, mode: 'eq' },
  [`${family}LessThan`]: { family, negated: false, mode: 'lt' },
  [`${family}LessThanEquals`]: { family, negated: false, mode: 'lte' },
  [`${family}GreaterThan`]: { family, negated: false, mode: 'gt' },
  [`${family}GreaterThanEquals`]: { family, negated: false, mode: 'gte' },
});

/** Every condition operator AWS documents (without prefixes and the IfExists suffix). */
export const OPERATORS: Readonly<Record<string, OperatorSpec>> = {
  StringEquals: { family: 'String', negated: false, mode: 'equals' },
  StringNotEquals: { family: 'String', negated: true, mode: 'equals' },
  StringEqualsIgnoreCase: { family: 'String', negated: false, mode: 'equalsIgnoreCase' },
  StringNotEqualsIgnoreCase: { family: 'String', negated: true, mode: 'equalsIgnoreCase' },
  StringLike: { family: 'String', negated: false, mode: 'like' },
  StringNotLike: { family: 'String', negated: true, mode: 'like' },
  ...comparisons('Numeric'),
  ...comparisons('Date'),
  Bool: { family: 'Bool', negated: false, mode: 'eq' },
  BinaryEquals: { family: 'Binary', negated: false, mode: 'eq' },
  IpAddress: { family: 'IpAddress', negated: false, mode: 'eq' },
  NotIpAddress: { family: 'IpAddress', negated: true, mode: 'eq' },
  // "The ArnEquals and ArnLike condition operators behave identically."
  ArnEquals: { family: 'Arn', negated: false, mode: 'like' },
  ArnLike: { family: 'Arn', negated: false, mode: 'like' },
  ArnNotEquals: { family: 'Arn', negated: true, mode: 'like' },
  ArnNotLike: { family: 'Arn', negated: true, mode: 'like' },
  Null: { family: 'Null', negated: false, mode: 'eq' },
};

export type SetOperator = 'ForAllValues' | 'ForAnyValue';

/** One key under one operator, ready to evaluate. */
export interface ConditionClause {
  /** The operator as written (`ForAnyValue:StringLikeIfExists`). */
  operator: string;
  base: string;
  family: ConditionFamily;
  set?: SetOperator;
  ifExists: boolean;
  negated: boolean;
  /** The key as written, and lower-cased for lookups. */
  key: string;
  keyLower: string;
  /** The values as written (strings). */
  values: string[];
  /** Null only: true tests that the key is absent. */
  nullIsAbsent?: boolean;
  /** Whether a single request value matches any of the policy's values. */
  matchesAny(value: ContextScalar, context: ContextKeys): boolean;
}

/** A problem found while parsing one condition; the policy parser adds the policy name. */
export class ConditionSyntaxError extends Error {
  override name = 'ConditionSyntaxError';

  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(reason);
  }
}

export interface ConditionParseOptions {
  /** Policy language 2012-10-17: `${…}` are variables (2008-10-17: literal text). */
  variables: boolean;
  /** The reference's entry for a condition key, or undefined when it does not know the key. */
  keyInfo(key: string): ConditionKeyInfo | undefined;
}

export function parseOperator(operator: string): { base: string; spec: OperatorSpec; set?: SetOperator; ifExists: boolean } | undefined {
  let rest = operator;
  let set: SetOperator | undefined;
  const prefix = /^(ForAllValues|ForAnyValue):/.exec(rest);
  if (prefix !== null) {
    set = prefix[1] as SetOperator;
    rest = rest.slice(prefix[0].length);
  }
  const ifExists = rest.endsWith('IfExists');
  const base = ifExists ? rest.slice(0, -'IfExists'.length) : rest;
  const spec = Object.hasOwn(OPERATORS, base) ? OPERATORS[base] : undefined;
  if (spec === undefined) return undefined;
  return set === undefined ? { base, spec, ifExists } : { base, spec, set, ifExists };
}

type RawValue = string | number | boolean;

/** Parses the Condition element (an object of operator → { key → value | [values] }). */
export function parseConditions(element: unknown, path: string, options: ConditionParseOptions): ConditionClause[] {
  if (!isPlainObject(element)) throw new ConditionSyntaxError(path, 'Condition must be an object of condition operators');
  const clauses: ConditionClause[] = [];
  for (const [operator, block] of Object.entries(element)) {
    const opPath = `${path}${jsonPathKey(operator)}`;
    const op = parseOperator(operator);
    if (op === undefined) throw new ConditionSyntaxError(opPath, `${operator} is not a condition operator AWS documents`);
    if (op.spec.family === 'Null' && (op.ifExists || op.set !== undefined)) {
      throw new ConditionSyntaxError(opPath, `${operator}: the Null operator takes neither IfExists nor a set operator`);
    }
    if (op.set === 'ForAnyValue' && op.ifExists) {
      // The operators page says IfExists makes an absent key true, while ForAnyValue is false
      // for an absent key, and AWS has been seen to answer false (re:Post
      // QU9HFmDzP0QGuU-fd7rS6B7w): the combination is not defined well enough to evaluate.
      throw new ConditionSyntaxError(
        opPath,
        `${operator}: ForAnyValue with IfExists is not evaluated (AWS's documentation and behaviour disagree)`,
      );
    }
    if (!isPlainObject(block) || Object.keys(block).length === 0) {
      throw new ConditionSyntaxError(opPath, `${operator} must map condition keys to values`);
    }
    const seen = new Map<string, string>();
    for (const [key, raw] of Object.entries(block)) {
      const keyPath = `${opPath}${jsonPathKey(key)}`;
      const lower = key.toLowerCase();
      const twin = seen.get(lower);
      if (twin !== undefined)
        throw new ConditionSyntaxError(
          keyPath,
          `the condition key ${key} appears twice under ${operator} (as ${twin}; key names are case-insensitive)`,
        );
      seen.set(lower, key);
      if (!/^[^:\s]+:\S+$/.test(key)) throw new ConditionSyntaxError(keyPath, `${key} is not a condition key (service:key-name)`);
      if (key.includes('${'))
        throw new ConditionSyntaxError(keyPath, `${key}: policy variables are supported in condition values, not in condition keys`);
      const info = options.keyInfo(key);
      if (info === undefined)
        throw new ConditionSyntaxError(keyPath, `${key} is not a condition key of the Service Authorization Reference`);
      if (info.multivalued && op.set === undefined && op.spec.family !== 'Null') {
        throw new ConditionSyntaxError(
          keyPath,
          `${key} is multivalued: test it with ForAllValues: or ForAnyValue: (${operator} alone is not defined for it)`,
        );
      }
      clauses.push(parseClause(operator, op, key, raw, keyPath, options));
    }
  }
  return clauses;
}

function parseClause(
  operator: string,
  op: { base: string; spec: OperatorSpec; set?: SetOperator; ifExists: boolean },
  key: string,
  raw: unknown,
  path: string,
  options: ConditionParseOptions,
): ConditionClause {
  const list: unknown[] = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) throw new ConditionSyntaxError(path, `${key} has no values`);
  list.forEach((v, i) => {
    if (typeof v !== 'string' && typeof v !== 'boolean' && !(typeof v === 'number' && Number.isFinite(v))) {
      throw new ConditionSyntaxError(
        Array.isArray(raw) ? `${path}[${i}]` : path,
        'a condition value must be a string, a number or a boolean',
      );
    }
  });
  const values = (list as RawValue[]).map(String);
  const valuePath = (i: number): string => (Array.isArray(raw) ? `${path}[${i}]` : path);
  const { family, negated, mode } = op.spec;
  const base = {
    operator,
    base: op.base,
    family,
    ifExists: op.ifExists,
    negated,
    key,
    keyLower: key.toLowerCase(),
    values,
    ...(op.set === undefined ? {} : { set: op.set }),
  };
  const bad = (i: number, what: string): never => {
    throw new ConditionSyntaxError(valuePath(i), `${JSON.stringify(values[i])} is not ${what} (${operator})`);
  };
  switch (family) {
    case 'String':
    case 'Arn': {
      const templates = values.map((v, i) => {
        try {
          return parseTemplate(v, { variables: options.variables, wildcards: mode === 'like' });
        } catch (e) {
          if (e instanceof TemplateSyntaxError) throw new ConditionSyntaxError(valuePath(i), e.message);
          throw e;
        }
      });
      return { ...base, matchesAny: family === 'String' ? stringMatcher(templates, mode) : arnMatcher(templates) };
    }
    case 'Numeric': {
      const numbers = values.map((v, i) => (NUMBER.test(v) ? Number(v) : bad(i, 'a number')));
      return { ...base, matchesAny: (v) => orderedMatch(numbers, toNumber(v), mode) };
    }
    case 'Date': {
      const times = values.map((v, i) => parseDate(v) ?? bad(i, 'an ISO 8601 date or epoch seconds'));
      return { ...base, matchesAny: (v) => orderedMatch(times, toTime(v), mode) };
    }
    case 'Bool': {
      if (values.length > 1) throw new ConditionSyntaxError(path, `${key}: Bool takes a single value`);
      const want = values.map((v, i) => (/^(true|false)$/i.test(v) ? v.toLowerCase() === 'true' : bad(i, 'true or false')));
      return { ...base, matchesAny: (v) => want.includes(toBool(v) as boolean) };
    }
    case 'Binary': {
      const bytes = values.map((v, i) => (BASE64.test(v) && v.length % 4 === 0 ? Buffer.from(v, 'base64') : bad(i, 'base64')));
      return { ...base, matchesAny: (v) => binaryMatch(bytes, v) };
    }
    case 'IpAddress': {
      const ranges = { v4: new BlockList(), v6: new BlockList() };
      values.forEach((v, i) => addRange(ranges, v) || bad(i, 'an IPv4 or IPv6 address or CIDR range'));
      return { ...base, matchesAny: (v) => ipMatch(ranges, v) };
    }
    case 'Null': {
      if (values.length > 1 || !/^(true|false)$/i.test(values[0] as string)) bad(0, 'true or false (a single value)');
      return { ...base, nullIsAbsent: (values[0] as string).toLowerCase() === 'true', matchesAny: () => false };
    }
  }
}

/**
 * Evaluates one clause against the request context: true when the condition holds.
 * A multivalued request value tested without a set operator cannot be evaluated (the
 * policy was checked against the reference's key types, so the request is at fault).
 */
export function evaluateClause(clause: ConditionClause, context: ContextKeys): boolean {
  const value = context.get(clause.keyLower);
  if (clause.family === 'Null') {
    // "true (the key doesn't exist — it is null)"; an empty set counts as no value.
    const absent = value === undefined || (Array.isArray(value) && value.length === 0);
    return clause.nullIsAbsent === absent;
  }
  const matches = (v: ContextScalar): boolean => (clause.negated ? !clause.matchesAny(v, context) : clause.matchesAny(v, context));
  if (clause.set !== undefined) {
    const values: readonly ContextScalar[] = value === undefined ? [] : Array.isArray(value) ? value : [value as ContextScalar];
    return clause.set === 'ForAllValues' ? values.every(matches) : values.some(matches);
  }
  if (value === undefined) return clause.ifExists || clause.negated;
  if (Array.isArray(value)) {
    throw new RequestNotUnderstoodError(
      `the request gives ${clause.key} several values, but the policy tests it with ${clause.operator} (no ForAllValues/ForAnyValue)`,
    );
  }
  return matches(value as ContextScalar);
}

// ---------------------------------------------------------------------------------------------
// Value matching per operator family

function stringMatcher(templates: Template[], mode: OperatorSpec['mode']): ConditionClause['matchesAny'] {
  return (v, context) => {
    const text = toText(v);
    return templates.some((t) => {
      const pieces = resolveTemplate(t, (k) => context.get(k));
      return pieces !== undefined && matchesPieces(pieces, text, mode === 'equalsIgnoreCase');
    });
  };
}

function arnMatcher(templates: Template[]): ConditionClause['matchesAny'] {
  return (v, context) => {
    if (typeof v !== 'string') return false;
    return templates.some((t) => {
      const pieces = resolveTemplate(t, (k) => context.get(k));
      return pieces !== undefined && matchesArn(pieces, v);
    });
  };
}

function toText(v: ContextScalar): string {
  return isDate(v) ? v.toISOString() : String(v);
}

const NUMBER = /^-?\d+(\.\d+)?$/;

function toNumber(v: ContextScalar): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && NUMBER.test(v)) return Number(v);
  return undefined;
}

/** W3C's profile of ISO 8601 (YYYY, YYYY-MM, YYYY-MM-DD, then hh:mm[:ss[.s]] with a zone). */
const W3C_DATE = /^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?)?)?$/;
const EPOCH = /^-?\d+$/;

/** A policy date: ISO 8601 (W3C profile) or epoch seconds; milliseconds since the epoch. */
export function parseDate(text: string): number | undefined {
  if (EPOCH.test(text) && text.length !== 4) return Number(text) * 1000;
  if (!W3C_DATE.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

function toTime(v: ContextScalar): number | undefined {
  if (isDate(v)) return v.getTime();
  if (typeof v === 'number') return v * 1000;
  if (typeof v === 'string') return parseDate(v);
  return undefined;
}

function orderedMatch(policy: number[], value: number | undefined, mode: OperatorSpec['mode']): boolean {
  if (value === undefined) return false;
  return policy.some((p) => {
    switch (mode) {
      case 'lt':
        return value < p;
      case 'lte':
        return value <= p;
      case 'gt':
        return value > p;
      case 'gte':
        return value >= p;
      default:
        return value === p;
    }
  });
}

function toBool(v: ContextScalar): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
  return undefined;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function binaryMatch(policy: Buffer[], v: ContextScalar): boolean {
  if (typeof v !== 'string' || !BASE64.test(v)) return false;
  const bytes = Buffer.from(v, 'base64');
  return policy.some((p) => p.equals(bytes));
}

interface IpRanges {
  v4: BlockList;
  v6: BlockList;
}

/** "If you specify an IP address without the associated routing prefix, IAM uses the default prefix value of /32." */
function addRange(ranges: IpRanges, text: string): boolean {
  const [address = '', prefix, ...extra] = text.split('/');
  const family = isIP(address);
  if (family === 0 || extra.length > 0) return false;
  const max = family === 4 ? 32 : 128;
  const bits = prefix === undefined ? max : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
  if (!(bits >= 0 && bits <= max)) return false;
  if (family === 4) ranges.v4.addSubnet(address, bits, 'ipv4');
  else ranges.v6.addSubnet(address, bits, 'ipv6');
  return true;
}

function ipMatch(ranges: IpRanges, v: ContextScalar): boolean {
  if (typeof v !== 'string') return false;
  const family = isIP(v);
  if (family === 4) return ranges.v4.check(v, 'ipv4');
  if (family === 6) return ranges.v6.check(v, 'ipv6');
  return false;
}
