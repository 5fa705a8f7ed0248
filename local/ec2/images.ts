import { randomUUID } from 'node:crypto';
import {
  addTags,
  checkImageId,
  getInstance,
  imageAccessible,
  imageNotFound,
  imageVisible,
  isAccountId,
  maxResults,
  paginate,
  parseTagSpecifications,
  sortKey,
  type ActionContext,
  type ActionHandler,
} from './context.js';
import { Ec2ApiError, invalidValue } from './errors.js';
import { applyFilters, parseFilters, type FilterSpec } from './filters.js';
import {
  AMAZON_ACCOUNT_ID,
  isoMs,
  LOCAL_ACCOUNT_ID,
  newId,
  type BlockDeviceRecord,
  type ImageRecord,
  type RegionState,
  type SnapshotRecord,
  type TagMap,
} from './model.js';
import { imageIsPublic, imageXml } from './render.js';

/** AMI names: 3–128 characters of letters, digits, ( ) [ ] space . / - ' @ _ (EC2 CreateImage `Name`). */
const IMAGE_NAME = /^[A-Za-z0-9()[\] ./\-'@_]{3,128}$/;

export function checkImageName(name: string): void {
  if (!IMAGE_NAME.test(name)) {
    throw new Ec2ApiError(
      'InvalidAMIName.Malformed',
      `AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/' and '_'`,
    );
  }
}

/** Names are unique per account and region among images that are not deregistered. */
export function checkNameFree(rs: RegionState, name: string): void {
  const clash = Object.values(rs.images).find((i) => i.ownerId === LOCAL_ACCOUNT_ID && i.name === name && i.state !== 'deregistered');
  if (clash !== undefined) {
    throw new Ec2ApiError('InvalidAMIName.Duplicate', `AMI name ${name} is already in use by AMI ${clash.imageId}`);
  }
}

export function checkImageQuota(ctx: ActionContext): void {
  const count = Object.values(ctx.rs.images).filter(
    (i) => i.ownerId === LOCAL_ACCOUNT_ID && (i.state === 'available' || i.state === 'pending'),
  ).length;
  if (count >= ctx.quotas.imagesPerRegion) {
    throw new Ec2ApiError('ResourceLimitExceeded', `You have reached the limit of ${ctx.quotas.imagesPerRegion} AMIs in ${ctx.region}`);
  }
}

/** Fields every new image of this account starts with. */
export function newImage(
  ctx: ActionContext,
  fields: Pick<ImageRecord, 'name' | 'kind' | 'architecture' | 'rootDeviceType' | 'rootDeviceName'> & Partial<ImageRecord>,
): ImageRecord {
  const image: ImageRecord = {
    imageId: newId('ami'),
    ownerId: LOCAL_ACCOUNT_ID,
    state: 'pending',
    createdMs: ctx.now,
    imageType: 'machine',
    platformDetails: 'Linux/UNIX',
    usageOperation: 'RunInstances',
    virtualizationType: 'hvm',
    hypervisor: 'xen',
    enaSupport: true,
    blockDeviceMappings: [],
    launchPermissions: [],
    tags: {},
    deregistrationProtection: 'disabled',
    requestId: ctx.requestId,
    ...fields,
  };
  const window = ctx.faults.notFoundWindowMs;
  if (window !== undefined && window > 0) image.visibleFromMs = ctx.now + window;
  return image;
}

// ---- CreateImage -------------------------------------------------------------------------------

/** How long each step of CreateImage's reboot takes (simulated): stopping, stopped, pending, running. */
const REBOOT_STEP_MS = 15_000;

export const createImage: ActionHandler = (ctx) => {
  const { p, rs } = ctx;
  const instanceId = p.required('InstanceId');
  const name = p.required('Name');
  const inst = getInstance(ctx, instanceId);
  checkImageName(name);
  const description = p.str('Description');
  if (description !== undefined && description.length > 255) throw invalidValue('Description must be at most 255 characters');
  const state = ctx.world.instanceState(inst, ctx.now);
  if (!['pending', 'running', 'stopping', 'stopped'].includes(state)) {
    throw new Ec2ApiError(
      'IncorrectInstanceState',
      `The instance '${instanceId}' is not in a state from which it can be imaged (${state})`,
    );
  }
  const tagSpecs = parseTagSpecifications(p, ['image', 'snapshot']);
  checkNameFree(rs, name);
  checkImageQuota(ctx);
  const noReboot = p.bool('NoReboot') ?? false;

  // Without NoReboot a running instance is shut down, snapshotted when stopped, and restarted.
  let snapshotAt = ctx.now;
  if (!noReboot && state === 'running') {
    snapshotAt = ctx.world.reboot(inst, [
      { state: 'stopping', afterMs: 0 },
      { state: 'stopped', afterMs: REBOOT_STEP_MS },
      { state: 'pending', afterMs: REBOOT_STEP_MS },
      { state: 'running', afterMs: REBOOT_STEP_MS },
    ]);
  }
  const availableAt = Math.max(ctx.now + ctx.durations.imageAvailableAfterMs, snapshotAt + 1);
  const overrides = new Map(p.list('BlockDeviceMapping').map((b) => [b.required('DeviceName'), b]));
  const image = newImage(ctx, {
    name,
    kind: 'create',
    architecture: inst.architecture,
    rootDeviceType: 'ebs',
    rootDeviceName: inst.rootDeviceName,
    sourceInstanceId: inst.instanceId,
    availableAtMs: availableAt,
    ...(description !== undefined ? { description } : {}),
    ...(inst.bootMode !== undefined ? { bootMode: inst.bootMode } : {}),
  });
  const source = rs.images[inst.imageId];
  if (source?.tpmSupport !== undefined) image.tpmSupport = source.tpmSupport;
  if (source?.imdsSupport !== undefined) image.imdsSupport = source.imdsSupport;
  if (source?.sriovNetSupport !== undefined) image.sriovNetSupport = source.sriovNetSupport;

  const mappings: BlockDeviceRecord[] = [];
  for (const v of inst.volumes) {
    const o = overrides.get(v.deviceName);
    if (o?.has('NoDevice') === true) continue;
    const vol = rs.volumes[v.volumeId];
    if (vol === undefined) continue;
    const oe = o?.child('Ebs');
    const snapshotId = newId('snap');
    const snap: SnapshotRecord = {
      snapshotId,
      volumeId: vol.volumeId,
      volumeSize: vol.size,
      encrypted: vol.encrypted,
      description: `Created by CreateImage(${inst.instanceId}) for ${image.imageId}`,
      ownerId: LOCAL_ACCOUNT_ID,
      startMs: snapshotAt,
      state: 'pending',
      completeAtMs: availableAt,
      tags: { ...(tagSpecs.snapshot ?? {}) },
      createVolumePermission: { userIds: [], groups: [] },
    };
    if (vol.kmsKeyId !== undefined) snap.kmsKeyId = vol.kmsKeyId;
    rs.snapshots[snapshotId] = snap;
    const size = oe?.int('VolumeSize') ?? vol.size;
    if (size < vol.size) throw invalidValue(`Volume of ${size} GiB is smaller than snapshot ${snapshotId}, expect size >= ${vol.size} GiB`);
    const ebs: NonNullable<BlockDeviceRecord['ebs']> = {
      snapshotId,
      volumeSize: size,
      volumeType: oe?.str('VolumeType') ?? vol.volumeType,
      deleteOnTermination: oe?.bool('DeleteOnTermination') ?? v.deleteOnTermination,
      encrypted: vol.encrypted,
    };
    if (vol.kmsKeyId !== undefined) ebs.kmsKeyId = vol.kmsKeyId;
    if (vol.iops !== undefined) ebs.iops = vol.iops;
    if (vol.throughput !== undefined) ebs.throughput = vol.throughput;
    mappings.push({ deviceName: v.deviceName, ebs });
  }
  // Extra mappings (ephemeral or new empty volumes) that the instance does not have.
  for (const [deviceName, o] of overrides) {
    if (inst.volumes.some((v) => v.deviceName === deviceName)) continue;
    if (o.has('NoDevice')) continue;
    const virtualName = o.str('VirtualName');
    if (virtualName !== undefined) {
      mappings.push({ deviceName, virtualName });
      continue;
    }
    const oe = o.child('Ebs');
    if (oe !== undefined) {
      mappings.push({
        deviceName,
        ebs: {
          volumeSize: oe.int('VolumeSize') ?? 8,
          volumeType: oe.str('VolumeType') ?? 'gp3',
          deleteOnTermination: oe.bool('DeleteOnTermination') ?? true,
          encrypted: oe.bool('Encrypted') ?? false,
        },
      });
    }
  }
  image.blockDeviceMappings = mappings;
  addTags(image.tags, tagSpecs.image ?? {});
  rs.images[image.imageId] = image;
  ctx.world.schedule();
  return { imageId: image.imageId };
};

// ---- DescribeImages ------------------------------------------------------------------------------

type ImageView = { image: ImageRecord; now: number };

const IMAGE_FILTERS: FilterSpec<ImageView> = {
  names: new Set([
    'name',
    'state',
    'image-id',
    'owner-id',
    'owner-alias',
    'image-type',
    'is-public',
    'description',
    'architecture',
    'platform',
    'platform-details',
    'root-device-type',
    'root-device-name',
    'virtualization-type',
    'hypervisor',
    'ena-support',
    'sriov-net-support',
    'boot-mode',
    'tpm-support',
    'imds-support',
    'creation-date',
    'deprecation-time',
    'source-instance-id',
    'source-image-id',
    'source-image-region',
    'manifest-location',
    'block-device-mapping.snapshot-id',
    'block-device-mapping.device-name',
    'block-device-mapping.volume-size',
    'block-device-mapping.volume-type',
    'block-device-mapping.encrypted',
    'block-device-mapping.delete-on-termination',
  ]),
  tags: (v) => v.image.tags,
  values: ({ image }, name) => {
    const ebs = image.blockDeviceMappings.flatMap((b) => (b.ebs !== undefined ? [b.ebs] : []));
    const opt = (s: string | undefined): string[] => (s === undefined ? [] : [s]);
    switch (name) {
      case 'name':
        return [image.name];
      case 'state':
        return [image.state];
      case 'image-id':
        return [image.imageId];
      case 'owner-id':
        return [image.ownerId];
      case 'owner-alias':
        return opt(image.ownerAlias);
      case 'image-type':
        return [image.imageType];
      case 'is-public':
        return [String(imageIsPublic(image))];
      case 'description':
        return opt(image.description);
      case 'architecture':
        return [image.architecture];
      case 'platform':
        return opt(image.platform);
      case 'platform-details':
        return [image.platformDetails];
      case 'root-device-type':
        return [image.rootDeviceType];
      case 'root-device-name':
        return [image.rootDeviceName];
      case 'virtualization-type':
        return [image.virtualizationType];
      case 'hypervisor':
        return [image.hypervisor];
      case 'ena-support':
        return [String(image.enaSupport)];
      case 'sriov-net-support':
        return opt(image.sriovNetSupport);
      case 'boot-mode':
        return opt(image.bootMode);
      case 'tpm-support':
        return opt(image.tpmSupport);
      case 'imds-support':
        return opt(image.imdsSupport);
      case 'creation-date':
        return [isoMs(image.createdMs)];
      case 'deprecation-time':
        return image.deprecationMs !== undefined ? [isoMs(image.deprecationMs)] : [];
      case 'source-instance-id':
        return opt(image.sourceInstanceId);
      case 'source-image-id':
        return opt(image.sourceImageId);
      case 'source-image-region':
        return opt(image.sourceImageRegion);
      case 'manifest-location':
        return opt(image.imageLocation);
      case 'block-device-mapping.snapshot-id':
        return ebs.flatMap((e) => opt(e.snapshotId));
      case 'block-device-mapping.device-name':
        return image.blockDeviceMappings.map((b) => b.deviceName);
      case 'block-device-mapping.volume-size':
        return ebs.flatMap((e) => (e.volumeSize !== undefined ? [String(e.volumeSize)] : []));
      case 'block-device-mapping.volume-type':
        return ebs.flatMap((e) => opt(e.volumeType));
      case 'block-device-mapping.encrypted':
        return ebs.map((e) => String(e.encrypted));
      case 'block-device-mapping.delete-on-termination':
        return ebs.map((e) => String(e.deleteOnTermination));
      default:
        return [];
    }
  },
};

const OWNER_ALIASES: Record<string, string> = { amazon: AMAZON_ACCOUNT_ID };

function ownerMatcher(owners: string[]): ((image: ImageRecord) => boolean) | undefined {
  if (owners.length === 0) return undefined;
  const ids = new Set<string>();
  const aliases = new Set<string>();
  for (const o of owners) {
    if (o === 'self') ids.add(LOCAL_ACCOUNT_ID);
    else if (isAccountId(o)) ids.add(o);
    else if (o === 'amazon' || o === 'aws-marketplace' || o === 'aws-backup-vault') aliases.add(o);
    else throw invalidValue(`Invalid value '${o}' for Owner. Expecting an account id, self, amazon, aws-marketplace or aws-backup-vault`);
  }
  return (image) =>
    ids.has(image.ownerId) ||
    (image.ownerAlias !== undefined && aliases.has(image.ownerAlias)) ||
    [...aliases].some((a) => OWNER_ALIASES[a] === image.ownerId);
}

function executableMatcher(users: string[]): ((image: ImageRecord) => boolean) | undefined {
  if (users.length === 0) return undefined;
  return (image) =>
    users.some((u) => {
      if (u === 'all') return imageIsPublic(image);
      const account = u === 'self' ? LOCAL_ACCOUNT_ID : u;
      if (u !== 'self' && !isAccountId(u)) throw invalidValue(`Invalid value '${u}' for ExecutableBy`);
      if (imageIsPublic(image)) return true;
      if (u === 'self' && image.ownerId === LOCAL_ACCOUNT_ID) return true;
      return image.launchPermissions.some((lp) => lp.userId === account);
    });
}

export const describeImages: ActionHandler = (ctx) => {
  const { p, rs, now } = ctx;
  const ids = p.strings('ImageId');
  const max = maxResults(p, ids.length > 0, 'ImageIds');
  const includeDeprecated = p.bool('IncludeDeprecated') ?? false;
  const includeDisabled = p.bool('IncludeDisabled') ?? false;
  const byOwner = ownerMatcher(p.strings('Owner'));
  const byUser = executableMatcher(p.strings('ExecutableBy'));
  const filters = parseFilters(p);
  const live = (i: ImageRecord): boolean => imageVisible(ctx, i) && imageAccessible(i);

  let candidates: ImageRecord[];
  if (ids.length > 0) {
    ids.forEach(checkImageId);
    const missingIds = ids.filter((id) => {
      const i = rs.images[id];
      return i === undefined || !live(i);
    });
    if (missingIds.length > 0) throw imageNotFound(missingIds);
    candidates = [...new Set(ids)].map((id) => rs.images[id] as ImageRecord);
  } else {
    candidates = Object.values(rs.images).filter(live);
  }
  let list = candidates.filter((i) => {
    if (!includeDisabled && i.state === 'disabled') return false;
    // Deprecated AMIs drop out of searches, unless asked for by id or the caller owns them.
    const deprecated = i.deprecationMs !== undefined && i.deprecationMs <= now;
    if (deprecated && !includeDeprecated && ids.length === 0 && i.ownerId !== LOCAL_ACCOUNT_ID) return false;
    if (byOwner !== undefined && !byOwner(i)) return false;
    if (byUser !== undefined && !byUser(i)) return false;
    return true;
  });
  list = applyFilters(
    list.map((image) => ({ image, now })),
    filters,
    IMAGE_FILTERS,
  ).map((v) => v.image);
  list.sort((a, b) => sortKey(a.createdMs, a.imageId).localeCompare(sortKey(b.createdMs, b.imageId)));
  const page = paginate(ctx, list, (i) => sortKey(i.createdMs, i.imageId), max);
  return { imagesSet: page.items.map((i) => imageXml(i, now)), nextToken: page.nextToken };
};

/** The user tags of an image that CopyImage(CopyImageTags) carries over (not `aws:` ones). */
export function copyableTags(tags: TagMap): TagMap {
  return Object.fromEntries(Object.entries(tags).filter(([k]) => !k.startsWith('aws:')));
}

export const newRequestId = (): string => randomUUID();
