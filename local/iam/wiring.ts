import type { LocalRequest } from '../http.js';
import { AccessDeniedError, type AccessTable, type Authorize } from '../protocols/access.js';
import type { ActionContext } from '../ec2/context.js';
import { EC2_ACCESS, EC2_ITEM_ACCESS, LOCAL_DEFAULT_NETWORK, type Ec2AccessInput } from '../ec2/access.js';
import type { S3Context } from '../s3/service.js';
import { missingKeyCheck, S3_ACCESS, S3_ITEM_ACCESS, type S3AccessInput } from '../s3/access.js';
import type { SfnContext } from '../sfn/service.js';
import { SFN_ACCESS } from '../sfn/access.js';
import type { EventsContext } from '../events/service.js';
import { EVENTS_ACCESS, EVENTS_ITEM_ACCESS } from '../events/access.js';
import type { AutoScalingContext } from '../autoscaling/service.js';
import { AUTOSCALING_ACCESS } from '../autoscaling/access.js';
import type { SsmContext } from '../ssm/service.js';
import { SSM_ACCESS } from '../ssm/access.js';
import type { SqsContext } from '../sqs/service.js';
import { SQS_ACCESS } from '../sqs/access.js';
import type { KmsKeyRegistry } from '../kms/keys.js';
import { requestsFor, type AccessRequest, type AccessTable as DescriptorTable, type ItemAccessTable } from './access-request.js';
import type { Authorizer } from './authorizer.js';
import type { IdentityStore } from './identity.js';

/**
 * The local services' authorization, put together: each service's protocol layer asks its
 * `authorize` callback about the access requests its action's descriptor computes
 * (`local/<service>/access.ts`, from what the service has at that point: the parsed request
 * and its state); the caller is the principal the request's access key identifies; the
 * Authorizer evaluates. Batch actions (DeleteObjects, PutEvents, DeregisterImage with
 * DeleteAssociatedSnapshots) are checked item by item as AWS checks them: a refused item is
 * recorded in the action's context (`refused`) and fails alone in the response (an S3 error
 * per key, an entry's ErrorCode, a snapshot's `missing-permissions`); the rest goes on.
 *
 * An S3 GET or HEAD of a key that does not exist also needs s3:ListBucket on the bucket: the
 * descriptor adds that check when the key is missing, so a caller without it gets 403
 * AccessDenied instead of 404 NoSuchKey, as in AWS.
 */
export interface ServiceAuthorization<C> {
  authorize: Authorize;
  access: AccessTable<C>;
}

function table<C, I>(
  service: string,
  descriptors: DescriptorTable<I>,
  items: ItemAccessTable<I>,
  input: (ctx: C, action: string) => I,
  batch: { o: WiringOptions; of: (ctx: C) => { req: LocalRequest | undefined; refused: Map<string, string> | undefined } },
  extra?: (ctx: C, action: string, input: I) => AccessRequest[],
): AccessTable<C> {
  const out: Record<string, (ctx: C) => AccessRequest[]> = {};
  for (const action of Object.keys(descriptors)) {
    out[action] = (ctx) => {
      const i = input(ctx, action);
      const perItem = items[action]?.(i) ?? [];
      if (perItem.length > 0) {
        const { req, refused } = batch.of(ctx);
        const caller = batch.o.identity.callerFor(req?.accessKeyId);
        for (const [item, r] of batch.o.authorizer.checkItems(caller, perItem, req?.region ?? '')) refused?.set(item, r.code);
      }
      return [...requestsFor(descriptors, service, action, i), ...(extra?.(ctx, action, i) ?? [])];
    };
  }
  return out;
}

export function authorizeWith(authorizer: Authorizer, identity: IdentityStore): Authorize {
  return (req: LocalRequest, _action: string, requests: AccessRequest[]) => {
    const caller = identity.callerFor(req.accessKeyId);
    const failure = authorizer.check(caller, requests, req.region);
    if (failure !== undefined) {
      throw new AccessDeniedError(failure.message, {
        principal: caller.arn,
        request: failure.request,
        explicit: failure.decision.effect === 'ExplicitDeny',
      });
    }
  };
}

/** Services whose actions have no per-item checks. */
const none = <C>(o: WiringOptions): { o: WiringOptions; of: (ctx: C) => { req: undefined; refused: undefined } } => ({
  o,
  of: () => ({ req: undefined, refused: undefined }),
});

export interface WiringOptions {
  authorizer: Authorizer;
  identity: IdentityStore;
  account: string;
  kms: KmsKeyRegistry;
}

