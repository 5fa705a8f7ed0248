import { createHash } from 'node:crypto';
import {
  addTags,
  checkImageId,
  getImage,
  getOwnImage,
  getSnapshot,
  imageAccessible,
  imageNotFound,
  imageVisible,
  isAccountId,
  parseTagSpecifications,
  type ActionContext,
  type ActionHandler,
} from './context.js';
import { Ec2ApiError, invalidCombination, invalidValue } from './errors.js';
import { checkImageName, checkImageQuota, checkNameFree, copyableTags, newImage } from './images.js';
import { DEPRECATION_MAX_YEARS, DEREGISTRATION_COOLDOWN_MS } from './limits.js';
import {
  awsManagedEbsKey,
  kmsKeyArn,
  LOCAL_ACCOUNT_ID,
  newId,
  REGIONS,
  type BlockDeviceRecord,
  type ImageRecord,
  type LaunchPermissionRecord,
  type SnapshotRecord,
} from './model.js';
import { blockDeviceXml, deregistrationProtectionValue, imageIsPublic, launchPermissionXml } from './render.js';
import { imagesUsing } from './snapshots.js';
import type { XmlObject } from '../protocols/query.js';

/**
 * Image lifecycle: RegisterImage, CopyImage, DeregisterImage, launch permissions and
 * attributes, deprecation, disable/enable, deregistration protection, block public access.
 */

const ARCHITECTURES = new Set(['i386', 'x86_64', 'arm64', 'x86_64_mac', 'arm64_mac']);
const BOOT_MODES = new Set(['legacy-bios', 'uefi', 'uefi-preferred']);

function enumParam(ctx: ActionContext, key: string, allowed: Set<string>): string | undefined {
  const v = ctx.p.str(key);
  if (v !== undefined && !allowed.has(v))
    throw invalidValue(`Invalid value '${v}' for ${key}. Expecting one of ${[...allowed].join(', ')}`);
  return v;
}

// ---- RegisterImage --------------------------------------------------------------------------------

