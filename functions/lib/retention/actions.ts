import {
  DeregisterImageCommand,
  DescribeImagesCommand,
  DescribeSnapshotsCommand,
  DisableImageCommand,
  EnableImageDeprecationCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { hasErrorName } from '../errors.js';
import { EC2_ERROR } from '../error-codes.js';

/**
 * The retention actions on one image. Each is idempotent (a retried step finds the image
 * already in the target state) and never decides anything: the plan (plan.ts) and the
 * in-use re-check (apply.ts) do. Pacing is the client's (pacer.ts, pacedEc2Client).
 */
export async function deprecateImage(ec2: EC2Client, imageId: string, at: Date): Promise<void> {
  await ec2.send(new EnableImageDeprecationCommand({ ImageId: imageId, DeprecateAt: at }));
}

/** DisableImage (reversible with EnableImage); an image already disabled is left as it is. */
export async function disableImage(ec2: EC2Client, imageId: string, state: string): Promise<'disabled' | 'already-disabled'> {
  if (state === 'disabled') return 'already-disabled';
  // EC2 answers success for an image that is already disabled (a retried step).
  await ec2.send(new DisableImageCommand({ ImageId: imageId }));
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
export async function deregisterImage(ec2: EC2Client, imageId: string): Promise<DeregisterResult> {
  let r;
  try {
    r = await ec2.send(new DeregisterImageCommand({ ImageId: imageId, DeleteAssociatedSnapshots: true }));
  } catch (e) {
    if (hasErrorName(e, EC2_ERROR.imageNotFound, EC2_ERROR.imageUnavailable))
      return { outcome: 'already-gone', deletedSnapshots: [], keptSnapshots: [] };
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

/** Of these snapshot ids, the ones that still exist (one filtered Describe per 200 ids). */
export async function snapshotsStillPresent(ec2: EC2Client, snapshotIds: string[]): Promise<string[]> {
  const present: string[] = [];
  for (let i = 0; i < snapshotIds.length; i += 200) {
    let NextToken: string | undefined;
    do {
      const page = await ec2.send(
        new DescribeSnapshotsCommand({
          OwnerIds: ['self'],
          Filters: [{ Name: 'snapshot-id', Values: snapshotIds.slice(i, i + 200) }],
          MaxResults: 1000,
          NextToken,
        }),
      );
      for (const s of page.Snapshots ?? []) if (s.SnapshotId !== undefined && s.State !== 'error') present.push(s.SnapshotId);
      NextToken = page.NextToken;
    } while (NextToken);
  }
  return present;
}

/** Images of this account, other than `exceptImageId`, registered from the same bundle manifest. */
export async function otherImagesOfBundle(ec2: EC2Client, imageLocation: string, exceptImageId: string): Promise<string[]> {
  const r = await ec2.send(
    new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'manifest-location', Values: [imageLocation] }] }),
  );
  return (r.Images ?? []).filter((i) => i.ImageId !== exceptImageId && i.State !== 'deregistered').map((i) => i.ImageId ?? '?');
}
