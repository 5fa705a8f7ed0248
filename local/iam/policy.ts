import type { IamCatalog } from './actions.js';
import { ConditionSyntaxError, parseConditions, type ConditionClause } from './conditions.js';
import { PolicyNotUnderstoodError } from './errors.js';
import { isPlainObject, jsonPathKey } from './json-path.js';
import { parseTemplate, splitArn, TemplateSyntaxError, variableBeforeResourcePart, type Template } from './patterns.js';
import { parsePrincipal, PrincipalSyntaxError, type PrincipalElement } from './principals.js';

/**
 * Parsing and validation of IAM policy documents ("IAM JSON policy element reference",
 * "IAM JSON policy grammar"). A document is either an identity-based policy (no Principal,
 * a Resource or NotResource in every statement) or a resource-based policy (a Principal or
 * NotPrincipal in every statement; Resource optional, e.g. in a role's trust policy).
 *
 * Whatever the evaluator would have to guess about is refused with PolicyNotUnderstoodError:
 * an unknown element, an unknown or malformed condition operator, a value of the wrong type,
 * a condition key or an action the Service Authorization Reference does not know (an action
 * pattern must name at least one known action), a malformed policy variable, or a
 * combination AWS itself rejects (Action with NotAction, NotPrincipal with Allow, …).
 */

export type PolicyKind = 'identity' | 'resource';
export type PolicyVersion = '2012-10-17' | '2008-10-17';
export type Effect = 'Allow' | 'Deny';

export interface ActionEntry {
  /** As written (`ec2:Describe*`). */
  source: string;
  /** Case-insensitive whole-name matcher. */
  regexp: RegExp;
}

export interface Statement {
  /** Position in the Statement array (0 for a single statement object). */
  index: number;
  sid?: string;
  effect: Effect;
  /** Resource-based policies only. */
  principal?: PrincipalElement;
  action: { negated: boolean; entries: ActionEntry[] };
  /** Absent in a resource-based statement without Resource (it covers the resource the policy is attached to). */
  resource?: { negated: boolean; entries: Template[] };
  conditions: ConditionClause[];
}

export interface NamedPolicy {
  /** A display name used in errors and decisions (`CreateImageRole/create-image`). */
  name: string;
  kind: PolicyKind;
  version: PolicyVersion;
  id?: string;
  statements: Statement[];
}

export interface PolicySource {
  /** Display name (`CreateImageRole/create-image`). */
  name: string;
  kind: PolicyKind;
}

const TOP_LEVEL = new Set(['Version', 'Id', 'Statement']);
const STATEMENT_ELEMENTS = new Set([
  'Sid',
  'Effect',
  'Principal',
  'NotPrincipal',
  'Action',
  'NotAction',
  'Resource',
  'NotResource',
  'Condition',
]);

/** Parses a policy document (JSON text or the parsed object); throws PolicyNotUnderstoodError. */
export function parsePolicy(document: unknown, source: PolicySource, catalog: IamCatalog): NamedPolicy {
  const refuse = (path: string, reason: string): never => {
    throw new PolicyNotUnderstoodError(source.name, path, reason);
  };
  let doc = document;
  if (typeof doc === 'string') {
    try {
      doc = JSON.parse(doc) as unknown;
    } catch (e) {
      refuse('$', `the document is not JSON (${(e as Error).message})`);
    }
  }
  if (!isPlainObject(doc)) return refuse('$', 'a policy document must be a JSON object');
  for (const key of Object.keys(doc)) {
    if (!TOP_LEVEL.has(key)) refuse(`$${jsonPathKey(key)}`, `${key} is not a policy element (Version, Id, Statement)`);
  }
  // "If you do not include a Version element, the value defaults to 2008-10-17."
  const version = doc.Version ?? '2008-10-17';
  if (version !== '2012-10-17' && version !== '2008-10-17')
    refuse('$.Version', `${JSON.stringify(version)} is not a policy language version (2012-10-17, 2008-10-17)`);
  if (doc.Id !== undefined && typeof doc.Id !== 'string') refuse('$.Id', 'Id must be a string');
  if (doc.Statement === undefined) refuse('$', 'the policy has no Statement');
  const raw = doc.Statement;
  const list: unknown[] = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) refuse('$.Statement', 'the policy has no statement');
  const ctx: StatementContext = { policy: source, variables: version === '2012-10-17', catalog, refuse };
  const statements = list.map((s, i) => parseStatement(s, Array.isArray(raw) ? `$.Statement[${i}]` : '$.Statement', i, ctx));
  if (source.kind === 'identity') {
    // IAM: "the Sid value must be unique within a JSON policy".
    const sids = new Set<string>();
    statements.forEach((s) => {
      if (s.sid === undefined || s.sid === '') return;
      if (sids.has(s.sid)) refuse(list.length > 1 ? `$.Statement[${s.index}].Sid` : '$.Statement.Sid', `the Sid ${s.sid} is used twice`);
      sids.add(s.sid);
    });
  }
  return {
    name: source.name,
    kind: source.kind,
    version: version as PolicyVersion,
    ...(doc.Id === undefined ? {} : { id: doc.Id as string }),
    statements,
  };
}

interface StatementContext {
  policy: PolicySource;
  variables: boolean;
  catalog: IamCatalog;
  refuse(path: string, reason: string): never;
}

