import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AccessRequest, ItemAccess } from './access-request.js';
import { loadIamCatalog, type IamCatalog } from './actions.js';
import { globalContext, type Principal, type RequestContext } from './context.js';
import { evaluate, type Decision } from './evaluate.js';
import { ADMINISTRATOR_POLICY, type Caller, type IdentityStore } from './identity.js';
import { parsePolicy, type NamedPolicy } from './policy.js';

/**
 * IAM on every call of the local cloud: each request's access checks (the services' access
 * descriptors, `local/<service>/access.ts`) are evaluated against the caller's policies — a
 * function's role from the deployed template, or the administrator's — and the resource's
 * policy where it has one (bucket policies, Lambda permissions, KMS key policies), with the
 * global condition keys AWS adds (principal, time, region). The first check that is not
 * allowed refuses the request; the service answers with its protocol's error.
 *
 * Every denial is written to the cloud's log (`<stateDir>/logs/iam.log` and the `log`
 * callback) with the function, action, resource and the deciding statement — or "no
 * statement allows" — so the missing grant is plain. Every decision is also counted per
 * caller (`usage()`): which actions each function was seen to call.
 *
 * The local cloud listens on plain http on loopback, standing in for AWS's TLS endpoints
 * (the SDK always uses https against AWS): its requests carry `aws:SecureTransport=true`.
 */
export interface AuthorizerOptions {
  identity: IdentityStore;
  /** Enforce (default) or only record what would be denied (`--no-iam`). */
  enforce: boolean;
  /** The account's clock (epoch ms): aws:CurrentTime. */
  now: () => number;
  /** The resource-based policies of a resource ARN (bucket policy, function permissions, key policy). */
  resourcePolicies?: (resourceArn: string) => { name: string; document: unknown }[];
  /** A caller's label in logs and usage (the function's key for a function's role session). */
  labelOf?: (caller: Caller) => string;
  /** Denials (and, without enforcement, would-be denials) as lines. */
  log?: (line: string) => void;
  /** Appends denials here too. */
  logFile?: string;
}

/** A refused request: what AWS would answer, and why. */
export interface AccessFailure {
  request: AccessRequest;
  decision: Decision;
  /** AWS's sentence: "User: <arn> is not authorized to perform: <action> on resource: <arn> because …". */
  message: string;
}

export interface DenialRecord {
  time: string;
  caller: string;
  principal: string;
  action: string;
  resource: string;
  decision: Decision['effect'];
  statement: string;
  enforced: boolean;
}

export class Authorizer {
  private readonly rolePolicies = new Map<string, NamedPolicy[]>();
  private readonly resourcePolicyCache = new Map<string, { key: string; policies: NamedPolicy[] }>();
  private readonly admin: NamedPolicy[];
  readonly denials: DenialRecord[] = [];
  private readonly seen = new Map<string, Map<string, { allowed: number; denied: number }>>();

  private constructor(
    private readonly catalog: IamCatalog,
    private readonly opts: AuthorizerOptions,
  ) {
    this.admin = [parsePolicy(ADMINISTRATOR_POLICY, { name: 'AdministratorAccess', kind: 'identity' }, catalog)];
    if (opts.logFile !== undefined) mkdirSync(dirname(opts.logFile), { recursive: true });
  }

  static async create(opts: AuthorizerOptions): Promise<Authorizer> {
    return new Authorizer(await loadIamCatalog(), opts);
  }

  get enforcing(): boolean {
    return this.opts.enforce;
  }

  /** Checks every request; the first one not allowed is returned (and refused when enforcing). */
  check(caller: Caller, requests: readonly AccessRequest[], region: string): AccessFailure | undefined {
    for (const request of requests) {
      const failure = this.decide(caller, request, region);
      if (failure !== undefined && this.opts.enforce) return failure;
    }
    return undefined;
  }

  /** Per-item checks of a batch: the items refused, with their error codes. */
  checkItems(caller: Caller, items: readonly ItemAccess[], region: string): Map<string, { code: string; failure: AccessFailure }> {
    const refused = new Map<string, { code: string; failure: AccessFailure }>();
    for (const item of items) {
      const failure = this.check(caller, item.requests, region);
      if (failure !== undefined) refused.set(item.item, { code: item.deniedCode, failure });
    }
    return refused;
  }

  /**
   * A request with no identity-based policies behind it: a service principal's (EventBridge
   * invoking a function) or an anonymous caller's (a function URL with AuthType NONE, modelled
   * as the principal "*" matches). Only a resource-based policy can allow it.
   */
  checkService(service: string, accountId: string, requests: readonly AccessRequest[], region: string): AccessFailure | undefined {
    const principal: Principal = { type: 'Service', arn: service, service, accountId };
    for (const request of requests) {
      const failure = this.evaluateFor(principal, service, [], request, region);
      if (failure !== undefined && this.opts.enforce) return failure;
    }
    return undefined;
  }

