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
 * CreateImage from an instance, idempotently: the deterministic name is looked up first and
 * an image made by an earlier attempt of the same build is returned; a concurrent attempt
 * that wins the race surfaces as `InvalidAMIName.Duplicate`, resolved the same way. The
 * image and its snapshots get the factory tags at creation.
 */
export async function createImageFromInstance(
  ec2: EC2Client,
  request: BuildRequest,
  instanceId: string,
  noReboot: boolean,
  source: string = instanceId,
): Promise<CreatedImage> {
  const name = imageName(request.family, request.requestedAt, request.buildId);
  const existing = await findOwnImageByName(ec2, name);
  if (existing !== undefined) return adopt(existing, request, name);
  const tags = buildImageTags(request, source, request.source.type === 'instance' ? noReboot : undefined);
  return createOrAdopt(ec2, request, name, async () => {
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

/** RegisterImage of an EBS-backed image from existing snapshots, idempotent by name like CreateImage. */
export async function registerImageFromSnapshots(ec2: EC2Client, request: BuildRequest, source: SnapshotsSource): Promise<CreatedImage> {
  const name = imageName(request.family, request.requestedAt, request.buildId);
  const existing = await findOwnImageByName(ec2, name);
  if (existing !== undefined) return adopt(existing, request, name);
  const tags = buildImageTags(request, source.blockDeviceMappings.map((m) => m.snapshotId).join(','));
  return createOrAdopt(ec2, request, name, async () => {
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

function describe(request: BuildRequest): string {
  return request.description ?? `${request.family} image built by ami-factory (build ${request.buildId})`;
}

async function createOrAdopt(
  ec2: EC2Client,
  request: BuildRequest,
  name: string,
  create: () => Promise<string | undefined>,
): Promise<CreatedImage> {
  try {
    const imageId = await create();
    if (imageId === undefined) throw new UnexpectedResponseError(`EC2 returned no ImageId for ${name}`);
    return { imageId, imageName: name, created: true };
  } catch (e) {
    if (!hasErrorName(e, EC2_ERROR.imageNameDuplicate)) throw e;
    const raced = await findOwnImageByName(ec2, name);
    if (raced === undefined) throw new ImageNotVisibleYetError(`Image ${name} exists but is not visible yet`, { cause: e });
    return adopt(raced, request, name);
  }
}

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
