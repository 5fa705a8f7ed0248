import { DescribeImagesCommand, type EC2Client, type Image } from '@aws-sdk/client-ec2';
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { S3Client } from '@aws-sdk/client-s3';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { errorMessage, hasErrorName } from '../errors.js';
import { publishEvents, imageArn, type FactoryEventEntry } from '../events/publish.js';
import { deprecationTime } from '../ec2/share.js';
import { familyImages, imageTags } from '../ec2/images.js';
import type { Logger } from '../logger.js';
import { deprecateImage, deregisterImage, disableImage, otherImagesOfBundle, snapshotsStillPresent } from './actions.js';
import { countActions, planRetention, type Action, type InventoryImage, type PlanEntry } from './plan.js';
import { findImageReferences, templateReferences, type ImageUses } from './references.js';
import type { RetentionRequest } from './request.js';
import { countOutcomes, type ImageResult, type Ledger, type RegionPlan, type RetentionStore, type Target } from './store.js';
import { EC2_ERROR, S3_ERROR } from '../error-codes.js';
import { BundleNotFoundError, deleteBundleFromS3 } from '../bundle/s3.js';

/**
 * One retention run, region by region: `planRegion` (inventory, in-use check, plan, stored
 * in S3) and `applyStep` (a batch of the plan's targets: re-check, act, confirm, record).
 * The handlers (functions/*-retention.ts) wire these to AWS clients; tests and the CLI call
 * them the same way.
 */
export interface RegionDeps {
  region: string;
  /** A paced client (pacer.ts): every call takes a token of its EC2 bucket. */
  ec2: EC2Client;
  autoscaling: AutoScalingClient;
  /** S3 in the region (instance-store bundles live in a bucket of the image's region). */
  s3: S3Client;
  store: RetentionStore;
  events: EventBridgeClient;
  bus: string;
  accountId: string;
  logger: Logger;
}

export type ActionCounts = Record<Action, number>;

export interface RegionPlanSummary {
  region: string;
  planKey: string;
  images: number;
  counts: ActionCounts;
  /** Images to act on (deprecate, disable, deregister). */
  targets: number;
}

export function toInventory(region: string, i: Image, ledger: Ledger): InventoryImage {
  const item: InventoryImage = {
    imageId: i.ImageId ?? '',
    region,
    name: i.Name ?? '',
    ownerId: i.OwnerId ?? '',
    creationDate: i.CreationDate ?? '',
    state: i.State ?? 'unknown',
    tags: imageTags(i),
  };
  if (i.DeprecationTime !== undefined) item.deprecationTime = i.DeprecationTime;
  if (i.DeregistrationProtection !== undefined) item.deregistrationProtection = i.DeregistrationProtection.startsWith('enabled');
  if (i.RootDeviceType === 'ebs' || i.RootDeviceType === 'instance-store') item.rootDeviceType = i.RootDeviceType;
  if (i.ImageLocation !== undefined) item.imageLocation = i.ImageLocation;
  const disabledAt = ledger.disabledAt[item.imageId];
  if (disabledAt !== undefined) item.disabledAt = disabledAt;
  return item;
}

/** Deprecations, then disables, oldest first in each: the mutating lane. */
const ACTION_ORDER: Record<Exclude<Action, 'keep'>, number> = { deprecate: 0, disable: 1, deregister: 2 };

/**
 * Merges two lanes in proportion, so every batch carries its share of each: deprecations and
 * disables draw from EC2's mutating bucket, deregistrations from their own, both refilling at
 * 5 per second; a batch of only one kind would leave the other bucket full and idle.
 */
export function interleave<T>(a: T[], b: T[]): T[] {
  const out: T[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && i * b.length <= j * a.length)) out.push(a[i++] as T);
    else out.push(b[j++] as T);
  }
  return out;
}

/**
 * Plans one region: the inventory, what uses the candidate images (only images the policy
 * would retire are checked, which keeps the reference pages to what matters), the plan, and
 * the plan stored in S3 (a plan of 10,000 rows does not fit in a state payload).
 */