  /** Actions each caller was seen to call: label → action → counts. */
  usage(): Record<string, Record<string, { allowed: number; denied: number }>> {
    const out: Record<string, Record<string, { allowed: number; denied: number }>> = {};
    for (const [label, actions] of [...this.seen].sort(([a], [b]) => a.localeCompare(b))) {
      out[label] = Object.fromEntries([...actions].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, { ...v }]));
    }
    return out;
  }

  private principalOf(caller: Caller): { principal: Principal; policies: NamedPolicy[] } {
    if (caller.kind === 'administrator' || caller.role === undefined) {
      return { principal: { type: 'User', arn: caller.arn, accountId: caller.accountId }, policies: this.admin };
    }
    const role = caller.role;
    let policies = this.rolePolicies.get(role.arn);
    if (policies === undefined) {
      policies = role.policies.map((p) => parsePolicy(p.document, { name: p.name, kind: 'identity' }, this.catalog));
      this.rolePolicies.set(role.arn, policies);
    }
    return {
      principal: {
        type: 'AssumedRole',
        arn: caller.arn,
        accountId: caller.accountId,
        roleArn: role.arn,
        ...(caller.sessionName !== undefined ? { sessionName: caller.sessionName } : {}),
      },
      policies,
    };
  }

  private resourcePoliciesOf(resource: string): NamedPolicy[] {
    if (resource === '*' || this.opts.resourcePolicies === undefined) return [];
    const docs = this.opts.resourcePolicies(resource);
    if (docs.length === 0) return [];
    const key = JSON.stringify(docs);
    const cached = this.resourcePolicyCache.get(resource);
    if (cached !== undefined && cached.key === key) return cached.policies;
    const policies = docs.map((d) => parsePolicy(d.document, { name: d.name, kind: 'resource' }, this.catalog));
    this.resourcePolicyCache.set(resource, { key, policies });
    return policies;
  }

  private decide(caller: Caller, request: AccessRequest, region: string): AccessFailure | undefined {
    const { principal, policies } = this.principalOf(caller);
    return this.evaluateFor(principal, this.opts.labelOf?.(caller) ?? caller.arn, policies, request, region);
  }

  private evaluateFor(
    principal: Principal,
    label: string,
    identity: NamedPolicy[],
    request: AccessRequest,
    region: string,
  ): AccessFailure | undefined {
    const context: RequestContext = {
      ...globalContext(principal, {
        time: new Date(this.opts.now()),
        secureTransport: true,
        requestedRegion: region,
        sourceIp: '127.0.0.1',
      }),
      ...withoutKeys(request.context ?? {}, ['aws:securetransport']),
    };
    const decision = evaluate(
      { principal, action: request.action, resource: request.resource, context },
      { identity, resource: this.resourcePoliciesOf(request.resource) },
    );
    const counts = this.seen.get(label) ?? new Map<string, { allowed: number; denied: number }>();
    this.seen.set(label, counts);
    const c = counts.get(request.action) ?? { allowed: 0, denied: 0 };
    counts.set(request.action, c);
    if (decision.effect === 'Allow') {
      c.allowed++;
      return undefined;
    }
    c.denied++;
    const message = `User: ${principal.arn} is not authorized to perform: ${request.action} on resource: ${request.resource} ${decision.reason}`;
    const statement =
      decision.decisive !== undefined
        ? `${decision.effect === 'ExplicitDeny' ? 'explicit deny in' : 'decided by'} ${decision.decisive.policy} statement ${decision.decisive.statementIndex}${decision.decisive.sid !== undefined ? ` (${decision.decisive.sid})` : ''}`
        : 'no statement allows';
    const record: DenialRecord = {
      time: new Date(this.opts.now()).toISOString(),
      caller: label,
      principal: principal.arn,
      action: request.action,
      resource: request.resource,
      decision: decision.effect,
      statement,
      enforced: this.opts.enforce,
    };
    this.denials.push(record);
    if (this.denials.length > 10_000) this.denials.splice(0, 5_000);
    const line = `${record.time} ${this.opts.enforce ? 'DENIED' : 'WOULD DENY (IAM off)'} ${label}: ${request.action} on ${request.resource} — ${statement}`;
    this.opts.log?.(line);
    if (this.opts.logFile !== undefined) appendFileSync(this.opts.logFile, `${line}\n`);
    return { request, decision, message };
  }
}

function withoutKeys(context: Readonly<Record<string, unknown>>, lowerKeys: string[]): RequestContext {
  return Object.fromEntries(Object.entries(context).filter(([k]) => !lowerKeys.includes(k.toLowerCase()))) as RequestContext;
}
