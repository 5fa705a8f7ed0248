import {
  DeregisterImageCommand,
  DisableImageCommand,
  EnableImageDeprecationCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { hasErrorName } from '../errors.js';
import type { TokenBucket } from './pacer.js';

/**
 * The retention actions on one image, each paced by the client-side token bucket of its
 * action class and idempotent (a retried step finds the image already in the target state).
 * They never decide anything: the plan (plan.ts) and the in-use re-check do.
 */
export interface Buckets {
  mutating: TokenBucket;
  deregister: TokenBucket;
}

const MAX_THROTTLE_RETRIES = 5;

/** One paced call; on RequestLimitExceeded the bucket is drained and the call retried. */
export async function paced<T>(bucket: TokenBucket, call: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    await bucket.take();
    try {
      return await call();
    } catch (e) {
      if (!hasErrorName(e, 'RequestLimitExceeded') || attempt >= MAX_THROTTLE_RETRIES) throw e;
      bucket.drain();
    }
  }
}

export async function deprecateImage(ec2: EC2Client, buckets: Buckets, imageId: string, at: Date): Promise<void> {
  await paced(buckets.mutating, () => ec2.send(new EnableImageDeprecationCommand({ ImageId: imageId, DeprecateAt: at })));
}

/** DisableImage (reversible with EnableImage); an image already disabled is left as it is. */
export async function disableImage(ec2: EC2Client, buckets: Buckets, imageId: string, state: string): Promise<'disabled' | 'already-disabled'> {
  if (state === 'disabled') return 'already-disabled';
  await paced(buckets.mutating, () => ec2.send(new DisableImageCommand({ ImageId: imageId })));
  return 'disabled';
}

export interface DeregisterResult {
  outcome: 'deregistered' | 'already-gone';
  deletedSnapshots: string[];
  /** Snapshots EC2 kept (used by another image) or could not delete, with the reason. */
  keptSnapshots: { snapshotId: string; reason: string }[];
}

/**
 * DeregisterImage with DeleteAssociatedSnapshots: EC2 deletes the image's snapshots in the
 * same call unless another image uses them; the per-snapshot result codes are reported.
 */
export async function deregisterImage(ec2: EC2Client, buckets: Buckets, imageId: string): Promise<DeregisterResult> {
  let r;
  try {
    r = await paced(buckets.deregister, () => ec2.send(new DeregisterImageCommand({ ImageId: imageId, DeleteAssociatedSnapshots: true })));
  } catch (e) {
    if (hasErrorName(e, 'InvalidAMIID.NotFound', 'InvalidAMIID.Unavailable')) return { outcome: 'already-gone', deletedSnapshots: [], keptSnapshots: [] };
    throw e;
  }
  const deleted: string[] = [];
  const kept: { snapshotId: string; reason: string }[] = [];
  for (const s of r.DeleteSnapshotResults ?? []) {
    if (s.SnapshotId === undefined) continue;
    if (s.ReturnCode === 'success') deleted.push(s.SnapshotId);
    else kept.push({ snapshotId: s.SnapshotId, reason: s.ReturnCode === 'skipped' ? 'used by another image' : String(s.ReturnCode) });
  }
  return { outcome: 'deregistered', deletedSnapshots: deleted, keptSnapshots: kept };
}