export async function planRegion(deps: RegionDeps, request: RetentionRequest, now: Date): Promise<RegionPlanSummary> {
  const ledger = await deps.store.getLedger(request.family, deps.region);
  // Every image of the family, not only managed ones: those not tagged managed are listed as
  // kept, "not managed" (plan.ts never retires them). Deregistered images stay visible for a
  // while; they are not part of the inventory.
  const inventory = (await familyImages(deps.ec2, request.family, { managedOnly: false }))
    .filter((i) => i.State !== 'deregistered')
    .map((i) => toInventory(deps.region, i, ledger));
  const policy = request.policy;
  // First pass without references: which images would be disabled or deregistered?
  const draft = planRetention(request.family, inventory, new Map(), policy, deps.accountId, now);
  const candidates = draft.filter((e) => e.action === 'disable' || e.action === 'deregister').map((e) => e.imageId);
  // An applying run re-checks every retiring batch right before acting, DescribeImageReferences
  // included (recheck below): its plan asks only the sources that take a few calls (instances,
  // Auto Scaling, launch templates), so the first batch starts while the deregistration bucket
  // is full instead of after ~1 call per 10 candidates. An image only EC2's reference search
  // finds in use (an SSM parameter, an Image Builder recipe) is then planned for retirement
  // and kept at action time, with the reason. A dry run asks every source: its plan is all it shows.
  const inUse = await findImageReferences(deps.ec2, deps.autoscaling, candidates, { describeImageReferences: request.dryRun });
  const entries = planRetention(request.family, inventory, inUse, policy, deps.accountId, now);
  const byId = new Map(inventory.map((i) => [i.imageId, i]));
  const targets: Target[] = entries
    .filter((e): e is PlanEntry & { action: Exclude<Action, 'keep'> } => e.action !== 'keep')
    .map((e) => {
      const img = byId.get(e.imageId) as InventoryImage;
      const t: Target = {
        imageId: e.imageId,
        action: e.action,
        reason: e.reason,
        name: e.name,
        state: img.state,
        creationDate: img.creationDate,
      };
      if (img.rootDeviceType !== undefined) t.rootDeviceType = img.rootDeviceType;
      if (img.imageLocation !== undefined) t.imageLocation = img.imageLocation;
      return t;
    })
    .sort((a, b) => ACTION_ORDER[a.action] - ACTION_ORDER[b.action] || Date.parse(a.creationDate) - Date.parse(b.creationDate));
  const ordered = interleave(
    targets.filter((t) => t.action !== 'deregister'),
    targets.filter((t) => t.action === 'deregister'),
  );
  // Forget ledger entries of images that are gone (deregistered by hand, or by an earlier run).
  const live = new Set(inventory.map((i) => i.imageId));
  const pruned = Object.fromEntries(Object.entries(ledger.disabledAt).filter(([id]) => live.has(id)));
  if (Object.keys(pruned).length !== Object.keys(ledger.disabledAt).length)
    await deps.store.putLedger(request.family, deps.region, { disabledAt: pruned });

  const plan: RegionPlan = { runId: request.runId, family: request.family, region: deps.region, now: now.toISOString(), entries };
  const planKey = await deps.store.putPlan(plan, ordered);
  const counts = countActions(entries);
  deps.logger.info('retention plan', { region: deps.region, images: inventory.length, ...counts });
  return { region: deps.region, planKey, images: inventory.length, counts, targets: targets.length };
}

export interface ApplyProgress {
  cursor: number;
  done: boolean;
  outcomes: Record<ImageResult['outcome'], number>;
}

/**
 * The world changes between plan and action. Right before acting, each target is described
 * again and its references searched again, and the same planning function decides once more
 * (newest-N aside, which only newer images could change, and they only make an old image less
 * new). The planned action is carried out only when the fresh decision is the same; anything
 * else keeps the image, with the reason. `templates` are the region's launch template and Auto
 * Scaling references, read once per step (they do not depend on the images asked about).
 */
