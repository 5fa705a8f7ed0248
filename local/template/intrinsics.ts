import { isJsonObject, type JsonObject, type JsonValue } from '../json.js';

/**
 * CloudFormation's intrinsic functions, resolved as CloudFormation resolves them, for the
 * ones the factory's templates use: `Ref` (resources, parameters and the pseudo parameters
 * AWS::Region, AWS::AccountId, AWS::Partition, AWS::StackName, AWS::StackId, AWS::URLSuffix,
 * AWS::NoValue), `Fn::GetAtt`, `Fn::Sub` (string and map forms, `${!Literal}` escapes) and
 * `Fn::Join`, plus `Fn::Select` and `Fn::Split`, which are as simple, and the condition
 * functions (`Fn::If` in values; `Fn::Equals`, `Fn::Not`, `Fn::And`, `Fn::Or` and `Condition` in
 * the Conditions section: `evaluateCondition`). Any other function is refused with the logical id
 * of the resource that uses it: the local cloud never guesses.
 */
export interface ResolveContext {
  /** Pseudo parameters and template parameters, by name. */
  parameters: Record<string, JsonValue>;
  /** `Ref` of a resource (its physical id, as the resource type defines it). */
  ref(logicalId: string): JsonValue;
  /** `Fn::GetAtt` of a resource. */
  getAtt(logicalId: string, attribute: string): JsonValue;
  /** The value of a condition of the template's Conditions section, by name. */
  condition(name: string): boolean;
}

/** An intrinsic function (or a form of one) the local cloud does not resolve. */
export class UnsupportedIntrinsicError extends Error {
  override name = 'UnsupportedIntrinsicError';
  constructor(
    readonly logicalId: string,
    readonly fn: string,
    detail = '',
  ) {
    super(`${logicalId}: the local cloud cannot resolve ${fn}${detail === '' ? '' : ` (${detail})`}`);
  }
}

/** A reference to something the template does not define. */
export class UnresolvableReferenceError extends Error {
  override name = 'UnresolvableReferenceError';
}

/** AWS::NoValue: the property is left out. */
const NO_VALUE = Symbol('AWS::NoValue');
type Resolved = JsonValue | typeof NO_VALUE;

const INTRINSICS = new Set([
  'Ref',
  'Fn::GetAtt',
  'Fn::Sub',
  'Fn::Join',
  'Fn::Select',
  'Fn::Split',
  'Fn::If',
  'Fn::Equals',
  'Fn::Not',
  'Fn::And',
  'Fn::Or',
  'Fn::FindInMap',
  'Fn::ImportValue',
  'Fn::GetAZs',
  'Fn::Base64',
  'Fn::Cidr',
  'Fn::Transform',
  'Fn::ToJsonString',
  'Fn::Length',
  'Condition',
]);

/** Resolves every intrinsic function in `value` (the properties of resource `logicalId`). */
export function resolveValue(value: JsonValue, ctx: ResolveContext, logicalId: string): JsonValue {
  const r = resolve(value, ctx, logicalId);
  return r === NO_VALUE ? null : r;
}

function resolve(value: JsonValue, ctx: ResolveContext, id: string): Resolved {
  if (Array.isArray(value)) {
    return value.map((v) => resolve(v, ctx, id)).filter((v): v is JsonValue => v !== NO_VALUE);
  }
  if (!isJsonObject(value)) return value;
  const keys = Object.keys(value);
  if (keys.length === 1 && INTRINSICS.has(keys[0] as string))
    return intrinsic(keys[0] as string, value[keys[0] as string] ?? null, ctx, id);
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) {
    const r = resolve(v, ctx, id);
    if (r !== NO_VALUE) out[k] = r;
  }
  return out;
}

function str(v: Resolved, id: string, fn: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new UnsupportedIntrinsicError(id, fn, `expected a string, got ${JSON.stringify(v === NO_VALUE ? 'AWS::NoValue' : v)}`);
}