export const registerImage: ActionHandler = async (ctx) => {
  const { p, rs } = ctx;
  const name = p.required('Name');
  checkImageName(name);
  checkNameFree(rs, name);
  checkImageQuota(ctx);
  const location = p.str('ImageLocation');
  if (location !== undefined && location !== '') {
    const imageId = await ctx.registerFromImageLocation(ctx, location);
    return { imageId };
  }
  const rootDeviceName = p.required('RootDeviceName');
  const architecture = enumParam(ctx, 'Architecture', ARCHITECTURES) ?? 'i386';
  const virtualizationType = enumParam(ctx, 'VirtualizationType', new Set(['hvm', 'paravirtual'])) ?? 'hvm';
  const bootMode = enumParam(ctx, 'BootMode', BOOT_MODES);
  const tpmSupport = enumParam(ctx, 'TpmSupport', new Set(['v2.0']));
  const imdsSupport = enumParam(ctx, 'ImdsSupport', new Set(['v2.0']));
  const sriov = enumParam(ctx, 'SriovNetSupport', new Set(['simple']));
  if (tpmSupport !== undefined && bootMode === 'legacy-bios') {
    throw invalidCombination('TpmSupport v2.0 requires BootMode uefi or uefi-preferred');
  }
  const description = p.str('Description');
  const tagSpecs = parseTagSpecifications(p, ['image']);
  const mappings: BlockDeviceRecord[] = [];
  for (const b of p.list('BlockDeviceMapping')) {
    const deviceName = b.required('DeviceName');
    if (b.has('NoDevice')) {
      mappings.push({ deviceName, noDevice: true });
      continue;
    }
    const virtualName = b.str('VirtualName');
    if (virtualName !== undefined) {
      mappings.push({ deviceName, virtualName });
      continue;
    }
    const e = b.child('Ebs');
    if (e === undefined) throw invalidValue(`Block device mapping ${deviceName} needs Ebs, VirtualName or NoDevice`);
    const snapshotId = e.str('SnapshotId');
    const ebs: NonNullable<BlockDeviceRecord['ebs']> = {
      deleteOnTermination: e.bool('DeleteOnTermination') ?? true,
      volumeType: e.str('VolumeType') ?? 'gp3',
      encrypted: e.bool('Encrypted') ?? false,
    };
    if (snapshotId !== undefined) {
      const snap = getSnapshot(ctx, snapshotId);
      if (snap.state !== 'completed') {
        throw new Ec2ApiError(
          'IncorrectState',
          `Snapshot ${snapshotId} is in state ${snap.state}; only completed snapshots can be registered`,
        );
      }
      const size = e.int('VolumeSize') ?? snap.volumeSize;
      if (size < snap.volumeSize)
        throw invalidValue(`Volume of ${size} GiB is smaller than snapshot ${snapshotId}, expect size >= ${snap.volumeSize} GiB`);
      ebs.snapshotId = snapshotId;
      ebs.volumeSize = size;
      // Encryption follows the snapshot.
      ebs.encrypted = snap.encrypted;
      if (snap.kmsKeyId !== undefined) ebs.kmsKeyId = snap.kmsKeyId;
    } else {
      const size = e.int('VolumeSize');
      if (size === undefined)
        throw new Ec2ApiError('MissingParameter', `Block device mapping ${deviceName} needs Ebs.SnapshotId or Ebs.VolumeSize`);
      ebs.volumeSize = size;
    }
    const iops = e.int('Iops');
    if (iops !== undefined) ebs.iops = iops;
    const throughput = e.int('Throughput');
    if (throughput !== undefined) ebs.throughput = throughput;
    mappings.push({ deviceName, ebs });
  }
  const root = mappings.find((m) => m.deviceName === rootDeviceName);
  if (root?.ebs?.snapshotId === undefined) {
    throw invalidValue(`The root device name ${rootDeviceName} must be mapped to an EBS snapshot in BlockDeviceMapping`);
  }
  const image = newImage(ctx, {
    name,
    kind: 'register',
    architecture,
    rootDeviceType: 'ebs',
    rootDeviceName,
    virtualizationType: virtualizationType as ImageRecord['virtualizationType'],
    enaSupport: p.bool('EnaSupport') ?? false,
    blockDeviceMappings: mappings,
    availableAtMs: ctx.now + ctx.durations.imageAvailableAfterMs,
    ...(description !== undefined ? { description } : {}),
    ...(bootMode !== undefined ? { bootMode } : {}),
    ...(tpmSupport !== undefined ? { tpmSupport } : {}),
    ...(imdsSupport !== undefined ? { imdsSupport } : {}),
    ...(sriov !== undefined ? { sriovNetSupport: sriov } : {}),
  });
  addTags(image.tags, tagSpecs.image ?? {});
  rs.images[image.imageId] = image;
  ctx.world.schedule();
  return { imageId: image.imageId };
};

// ---- CopyImage --------------------------------------------------------------------------------------

const KMS_KEY =
  /^(alias\/[A-Za-z0-9/_-]+|(mrk-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}|arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):(key\/[A-Za-z0-9-]+|alias\/[A-Za-z0-9/_-]+))$/;

