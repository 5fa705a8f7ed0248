import * as z from 'zod';
import { FamilySchema, ImageIdSchema, TriggerSchema, type Trigger } from '../build-request.js';
import type { FactoryConfig } from '../config.js';
import { FactoryError } from '../errors.js';
import { familyOf } from '../request-policy.js';
import { ChannelNameSchema } from './names.js';
import type { ChannelHistoryStore, Publication } from './history.js';
import { publishToChannel, type PublishDeps, type PublishResult } from './publish.js';

/**
 * Moving images between channels, region by region, from the channel history (history.ts):
 *
 * - promote: a build (by build id, or by the image id it has in any region) goes to `channel`
 *   in every region where it was published to the family's first channel — the regions where
 *   it passed; a region where it was not is skipped and reported.
 * - rollback: each region's `channel` gets back the image it held before its current one
 *   (`previousImageId` of the current entry); a region with nothing before is skipped.
 *
 * Each region is one publishToChannel (publish.ts): idempotent, so a re-run after a failure
 * completes what is missing. A rollback is not idempotent by itself (run twice, it goes back
 * twice), so each entry records the operation (its execution's ARN): a retried run finds the
 * regions it rolled back already and publishes their image again instead of its predecessor.
 * The Slack command and the CLI both run it through the image-channels state machine
 * (functions/promote-image.ts).
 */
export const ChannelOperationSchema = z.discriminatedUnion('operation', [
  z
    .object({
      operation: z.literal('promote'),
      family: FamilySchema,
      channel: ChannelNameSchema,
      /** A build id, or the id of the build's image in one of its regions. */
      target: z.string().min(1).max(80),
      by: TriggerSchema,
    })
    .strict(),
  z.object({ operation: z.literal('rollback'), family: FamilySchema, channel: ChannelNameSchema, by: TriggerSchema }).strict(),
]);
export type ChannelOperation = z.infer<typeof ChannelOperationSchema>;

/** promoteImage's input (image-channels' ChannelOperation task): the operation and the execution running it. */
export const ChannelOperationTaskSchema = z
  .object({
    operation: ChannelOperationSchema,
    executionArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:[A-Za-z0-9_-]{1,80}:[A-Za-z0-9_-]{1,80}$/, 'not an execution ARN'),
  })
  .strict();

/** The channel is not one of the family's, or the build or image is unknown to the family's channels. */
export class ChannelOperationError extends FactoryError {
  override name = 'ChannelOperationError';
}

export interface RegionOutcome {
  region: string;
  status: 'published' | 'skipped';
  imageId?: string;
  previousImageId?: string | null;
  reason?: string;
}

export interface ChannelOperationResult {
  operation: ChannelOperation['operation'];
  family: string;
  channel: string;
  buildId: string | null;
  regions: RegionOutcome[];
}

export interface ChannelOperationDeps {
  store: ChannelHistoryStore;
  /** The clients of one region (EC2, SSM) and the rest of PublishDeps. */
  publishDeps: (region: string) => PublishDeps;
}

function familyRegions(config: FactoryConfig, family: string): string[] {
  const f = familyOf(config, family);
  return [f.region, ...f.copies.map((c) => c.region)];
}

/** The build a promote names: its id, or the build of the image id in one region's first-channel history. */
async function buildOf(store: ChannelHistoryStore, family: string, first: string, regions: string[], target: string): Promise<string> {
  if (!ImageIdSchema.safeParse(target).success) return target;
  for (const region of regions) {
    const entry = (await store.get(family, region, first)).history.find((e) => e.imageId === target);
    if (entry?.buildId !== undefined && entry.buildId !== null) return entry.buildId;
  }
  throw new ChannelOperationError(`${target} was never published to ${family}'s ${first} channel in ${regions.join(', ')}`);
}

function regionOutcome(r: PublishResult): RegionOutcome {
  return { region: r.region, status: 'published', imageId: r.imageId, previousImageId: r.previousImageId };
}

/** Runs a promote or a rollback in every region of the family (see the module comment). */
export async function runChannelOperation(
  deps: ChannelOperationDeps,
  config: FactoryConfig,
  op: ChannelOperation,
  operationId: string,
): Promise<ChannelOperationResult> {
  const f = familyOf(config, op.family);
  if (!f.channels.includes(op.channel)) {
    throw new ChannelOperationError(`${op.family} has no channel ${op.channel}; its channels: ${f.channels.join(', ')}`);
  }
  const regions = familyRegions(config, op.family);
  const first = f.channels[0] ?? 'latest';
  const publish = (region: string, imageId: string, buildId: string | null, action: Publication['action'], by: Trigger) =>
    publishToChannel(deps.publishDeps(region), {
      family: op.family,
      region,
      channel: op.channel,
      imageId,
      buildId,
      by,
      action,
      channels: f.channels,
      launchTemplates: f.launchTemplates[region] ?? [],
      operationId,
    });

  const outcomes: RegionOutcome[] = [];
  if (op.operation === 'promote') {
    const buildId = await buildOf(deps.store, op.family, first, regions, op.target);
    for (const region of regions) {
      const entry = (await deps.store.get(op.family, region, first)).history.findLast((e) => e.buildId === buildId);
      if (entry === undefined) {
        outcomes.push({ region, status: 'skipped', reason: `build ${buildId} was not published to ${first} in ${region}` });
        continue;
      }
      outcomes.push(regionOutcome(await publish(region, entry.imageId, buildId, 'promote', op.by)));
    }
    if (!outcomes.some((o) => o.status === 'published')) {
      throw new ChannelOperationError(`build ${buildId} of ${op.family} was not published to ${first} in any region`);
    }
    return { operation: op.operation, family: op.family, channel: op.channel, buildId, regions: outcomes };
  }

  for (const region of regions) {
    const record = await deps.store.get(op.family, region, op.channel);
    const current = record.current;
    if (current?.action === 'rollback' && current.operationId === operationId) {
      // This rollback, retried: the region went back already; its image again completes the rest.
      outcomes.push(regionOutcome(await publish(region, current.imageId, current.buildId, 'rollback', op.by)));
      continue;
    }
    const previous = current?.previousImageId ?? null;
    if (previous === null) {
      outcomes.push({ region, status: 'skipped', reason: `${op.channel} has no previous image in ${region}` });
      continue;
    }
    const buildId = record.history.findLast((e) => e.imageId === previous)?.buildId ?? null;
    outcomes.push(regionOutcome(await publish(region, previous, buildId, 'rollback', op.by)));
  }
  return { operation: op.operation, family: op.family, channel: op.channel, buildId: null, regions: outcomes };
}
