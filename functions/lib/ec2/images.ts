import { CreateImageCommand, DescribeImagesCommand, RegisterImageCommand, type EC2Client, type Image, type Tag } from '@aws-sdk/client-ec2';
import type { BuildRequest, SnapshotsSource } from '../build-request.js';
import { TAG } from '../constants.js';
import { ImageFailedError, ImageNotVisibleYetError, UnexpectedResponseError, hasErrorName } from '../errors.js';
import { factoryTags, imageName, mergeTags } from '../naming.js';
import { EC2_ERROR } from '../error-codes.js';

export interface CreatedImage {
  imageId: string;
  imageName: string;
  /** false when an earlier attempt of the same build had already made it. */
  created: boolean;
}

/** The account's own image with this exact name, if EC2 shows it (deprecated and disabled included). */
export async function findOwnImageByName(ec2: EC2Client, name: string): Promise<Image | undefined> {
  const r = await ec2.send(
    new DescribeImagesCommand({
      Owners: ['self'],
      Filters: [{ Name: 'name', Values: [name] }],
      IncludeDeprecated: true,
      IncludeDisabled: true,
    }),
  );
  return (r.Images ?? []).find((i) => i.Name === name && i.State !== 'deregistered');
}

/** An image's tags as a map (EC2 returns a list of Key/Value pairs). */
export function imageTags(image: Image): Record<string, string> {
  return Object.fromEntries((image.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
}

/**
 * The account's images carrying a family's tag in the client's region, deprecated and disabled
 * ones included, in pages of 1,000; `managedOnly` also requires `ami-factory:managed=true`.
 */
export async function familyImages(ec2: EC2Client, family: string, opts: { managedOnly: boolean }): Promise<Image[]> {
  const filters = [{ Name: `tag:${TAG.family}`, Values: [family] }];
  if (opts.managedOnly) filters.push({ Name: `tag:${TAG.managed}`, Values: ['true'] });
  const out: Image[] = [];
  let NextToken: string | undefined;
  do {
    const page = await ec2.send(
      new DescribeImagesCommand({
        Owners: ['self'],
        Filters: filters,
        IncludeDeprecated: true,
        IncludeDisabled: true,
        MaxResults: 1000,
        NextToken,
      }),
    );
    out.push(...(page.Images ?? []));
    NextToken = page.NextToken;
  } while (NextToken);
  return out;
}

/** The tags of a build's image (and its snapshots): user tags, Name, then the factory tags. */
export function buildImageTags(request: BuildRequest, source: string, noReboot?: boolean): Tag[] {
  return mergeTags(
    Object.entries(request.tags).map(([Key, Value]) => ({ Key, Value })),
    [{ Key: 'Name', Value: imageName(request.family, request.requestedAt, request.buildId) }],
    factoryTags({
      family: request.family,
      buildId: request.buildId,
      source,
      createdAt: request.requestedAt,
      ...(noReboot === undefined ? {} : { noReboot }),
    }),
    [{ Key: TAG.preparation, Value: request.preparation }],
  );
}

/**
 * Makes the build's image once: its deterministic name is looked up first and an image made by
 * an earlier attempt of the same build is returned; otherwise `make` creates it under that name.
 * A concurrent attempt that wins the race surfaces as `InvalidAMIName.Duplicate`, resolved the
 * same way. CreateImage, RegisterImage (snapshots) and RegisterImage (bundle) all go through here.
 */
async function makeImageOnce(
  ec2: EC2Client,
  request: BuildRequest,
  make: (name: string) => Promise<string | undefined>,
): Promise<CreatedImage> {
  const name = imageName(request.family, request.requestedAt, request.buildId);
  const existing = await findOwnImageByName(ec2, name);
  if (existing !== undefined) return adopt(existing, request, name);
  try {
    const imageId = await make(name);
    if (imageId === undefined) throw new UnexpectedResponseError(`EC2 returned no ImageId for ${name}`);
    return { imageId, imageName: name, created: true };
  } catch (e) {
    if (!hasErrorName(e, EC2_ERROR.imageNameDuplicate)) throw e;
    const raced = await findOwnImageByName(ec2, name);
    if (raced === undefined) throw new ImageNotVisibleYetError(`Image ${name} exists but is not visible yet`, { cause: e });
    return adopt(raced, request, name);
  }
}

/** An image found under the build's name is the build's own (a retry), or the build fails. */
function adopt(image: Image, request: BuildRequest, name: string): CreatedImage {
  const owner = image.Tags?.find((t) => t.Key === TAG.buildId)?.Value;
  if (owner !== request.buildId) {
    throw new ImageFailedError(
      `An image named ${name} already exists (${image.ImageId}) but belongs to build ${owner ?? '(untagged)'}, not ${request.buildId}`,
    );
  }
  if (image.ImageId === undefined) throw new UnexpectedResponseError('DescribeImages returned an image without an id');
  return { imageId: image.ImageId, imageName: name, created: false };
}

function describe(request: BuildRequest): string {
  return request.description ?? `${request.family} image built by ami-factory (build ${request.buildId})`;
}

/**
 * CreateImage from an instance, idempotently (makeImageOnce). The image and its snapshots get
 * the factory tags at creation.
 */
export async function createImageFromInstance(
  ec2: EC2Client,
  request: BuildRequest,
  instanceId: string,
  noReboot: boolean,
  source: string = instanceId,
): Promise<CreatedImage> {
  const tags = buildImageTags(request, source, request.source.type === 'instance' ? noReboot : undefined);
  return makeImageOnce(ec2, request, async (name) => {
    const r = await ec2.send(
      new CreateImageCommand({
        InstanceId: instanceId,
        Name: name,
        Description: describe(request),
        NoReboot: noReboot,
        TagSpecifications: [
          { ResourceType: 'image', Tags: tags },
          { ResourceType: 'snapshot', Tags: tags },
        ],
      }),
    );
    return r.ImageId;
  });
}

/**
 * The build's image of an instance: an existing instance is imaged with the request's reboot
 * choice; a fresh build's builder has stopped itself, so it is imaged without a reboot, and its
 * base image (not the short-lived builder) is recorded as the image's source.
 */
export async function createBuildImage(
  ec2: EC2Client,
  request: BuildRequest,
  instanceId: string,
  baseImageId?: string,
): Promise<CreatedImage> {
  const noReboot = request.source.type === 'instance' ? request.source.noReboot : true;
  return createImageFromInstance(ec2, request, instanceId, noReboot, baseImageId ?? instanceId);
}

/** RegisterImage of an EBS-backed image from existing snapshots, idempotent by name like CreateImage. */
export async function registerImageFromSnapshots(ec2: EC2Client, request: BuildRequest, source: SnapshotsSource): Promise<CreatedImage> {
  const tags = buildImageTags(request, source.blockDeviceMappings.map((m) => m.snapshotId).join(','));
  return makeImageOnce(ec2, request, async (name) => {
    const r = await ec2.send(
      new RegisterImageCommand({
        Name: name,
        Description: describe(request),
        RootDeviceName: source.rootDeviceName,
        Architecture: source.architecture,
        VirtualizationType: 'hvm',
        EnaSupport: source.enaSupport,
        ...(source.sriovNetSupport ? { SriovNetSupport: 'simple' } : {}),
        ...(source.bootMode !== undefined ? { BootMode: source.bootMode } : {}),
        ...(source.tpmSupport !== undefined ? { TpmSupport: source.tpmSupport } : {}),
        ...(source.imdsSupport !== undefined ? { ImdsSupport: source.imdsSupport } : {}),
        BlockDeviceMappings: source.blockDeviceMappings.map((m) => ({
          DeviceName: m.deviceName,
          Ebs: {
            SnapshotId: m.snapshotId,
            DeleteOnTermination: m.deleteOnTermination,
            ...(m.volumeSize !== undefined ? { VolumeSize: m.volumeSize } : {}),
            ...(m.volumeType !== undefined ? { VolumeType: m.volumeType } : {}),
          },
        })),
        TagSpecifications: [{ ResourceType: 'image', Tags: tags }],
      }),
    );
    return r.ImageId;
  });
}

/**
 * RegisterImage of an instance-store image from a bundle in S3 (`bucket/prefix/name.manifest.xml`),
 * idempotent by name like CreateImage. Before registering, `checkBundle` checks the bundle as EC2
 * will (manifest and parts present with their sizes, readable by EC2, the signature when a
 * certificate is known); an image the build already registered is returned without a check.
 */
export async function registerImageFromBundle(
  ec2: EC2Client,
  request: BuildRequest,
  imageLocation: string,
  checkBundle: (imageLocation: string) => Promise<unknown>,
): Promise<CreatedImage> {
  const tags = buildImageTags(request, imageLocation);
  return makeImageOnce(ec2, request, async (name) => {
    await checkBundle(imageLocation);
    const r = await ec2.send(
      new RegisterImageCommand({
        Name: name,
        ImageLocation: imageLocation,
        ...(request.source.type === 'bundle' && request.source.architecture !== undefined
          ? { Architecture: request.source.architecture }
          : {}),
        Description: describe(request),
        TagSpecifications: [{ ResourceType: 'image', Tags: tags }],
      }),
    );
    return r.ImageId;
  });
}

/**
 * The first step of a build: the image under the build's deterministic name, if an earlier run
 * made it (a re-driven build resumes from it). An image of that name from another build is
 * ImageFailedError: the build cannot make its image.
 */
export async function findBuildImage(
  ec2: EC2Client,
  request: BuildRequest,
): Promise<{ imageName: string; imageId: string | null; state: string | null }> {
  const name = imageName(request.family, request.requestedAt, request.buildId);
  const existing = await findOwnImageByName(ec2, name);
  if (existing === undefined) return { imageName: name, imageId: null, state: null };
  const owner = existing.Tags?.find((t) => t.Key === TAG.buildId)?.Value;
  if (owner !== request.buildId) {
    throw new ImageFailedError(`An image named ${name} already exists (${existing.ImageId}) and belongs to another build`);
  }
  return { imageName: name, imageId: existing.ImageId ?? null, state: existing.State ?? null };
}

export interface ImageStatus {
  imageId: string;
  /** EC2's state; `pending` also while a just-created id is not visible yet. */
  state: string;
  visible: boolean;
  stateReason?: string;
  name?: string;
  snapshotIds?: string[];
  encrypted?: boolean;
}

const KNOWN_STATES = new Set(['pending', 'available', 'invalid', 'deregistered', 'transient', 'failed', 'error', 'disabled']);
/** Image states from which EC2 will not make the image available. */
export const UNUSABLE_STATES = new Set(['failed', 'error', 'invalid', 'deregistered', 'disabled']);

/** One DescribeImages of the image; an id not visible yet (eventual consistency) reads as pending. */
export async function imageStatus(ec2: EC2Client, imageId: string): Promise<ImageStatus> {
  const statuses = await imageStatuses(ec2, [imageId]);
  return statuses.get(imageId) ?? { imageId, state: 'pending', visible: false };
}

/** DescribeImages for many ids at once (the sweeper); ids EC2 does not know read as not visible. */
export async function imageStatuses(ec2: EC2Client, imageIds: string[]): Promise<Map<string, ImageStatus>> {
  const out = new Map<string, ImageStatus>();
  if (imageIds.length === 0) return out;
  let images: Image[];
  try {
    const r = await ec2.send(new DescribeImagesCommand({ ImageIds: imageIds, IncludeDeprecated: true, IncludeDisabled: true }));
    images = r.Images ?? [];
  } catch (e) {
    if (!hasErrorName(e, EC2_ERROR.imageNotFound)) throw e;
    // One unknown id fails the whole call: ask one by one so the others still get an answer.
    if (imageIds.length > 1) {
      for (const id of imageIds) {
        const one = await imageStatuses(ec2, [id]);
        for (const [k, v] of one) out.set(k, v);
      }
    }
    return out;
  }
  for (const image of images) {
    if (image.ImageId === undefined) continue;
    const state = image.State ?? 'unknown';
    if (!KNOWN_STATES.has(state))
      throw new UnexpectedResponseError(`DescribeImages returned unknown state "${state}" for ${image.ImageId}`);
    const status: ImageStatus = { imageId: image.ImageId, state, visible: true };
    const reason = image.StateReason?.Message ?? image.StateReason?.Code;
    if (reason !== undefined) status.stateReason = reason;
    if (image.Name !== undefined) status.name = image.Name;
    const snaps = (image.BlockDeviceMappings ?? []).flatMap((b) => (b.Ebs?.SnapshotId !== undefined ? [b.Ebs.SnapshotId] : []));
    status.snapshotIds = snaps;
    status.encrypted = (image.BlockDeviceMappings ?? []).some((b) => b.Ebs?.Encrypted === true);
    out.set(image.ImageId, status);
  }
  return out;
}