async function recheck(
  deps: RegionDeps,
  request: RetentionRequest,
  targets: Target[],
  now: Date,
  ledger: Ledger,
  templates: () => Promise<ImageUses>,
): Promise<Decisions> {
  const ids = targets.map((t) => t.imageId);
  // By id only (not by the factory's tags): an image whose tags changed since the plan must be
  // seen, so the planning function can say why it is no longer retired. The references of the
  // images to retire are searched at the same time (an image found gone meanwhile is not acted
  // on whatever they say).
  const describe = async (): Promise<Map<string, Image>> => {
    const fresh = new Map<string, Image>();
    for (let i = 0; i < ids.length; i += 200) {
      const r = await deps.ec2.send(
        new DescribeImagesCommand({
          Owners: ['self'],
          Filters: [{ Name: 'image-id', Values: ids.slice(i, i + 200) }],
          IncludeDeprecated: true,
          IncludeDisabled: true,
        }),
      );
      for (const img of r.Images ?? []) if (img.ImageId !== undefined) fresh.set(img.ImageId, img);
    }
    return fresh;
  };
  const retiring = targets.filter((t) => t.action !== 'deprecate').map((t) => t.imageId);
  const [fresh, inUse] = await Promise.all([
    describe(),
    retiring.length === 0
      ? new Map<string, string[]>()
      : findImageReferences(deps.ec2, deps.autoscaling, retiring, { templates: templates() }),
  ]);
  const inventory = [...fresh.values()].map((i) => toInventory(deps.region, i, ledger));
  const decided = planRetention(request.family, inventory, inUse, { ...request.policy, keepNewest: 0 }, deps.accountId, now);
  const out = new Map<string, PlanEntry | 'gone'>();
  for (const t of targets) out.set(t.imageId, 'gone');
  for (const e of decided) out.set(e.imageId, e);
  for (const img of inventory) if (img.state === 'deregistered') out.set(img.imageId, 'gone');
  return out;
}

/**
 * Targets re-checked together (a multiple of DescribeImageReferences' 10 ids per call). A step
 * re-checks its batch a chunk at a time, one chunk ahead of the actions: the next chunk is
 * described while this one is acted on, so the lanes never wait for a whole batch's re-check
 * (the DeregisterImage bucket would idle meanwhile), and no image is re-checked long before
 * its action.
 */
export const RECHECK_CHUNK = 50;

type Decisions = Map<string, PlanEntry | 'gone'>;

interface Gate {
  open(): void;
  opened: Promise<void>;
}

function gate(): Gate {
  let open = (): void => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open: () => open(), opened };
}

export interface ApplyStepInput {
  request: RetentionRequest;
  cursor: number;
  /** The instant the run plans for (the execution's start); ages are judged by it. */
  planNow: Date;
  /** The clock (deprecation times must not be in the past when the call is made). */
  now: () => Date;
}

/**
 * A deprecation time due in the past becomes "now" plus this margin: the time is computed
 * before the pacer's wait for a token (and any throttling backoff), and EC2 refuses a
 * DeprecateAt in the past.
 */
export const DEPRECATION_MARGIN_MS = 10 * 60_000;

/**
 * Calls in flight per lane. A lane is paced by its EC2 bucket (5 calls per second for
 * DeregisterImage and for the mutating actions); one call at a time would cap it at one per
 * call latency instead (DeregisterImage deleting its snapshots takes a few hundred ms), below
 * the refill. A few at once leave the bucket the only limit; the pacer takes a token per call.
 */
export const LANE_CONCURRENCY = 4;

/**
 * One apply step: the next `batchSize` targets of the region's plan. Deprecations and
 * disables draw from EC2's mutating bucket, deregistrations from their own, so the two
 * lanes run side by side, LANE_CONCURRENCY calls each. Every image gets a result, in the
 * batch's order; an error on one image fails that image
 * only. Results, the disable ledger and the events are recorded before the step returns.
 */