/** The key ARN of a KmsKeyId in the destination region; InvalidParameterValue when it does not exist there. */
function resolveKmsKey(ctx: ActionContext, keyId: string): string {
  const m = KMS_KEY.exec(keyId);
  if (m === null) throw invalidValue(`Invalid KMS key id '${keyId}': expecting a key id, alias/<name>, or a key or alias ARN`);
  const arnRegion = m[3];
  if (arnRegion !== undefined && arnRegion !== ctx.region) {
    throw invalidValue(`KMS key ${keyId} is in ${arnRegion}; CopyImage needs a key in the destination region ${ctx.region}`);
  }
  if (ctx.faults.missingKmsKeys?.includes(keyId) === true) {
    throw invalidValue(`KMS key ${keyId} does not exist in ${ctx.region} (KMS: NotFoundException)`);
  }
  return kmsKeyArn(ctx.region, keyId.replace(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:alias\//, 'alias/'));
}

export const copyImage: ActionHandler = (ctx) => {
  const { p, rs } = ctx;
  const sourceRegion = p.required('SourceRegion');
  const sourceImageId = p.required('SourceImageId');
  const name = p.required('Name');
  const clientToken = p.str('ClientToken');
  const fingerprint = createHash('sha256')
    .update(JSON.stringify(Object.fromEntries(Object.entries(p.tree).filter(([k]) => k !== 'ClientToken'))))
    .digest('hex');
  if (clientToken !== undefined && clientToken !== '') {
    if (clientToken.length > 64) throw invalidValue('ClientToken must be at most 64 ASCII characters');
    const prior = rs.copyTokens[clientToken];
    if (prior !== undefined) {
      if (prior.fingerprint !== fingerprint) {
        throw new Ec2ApiError('IdempotentParameterMismatch', `Client token '${clientToken}' was used with different parameters`);
      }
      return { imageId: prior.imageId };
    }
  }
  checkImageName(name);
  if (!(REGIONS as readonly string[]).includes(sourceRegion)) throw invalidValue(`Invalid value '${sourceRegion}' for SourceRegion`);
  checkImageId(sourceImageId);
  const srcRs = ctx.world.region(sourceRegion);
  const src = srcRs.images[sourceImageId];
  if (src === undefined || !imageAccessible(src) || (src.visibleFromMs ?? 0) > ctx.now || src.state === 'deregistered') {
    throw imageNotFound([sourceImageId]);
  }
  if (src.state !== 'available') {
    throw new Ec2ApiError('IncorrectState', `Image ${sourceImageId} is ${src.state}; only available images can be copied`);
  }
  const encryptedParam = p.bool('Encrypted') ?? false;
  const keyParam = p.str('KmsKeyId');
  if (keyParam !== undefined && !encryptedParam) throw invalidCombination('KmsKeyId requires Encrypted=true');
  const sourceEncrypted = src.blockDeviceMappings.some((b) => b.ebs?.encrypted === true);
  const encrypted = encryptedParam || sourceEncrypted;
  const keyArn = keyParam !== undefined ? resolveKmsKey(ctx, keyParam) : encrypted ? awsManagedEbsKey(ctx.region) : undefined;
  const tagSpecs = parseTagSpecifications(p, ['image', 'snapshot']);
  checkNameFree(rs, name);
  checkImageQuota(ctx);
  const inFlight = Object.values(rs.images).filter((i) => i.kind === 'copy' && i.state === 'pending').length;
  if (inFlight >= ctx.quotas.concurrentCopiesPerRegion) {
    throw new Ec2ApiError(
      'ResourceLimitExceeded',
      `You have reached the limit of ${ctx.quotas.concurrentCopiesPerRegion} concurrent AMI copies in ${ctx.region}. Try again when a copy completes.`,
    );
  }
  const availableAt = ctx.now + ctx.durations.copyAvailableAfterMs;
  const description = p.str('Description') ?? src.description;
  const image = newImage(ctx, {
    name,
    kind: 'copy',
    architecture: src.architecture,
    rootDeviceType: src.rootDeviceType,
    rootDeviceName: src.rootDeviceName,
    virtualizationType: src.virtualizationType,
    enaSupport: src.enaSupport,
    platformDetails: src.platformDetails,
    usageOperation: src.usageOperation,
    sourceImageId,
    sourceImageRegion: sourceRegion,
    availableAtMs: availableAt,
    copy: { sourceRegion, sourceImageId, ...(clientToken !== undefined && clientToken !== '' ? { clientToken } : {}) },
    ...(description !== undefined ? { description } : {}),
    ...(src.platform !== undefined ? { platform: src.platform } : {}),
    ...(src.bootMode !== undefined ? { bootMode: src.bootMode } : {}),
    ...(src.tpmSupport !== undefined ? { tpmSupport: src.tpmSupport } : {}),
    ...(src.imdsSupport !== undefined ? { imdsSupport: src.imdsSupport } : {}),
    ...(src.sriovNetSupport !== undefined ? { sriovNetSupport: src.sriovNetSupport } : {}),
    ...(src.imageLocation !== undefined && src.rootDeviceType === 'instance-store' ? { imageLocation: src.imageLocation } : {}),
  });
  image.blockDeviceMappings = src.blockDeviceMappings.map((b) => {
    if (b.ebs?.snapshotId === undefined) return { ...b, ...(b.ebs !== undefined ? { ebs: { ...b.ebs } } : {}) };
    const from = srcRs.snapshots[b.ebs.snapshotId];
    const snapshotId = newId('snap');
    const snap: SnapshotRecord = {
      snapshotId,
      volumeId: 'vol-ffffffff',
      volumeSize: from?.volumeSize ?? b.ebs.volumeSize ?? 8,
      encrypted,
      description: `Copied for DestinationAmi ${image.imageId} from SourceAmi ${sourceImageId} for SourceSnapshot ${b.ebs.snapshotId}. Task created on ${ctx.now}.`,
      ownerId: LOCAL_ACCOUNT_ID,
      startMs: ctx.now,
      state: 'pending',
      completeAtMs: availableAt,
      tags: { ...(tagSpecs.snapshot ?? {}) },
      createVolumePermission: { userIds: [], groups: [] },
    };
    if (keyArn !== undefined) snap.kmsKeyId = keyArn;
    rs.snapshots[snapshotId] = snap;
    const ebs: NonNullable<BlockDeviceRecord['ebs']> = { ...b.ebs, snapshotId, encrypted };
    if (keyArn !== undefined) ebs.kmsKeyId = keyArn;
    else delete ebs.kmsKeyId;
    return { deviceName: b.deviceName, ebs };
  });
  if (p.bool('CopyImageTags') === true) addTags(image.tags, copyableTags(src.tags));
  addTags(image.tags, tagSpecs.image ?? {});
  rs.images[image.imageId] = image;
  if (clientToken !== undefined && clientToken !== '') rs.copyTokens[clientToken] = { imageId: image.imageId, fingerprint };
  ctx.world.schedule();
  return { imageId: image.imageId };
};

// ---- DeregisterImage ----------------------------------------------------------------------------------

export const deregisterImage: ActionHandler = (ctx) => {
  const imageId = ctx.p.required('ImageId');
  checkImageId(imageId);
  const image = ctx.rs.images[imageId];
  if (image === undefined || !imageVisible(ctx, image) || !imageAccessible(image)) throw imageNotFound([imageId]);
  if (image.ownerId !== LOCAL_ACCOUNT_ID) throw new Ec2ApiError('AuthFailure', `Not authorized for image:${imageId}`);
  if (image.state === 'deregistered') throw new Ec2ApiError('InvalidAMIID.Unavailable', `AMI ${imageId} is already deregistered`);
  if (image.deregistrationProtection !== 'disabled' || (image.protectedUntilMs !== undefined && image.protectedUntilMs > ctx.now)) {
    throw new Ec2ApiError(
      'OperationNotPermitted',
      `Image ${imageId} is protected from deregistration (${deregistrationProtectionValue(image, ctx.now)}); disable deregistration protection first`,
    );
  }
  image.state = 'deregistered';
  image.deregisteredMs = ctx.now;
  delete image.availableAtMs;
  const out: XmlObject = { return: true };
  if (ctx.p.bool('DeleteAssociatedSnapshots') === true) {
    const results: XmlObject[] = [];
    for (const b of image.blockDeviceMappings) {
      const snapshotId = b.ebs?.snapshotId;
      if (snapshotId === undefined) continue;
      const snap = ctx.rs.snapshots[snapshotId];
      if (snap === undefined) continue;
      const refused = ctx.refused.get(snapshotId);
      if (snap.ownerId !== LOCAL_ACCOUNT_ID || refused !== undefined) {
        results.push({ snapshotId, returnCode: refused ?? 'missing-permissions' });
      } else if (imagesUsing(ctx, snapshotId, imageId).length > 0) {
        results.push({ snapshotId, returnCode: 'skipped' });
      } else {
        delete ctx.rs.snapshots[snapshotId];
        results.push({ snapshotId, returnCode: 'success' });
      }
    }
    out.deleteSnapshotResultSet = results;
  }
  ctx.world.store.markDirty();
  ctx.world.announce(ctx.region, image, 'deregistered');
  return out;
};

// ---- launch permissions and attributes ------------------------------------------------------------

const ORG_ARN = /^arn:aws[a-z-]*:organizations::\d{12}:organization\/o-[a-z0-9]{10,32}$/;
const OU_ARN = /^arn:aws[a-z-]*:organizations::\d{12}:ou\/o-[a-z0-9]{10,32}\/ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}$/;

function attributeItemError(value: string, type: string): Ec2ApiError {
  return new Ec2ApiError('InvalidAMIAttributeItemValue', `Invalid attribute item value "${value}" for ${type} item type.`);
}

function checkPermission(lp: LaunchPermissionRecord): void {
  if (lp.userId !== undefined && !isAccountId(lp.userId)) throw attributeItemError(lp.userId, 'userId');
  if (lp.group !== undefined && lp.group !== 'all') throw attributeItemError(lp.group, 'group');
  if (lp.organizationArn !== undefined && !ORG_ARN.test(lp.organizationArn))
    throw invalidValue(`Invalid organization ARN '${lp.organizationArn}'`);
  if (lp.organizationalUnitArn !== undefined && !OU_ARN.test(lp.organizationalUnitArn)) {
    throw invalidValue(`Invalid organizational unit ARN '${lp.organizationalUnitArn}'`);
  }
}

const sameGrant = (a: LaunchPermissionRecord, b: LaunchPermissionRecord): boolean =>
  a.userId === b.userId &&
  a.group === b.group &&
  a.organizationArn === b.organizationArn &&
  a.organizationalUnitArn === b.organizationalUnitArn;

function permissionFrom(item: { str(k: string): string | undefined }): LaunchPermissionRecord {
  const lp: LaunchPermissionRecord = {};
  const u = item.str('UserId');
  const g = item.str('Group');
  const o = item.str('OrganizationArn');
  const ou = item.str('OrganizationalUnitArn');
  if (u !== undefined) lp.userId = u;
  if (g !== undefined) lp.group = g as 'all';
  if (o !== undefined) lp.organizationArn = o;
  if (ou !== undefined) lp.organizationalUnitArn = ou;
  return lp;
}

export const modifyImageAttribute: ActionHandler = (ctx) => {
  const { p } = ctx;
  const image = getOwnImage(ctx);
  const attribute = p.str('Attribute');
  const add: LaunchPermissionRecord[] = [];
  const remove: LaunchPermissionRecord[] = [];
  const lpParam = p.child('LaunchPermission');
  for (const item of lpParam?.list('Add') ?? []) add.push(permissionFrom(item));
  for (const item of lpParam?.list('Remove') ?? []) remove.push(permissionFrom(item));
  const flat: LaunchPermissionRecord[] = [
    ...p.strings('UserId').map((userId) => ({ userId })),
    ...p.strings('UserGroup').map((group) => ({ group: group as 'all' })),
    ...p.strings('OrganizationArn').map((organizationArn) => ({ organizationArn })),
    ...p.strings('OrganizationalUnitArn').map((organizationalUnitArn) => ({ organizationalUnitArn })),
  ];
  if (flat.length > 0) {
    if (attribute !== undefined && attribute !== 'launchPermission')
      throw invalidCombination('UserId/UserGroup/OrganizationArn go with Attribute=launchPermission');
    const op = p.str('OperationType');
    if (op !== 'add' && op !== 'remove')
      throw new Ec2ApiError('MissingParameter', 'The request must contain the parameter OperationType (add|remove)');
    (op === 'add' ? add : remove).push(...flat);
  }
  let description = p.child('Description')?.str('Value');
  if (attribute === 'description') description = p.str('Value') ?? description;
  const imds = p.child('ImdsSupport')?.str('Value') ?? (attribute === 'imdsSupport' ? p.str('Value') : undefined);
  if (attribute !== undefined && !['launchPermission', 'description', 'imdsSupport'].includes(attribute)) {
    throw invalidValue(`Value (${attribute}) for parameter attribute is invalid. Expecting launchPermission, description or imdsSupport`);
  }
  if (add.length + remove.length === 0 && description === undefined && imds === undefined) {
    throw new Ec2ApiError(
      'MissingParameter',
      'The request must contain an attribute to modify (LaunchPermission, Description or ImdsSupport)',
    );
  }
  [...add, ...remove].forEach(checkPermission);
  if (imds !== undefined && imds !== 'v2.0') throw invalidValue(`Invalid value '${imds}' for ImdsSupport; only v2.0 is supported`);

  if (add.some((lp) => lp.group === 'all') && !imageIsPublic(image)) {
    if (image.blockDeviceMappings.some((b) => b.ebs?.encrypted === true)) {
      throw invalidValue(`Image ${image.imageId} has encrypted snapshots and cannot be made public`);
    }
    if (ctx.rs.imageBlockPublicAccess === 'block-new-sharing') {
      throw new Ec2ApiError(
        'OperationNotPermitted',
        `Block public access for AMIs is enabled in ${ctx.region} (block-new-sharing); ${image.imageId} cannot be made public`,
      );
    }
    const publicCount = Object.values(ctx.rs.images).filter(
      (i) => i.ownerId === LOCAL_ACCOUNT_ID && i.state !== 'deregistered' && imageIsPublic(i),
    ).length;
    if (publicCount >= ctx.quotas.publicImagesPerRegion) {
      throw new Ec2ApiError(
        'ResourceLimitExceeded',
        `You have reached the limit of ${ctx.quotas.publicImagesPerRegion} public AMIs in ${ctx.region}`,
      );
    }
  }
  if (add.length > 0 && image.state === 'disabled') {
    throw new Ec2ApiError('OperationNotPermitted', `Image ${image.imageId} is disabled and cannot be shared`);
  }
  let perms = [...image.launchPermissions];
  for (const lp of add) if (!perms.some((x) => sameGrant(x, lp))) perms.push(lp);
  perms = perms.filter((x) => !remove.some((lp) => sameGrant(x, lp)));
  const entities = perms.filter((x) => x.group !== 'all').length;
  if (entities > ctx.quotas.shareEntitiesPerImage) {
    throw new Ec2ApiError(
      'ResourceLimitExceeded',
      `An AMI can be shared with at most ${ctx.quotas.shareEntitiesPerImage} entities; ${image.imageId} would have ${entities}`,
    );
  }
  image.launchPermissions = perms;
  if (description !== undefined) image.description = description;
  if (imds !== undefined) image.imdsSupport = imds;
  ctx.world.store.markDirty();
  return { return: true };
};

export const describeImageAttribute: ActionHandler = (ctx) => {
  const image = getImage(ctx, undefined);
  const attribute = ctx.p.required('Attribute');
  const value = (v: string | undefined): XmlObject => (v === undefined ? {} : { value: v });
  const own = image.ownerId === LOCAL_ACCOUNT_ID;
  switch (attribute) {
    case 'description':
      return { imageId: image.imageId, description: value(image.description) };
    case 'launchPermission':
      if (!own) throw new Ec2ApiError('AuthFailure', `Not authorized for image:${image.imageId}`);
      return { imageId: image.imageId, launchPermission: image.launchPermissions.map(launchPermissionXml) };
    case 'blockDeviceMapping':
      return { imageId: image.imageId, blockDeviceMapping: image.blockDeviceMappings.map(blockDeviceXml) };
    case 'productCodes':
      return { imageId: image.imageId, productCodes: [] };
    case 'kernel':
      return { imageId: image.imageId, kernel: {} };
    case 'ramdisk':
      return { imageId: image.imageId, ramdisk: {} };
    case 'sriovNetSupport':
      return { imageId: image.imageId, sriovNetSupport: value(image.sriovNetSupport) };
    case 'bootMode':
      return { imageId: image.imageId, bootMode: value(image.bootMode) };
    case 'tpmSupport':
      return { imageId: image.imageId, tpmSupport: value(image.tpmSupport) };
    case 'imdsSupport':
      return { imageId: image.imageId, imdsSupport: value(image.imdsSupport) };
    case 'uefiData':
      return { imageId: image.imageId, uefiData: {} };
    case 'lastLaunchedTime':
      return { imageId: image.imageId, lastLaunchedTime: {} };
    case 'deregistrationProtection':
      return { imageId: image.imageId, deregistrationProtection: value(deregistrationProtectionValue(image, ctx.now)) };
    default:
      throw invalidValue(`Value (${attribute}) for parameter attribute is invalid. Unknown attribute.`);
  }
};

export const resetImageAttribute: ActionHandler = (ctx) => {
  const image = getOwnImage(ctx);
  const attribute = ctx.p.required('Attribute');
  if (attribute !== 'launchPermission') {
    throw invalidValue(`Value (${attribute}) for parameter attribute is invalid. Only launchPermission can be reset`);
  }
  image.launchPermissions = [];
  ctx.world.store.markDirty();
  return { return: true };
};

// ---- deprecation ---------------------------------------------------------------------------------------

export const enableImageDeprecation: ActionHandler = (ctx) => {
  const image = getOwnImage(ctx);
  const at = ctx.p.time('DeprecateAt');
  if (at === undefined) throw new Ec2ApiError('MissingParameter', 'The request must contain the parameter DeprecateAt');
  // EC2 rounds DeprecateAt to the nearest minute; it must not be in the past nor more than 10 years ahead.
  const rounded = Math.round(at / 60_000) * 60_000;
  if (rounded < ctx.now) throw invalidValue(`DeprecateAt ${new Date(rounded).toISOString()} is in the past`);
  const latest = new Date(ctx.now);
  latest.setUTCFullYear(latest.getUTCFullYear() + DEPRECATION_MAX_YEARS);
  if (rounded > latest.getTime()) throw invalidValue(`DeprecateAt must be at most ${DEPRECATION_MAX_YEARS} years in the future`);
  image.deprecationMs = rounded;
  ctx.world.store.markDirty();
  return { return: true };
};

export const disableImageDeprecation: ActionHandler = (ctx) => {
  const image = getOwnImage(ctx);
  delete image.deprecationMs;
  ctx.world.store.markDirty();
  return { return: true };
};

// ---- disable / enable --------------------------------------------------------------------------------

export const disableImage: ActionHandler = (ctx) => {
  const image = getOwnImage(ctx);
  if (image.state === 'disabled') return { return: true };
  if (image.state !== 'available')
    throw new Ec2ApiError('IncorrectState', `Image ${image.imageId} is ${image.state}; only available images can be disabled`);
  image.state = 'disabled';
  // Disabling makes the AMI private: every launch permission is removed.
  image.launchPermissions = [];
  ctx.world.store.markDirty();
  ctx.world.announce(ctx.region, image, 'disabled');
  return { return: true };
};

export const enableImage: ActionHandler = (ctx) => {
  const image = getOwnImage(ctx);
  if (image.state === 'available') return { return: true };
  if (image.state !== 'disabled')
    throw new Ec2ApiError('IncorrectState', `Image ${image.imageId} is ${image.state}; only disabled images can be enabled`);
  image.state = 'available';
  ctx.world.store.markDirty();
  ctx.world.announce(ctx.region, image, 'available');
  return { return: true };
};

// ---- deregistration protection ---------------------------------------------------------------------

export const enableImageDeregistrationProtection: ActionHandler = (ctx) => {
  const image = getOwnImage(ctx);
  image.deregistrationProtection = ctx.p.bool('WithCooldown') === true ? 'enabled-with-cooldown' : 'enabled-without-cooldown';
  delete image.protectedUntilMs;
  ctx.world.store.markDirty();
  return { return: 'true' };
};

export const disableImageDeregistrationProtection: ActionHandler = (ctx) => {
  const image = getOwnImage(ctx);
  if (image.deregistrationProtection === 'enabled-with-cooldown') image.protectedUntilMs = ctx.now + DEREGISTRATION_COOLDOWN_MS;
  image.deregistrationProtection = 'disabled';
  ctx.world.store.markDirty();
  return { return: 'true' };
};

// ---- block public access -------------------------------------------------------------------------------

export const getImageBlockPublicAccessState: ActionHandler = (ctx) => ({
  imageBlockPublicAccessState: ctx.rs.imageBlockPublicAccess,
  managedBy: 'account',
});

export const enableImageBlockPublicAccess: ActionHandler = (ctx) => {
  const state = ctx.p.required('ImageBlockPublicAccessState');
  if (state !== 'block-new-sharing')
    throw invalidValue(`Invalid value '${state}' for ImageBlockPublicAccessState. Expecting block-new-sharing`);
  ctx.rs.imageBlockPublicAccess = 'block-new-sharing';
  ctx.world.store.markDirty();
  return { imageBlockPublicAccessState: 'block-new-sharing' };
};

export const disableImageBlockPublicAccess: ActionHandler = (ctx) => {
  ctx.rs.imageBlockPublicAccess = 'unblocked';
  ctx.world.store.markDirty();
  return { imageBlockPublicAccessState: 'unblocked' };
};