function intrinsic(fn: string, arg: JsonValue, ctx: ResolveContext, id: string): Resolved {
  switch (fn) {
    case 'Ref': {
      if (typeof arg !== 'string') throw new UnsupportedIntrinsicError(id, 'Ref', 'the argument must be a name');
      if (arg === 'AWS::NoValue') return NO_VALUE;
      return Object.hasOwn(ctx.parameters, arg) ? (ctx.parameters[arg] ?? null) : ctx.ref(arg);
    }
    case 'Fn::GetAtt': {
      const parts = typeof arg === 'string' ? splitOnce(arg, '.') : Array.isArray(arg) ? arg.map((a) => resolve(a, ctx, id)) : [];
      const [target, attribute] = parts;
      if (parts.length !== 2 || typeof target !== 'string' || typeof attribute !== 'string') {
        throw new UnsupportedIntrinsicError(id, 'Fn::GetAtt', 'expected [LogicalId, Attribute]');
      }
      return ctx.getAtt(target, attribute);
    }
    case 'Fn::Join': {
      if (!Array.isArray(arg) || arg.length !== 2 || typeof arg[0] !== 'string') {
        throw new UnsupportedIntrinsicError(id, 'Fn::Join', 'expected [delimiter, [values]]');
      }
      const list = resolve(arg[1] ?? null, ctx, id);
      if (!Array.isArray(list)) throw new UnsupportedIntrinsicError(id, 'Fn::Join', 'the values must be a list');
      return list.map((v) => str(v, id, 'Fn::Join')).join(arg[0]);
    }
    case 'Fn::Split': {
      if (!Array.isArray(arg) || arg.length !== 2 || typeof arg[0] !== 'string') {
        throw new UnsupportedIntrinsicError(id, 'Fn::Split', 'expected [delimiter, string]');
      }
      return str(resolve(arg[1] ?? null, ctx, id), id, 'Fn::Split').split(arg[0]);
    }
    case 'Fn::Select': {
      if (!Array.isArray(arg) || arg.length !== 2) throw new UnsupportedIntrinsicError(id, 'Fn::Select', 'expected [index, [values]]');
      const index = Number(str(resolve(arg[0] ?? null, ctx, id), id, 'Fn::Select'));
      const list = resolve(arg[1] ?? null, ctx, id);
      if (!Array.isArray(list) || !Number.isInteger(index) || index < 0 || index >= list.length) {
        throw new UnsupportedIntrinsicError(id, 'Fn::Select', 'index out of range');
      }
      return list[index] ?? null;
    }
    case 'Fn::Sub':
      return sub(arg, ctx, id);
    case 'Fn::If': {
      if (!Array.isArray(arg) || arg.length !== 3 || typeof arg[0] !== 'string') {
        throw new UnsupportedIntrinsicError(id, 'Fn::If', 'expected [condition name, value if true, value if false]');
      }
      return resolve((ctx.condition(arg[0]) ? arg[1] : arg[2]) ?? null, ctx, id);
    }
    default:
      throw new UnsupportedIntrinsicError(id, fn);
  }
}

function splitOnce(s: string, sep: string): string[] {
  const i = s.indexOf(sep);
  return i < 0 ? [s] : [s.slice(0, i), s.slice(i + 1)];
}

/** `Fn::Sub`: `${Name}` (parameter, pseudo parameter, resource Ref), `${Id.Attr}` (GetAtt), `${!Text}` (literal). */
function sub(arg: JsonValue, ctx: ResolveContext, id: string): string {
  let template: string;
  let vars: JsonObject = {};
  if (typeof arg === 'string') {
    template = arg;
  } else if (Array.isArray(arg) && arg.length === 2 && typeof arg[0] === 'string' && isJsonObject(arg[1] ?? null)) {
    template = arg[0];
    vars = arg[1] as JsonObject;
  } else {
    throw new UnsupportedIntrinsicError(id, 'Fn::Sub', 'expected a string or [string, {variables}]');
  }
  return template.replace(/\$\{([^}]*)\}/g, (_m, name: string) => {
    if (name.startsWith('!')) return `\${${name.slice(1)}}`;
    const key = name.trim();
    if (Object.hasOwn(vars, key)) return str(resolve(vars[key] ?? null, ctx, id), id, 'Fn::Sub');
    if (Object.hasOwn(ctx.parameters, key)) return str(ctx.parameters[key] ?? null, id, 'Fn::Sub');
    const dot = key.indexOf('.');
    if (dot > 0) return str(ctx.getAtt(key.slice(0, dot), key.slice(dot + 1)), id, 'Fn::Sub');
    return str(ctx.ref(key), id, 'Fn::Sub');
  });
}

const CONDITION_FUNCTIONS = new Set(['Fn::Equals', 'Fn::Not', 'Fn::And', 'Fn::Or', 'Condition']);

/**
 * A condition of the Conditions section (`name`), as CloudFormation evaluates it: `Fn::Equals`
 * compares its two values once resolved (parameters, pseudo parameters, `Ref`s), `Fn::Not` takes
 * one condition, `Fn::And` and `Fn::Or` two to ten, and `Condition` names another condition.
 */
export function evaluateCondition(expression: JsonValue, ctx: ResolveContext, name: string): boolean {
  const where = `Conditions.${name}`;
  const keys = isJsonObject(expression) ? Object.keys(expression) : [];
  const fn = keys[0];
  if (!isJsonObject(expression) || keys.length !== 1 || fn === undefined || !CONDITION_FUNCTIONS.has(fn)) {
    throw new UnsupportedIntrinsicError(
      where,
      JSON.stringify(expression),
      'a condition is Fn::Equals, Fn::Not, Fn::And, Fn::Or or Condition',
    );
  }
  const arg = expression[fn] ?? null;
  const conditions = (min: number, max: number): boolean[] => {
    if (!Array.isArray(arg) || arg.length < min || arg.length > max) {
      throw new UnsupportedIntrinsicError(where, fn, `expected ${min === max ? min : `${min} to ${max}`} condition(s)`);
    }
    return arg.map((c) => evaluateCondition(c, ctx, name));
  };
  switch (fn) {
    case 'Fn::Equals': {
      if (!Array.isArray(arg) || arg.length !== 2) throw new UnsupportedIntrinsicError(where, fn, 'expected [value, value]');
      const [a, b] = arg.map((v) => resolve(v, ctx, where));
      return JSON.stringify(a) === JSON.stringify(b);
    }
    case 'Fn::Not':
      return !(conditions(1, 1)[0] as boolean);
    case 'Fn::And':
      return conditions(2, 10).every(Boolean);
    case 'Fn::Or':
      return conditions(2, 10).some(Boolean);
    default: {
      if (typeof arg !== 'string') throw new UnsupportedIntrinsicError(where, 'Condition', 'the argument must be a condition name');
      return ctx.condition(arg);
    }
  }
}