export async function applyStep(deps: RegionDeps, input: ApplyStepInput): Promise<ApplyProgress & { results: ImageResult[] }> {
  const { request, cursor } = input;
  const targets = await deps.store.getTargets(request.runId, deps.region);
  const batch = targets.slice(cursor, cursor + request.batchSize);
  if (batch.length === 0) return { cursor, done: true, outcomes: countOutcomes([]), results: [] };

  const ledger = await deps.store.getLedger(request.family, deps.region);
  let templatesRead: Promise<ImageUses> | undefined;
  const templates = (): Promise<ImageUses> => (templatesRead ??= templateReferences(deps.ec2, deps.autoscaling));
  const chunks: Target[][] = [];
  for (let i = 0; i < batch.length; i += RECHECK_CHUNK) chunks.push(batch.slice(i, i + RECHECK_CHUNK));
  const chunkOf = new Map(batch.map((t, i) => [t, Math.floor(i / RECHECK_CHUNK)]));
  // Chunk 0 is re-checked at once; chunk i+1 once chunk i's re-check is done and half of chunk
  // i's targets have been taken up by the lanes: one chunk of look-ahead. A re-check that fails
  // fails its chunk and every later one (each waits for the one before).
  const halfTaken = chunks.map(() => gate());
  const taken = chunks.map(() => 0);
  const rechecked: Promise<Decisions>[] = [];
  for (let i = 0; i < chunks.length; i++) {
    const ready = i === 0 ? Promise.resolve() : Promise.all([rechecked[i - 1], (halfTaken[i - 1] as Gate).opened]);
    const job = ready.then(() => recheck(deps, request, chunks[i] as Target[], input.planNow, ledger, templates));
    job.catch(() => undefined); // observed by the targets of its chunk
    rechecked.push(job);
  }
  let failedChunk: { index: number; error: unknown } | undefined;
  const decisionFor = async (t: Target): Promise<Decisions | undefined> => {
    const index = chunkOf.get(t) ?? 0;
    taken[index] = (taken[index] ?? 0) + 1;
    if ((taken[index] ?? 0) * 2 >= (chunks[index]?.length ?? 0)) halfTaken[index]?.open();
    try {
      return await (rechecked[index] as Promise<Decisions>);
    } catch (error) {
      if (failedChunk === undefined || index < failedChunk.index) failedChunk = { index, error };
      return undefined;
    }
  };
  const deletedSnapshots: string[] = [];

  const act = async (t: Target): Promise<ImageResult | undefined> => {
    const base = { imageId: t.imageId, region: deps.region, planned: t.action };
    const decisions = await decisionFor(t);
    if (decisions === undefined) return undefined; // not re-checked: left for the next step
    const now = decisions.get(t.imageId);
    if (now === 'gone' || now === undefined) {
      return t.action === 'deregister'
        ? { ...base, outcome: 'already-done', reason: 'deregistered since the plan' }
        : { ...base, outcome: 'kept', reason: 'no longer found (deregistered since the plan)' };
    }
    if (now.action !== t.action) {
      return now.action === 'keep'
        ? { ...base, outcome: 'kept', reason: `at action time: ${now.reason}` }
        : { ...base, outcome: 'kept', reason: `changed since the plan (now: ${now.action}, ${now.reason}); left for the next run` };
    }
    try {
      if (t.action === 'deprecate') {
        const days = request.policy.deprecateAfterDays ?? 0;
        await deprecateImage(
          deps.ec2,
          t.imageId,
          deprecationTime(t.creationDate, days, new Date(input.now().getTime() + DEPRECATION_MARGIN_MS)),
        );
        return { ...base, outcome: 'deprecated', reason: t.reason };
      }
      if (t.action === 'disable') {
        const r = await disableImage(deps.ec2, t.imageId, t.state);
        ledger.disabledAt[t.imageId] ??= input.now().toISOString();
        return { ...base, outcome: r === 'disabled' ? 'disabled' : 'already-done', reason: t.reason };
      }
      const r = await deregisterImage(deps.ec2, t.imageId);
      delete ledger.disabledAt[t.imageId];
      deletedSnapshots.push(...r.deletedSnapshots);
      const result: ImageResult = {
        ...base,
        outcome: r.outcome === 'deregistered' ? 'deregistered' : 'already-done',
        reason: t.reason,
        deletedSnapshots: r.deletedSnapshots,
        keptSnapshots: r.keptSnapshots,
      };
      if (t.rootDeviceType === 'instance-store' && t.imageLocation !== undefined && request.policy.deleteBundles) {
        await deleteBundle(deps, t, result);
      }
      return result;
    } catch (e) {
      const reason = hasErrorName(e, EC2_ERROR.operationNotPermitted) ? 'EC2 refused (deregistration protection?)' : 'EC2 refused';
      return { ...base, outcome: 'failed', reason, error: `${e instanceof Error ? e.name : 'Error'}: ${errorMessage(e)}` };
    }
  };

  // Each lane's calls are paced by its own EC2 bucket. Images of one lane are independent,
  // except instance-store images that may share a bundle: whether another image still uses it
  // is asked before each delete, so those go one at a time, in their own lane.
  const done = new Map<Target, ImageResult>();
  const lane = async (targets: Target[], width: number): Promise<void> => {
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let t = targets[next++]; t !== undefined; t = targets[next++]) {
        const result = await act(t);
        if (result !== undefined) done.set(t, result);
      }
    };
    await Promise.all(Array.from({ length: Math.min(width, targets.length) }, worker));
  };
  const bundled = (t: Target): boolean => t.action === 'deregister' && t.rootDeviceType === 'instance-store';
  await Promise.all([
    lane(
      batch.filter((t) => t.action !== 'deregister'),
      LANE_CONCURRENCY,
    ),
    lane(
      batch.filter((t) => t.action === 'deregister' && !bundled(t)),
      LANE_CONCURRENCY,
    ),
    lane(batch.filter(bundled), 1),
  ]);
  // A failed re-check ends the step at its chunk: the chunks before it were acted on and are
  // recorded, the next step starts at it. Failing before any action, the step fails (and is retried).
  if (failedChunk?.index === 0) throw failedChunk.error;
  const acted = failedChunk === undefined ? batch : batch.slice(0, failedChunk.index * RECHECK_CHUNK);
  const next = cursor + acted.length;
  if (failedChunk !== undefined)
    deps.logger.warn('retention step ends early: a re-check failed', {
      region: deps.region,
      cursor: next,
      error: errorMessage(failedChunk.error),
    });
  const results = acted.flatMap((t) => done.get(t) ?? []);

  // Confirm the snapshots EC2 reported deleted are gone.
  if (deletedSnapshots.length > 0) {
    const still = new Set(await snapshotsStillPresent(deps.ec2, deletedSnapshots));
    for (const r of results) {
      const lingering = (r.deletedSnapshots ?? []).filter((s) => still.has(s));
      if (lingering.length === 0) continue;
      r.deletedSnapshots = (r.deletedSnapshots ?? []).filter((s) => !still.has(s));
      r.keptSnapshots = [
        ...(r.keptSnapshots ?? []),
        ...lingering.map((snapshotId) => ({ snapshotId, reason: 'still present after deregistration' })),
      ];
    }
  }
  const outcomes = countOutcomes(results);

  await deps.store.putLedger(request.family, deps.region, ledger);
  await deps.store.putResults(request.runId, deps.region, cursor, results);
  await publishEvents(deps.events, deps.bus, retirementEvents(request, deps.region, results));
  deps.logger.info('retention step', { region: deps.region, cursor, size: batch.length, ...outcomes });
  return { cursor: next, done: next >= targets.length, outcomes, results };
}