function parseStatement(raw: unknown, path: string, index: number, ctx: StatementContext): Statement {
  const { refuse } = ctx;
  if (!isPlainObject(raw)) return refuse(path, 'a statement must be an object');
  for (const key of Object.keys(raw)) {
    if (!STATEMENT_ELEMENTS.has(key)) refuse(`${path}${jsonPathKey(key)}`, `${key} is not a statement element`);
  }
  const pair = (a: string, b: string, required: boolean): string | undefined => {
    if (raw[a] !== undefined && raw[b] !== undefined) refuse(path, `${a} and ${b} cannot be used in the same statement`);
    const present = raw[a] !== undefined ? a : raw[b] !== undefined ? b : undefined;
    if (present === undefined && required) refuse(path, `the statement has neither ${a} nor ${b}`);
    return present;
  };
  if (raw.Sid !== undefined && typeof raw.Sid !== 'string') refuse(`${path}.Sid`, 'Sid must be a string');
  if (raw.Effect === undefined) refuse(path, 'the statement has no Effect');
  if (raw.Effect !== 'Allow' && raw.Effect !== 'Deny')
    refuse(`${path}.Effect`, `${JSON.stringify(raw.Effect)} is not an effect (Allow, Deny)`);
  const effect = raw.Effect as Effect;

  const actionKey = pair('Action', 'NotAction', true) as string;
  const action = {
    negated: actionKey === 'NotAction',
    entries: stringList(raw[actionKey], `${path}.${actionKey}`, ctx).map(([v, at]) => parseAction(v, at, ctx)),
  };

  const resourceKey = pair('Resource', 'NotResource', ctx.policy.kind === 'identity');
  const resource =
    resourceKey === undefined
      ? undefined
      : {
          negated: resourceKey === 'NotResource',
          entries: stringList(raw[resourceKey], `${path}.${resourceKey}`, ctx).map(([v, at]) => parseResource(v, at, ctx)),
        };

  const principalKey = pair('Principal', 'NotPrincipal', false);
  if (ctx.policy.kind === 'identity' && principalKey !== undefined)
    refuse(`${path}.${principalKey}`, `an identity-based policy has no ${principalKey}`);
  if (ctx.policy.kind === 'resource' && principalKey === undefined)
    refuse(path, 'a statement of a resource-based policy needs a Principal or NotPrincipal');
  if (principalKey === 'NotPrincipal' && effect === 'Allow')
    refuse(`${path}.NotPrincipal`, 'NotPrincipal is supported with "Effect": "Deny" only');
  let principal: PrincipalElement | undefined;
  if (principalKey !== undefined) {
    try {
      principal = parsePrincipal(raw[principalKey], `${path}.${principalKey}`, principalKey === 'NotPrincipal');
    } catch (e) {
      if (e instanceof PrincipalSyntaxError) refuse(e.path, e.message);
      throw e;
    }
  }

  let conditions: ConditionClause[] = [];
  if (raw.Condition !== undefined) {
    try {
      conditions = parseConditions(raw.Condition, `${path}.Condition`, {
        variables: ctx.variables,
        keyInfo: (k) => ctx.catalog.conditionKey(k),
      });
    } catch (e) {
      if (e instanceof ConditionSyntaxError) refuse(e.path, e.message);
      throw e;
    }
  }
  return {
    index,
    ...(raw.Sid === undefined ? {} : { sid: raw.Sid as string }),
    effect,
    ...(principal === undefined ? {} : { principal }),
    action,
    ...(resource === undefined ? {} : { resource }),
    conditions,
  };
}

/** A string or a non-empty array of strings, with the JSON path of each. */
function stringList(value: unknown, path: string, ctx: StatementContext): [string, string][] {
  const list: unknown[] = Array.isArray(value) ? value : [value];
  if (list.length === 0) ctx.refuse(path, 'the list is empty');
  return list.map((v, i) => {
    const at = Array.isArray(value) ? `${path}[${i}]` : path;
    if (typeof v !== 'string') ctx.refuse(at, 'must be a string');
    return [v as string, at];
  });
}

function parseAction(value: string, path: string, ctx: StatementContext): ActionEntry {
  const { refuse, catalog } = ctx;
  if (ctx.variables && value.includes('${')) refuse(path, 'policy variables are supported in Resource and Condition only');
  if (value === '*') return { source: value, regexp: /^.*$/s };
  const m = /^([^:]+):(.+)$/.exec(value);
  if (m === null) return refuse(path, `${value} is not an action (service:ActionName)`);
  const [, service = '', name = ''] = m;
  if (/[*?]/.test(service)) refuse(path, `${value}: the service prefix takes no wildcard`);
  if (!catalog.knownService(service)) refuse(path, `${service} is not a service of the Service Authorization Reference`);
  if (!/^[A-Za-z0-9*?_-]+$/.test(name)) refuse(path, `${value} is not an action (service:ActionName)`);
  if (catalog.actionsMatching(value).length === 0) {
    refuse(
      path,
      /[*?]/.test(name)
        ? `${value} matches no action of ${service}`
        : `${name} is not an action of ${service} in the Service Authorization Reference`,
    );
  }
  return { source: value, regexp: actionRegExp(value) };
}

function actionRegExp(pattern: string): RegExp {
  const source = [...pattern].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\/-]/g, '\\$&'))).join('');
  return new RegExp(`^${source}$`, 'is');
}

function parseResource(value: string, path: string, ctx: StatementContext): Template {
  const { refuse } = ctx;
  if (value === '*') return parseTemplate(value, { variables: false, wildcards: true });
  const parts = splitArn(value);
  if (parts === undefined || parts[0] !== 'arn')
    refuse(path, `${value} is neither "*" nor an ARN (arn:partition:service:region:account:resource)`);
  if (ctx.variables && variableBeforeResourcePart(value) >= 0)
    refuse(path, `${value}: policy variables are allowed only in the resource part of an ARN (after the fifth colon)`);
  try {
    return parseTemplate(value, { variables: ctx.variables, wildcards: true });
  } catch (e) {
    if (e instanceof TemplateSyntaxError) return refuse(path, e.message);
    throw e;
  }
}
