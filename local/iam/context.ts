import { createHash } from 'node:crypto';
import { RequestNotUnderstoodError } from './errors.js';
import { isDate } from './patterns.js';

/**
 * The request context: the condition keys of a request and their values. Key names are
 * case-insensitive ("Key names are case-insensitive. For example, aws:CurrentTime is
 * equivalent to AWS:currenttime"); values keep their case and each operator decides how to
 * compare them. A multivalued key (`aws:TagKeys`) holds an array.
 */
export type ContextScalar = string | number | boolean | Date;
export type ContextValue = ContextScalar | readonly ContextScalar[];
export type RequestContext = Readonly<Record<string, ContextValue>>;

/** The caller, as AWS identifies it after authentication. */
export type PrincipalType = 'AssumedRole' | 'Role' | 'User' | 'Root' | 'Service';

export interface Principal {
  type: PrincipalType;
  /**
   * The caller's ARN: `arn:aws:sts::111122223333:assumed-role/Name/session`, a role's or
   * user's ARN, `arn:aws:iam::111122223333:root`; for a service principal its name
   * (`events.amazonaws.com`).
   */
  arn: string;
  /** The caller's account; for a service principal, the account it acts for. */
  accountId: string;
  /** AssumedRole: the role's ARN (with its path), which resource policies name. */
  roleArn?: string;
  /** AssumedRole: the role session name. */
  sessionName?: string;
  /** Service: the service principal (`events.amazonaws.com`). */
  service?: string;
  /** The unique id (`AIDA…`, `AROA…`); derived from the ARN when absent. */
  userId?: string;
  /** Tags of the user or role (and session tags). */
  tags?: Readonly<Record<string, string>>;
}

/** A case-insensitive view of a request context. */
export class ContextKeys {
  private readonly values = new Map<string, ContextValue>();

  constructor(context: RequestContext) {
    for (const [key, value] of Object.entries(context)) {
      const lower = key.toLowerCase();
      if (this.values.has(lower))
        throw new RequestNotUnderstoodError(`the request context has the key ${key} twice (key names are case-insensitive)`);
      if (!isContextValue(value)) throw new RequestNotUnderstoodError(`the request context key ${key} has a value of an unsupported type`);
      this.values.set(lower, value);
    }
  }

  /** The value of a key (any case), or undefined when the request does not carry it. */
  get(keyLower: string): ContextValue | undefined {
    return this.values.get(keyLower);
  }
}

function isScalar(v: unknown): v is ContextScalar {
  return (
    typeof v === 'string' ||
    typeof v === 'boolean' ||
    (typeof v === 'number' && Number.isFinite(v)) ||
    (isDate(v) && !Number.isNaN(v.getTime()))
  );
}

function isContextValue(v: unknown): v is ContextValue {
  return isScalar(v) || (Array.isArray(v) && v.every(isScalar));
}

/** What the call itself tells AWS, beyond the caller. */
export interface CallFacts {
  /** The request time (from the local cloud's clock, never the wall clock here). */
  time: Date;
  /** Whether the request came over TLS. */
  secureTransport: boolean;
  /** The region the request was sent to. */
  requestedRegion?: string;
  /** The caller's IP address. */
  sourceIp?: string;
}

/**
 * The global condition keys AWS adds to every request from the caller and the call
 * ("AWS global condition context keys", "Request information that you can use for policy
 * variables"): aws:PrincipalArn (a role session's is its role's ARN), aws:PrincipalAccount,
 * aws:PrincipalType (Account, User, AssumedRole), aws:userid (`role-id:session-name` for a
 * role session, the account id for the root user), aws:username (IAM users only),
 * aws:PrincipalTag/*, aws:PrincipalIsAWSService, aws:CurrentTime, aws:EpochTime,
 * aws:SecureTransport, aws:RequestedRegion and aws:SourceIp when given. A service principal
 * carries aws:PrincipalServiceName instead of the principal keys.
 */
export function globalContext(principal: Principal, call: CallFacts): Record<string, ContextValue> {
  if (Number.isNaN(call.time.getTime())) throw new RequestNotUnderstoodError('the request time is not a valid date');
  const keys: Record<string, ContextValue> = {
    'aws:CurrentTime': call.time.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    'aws:EpochTime': Math.floor(call.time.getTime() / 1000),
    'aws:SecureTransport': call.secureTransport,
    'aws:PrincipalIsAWSService': principal.type === 'Service',
  };
  if (call.requestedRegion !== undefined) keys['aws:RequestedRegion'] = call.requestedRegion;
  if (call.sourceIp !== undefined) keys['aws:SourceIp'] = call.sourceIp;
  if (principal.type === 'Service') {
    keys['aws:PrincipalServiceName'] = principal.service ?? principal.arn;
    return keys;
  }
  keys['aws:PrincipalAccount'] = principal.accountId;
  keys['aws:PrincipalArn'] = principal.type === 'AssumedRole' ? (principal.roleArn ?? principal.arn) : principal.arn;
  keys['aws:PrincipalType'] = principal.type === 'Root' ? 'Account' : principal.type === 'User' ? 'User' : 'AssumedRole';
  keys['aws:userid'] = principal.userId ?? derivedUserId(principal);
  if (principal.type === 'User') keys['aws:username'] = principal.arn.slice(principal.arn.lastIndexOf('/') + 1);
  for (const [k, v] of Object.entries(principal.tags ?? {})) keys[`aws:PrincipalTag/${k}`] = v;
  return keys;
}

/** A stable stand-in for the unique id IAM assigns (`AIDA…` users, `AROA…` roles). */
function derivedUserId(principal: Principal): string {
  if (principal.type === 'Root') return principal.accountId;
  const id = (prefix: string, arn: string): string =>
    prefix +
    createHash('sha256')
      .update(arn)
      .digest('base64')
      .replace(/[^A-Z0-9]/gi, '')
      .toUpperCase()
      .slice(0, 17);
  if (principal.type === 'User') return id('AIDA', principal.arn);
  const roleId = id('AROA', principal.roleArn ?? principal.arn);
  return principal.type === 'AssumedRole'
    ? `${roleId}:${principal.sessionName ?? principal.arn.slice(principal.arn.lastIndexOf('/') + 1)}`
    : roleId;
}