export function ec2Authorization(o: WiringOptions): ServiceAuthorization<ActionContext> {
  const input = (ctx: ActionContext): Ec2AccessInput => ({
    params: ctx.p,
    state: ctx.rs,
    region: ctx.region,
    account: o.account,
    stateOf: (region) => ctx.world.state.regions[region],
    kms: o.kms,
    network: LOCAL_DEFAULT_NETWORK,
  });
  return {
    authorize: authorizeWith(o.authorizer, o.identity),
    access: table('ec2', EC2_ACCESS, EC2_ITEM_ACCESS, input, { o, of: (ctx) => ({ req: ctx.req, refused: ctx.refused }) }),
  };
}

const READS_KEY = new Set(['GetObject', 'HeadObject']);

export function s3Authorization(o: WiringOptions): ServiceAuthorization<S3Context> {
  const input = (ctx: S3Context): S3AccessInput => {
    const bucket = ctx.env.store.buckets.get(ctx.call.bucket);
    const encryption = bucket?.meta.configuration?.encryption;
    return {
      bucket: ctx.call.bucket,
      key: ctx.call.key,
      method: ctx.call.req.method,
      query: ctx.call.req.query,
      headers: ctx.call.req.headers,
      region: ctx.call.region,
      account: o.account,
      body: ctx.call.req.body,
      kms: o.kms,
      ...(encryption !== undefined ? { bucketEncryption: encryption } : {}),
      objectExists: bucket !== undefined && ctx.call.key !== '' && bucket.objects.has(ctx.call.key),
    };
  };
  const missingKey = (ctx: S3Context, action: string, i: S3AccessInput): AccessRequest[] => {
    if (!READS_KEY.has(action)) return [];
    const bucket = ctx.env.store.buckets.get(ctx.call.bucket);
    return bucket === undefined || bucket.objects.has(ctx.call.key) ? [] : [missingKeyCheck(i)];
  };
  return {
    authorize: authorizeWith(o.authorizer, o.identity),
    access: table(
      's3',
      S3_ACCESS,
      S3_ITEM_ACCESS,
      input,
      { o, of: (ctx) => ({ req: ctx.call.req, refused: ctx.call.refused }) },
      missingKey,
    ),
  };
}

export function sfnAuthorization(o: WiringOptions): ServiceAuthorization<SfnContext> {
  return {
    authorize: authorizeWith(o.authorizer, o.identity),
    access: table('states', SFN_ACCESS, {}, (ctx: SfnContext) => ({ body: ctx.body, region: ctx.region, account: o.account }), none(o)),
  };
}

export function eventsAuthorization(o: WiringOptions): ServiceAuthorization<EventsContext> {
  return {
    authorize: authorizeWith(o.authorizer, o.identity),
    access: table(
      'events',
      EVENTS_ACCESS,
      EVENTS_ITEM_ACCESS,
      (ctx: EventsContext) => ({ body: ctx.body, region: ctx.region, account: o.account }),
      { o, of: (ctx) => ({ req: ctx.req, refused: ctx.refused }) },
    ),
  };
}

export function autoScalingAuthorization(o: WiringOptions): ServiceAuthorization<AutoScalingContext> {
  return {
    authorize: authorizeWith(o.authorizer, o.identity),
    access: table(
      'autoscaling',
      AUTOSCALING_ACCESS,
      {},
      (ctx: AutoScalingContext) => ({ params: ctx.p, region: ctx.region, account: o.account }),
      none(o),
    ),
  };
}

export function ssmAuthorization(o: WiringOptions): ServiceAuthorization<SsmContext> {
  return {
    authorize: authorizeWith(o.authorizer, o.identity),
    access: table(
      'ssm',
      SSM_ACCESS,
      {},
      (ctx: SsmContext) => ({
        body: ctx.body,
        region: ctx.region,
        account: o.account,
        kms: o.kms,
        parameter: (name: string) => {
          const p = ctx.parameters[name];
          const v = p?.versions[p.versions.length - 1];
          return p === undefined || v === undefined
            ? undefined
            : {
                name,
                type: v.type,
                ...(v.keyId !== undefined ? { keyId: v.keyId } : {}),
                ...(v.tier !== undefined ? { tier: v.tier } : {}),
              };
        },
      }),
      none(o),
    ),
  };
}

export function sqsAuthorization(o: WiringOptions): ServiceAuthorization<SqsContext> {
  return {
    authorize: authorizeWith(o.authorizer, o.identity),
    access: table('sqs', SQS_ACCESS, {}, (ctx: SqsContext) => ({ body: ctx.body, region: ctx.region, account: o.account }), none(o)),
  };
}
