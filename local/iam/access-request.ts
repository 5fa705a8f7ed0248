/**
 * What AWS authorizes for one request: the IAM action, the resource ARN as the service builds it
 * (or `*` for actions without resource-level permissions) and the condition keys the service
 * supplies. Every service of the local cloud describes its actions with these
 * (`local/<service>/access.ts`); the policy evaluator decides them.
 *
 * Condition values follow the condition key's type in the Service Authorization Reference:
 * `Bool` keys are booleans, `Numeric` keys numbers, `ArrayOf…` keys string arrays, every other
 * key a string (or a string array when the request carries several values). A key AWS does not
 * supply for a request (no tags, no prefix) is absent, never an empty string or empty array.
 */
export type ContextValue = string | string[] | boolean | number;
export type AccessContext = Record<string, ContextValue>;

export interface AccessRequest {
  /** `ec2:CreateImage`: the service prefix as in IAM, then the action. */
  action: string;
  /** The ARN as AWS builds it, or `*`. */
  resource: string;
  /** Condition keys, e.g. `aws:RequestTag/ami-factory:managed`. */
  context?: AccessContext;
}

/** What a service has when it handles a request, turned into the checks that must all be allowed. */
export type AccessDescriptor<I> = (input: I) => AccessRequest[];

/** Action name (as the service's action table names it) → its descriptor. */
export type AccessTable<I> = Readonly<Record<string, AccessDescriptor<I>>>;

/**
 * A check AWS makes for one item of a batch request (a key of DeleteObjects, an entry of
 * PutEvents, a snapshot of DeregisterImage with DeleteAssociatedSnapshots): a denial fails that
 * item only — its result carries `deniedCode` — and the request itself still succeeds.
 */
export interface ItemAccess {
  /** The item as the response names it: an object key, an entry's index, a snapshot id. */
  item: string;
  /** All must be allowed for the item to go ahead. */
  requests: AccessRequest[];
  /** The error code (or return code) of a denied item in AWS's response. */
  deniedCode: string;
}

export type ItemAccessDescriptor<I> = (input: I) => ItemAccess[];
export type ItemAccessTable<I> = Readonly<Record<string, ItemAccessDescriptor<I>>>;

/** An action the service serves but no descriptor describes: refused, never waved through. */
export class UnmappedActionError extends Error {
  override name = 'UnmappedActionError';
  constructor(
    readonly service: string,
    readonly serviceAction: string,
  ) {
    super(`No access descriptor for ${service} action ${serviceAction}: the local cloud cannot tell what AWS would authorize`);
  }
}

/** The checks of `action`, or UnmappedActionError when the table has no descriptor for it. */
export function requestsFor<I>(table: AccessTable<I>, service: string, action: string, input: I): AccessRequest[] {
  const descriptor = Object.hasOwn(table, action) ? table[action] : undefined;
  if (descriptor === undefined) throw new UnmappedActionError(service, action);
  return descriptor(input);
}

/**
 * Keys every request made directly by a caller carries: the region it was sent to, and whether
 * it came over TLS (the local cloud listens on plain http).
 */
export function callerContext(region: string): AccessContext {
  return { 'aws:RequestedRegion': region, 'aws:SecureTransport': false };
}

/** `aws:RequestTag/<k>` for each tag and `aws:TagKeys`; nothing when there are no tags. */
export function requestTagContext(tags: Readonly<Record<string, string>> | undefined): AccessContext {
  const out: AccessContext = {};
  const keys = Object.keys(tags ?? {});
  if (tags === undefined || keys.length === 0) return out;
  for (const k of keys) out[`aws:RequestTag/${k}`] = tags[k] as string;
  out['aws:TagKeys'] = keys;
  return out;
}

/**
 * `aws:ResourceTag/<k>` for each tag of an existing resource, and the same under each service
 * prefix that defines its own resource-tag key (`ec2:ResourceTag/<k>`, `autoscaling:ResourceTag/<k>`).
 */
export function resourceTagContext(
  tags: Readonly<Record<string, string>> | undefined,
  servicePrefixes: readonly string[] = [],
): AccessContext {
  const out: AccessContext = {};
  for (const [k, v] of Object.entries(tags ?? {})) {
    out[`aws:ResourceTag/${k}`] = v;
    for (const p of servicePrefixes) out[`${p}:ResourceTag/${k}`] = v;
  }
  return out;
}

/**
 * The role an instance profile holds when it is named like it (same path and name: what the IAM
 * console and most templates create). IAM keeps the pairing; pass the real one where it is known.
 */
export function instanceProfileRoleOfSameName(instanceProfileArn: string): string[] {
  const m = /^arn:(aws[a-z-]*):iam::(\d{12}):instance-profile\/(.+)$/.exec(instanceProfileArn);
  return m === null ? [] : [`arn:${m[1]}:iam::${m[2]}:role/${m[3]}`];
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The requests without repeats (same action, resource and context), in first-seen order. */
export function uniqueRequests(requests: readonly AccessRequest[]): AccessRequest[] {
  const seen = new Set<string>();
  const out: AccessRequest[] = [];
  for (const r of requests) {
    const key = canonical(r);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(r);
  }
  return out;
}

/** `[{Key, Value}]` tags of a request body (JSON protocols), as a map. */
export function tagsOf(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(v)) return out;
  for (const t of v) {
    if (typeof t !== 'object' || t === null) continue;
    const { Key: key, Value: value } = t as Record<string, unknown>;
    if (typeof key === 'string') out[key] = typeof value === 'string' ? value : '';
  }
  return out;
}

/**
 * A KMS call a service makes on the caller's behalf (EBS through EC2, Parameter Store, S3
 * SSE-KMS): the key's ARN, `kms:ViaService` of that service in the key's region,
 * `kms:CallerAccount`, `aws:ViaAWSService`, the key's aliases as `kms:ResourceAliases`
 * (multivalued; absent for a key without alias, KMS developer guide, "kms:ResourceAliases"),
 * and the service's encryption context.
 */
export function kmsViaService(
  service: string,
  key: { arn: string; region: string; aliases?: readonly string[] },
  account: string,
  action: string,
  extra: AccessContext = {},
): AccessRequest {
  return {
    action: `kms:${action}`,
    resource: key.arn,
    context: {
      'aws:RequestedRegion': key.region,
      'aws:ViaAWSService': true,
      'kms:CallerAccount': account,
      'kms:ViaService': `${service}.${key.region}.amazonaws.com`,
      ...(key.aliases !== undefined && key.aliases.length > 0 ? { 'kms:ResourceAliases': [...key.aliases] } : {}),
      ...extra,
    },
  };
}
