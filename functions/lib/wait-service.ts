import type { EC2Client } from '@aws-sdk/client-ec2';
import type { SFNClient } from '@aws-sdk/client-sfn';
import * as z from 'zod';
import { BuildIdSchema, RegionSchema } from './build-request.js';
import { clock } from './clock.js';
import { describeInstance } from './ec2/builder.js';
import { eventsSchema, type EventOf } from './events/schemas.js';
import { imageStatus, imageStatuses } from './ec2/images.js';
import { builderOutcome, imageOutcome, testOutcome } from './wait-outcome.js';
import { completeWait, heartbeatWait, type WaitOutcome, type WaitRecord, type WaitRecords } from './waits.js';
import { BuildTimeoutError, ImageTestTimeoutError, ImageWaitTimeoutError, errorNameOf } from './errors.js';

export interface WaitDeps {
  store: WaitRecords;
  sfn: SFNClient;
  ec2: (region: string) => EC2Client;
}

/** Looks once at the resource a wait is for. */
export async function checkWait(deps: WaitDeps, rec: WaitRecord): Promise<WaitOutcome> {
  const ec2 = deps.ec2(rec.region);
  if (rec.kind === 'image') return imageOutcome(await imageStatus(ec2, rec.resourceId));
  if (rec.kind === 'test') return testOutcome(rec.resourceId, await describeInstance(ec2, rec.resourceId), rec.signal ?? 'stopped');
  return builderOutcome(rec.resourceId, await describeInstance(ec2, rec.resourceId), rec.signal ?? 'stopped');
}

/** What a `.waitForTaskToken` state hands register-wait. */
export const WaitRequestSchema = z.lazy(() =>
  z
    .object({
      token: z.string().min(1).max(4096),
      kind: z.enum(['image', 'builder', 'test']),
      region: RegionSchema,
      resourceId: z.string().regex(/^(ami|i)-[0-9a-f]{8,17}$/, 'must be an image or instance id'),
      buildId: BuildIdSchema,
      /** How the instance says it is done; a test's `report: stop` is the `stopped` signal. */
      signal: z
        .enum(['stopped', 'stop', 'tag'])
        .transform((v) => (v === 'stop' ? 'stopped' : v))
        .optional(),
      /** How long the resource may take before the wait fails (enforced by the sweeper). */
      timeoutSeconds: z.number().int().min(60).max(172800),
    })
    .strict(),
);
export type WaitRequest = z.infer<typeof WaitRequestSchema>;

/** The record of a wait registered now (the factory clock): its deadline is `timeoutSeconds` ahead. */
export function newWaitRecord(request: WaitRequest, sfnRegion: string, nowMs: number = clock().now()): WaitRecord {
  const { timeoutSeconds, ...rest } = request;
  return {
    ...rest,
    sfnRegion,
    registeredAt: new Date(nowMs).toISOString(),
    deadline: new Date(nowMs + timeoutSeconds * 1000).toISOString(),
  };
}

/** Records the wait, then checks once: a resource already done completes the token at once. */
export async function registerWait(deps: WaitDeps, rec: WaitRecord): Promise<'sent' | 'stale' | 'pending'> {
  await deps.store.put(rec);
  return completeWait(deps.sfn, deps.store, rec, await checkWait(deps, rec));
}

/** An EC2 state-change event for a resource: complete every wait recorded for it. */
export async function completeWaitsFor(deps: WaitDeps, kind: WaitRecord['kind'], region: string, resourceId: string): Promise<number> {
  const records = await deps.store.list({ kind, region, resourceId });
  let completed = 0;
  for (const rec of records) {
    // The event carries no details (and may be stale): look at the resource itself.
    if ((await completeWait(deps.sfn, deps.store, rec, await checkWait(deps, rec))) !== 'pending') completed++;
  }
  return completed;
}

/** The EC2 events that can end a wait: an image's state change, an instance's (a builder stopping). */
export const Ec2StateChangeEventSchema = eventsSchema('EC2 AMI State Change', 'EC2 Instance State-change Notification');
export type Ec2StateChangeEvent = EventOf<'EC2 AMI State Change' | 'EC2 Instance State-change Notification'>;

/** An EC2 state-change event: complete the waits of the image or instance (builder or test instance) it is about. */
export async function completeWaitsForEvent(deps: WaitDeps, event: Ec2StateChangeEvent): Promise<number> {
  if (event['detail-type'] === 'EC2 AMI State Change') return completeWaitsFor(deps, 'image', event.region, event.detail.ImageId);
  const instanceId = event.detail['instance-id'];
  return (
    (await completeWaitsFor(deps, 'builder', event.region, instanceId)) + (await completeWaitsFor(deps, 'test', event.region, instanceId))
  );
}

const TIMEOUT = {
  image: { what: 'Image', error: errorNameOf(ImageWaitTimeoutError) },
  builder: { what: 'Builder', error: errorNameOf(BuildTimeoutError) },
  test: { what: 'Test instance', error: errorNameOf(ImageTestTimeoutError) },
} as const;

function timedOut(rec: WaitRecord): WaitOutcome {
  const { what: kind, error } = TIMEOUT[rec.kind];
  const what = `${kind} ${rec.resourceId}`;
  return {
    done: true,
    success: false,
    error,
    cause: `${what} in ${rec.region} was not done by ${rec.deadline}`,
  };
}

export interface SweepResult {
  checked: number;
  completed: number;
  heartbeats: number;
  stale: number;
}

/**
 * The poll fallback: every recorded wait is checked (images in batches of 100 ids per
 * DescribeImages), done ones are completed, pending ones get a heartbeat.
 */
export async function sweepWaits(deps: WaitDeps): Promise<SweepResult> {
  const result: SweepResult = { checked: 0, completed: 0, heartbeats: 0, stale: 0 };
  const records = await deps.store.list();
  const images = records.filter((r) => r.kind === 'image');
  const byRegion = new Map<string, WaitRecord[]>();
  for (const r of images) byRegion.set(r.region, [...(byRegion.get(r.region) ?? []), r]);
  const outcomes = new Map<WaitRecord, WaitOutcome>();
  for (const [region, recs] of byRegion) {
    const ids = [...new Set(recs.map((r) => r.resourceId))];
    for (let i = 0; i < ids.length; i += 100) {
      const statuses = await imageStatuses(deps.ec2(region), ids.slice(i, i + 100));
      for (const rec of recs) {
        const st = statuses.get(rec.resourceId);
        if (st !== undefined) outcomes.set(rec, imageOutcome(st));
      }
    }
  }
  for (const rec of records.filter((r) => r.kind !== 'image')) outcomes.set(rec, await checkWait(deps, rec));
  const now = clock().now();
  for (const rec of records) {
    result.checked++;
    let outcome = outcomes.get(rec) ?? { done: false };
    if (!outcome.done && Date.parse(rec.deadline) <= now) outcome = timedOut(rec);
    const sent = await completeWait(deps.sfn, deps.store, rec, outcome);
    if (sent === 'sent') result.completed++;
    else if (sent === 'stale') result.stale++;
    else if ((await heartbeatWait(deps.sfn, deps.store, rec)) === 'alive') result.heartbeats++;
    else result.stale++;
  }
  return result;
}
