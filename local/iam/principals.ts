import type { Principal } from './context.js';
import { isPlainObject, jsonPathKey } from './json-path.js';

/**
 * The Principal and NotPrincipal elements of resource-based policies ("AWS JSON policy
 * elements: Principal" and "…: NotPrincipal"):
 *
 * - `"*"` is everyone, AWS services included; `{"AWS": "*"}` every principal of every account;
 * - an account (`"123456789012"` or `arn:aws:iam::123456789012:root`) delegates to that
 *   account: its identities get access only if their identity-based policies allow it too
 *   ("When you use an AWS account identifier as the principal in a policy, you delegate
 *   authority to the account"); the account's root user is that principal itself;
 * - a role ARN names every session of the role; an assumed-role session ARN names that
 *   session; a user ARN the user; `{"Service": "events.amazonaws.com"}` the service;
 * - wildcards inside a principal ARN are not allowed ("Unsupported wildcard in principal");
 * - NotPrincipal only with Deny ("Using it with Allow is not supported"): the statement
 *   applies to every principal except those listed, where AWS checks the account, then the
 *   role, then the session, so a principal is excepted only when its account is listed too
 *   ("When you use NotPrincipal, you must also specify the account ARN of the not-denied
 *   principal").
 */

export interface PrincipalElement {
  negated: boolean;
  /** `"*"` */
  everyone: boolean;
  aws: string[];
  service: string[];
  federated: string[];
  canonicalUser: string[];
}

/** How a Principal element names a caller. */
export type PrincipalMatch = 'named' | 'account' | 'none';

export class PrincipalSyntaxError extends Error {
  override name = 'PrincipalSyntaxError';

  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(reason);
  }
}

const ACCOUNT_ID = /^\d{12}$/;
const PRINCIPAL_ARN =
  /^arn:aws(-cn|-us-gov|-iso|-iso-b)?:(iam::\d{12}:(root|user\/.+|role\/.+|federated-user\/.+)|sts::\d{12}:(assumed-role\/[^/]+\/.+|federated-user\/.+))$/;
const SERVICE_PRINCIPAL = /^[a-z0-9-]+(\.[a-z0-9-]+)*\.(amazonaws\.com|amazonaws\.com\.cn|amazon\.com)$/;
const CANONICAL_USER = /^[0-9a-f]{64}$/;

export function parsePrincipal(element: unknown, path: string, negated: boolean): PrincipalElement {
  const result: PrincipalElement = { negated, everyone: false, aws: [], service: [], federated: [], canonicalUser: [] };
  if (element === '*') {
    if (negated) throw new PrincipalSyntaxError(path, 'NotPrincipal "*" would except everyone');
    return { ...result, everyone: true };
  }
  if (!isPlainObject(element) || Object.keys(element).length === 0) {
    throw new PrincipalSyntaxError(path, 'a principal is "*" or an object with AWS, Service, Federated or CanonicalUser');
  }
  for (const [kind, raw] of Object.entries(element)) {
    const kindPath = `${path}${jsonPathKey(kind)}`;
    const list: unknown[] = Array.isArray(raw) ? raw : [raw];
    if (list.length === 0) throw new PrincipalSyntaxError(kindPath, `${kind} lists no principal`);
    const values = list.map((v, i) => {
      const at = Array.isArray(raw) ? `${kindPath}[${i}]` : kindPath;
      if (typeof v !== 'string') throw new PrincipalSyntaxError(at, 'a principal must be a string');
      return [v, at] as const;
    });
    for (const [v, at] of values) {
      switch (kind) {
        case 'AWS':
          if (v === '*') {
            if (negated) throw new PrincipalSyntaxError(at, 'NotPrincipal {"AWS": "*"} would except everyone');
          } else if (!ACCOUNT_ID.test(v) && !PRINCIPAL_ARN.test(v)) {
            throw new PrincipalSyntaxError(
              at,
              `${v} is not an account id or a principal ARN (wildcards are not allowed in principal ARNs)`,
            );
          } else if (v.includes('*') || v.includes('?')) {
            throw new PrincipalSyntaxError(at, `${v}: wildcards are not allowed in principal ARNs`);
          }
          result.aws.push(v);
          break;
        case 'Service':
          if (!SERVICE_PRINCIPAL.test(v)) throw new PrincipalSyntaxError(at, `${v} is not a service principal (like lambda.amazonaws.com)`);
          result.service.push(v);
          break;
        case 'Federated':
          if (v === '' || v.includes('*')) throw new PrincipalSyntaxError(at, `${v} is not an identity provider`);
          result.federated.push(v);
          break;
        case 'CanonicalUser':
          if (!CANONICAL_USER.test(v)) throw new PrincipalSyntaxError(at, `${v} is not a canonical user id`);
          result.canonicalUser.push(v);
          break;
        default:
          throw new PrincipalSyntaxError(kindPath, `${kind} is not a principal type (AWS, Service, Federated, CanonicalUser)`);
      }
    }
  }
  return result;
}

/** The account an AWS principal entry names, when it names a whole account. */
function accountOf(entry: string): string | undefined {
  if (ACCOUNT_ID.test(entry)) return entry;
  const m = /^arn:[^:]+:iam::(\d{12}):root$/.exec(entry);
  return m?.[1];
}

/** Whether an AWS principal entry names this caller itself (not merely its account). */
function namesCaller(entry: string, caller: Principal): boolean {
  switch (caller.type) {
    case 'Root':
      return accountOf(entry) === caller.accountId;
    case 'User':
    case 'Role':
      return entry === caller.arn;
    case 'AssumedRole':
      return entry === caller.arn || (caller.roleArn !== undefined && entry === caller.roleArn);
    case 'Service':
      return false;
  }
}

/** How the (positive) Principal element names the caller. */
export function matchPrincipal(element: PrincipalElement, caller: Principal): PrincipalMatch {
  if (element.everyone) return 'named';
  if (caller.type === 'Service') return element.service.includes(caller.service ?? caller.arn) ? 'named' : 'none';
  let best: PrincipalMatch = 'none';
  for (const entry of element.aws) {
    if (entry === '*' || namesCaller(entry, caller)) return 'named';
    if (accountOf(entry) === caller.accountId) best = 'account';
  }
  return best;
}

/** Whether a NotPrincipal element excepts the caller (the statement then does not apply to it). */
export function exceptedByNotPrincipal(element: PrincipalElement, caller: Principal): boolean {
  if (caller.type === 'Service') return element.service.includes(caller.service ?? caller.arn);
  const accountListed = element.aws.some((e) => accountOf(e) === caller.accountId);
  if (!accountListed) return false;
  return caller.type === 'Root' || element.aws.some((e) => namesCaller(e, caller));
}

/**
 * How a statement's principal element applies to the caller: 'named' / 'account' as for
 * Principal; a NotPrincipal statement applies ('named') to everyone it does not except.
 */
export function principalApplies(element: PrincipalElement, caller: Principal): PrincipalMatch {
  if (element.negated) return exceptedByNotPrincipal(element, caller) ? 'none' : 'named';
  return matchPrincipal(element, caller);
}