/** ImageDisabled / ImageExpired for the images a step disabled or deregistered (nothing for the others). */
export function retirementEvents(request: RetentionRequest, region: string, results: readonly ImageResult[]): FactoryEventEntry[] {
  return results.flatMap((r): FactoryEventEntry[] => {
    const detail = { family: request.family, region, imageId: r.imageId, runId: request.runId, reason: r.reason, trigger: request.trigger };
    const resources = [imageArn(region, r.imageId)];
    if (r.outcome === 'disabled') return [{ type: 'ImageDisabled', detail, resources }];
    if (r.outcome === 'deregistered')
      return [{ type: 'ImageExpired', detail: { ...detail, deletedSnapshots: r.deletedSnapshots ?? [] }, resources }];
    return [];
  });
}

/** Deletes an instance-store image's bundle unless another image of the account still uses it. */
async function deleteBundle(deps: RegionDeps, t: Target, result: ImageResult): Promise<void> {
  const location = t.imageLocation as string;
  const others = await otherImagesOfBundle(deps.ec2, location, t.imageId);
  if (others.length > 0) {
    result.reason += `; bundle ${location} kept (also registered as ${others.join(', ')})`;
    return;
  }
  try {
    const keys = await deleteBundleFromS3(deps.s3, location);
    result.bundleKeysDeleted = keys.length;
    result.reason += `; bundle ${location} deleted (${keys.length} objects)`;
  } catch (e) {
    if (e instanceof BundleNotFoundError || hasErrorName(e, S3_ERROR.noSuchKey)) {
      result.reason += `; bundle ${location} already gone`;
      return;
    }
    result.reason += `; bundle ${location} NOT deleted: ${errorMessage(e)}`;
    result.error = `${e instanceof Error ? e.name : 'Error'}: ${errorMessage(e)}`;
  }
}
