import type { LocalRequest } from '../http.js';

/**
 * The authorization seam of the protocol layers. Before an action runs, its protocol layer
 * asks the service's `authorize` callback (when the service was given one; without it every
 * call is allowed) whether the caller may make the action's access requests — what IAM
 * evaluates for that call: an action (`ec2:CreateImage`), the resource it acts on (an ARN, or
 * `*` where the action supports no resource-level permissions) and the condition keys of the
 * request. `authorize` returns to allow and throws AccessDeniedError to deny; each protocol
 * then answers with the service's own refusal:
 *
 * - EC2: `UnauthorizedOperation`, HTTP 403, "You are not authorized to perform this operation.
 *   User: … is not authorized to perform: … Encoded authorization failure message: …";
 * - Auto Scaling (awsquery): `AccessDenied`, HTTP 403;
 * - JSON services (Step Functions, EventBridge, SSM): `AccessDeniedException`, HTTP 400;
 * - S3: `AccessDenied`, HTTP 403.
 *
 * Which access requests an action makes is the action table's `access` descriptor (an
 * AccessTable given to the service fills them in); an action without one asks for
 * `<service prefix>:<Action>` on `*`.
 */
export interface AccessRequest {
  /** The IAM action, e.g. `ec2:CreateImage`. */
  action: string;
  /** The resource's ARN, or `*`. */
  resource: string;
  /** Condition keys and their values for this request (`aws:RequestTag/Name`, `ec2:CreateAction`, `s3:prefix`…). */
  context?: Record<string, string | string[] | boolean | number>;
}

/** Returns to allow the call; throws AccessDeniedError to refuse it. `action` is the API operation (`CreateImage`). */
export type Authorize = (req: LocalRequest, action: string, requests: AccessRequest[]) => void | Promise<void>;

/** The access requests of one call of an action, computed from that action's context (its input and the service's state). */
export type AccessDescriptor<C> = (ctx: C) => AccessRequest[];

/** Access descriptors by API operation name, given to a service to fill its action table's `access` slots. */
export type AccessTable<C> = Readonly<Partial<Record<string, AccessDescriptor<C>>>>;

/** What was refused, when the evaluator says: the caller, the request, and whether a Deny statement decided it. */
export interface Denial {
  /** The caller's ARN (`arn:aws:sts::123456789012:assumed-role/role/session`). */
  principal: string;
  request: AccessRequest;
  /** True for an explicit Deny; false when no statement allows (the implicit deny). */
  explicit: boolean;
}

/** A refused call. The message is IAM's sentence ("User: … is not authorized to perform: …"); the protocol adds its own frame. */
export class AccessDeniedError extends Error {
  override readonly name = 'AccessDeniedError';
  constructor(
    message: string,
    readonly denial?: Denial,
  ) {
    super(message);
  }

  /** The refusal of `request` for `principal`, worded as AWS words it. */
  static of(principal: string, request: AccessRequest, explicit = false): AccessDeniedError {
    const why = explicit
      ? 'with an explicit deny in an identity-based policy'
      : `because no identity-based policy allows the ${request.action} action`;
    return new AccessDeniedError(
      `User: ${principal} is not authorized to perform: ${request.action} on resource: ${request.resource} ${why}`,
      {
        principal,
        request,
        explicit,
      },
    );
  }
}

/**
 * The opaque "encoded authorization failure message" of EC2's UnauthorizedOperation (in AWS,
 * `sts decode-authorization-message` decodes it): here base64url of the JSON that
 * DecodeAuthorizationMessage would return.
 */
export function encodeAuthorizationMessage(e: AccessDeniedError): string {
  const d = e.denial;
  const decoded = {
    allowed: false,
    explicitDeny: d?.explicit ?? false,
    matchedStatements: { items: [] },
    failures: { items: [] },
    context: {
      principal: { arn: d?.principal ?? '' },
      action: d?.request.action ?? '',
      resource: d?.request.resource ?? '',
      conditions: {
        items: Object.entries(d?.request.context ?? {}).map(([key, value]) => ({
          key,
          values: { items: (Array.isArray(value) ? value : [value]).map((v) => ({ value: String(v) })) },
        })),
      },
    },
  };
  return Buffer.from(JSON.stringify(decoded), 'utf8').toString('base64url');
}

/**
 * One entry of a service's action table: the handler and, optionally, the access requests a
 * call makes. `C` is the action's context, `R` what the handler answers (the protocol renders it).
 */
export interface ActionSpec<C, R> {
  handler: (ctx: C) => R | Promise<R>;
  access?: AccessDescriptor<C>;
}

export type ActionTable<C, R> = Readonly<Record<string, ActionSpec<C, R>>>;

/** The table with the given descriptors in the `access` slots they name (a given descriptor wins). */
export function withAccess<C, R>(table: ActionTable<C, R>, access: AccessTable<C> | undefined): ActionTable<C, R> {
  if (access === undefined) return table;
  const out: Record<string, ActionSpec<C, R>> = {};
  for (const [name, spec] of Object.entries(table)) {
    const descriptor = access[name] ?? spec.access;
    out[name] = descriptor === undefined ? spec : { ...spec, access: descriptor };
  }
  return out;
}

/** What authorizeCall needs: the seam (absent: allow), the IAM service prefix, the call. */
export interface AuthorizationSeam<C> {
  authorize: Authorize | undefined;
  /** `ec2`, `autoscaling`, `states`, `events`, `s3`, `ssm`. */
  iamPrefix: string;
  req: LocalRequest;
  action: string;
  spec: ActionSpec<C, unknown>;
  ctx: C;
}

/** Asks `authorize` about the call's access requests (default: `<prefix>:<Action>` on `*`); throws AccessDeniedError. */
export async function authorizeCall<C>(seam: AuthorizationSeam<C>): Promise<void> {
  if (seam.authorize === undefined) return;
  const requests = seam.spec.access?.(seam.ctx) ?? [{ action: `${seam.iamPrefix}:${seam.action}`, resource: '*' }];
  await seam.authorize(seam.req, seam.action, requests);
}

/**
 * The action of that name in the table, or undefined: only the table's own entries count, so
 * a request for `__proto__` or `toString` is an unknown action, not Object.prototype.
 */
export function actionSpec<C, R>(table: ActionTable<C, R>, name: string): ActionSpec<C, R> | undefined {
  return Object.hasOwn(table, name) ? table[name] : undefined;
}

/** A table of handlers, each with no `access` descriptor of its own (an AccessTable may add them). */
export function actionTable<C, R>(handlers: Readonly<Record<string, (ctx: C) => R | Promise<R>>>): ActionTable<C, R> {
  return Object.fromEntries(Object.entries(handlers).map(([name, handler]) => [name, { handler }]));
}
