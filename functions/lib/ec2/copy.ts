import {
  CopyImageCommand,
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  type EC2Client,
  type Image,
} from '@aws-sdk/client-ec2';
import { createHash } from 'node:crypto';
import type { BuildRequest, CopyTarget } from '../build-request.js';
import { TAG } from '../constants.js';
import { UnexpectedResponseError, hasErrorName } from '../errors.js';
import { imageName } from '../naming.js';
import { buildImageTags, findOwnImageByName, imageTags } from './images.js';
import { EC2_ERROR } from '../error-codes.js';

/**
 * CopyImage's idempotency token for (build, destination region): a re-run never makes a second
 * copy. A distribution run adds its run id: EC2 answers a repeated token with the image it made
 * then, so a copy cleaned up after a failure could never be made again under the build's token.
 */
export function copyClientToken(buildId: string, region: string, runId?: string): string {
  const key = runId === undefined ? `copy|${buildId}|${region}` : `copy|${buildId}|${region}|${runId}`;
  return createHash('sha256').update(key).digest('hex').slice(0, 64);
}

export interface CopiedImage {
  region: string;
  imageId: string;
  imageName: string;
  created: boolean;
}

/**
 * Copies the build's image into `target.region` (the client must be of that region). The
 * copy keeps the name, gets the user tags (CopyImageTags) and the factory tags on the image
 * and its snapshots, and is encrypted with the region's KMS key when one is configured.
 * An existing copy (same name, same build, copied from this source image) is returned instead
 * of copying again: a re-driven build or a distribution run adopts the copy an earlier run made.
 */
export async function copyImageToRegion(
  dest: EC2Client,
  request: BuildRequest,
  sourceImageId: string,
  target: CopyTarget,
): Promise<CopiedImage> {
  const name = imageName(request.family, request.requestedAt, request.buildId);
  const existing = await findOwnImageByName(dest, name);
  if (existing?.ImageId !== undefined) {
    const tags = imageTags(existing);
    if (tags[TAG.buildId] === request.buildId && tags[TAG.source] === sourceImageId) {
      return { region: target.region, imageId: existing.ImageId, imageName: name, created: false };
    }
  }
  const tags = [...buildImageTags(request, sourceImageId), { Key: TAG.copiedFrom, Value: request.region }];
  const r = await dest.send(
    new CopyImageCommand({
      SourceImageId: sourceImageId,
      SourceRegion: request.region,
      Name: name,
      Description: request.description ?? `${request.family} image built by ami-factory (build ${request.buildId})`,
      ClientToken: copyClientToken(request.buildId, target.region, request.distribute?.runId),
      CopyImageTags: true,
      ...(target.kmsKeyId !== undefined ? { Encrypted: true, KmsKeyId: target.kmsKeyId } : {}),
      TagSpecifications: [
        { ResourceType: 'image', Tags: tags },
        { ResourceType: 'snapshot', Tags: tags },
      ],
    }),
  );
  if (r.ImageId === undefined) throw new UnexpectedResponseError('CopyImage returned no ImageId');
  return { region: target.region, imageId: r.ImageId, imageName: name, created: true };
}

export interface CleanupResult {
  deregistered: string[];
  deletedSnapshots: string[];
  /** Images found but left alone because they are not this build's managed images. */
  skipped: string[];
}

/**
 * Removes what a failed build left in a region: its images (found by the deterministic name
 * or by id) are deregistered and their snapshots deleted, but only images tagged managed and
 * with this build's id — anything else is reported, never touched.
 */
export async function cleanupBuildImages(ec2: EC2Client, request: BuildRequest, imageIds: string[] = []): Promise<CleanupResult> {
  const name = imageName(request.family, request.requestedAt, request.buildId);
  const found = new Map<string, Image>();
  const byName = await ec2.send(
    new DescribeImagesCommand({
      Owners: ['self'],
      Filters: [{ Name: 'name', Values: [name] }],
      IncludeDeprecated: true,
      IncludeDisabled: true,
    }),
  );
  for (const i of byName.Images ?? []) if (i.ImageId) found.set(i.ImageId, i);
  for (const id of imageIds.filter((i) => !found.has(i))) {
    try {
      const r = await ec2.send(new DescribeImagesCommand({ ImageIds: [id], IncludeDeprecated: true, IncludeDisabled: true }));
      for (const i of r.Images ?? []) if (i.ImageId) found.set(i.ImageId, i);
    } catch (e) {
      if (!hasErrorName(e, EC2_ERROR.imageNotFound)) throw e;
    }
  }
  const result: CleanupResult = { deregistered: [], deletedSnapshots: [], skipped: [] };
  for (const image of found.values()) {
    const tags = imageTags(image);
    const id = image.ImageId as string;
    if (tags[TAG.managed] !== 'true' || tags[TAG.buildId] !== request.buildId) {
      result.skipped.push(id);
      continue;
    }
    const snapshots = (image.BlockDeviceMappings ?? []).flatMap((b) => (b.Ebs?.SnapshotId ? [b.Ebs.SnapshotId] : []));
    if (image.State !== 'deregistered') {
      try {
        await ec2.send(new DeregisterImageCommand({ ImageId: id }));
      } catch (e) {
        if (!hasErrorName(e, EC2_ERROR.imageNotFound, EC2_ERROR.imageUnavailable)) throw e;
      }
      result.deregistered.push(id);
    }
    for (const snap of snapshots) {
      try {
        await ec2.send(new DeleteSnapshotCommand({ SnapshotId: snap }));
        result.deletedSnapshots.push(snap);
      } catch (e) {
        // Gone already, or still used by another image: either way it is not ours to force.
        if (!hasErrorName(e, EC2_ERROR.snapshotNotFound, EC2_ERROR.snapshotInUse)) throw e;
      }
    }
  }
  return result;
}
