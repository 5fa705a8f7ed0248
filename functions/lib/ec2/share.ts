import { now as currentTime } from '../clock.js';
import {
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  DescribeSnapshotAttributeCommand,
  EnableImageDeprecationCommand,
  GetImageBlockPublicAccessStateCommand,
  ModifyImageAttributeCommand,
  ModifySnapshotAttributeCommand,
  type EC2Client,
  type LaunchPermission,
} from '@aws-sdk/client-ec2';
import type { Sharing } from '../build-request.js';
import { AWS_LIMITS } from '../constants.js';
import { FactoryError, UnexpectedResponseError } from '../errors.js';

/** Public sharing was asked for but is not allowed (encrypted snapshots, block public access). */
export class PublicSharingRefusedError extends FactoryError {
  override name = 'PublicSharingRefusedError';
}
/** The sharing would exceed EC2's 1,000-entity limit per image. */
export class ShareLimitExceededError extends FactoryError {
  override name = 'ShareLimitExceededError';
}

/** The state of block public access for AMIs that refuses new public sharing (aws-facts.md, "Sharing"). */
export const BLOCK_NEW_SHARING = 'block-new-sharing';

/** The region's block public access state for AMIs: `block-new-sharing` or `unblocked`. */
export async function imageBlockPublicAccessState(ec2: EC2Client): Promise<string | undefined> {
  return (await ec2.send(new GetImageBlockPublicAccessStateCommand({}))).ImageBlockPublicAccessState;
}

export interface ShareResult {
  /** Launch permissions added by this call (empty on a re-run). */
  added: { userIds: string[]; organizationArns: string[]; organizationalUnitArns: string[]; public: boolean };
  /** Snapshots that got createVolumePermission for the accounts by this call. */
  snapshotPermissionsAdded: string[];
  /** Launch permissions present on the image that the config does not list (reported, left alone). */
  unmanaged: string[];
}

/**
 * Applies the family's sharing to one image as a difference against DescribeImageAttribute:
 * only missing permissions are added, so a re-run changes nothing. Public sharing is checked
 * first: refused when the image has an encrypted snapshot or the region blocks public AMI
 * sharing. Snapshot createVolumePermission follows for the accounts.
 */
export async function applySharing(ec2: EC2Client, imageId: string, sharing: Sharing): Promise<ShareResult> {
  const image = (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId], IncludeDeprecated: true }))).Images?.[0];
  if (image === undefined) throw new UnexpectedResponseError(`DescribeImages did not return ${imageId}`);
  const snapshots = (image.BlockDeviceMappings ?? []).flatMap((b) => (b.Ebs?.SnapshotId ? [b.Ebs.SnapshotId] : []));
  const encrypted = (image.BlockDeviceMappings ?? []).some((b) => b.Ebs?.Encrypted === true);

  if (sharing.public) {
    if (encrypted) throw new PublicSharingRefusedError(`${imageId} has encrypted snapshots; EC2 cannot make it public`);
    if ((await imageBlockPublicAccessState(ec2)) === BLOCK_NEW_SHARING) {
      throw new PublicSharingRefusedError(
        `Block public access for AMIs is on in this region (block-new-sharing); ${imageId} cannot be made public`,
      );
    }
  }

  const current =
    (await ec2.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'launchPermission' }))).LaunchPermissions ?? [];
  const has = (p: (lp: LaunchPermission) => boolean): boolean => current.some(p);
  const add: LaunchPermission[] = [];
  const added: ShareResult['added'] = { userIds: [], organizationArns: [], organizationalUnitArns: [], public: false };
  for (const id of sharing.accounts)
    if (!has((lp) => lp.UserId === id)) {
      add.push({ UserId: id });
      added.userIds.push(id);
    }
  for (const arn of sharing.organizationArns)
    if (!has((lp) => lp.OrganizationArn === arn)) {
      add.push({ OrganizationArn: arn });
      added.organizationArns.push(arn);
    }
  for (const arn of sharing.organizationalUnitArns)
    if (!has((lp) => lp.OrganizationalUnitArn === arn)) {
      add.push({ OrganizationalUnitArn: arn });
      added.organizationalUnitArns.push(arn);
    }
  if (sharing.public && !has((lp) => lp.Group === 'all')) {
    add.push({ Group: 'all' });
    added.public = true;
  }
  const wanted = new Set<string>([...sharing.accounts, ...sharing.organizationArns, ...sharing.organizationalUnitArns]);
  const unmanaged = current
    .map((lp) => lp.UserId ?? lp.OrganizationArn ?? lp.OrganizationalUnitArn ?? (lp.Group === 'all' ? 'public' : ''))
    .filter((k) => k !== '' && !wanted.has(k) && !(k === 'public' && sharing.public));
  const entities = current.filter((lp) => lp.Group !== 'all').length + add.filter((lp) => lp.Group !== 'all').length;
  if (entities > AWS_LIMITS.maxShareEntities) {
    throw new ShareLimitExceededError(`${imageId} would be shared with ${entities} entities; EC2 allows ${AWS_LIMITS.maxShareEntities}`);
  }
  if (add.length > 0) {
    await ec2.send(new ModifyImageAttributeCommand({ ImageId: imageId, LaunchPermission: { Add: add } }));
  }

  const snapshotPermissionsAdded: string[] = [];
  if (sharing.snapshotVolumePermission && sharing.accounts.length > 0) {
    for (const snap of snapshots) {
      const attr = await ec2.send(new DescribeSnapshotAttributeCommand({ SnapshotId: snap, Attribute: 'createVolumePermission' }));
      const have = new Set((attr.CreateVolumePermissions ?? []).map((p) => p.UserId));
      const missing = sharing.accounts.filter((a) => !have.has(a));
      if (missing.length === 0) continue;
      await ec2.send(
        new ModifySnapshotAttributeCommand({
          SnapshotId: snap,
          Attribute: 'createVolumePermission',
          OperationType: 'add',
          UserIds: missing,
        }),
      );
      snapshotPermissionsAdded.push(snap);
    }
  }
  return { added, snapshotPermissionsAdded, unmanaged };
}

/**
 * The deprecation time of a build's images: requestedAt + days, rounded up to the minute
 * (EC2 rounds to the minute), never in the past, at most 10 years ahead (aws-facts.md).
 */
export function deprecationTime(requestedAt: string, days: number, now: Date = currentTime()): Date {
  const minute = 60_000;
  const wanted = Date.parse(requestedAt) + days * 86_400_000;
  const earliest = Math.ceil((now.getTime() + minute) / minute) * minute;
  const latest = now.getTime() + AWS_LIMITS.maxDeprecationYears * 365 * 86_400_000;
  const t = Math.min(Math.max(Math.ceil(wanted / minute) * minute, earliest), Math.floor(latest / minute) * minute);
  return new Date(t);
}

export async function setDeprecation(ec2: EC2Client, imageId: string, at: Date): Promise<void> {
  await ec2.send(new EnableImageDeprecationCommand({ ImageId: imageId, DeprecateAt: at }));
}
