import {
  callerContext,
  instanceProfileRoleOfSameName,
  requestTagContext,
  resourceTagContext,
  uniqueRequests,
  type AccessContext,
  type AccessRequest,
  type AccessTable,
  type ItemAccessTable,
  kmsViaService,
} from '../iam/access-request.js';
import { createKmsKeyRegistry, type KmsKey, type KmsKeyRegistry } from '../kms/keys.js';
import type {
  BlockDeviceRecord,
  ImageRecord,
  InstanceRecord,
  LaunchTemplateDataRecord,
  LaunchTemplateRecord,
  RegionState,
  SnapshotRecord,
  TagMap,
  VolumeRecord,
} from './model.js';

/**
 * What EC2 authorizes for each action the local endpoint serves (service.ts's ACTIONS), as the
 * Service Authorization Reference ("Actions, resources, and condition keys for Amazon EC2") and
 * the EC2/EBS user guides describe it:
 *
 * - ARNs: `arn:aws:ec2:<region>::image/<id>` and `…::snapshot/<id>` carry no account; instances,
 *   volumes, subnets, security groups, network interfaces, key pairs (by name) and launch
 *   templates do. A resource the call creates is `…/<type>/*`. Actions without resource-level
 *   permissions (Describe*, the block-public-access actions, DescribeImageReferences) are `*`.
 * - Every request carries `aws:RequestedRegion` and `ec2:Region`. An existing resource carries
 *   its tags as `aws:ResourceTag/<k>` and `ec2:ResourceTag/<k>` plus the `ec2:` keys the model
 *   can answer (`ec2:Owner`, `ec2:Public`, `ec2:ImageType`, `ec2:Encrypted`, `ec2:ParentVolume`…).
 * - Tags in the request (TagSpecifications, CreateTags' Tags) are `aws:RequestTag/<k>` and
 *   `aws:TagKeys` on the resources they tag. A create call with TagSpecifications is also
 *   authorized for `ec2:CreateTags` on each tagged resource type with `ec2:CreateAction` (EC2 user
 *   guide, "Grant permission to tag resources during creation").
 * - KMS calls EC2 makes on the caller's behalf for encrypted EBS data (CopyImage, RunInstances)
 *   are checked as the caller with `kms:ViaService=ec2.<key region>.amazonaws.com` and
 *   `kms:CallerAccount` (EBS user guide, "Permissions for users"): a key that encrypts new data
 *   needs kms:DescribeKey, kms:CreateGrant (`kms:GrantIsForAWSResource`) and
 *   kms:GenerateDataKeyWithoutPlaintext; data read under the same key needs kms:Decrypt; data
 *   re-keyed in one region needs kms:ReEncryptFrom/To; data read under a key of another region
 *   needs kms:Decrypt there. CreateImage and RegisterImage make no KMS call of the caller's:
 *   a snapshot keeps its volume's encryption and a registration only refers to snapshots.
 *
 * A parameter the handler rejects (a malformed id, a missing resource) still yields the check
 * AWS makes first: the ARN from the id given, without the keys only the resource could supply.
 */

/** The parameter access a descriptor needs (local/ec2/query.ts's Params satisfies it). */
export interface Ec2Params {
  has(key: string): boolean;
  str(key: string): string | undefined;
  bool(key: string): boolean | undefined;
  int(key: string): number | undefined;
  strings(key: string): string[];
  list(key: string): Ec2Params[];
  child(key: string): Ec2Params | undefined;
}

/** The default VPC of a region: where RunInstances launches without SubnetId or security groups. */
export interface Ec2Network {
  subnetId: string;
  vpcId: string;
  securityGroupId: string;
}

/**
 * The local EC2's default network: the subnet and VPC every instance gets (instances.ts). The
 * model has no security groups; this is the default VPC's default group RunInstances uses.
 */
export const LOCAL_DEFAULT_NETWORK: Ec2Network = {
  subnetId: 'subnet-0a1b2c3d4e5f60700',
  vpcId: 'vpc-0a1b2c3d4e5f60789',
  securityGroupId: 'sg-0a1b2c3d4e5f60789',
};

export interface Ec2AccessInput {
  params: Ec2Params;
  /** The region's state, read only. */
  state: RegionState;
  region: string;
  account: string;
  /** Another region's state (CopyImage's source region); undefined when it is not served. */
  stateOf?: (region: string) => RegionState | undefined;
  /** The account's KMS keys (default: every alias is a key, as the local EC2 assumes). */
  kms?: KmsKeyRegistry;
  /**
   * The role ARNs an instance profile holds, for RunInstances' iam:PassRole. Default: the role of
   * the profile's own path and name (what the console and most templates create).
   */
  instanceProfileRoles?: (instanceProfileArn: string) => string[];
  network?: Ec2Network;
}

// ---- ARNs --------------------------------------------------------------------------------------

const ACCOUNTLESS = new Set(['image', 'snapshot']);

export function ec2Arn(region: string, account: string, type: string, id: string): string {
  return `arn:aws:ec2:${region}:${ACCOUNTLESS.has(type) ? '' : account}:${type}/${id}`;
}

/** Resource types by id prefix (CreateTags/DeleteTags take ids of any type). */
const ID_TYPES: readonly (readonly [string, string])[] = [
  ['ami-', 'image'],
  ['snap-', 'snapshot'],
  ['vol-', 'volume'],
  ['i-', 'instance'],
  ['lt-', 'launch-template'],
  ['sg-', 'security-group'],
  ['subnet-', 'subnet'],
  ['eni-', 'network-interface'],
  ['vpc-', 'vpc'],
  ['key-', 'key-pair'],
];

export function resourceTypeOfId(id: string): string | undefined {
  return ID_TYPES.find(([prefix]) => id.startsWith(prefix))?.[1];
}

// ---- contexts of existing resources -----------------------------------------------------------

const iso = (ms: number): string => new Date(ms).toISOString();
const ec2Tags = (tags: TagMap | undefined): AccessContext => resourceTagContext(tags, ['ec2']);

export function imageContext(image: ImageRecord | undefined, imageId: string): AccessContext {
  if (image === undefined) return { 'ec2:ImageID': imageId };
  const owner = image.ownerAlias === 'amazon' || image.ownerAlias === 'aws-marketplace' ? image.ownerAlias : image.ownerId;
  return {
    ...ec2Tags(image.tags),
    'ec2:ImageID': image.imageId,
    'ec2:ImageType': image.imageType,
    'ec2:Owner': owner,
    'ec2:Public': image.launchPermissions.some((lp) => lp.group === 'all'),
    'ec2:RootDeviceType': image.rootDeviceType,
  };
}

export function snapshotContext(snap: SnapshotRecord | undefined, snapshotId: string, region: string): AccessContext {
  if (snap === undefined) return { 'ec2:SnapshotID': snapshotId };
  return {
    ...ec2Tags(snap.tags),
    'ec2:SnapshotID': snap.snapshotId,
    'ec2:Owner': snap.ownerId,
    'ec2:ParentVolume': ec2Arn(region, snap.ownerId, 'volume', snap.volumeId),
    'ec2:SnapshotTime': iso(snap.startMs),
    'ec2:VolumeSize': snap.volumeSize,
    'ec2:Encrypted': snap.encrypted,
  };
}

export function instanceContext(inst: InstanceRecord | undefined, instanceId: string): AccessContext {
  if (inst === undefined) return { 'ec2:InstanceID': instanceId };
  return {
    ...ec2Tags(inst.tags),
    'ec2:InstanceID': inst.instanceId,
    'ec2:InstanceType': inst.instanceType,
    'ec2:RootDeviceType': 'ebs',
    'ec2:AvailabilityZone': inst.availabilityZone,
    'ec2:Tenancy': 'default',
    'ec2:InstanceMarketType': 'on-demand',
  };
}

export function volumeContext(vol: VolumeRecord | undefined, volumeId: string, region: string): AccessContext {
  if (vol === undefined) return { 'ec2:VolumeID': volumeId };
  const out: AccessContext = {
    ...ec2Tags(vol.tags),
    'ec2:VolumeID': vol.volumeId,
    'ec2:VolumeSize': vol.size,
    'ec2:VolumeType': vol.volumeType,
    'ec2:Encrypted': vol.encrypted,
    'ec2:AvailabilityZone': vol.availabilityZone,
  };
  if (vol.snapshotId !== undefined) out['ec2:ParentSnapshot'] = ec2Arn(region, '', 'snapshot', vol.snapshotId);
  if (vol.iops !== undefined) out['ec2:VolumeIops'] = vol.iops;
  if (vol.throughput !== undefined) out['ec2:VolumeThroughput'] = vol.throughput;
  return out;
}

function templatesOf(state: RegionState): Record<string, LaunchTemplateRecord> {
  return state.launchTemplates ?? {};
}

/** The launch template a request names by LaunchTemplateId or LaunchTemplateName (in `p`), if it exists. */
function templateNamed(
  state: RegionState,
  p: Ec2Params | undefined,
): { id: string; template: LaunchTemplateRecord | undefined } | undefined {
  const id = p?.str('LaunchTemplateId');
  if (id !== undefined) return { id, template: templatesOf(state)[id] };
  const name = p?.str('LaunchTemplateName');
  if (name === undefined) return undefined;
  const template = Object.values(templatesOf(state)).find((t) => t.name === name);
  return { id: template?.launchTemplateId ?? '*', template };
}

// ---- request builders ---------------------------------------------------------------------------

function ec2Request(input: Ec2AccessInput, action: string, resource: string, context: AccessContext = {}): AccessRequest {
  return { action: `ec2:${action}`, resource, context: { ...callerContext(input.region), 'ec2:Region': input.region, ...context } };
}

const wildcard =
  (action: string) =>
  (input: Ec2AccessInput): AccessRequest[] => [ec2Request(input, action, '*')];

/** `TagSpecification.N` by resource type (repeated types merge, as the handlers merge them). */
function tagSpecs(p: Ec2Params): Record<string, TagMap> {
  const out: Record<string, TagMap> = {};
  for (const spec of p.list('TagSpecification')) {
    const type = spec.str('ResourceType');
    if (type === undefined) continue;
    const target = (out[type] ??= {});
    for (const t of spec.list('Tag')) {
      const key = t.str('Key');
      if (key !== undefined) target[key] = t.str('Value') ?? '';
    }
  }
  return out;
}

/** ec2:CreateTags for each tagged resource type of a create call, with ec2:CreateAction. */
function createTagsOnCreate(
  input: Ec2AccessInput,
  createAction: string,
  specs: Record<string, TagMap>,
  types: readonly string[],
): AccessRequest[] {
  return types
    .filter((type) => Object.keys(specs[type] ?? {}).length > 0)
    .map((type) =>
      ec2Request(input, 'CreateTags', ec2Arn(input.region, input.account, type, '*'), {
        ...requestTagContext(specs[type]),
        'ec2:CreateAction': createAction,
      }),
    );
}

function keysOf(input: Ec2AccessInput): KmsKeyRegistry {
  return input.kms ?? createKmsKeyRegistry({ account: input.account });
}

function kmsViaEc2(input: Ec2AccessInput, action: string, key: KmsKey, extra: AccessContext = {}): AccessRequest {
  return kmsViaService('ec2', key, input.account, action, extra);
}

/** The KMS checks of encrypted EBS data written under `target`, read from data under `source` (if encrypted). */
function ebsKeyUse(input: Ec2AccessInput, target: KmsKey, source: KmsKey | undefined): AccessRequest[] {
  const out = [
    kmsViaEc2(input, 'DescribeKey', target),
    kmsViaEc2(input, 'CreateGrant', target, { 'kms:GrantIsForAWSResource': true }),
    kmsViaEc2(input, 'GenerateDataKeyWithoutPlaintext', target),
  ];
  if (source === undefined) return out;
  if (source.arn === target.arn) out.push(kmsViaEc2(input, 'Decrypt', source));
  else if (source.region === target.region) {
    out.push(kmsViaEc2(input, 'ReEncryptFrom', source, { 'kms:ReEncryptOnSameKey': false }));
    out.push(kmsViaEc2(input, 'ReEncryptTo', target, { 'kms:ReEncryptOnSameKey': false }));
  } else out.push(kmsViaEc2(input, 'Decrypt', source));
  return out;
}

/** A key reference as EC2 takes it (`alias/x`, id or ARN, alias ARNs too), resolved in `region`. */
function keyIn(input: Ec2AccessInput, region: string, reference: string): KmsKey | undefined {
  return keysOf(input).resolve(region, reference);
}

// ---- images -------------------------------------------------------------------------------------

function imageRequest(input: Ec2AccessInput, action: string, imageId: string, extra: AccessContext = {}): AccessRequest {
  return ec2Request(input, action, ec2Arn(input.region, input.account, 'image', imageId), {
    ...imageContext(input.state.images[imageId], imageId),
    ...extra,
  });
}

const onImage =
  (action: string) =>
  (input: Ec2AccessInput): AccessRequest[] => [imageRequest(input, action, input.params.str('ImageId') ?? '*')];

function snapshotRequest(input: Ec2AccessInput, action: string, snapshotId: string, extra: AccessContext = {}): AccessRequest {
  return ec2Request(input, action, ec2Arn(input.region, input.account, 'snapshot', snapshotId), {
    ...snapshotContext(input.state.snapshots[snapshotId], snapshotId, input.region),
    ...extra,
  });
}

function createImage(input: Ec2AccessInput): AccessRequest[] {
  const { params: p, state, region, account } = input;
  const instanceId = p.str('InstanceId') ?? '*';
  const inst = state.instances[instanceId];
  const specs = tagSpecs(p);
  const out = [
    ec2Request(input, 'CreateImage', ec2Arn(region, account, 'instance', instanceId), instanceContext(inst, instanceId)),
    ec2Request(input, 'CreateImage', ec2Arn(region, account, 'image', '*'), requestTagContext(specs.image)),
  ];
  // One snapshot per EBS volume the image takes (a NoDevice override leaves a volume out).
  const skipped = new Set(p.list('BlockDeviceMapping').flatMap((b) => (b.has('NoDevice') ? [b.str('DeviceName') ?? ''] : [])));
  const volumes = (inst?.volumes ?? []).filter((v) => !skipped.has(v.deviceName)).map((v) => state.volumes[v.volumeId]);
  const snapshot = (extra: AccessContext): AccessRequest =>
    ec2Request(input, 'CreateImage', ec2Arn(region, account, 'snapshot', '*'), { ...requestTagContext(specs.snapshot), ...extra });
  if (inst === undefined) out.push(snapshot({}));
  for (const vol of volumes) {
    if (vol === undefined) continue;
    out.push(snapshot({ 'ec2:ParentVolume': ec2Arn(region, account, 'volume', vol.volumeId), 'ec2:VolumeSize': vol.size }));
  }
  out.push(...createTagsOnCreate(input, 'CreateImage', specs, ['image', 'snapshot']));
  return uniqueRequests(out);
}

function registerImage(input: Ec2AccessInput): AccessRequest[] {
  const { params: p, region, account } = input;
  const specs = tagSpecs(p);
  const out = [ec2Request(input, 'RegisterImage', ec2Arn(region, account, 'image', '*'), requestTagContext(specs.image))];
  for (const b of p.list('BlockDeviceMapping')) {
    const snapshotId = b.child('Ebs')?.str('SnapshotId');
    if (snapshotId !== undefined) out.push(snapshotRequest(input, 'RegisterImage', snapshotId));
  }
  out.push(...createTagsOnCreate(input, 'RegisterImage', specs, ['image']));
  return uniqueRequests(out);
}

function copyImage(input: Ec2AccessInput): AccessRequest[] {
  const { params: p, region, account } = input;
  const sourceRegion = p.str('SourceRegion') ?? region;
  const sourceImageId = p.str('SourceImageId') ?? '*';
  const sourceState = sourceRegion === region ? input.state : input.stateOf?.(sourceRegion);
  const source = sourceState?.images[sourceImageId];
  const specs = tagSpecs(p);
  const out = [
    ec2Request(input, 'CopyImage', ec2Arn(sourceRegion, account, 'image', sourceImageId), imageContext(source, sourceImageId)),
    ec2Request(input, 'CopyImage', ec2Arn(region, account, 'image', '*'), requestTagContext(specs.image)),
  ];
  const ebs = (source?.blockDeviceMappings ?? []).flatMap((b) => (b.ebs?.snapshotId !== undefined ? [b.ebs] : []));
  const newSnapshot = ec2Request(input, 'CopyImage', ec2Arn(region, account, 'snapshot', '*'), requestTagContext(specs.snapshot));
  if (source === undefined || ebs.length > 0) out.push(newSnapshot);
  out.push(...createTagsOnCreate(input, 'CopyImage', specs, ['image', 'snapshot']));
  if (source?.rootDeviceType === 'instance-store' && source.imageLocation !== undefined) {
    out.push(...bundleReads(input, sourceRegion, source.imageLocation));
  }

  // Encryption: KmsKeyId (destination region) or, for an encrypted copy without one, aws/ebs there.
  const keyParam = p.str('KmsKeyId');
  const encrypted = (p.bool('Encrypted') ?? false) || ebs.some((e) => e.encrypted);
  if (encrypted) {
    const target = keyParam !== undefined ? keyIn(input, region, keyParam) : keysOf(input).awsManaged(region, 'alias/aws/ebs');
    for (const e of ebs) {
      const snap = e.snapshotId !== undefined ? sourceState?.snapshots[e.snapshotId] : undefined;
      const sourceKeyRef = e.encrypted ? (snap?.kmsKeyId ?? e.kmsKeyId) : undefined;
      const sourceKey =
        sourceKeyRef !== undefined
          ? keyIn(input, sourceRegion, sourceKeyRef)
          : e.encrypted
            ? keysOf(input).awsManaged(sourceRegion, 'alias/aws/ebs')
            : undefined;
      if (target !== undefined) out.push(...ebsKeyUse(input, target, sourceKey));
    }
    if (ebs.length === 0 && target !== undefined && source === undefined) out.push(...ebsKeyUse(input, target, undefined));
  }
  return uniqueRequests(out);
}

/**
 * The S3 reads EC2 makes as the caller to copy an instance-store AMI (EC2 user guide, "Grant
 * permissions to copy Amazon EC2 AMIs"): finding buckets, the source bucket's ACL, the manifest.
 * The writes into the bucket EC2 picks in the target region are not modelled (its name is EC2's).
 */
function bundleReads(input: Ec2AccessInput, sourceRegion: string, imageLocation: string): AccessRequest[] {
  const slash = imageLocation.indexOf('/');
  if (slash <= 0) return [];
  const bucket = imageLocation.slice(0, slash);
  const context: AccessContext = { 'aws:RequestedRegion': sourceRegion, 'aws:ViaAWSService': true, 's3:ResourceAccount': input.account };
  return [
    { action: 's3:ListAllMyBuckets', resource: '*', context: { 'aws:RequestedRegion': input.region, 'aws:ViaAWSService': true } },
    { action: 's3:GetBucketAcl', resource: `arn:aws:s3:::${bucket}`, context },
    { action: 's3:GetObject', resource: `arn:aws:s3:::${imageLocation}`, context },
  ];
}

function deregisterImage(input: Ec2AccessInput): AccessRequest[] {
  return [imageRequest(input, 'DeregisterImage', input.params.str('ImageId') ?? '*')];
}

/** The snapshots DeregisterImage with DeleteAssociatedSnapshots deletes: each needs ec2:DeleteSnapshot. */
function deregisterImageSnapshots(input: Ec2AccessInput): { item: string; requests: AccessRequest[]; deniedCode: string }[] {
  const { params: p, state } = input;
  if (p.bool('DeleteAssociatedSnapshots') !== true) return [];
  const image = state.images[p.str('ImageId') ?? ''];
  const ids = [...new Set((image?.blockDeviceMappings ?? []).flatMap((b) => (b.ebs?.snapshotId !== undefined ? [b.ebs.snapshotId] : [])))];
  return ids.map((snapshotId) => ({
    item: snapshotId,
    requests: [snapshotRequest(input, 'DeleteSnapshot', snapshotId)],
    deniedCode: 'missing-permissions',
  }));
}

/** The attribute ModifyImageAttribute changes (Attribute, or the structure given). */
function imageAttributeModified(p: Ec2Params): string | undefined {
  const attribute = p.str('Attribute');
  if (attribute !== undefined) return attribute;
  if (p.has('LaunchPermission') || p.has('UserId') || p.has('UserGroup') || p.has('OrganizationArn') || p.has('OrganizationalUnitArn'))
    return 'launchPermission';
  if (p.has('Description')) return 'description';
  if (p.has('ImdsSupport')) return 'imdsSupport';
  return undefined;
}

function withAttribute(attribute: string | undefined): AccessContext {
  return attribute === undefined ? {} : { 'ec2:Attribute': attribute };
}

// ---- snapshots ----------------------------------------------------------------------------------

const onSnapshot =
  (action: string, extra: (p: Ec2Params) => AccessContext = () => ({})) =>
  (input: Ec2AccessInput): AccessRequest[] => [snapshotRequest(input, action, input.params.str('SnapshotId') ?? '*', extra(input.params))];

/** ec2:Add/userId, ec2:Add/group, ec2:Remove/… of a ModifySnapshotAttribute (structured or flat form). */
function volumePermissionChanges(p: Ec2Params): AccessContext {
  const changes: Record<'Add' | 'Remove', { userId: string[]; group: string[] }> = {
    Add: { userId: [], group: [] },
    Remove: { userId: [], group: [] },
  };
  const cvp = p.child('CreateVolumePermission');
  for (const op of ['Add', 'Remove'] as const) {
    for (const item of cvp?.list(op) ?? []) {
      const u = item.str('UserId');
      const g = item.str('Group');
      if (u !== undefined) changes[op].userId.push(u);
      if (g !== undefined) changes[op].group.push(g);
    }
  }
  const flatOp = p.str('OperationType') === 'remove' ? 'Remove' : 'Add';
  changes[flatOp].userId.push(...p.strings('UserId'));
  changes[flatOp].group.push(...p.strings('UserGroup'));
  const out: AccessContext = { 'ec2:Attribute': p.str('Attribute') ?? 'createVolumePermission' };
  for (const op of ['Add', 'Remove'] as const) {
    for (const kind of ['userId', 'group'] as const) {
      const values = changes[op][kind];
      if (values.length > 0) out[`ec2:${op}/${kind}`] = values.length === 1 ? (values[0] as string) : values;
    }
  }
  return out;
}

// ---- instances ----------------------------------------------------------------------------------

const onInstances =
  (action: string) =>
  (input: Ec2AccessInput): AccessRequest[] =>
    uniqueRequests(
      input.params
        .strings('InstanceId')
        .map((id) =>
          ec2Request(input, action, ec2Arn(input.region, input.account, 'instance', id), instanceContext(input.state.instances[id], id)),
        ),
    );

interface LaunchVolume {
  encrypted: boolean;
  size?: number;
  volumeType: string;
  snapshotId?: string;
  iops?: number;
  throughput?: number;
  /** The KmsKeyId the request gives for it, if any. */
  requestKey?: string;
  /** The key the volume is encrypted with, as a reference (the image's, the request's, or aws/ebs). */
  key?: string;
}

/** The EBS volumes a launch creates: the image's mappings with the request's overrides, and the request's new volumes. */
function launchVolumes(image: ImageRecord | undefined, state: RegionState, p: Ec2Params): LaunchVolume[] {
  const overrides = new Map(p.list('BlockDeviceMapping').map((b) => [b.str('DeviceName') ?? '', b]));
  const out: LaunchVolume[] = [];
  const fromMapping = (b: BlockDeviceRecord | undefined, o: Ec2Params | undefined): void => {
    if (o?.has('NoDevice') === true || b?.noDevice === true || b?.virtualName !== undefined) return;
    const oe = o?.child('Ebs');
    if (b?.ebs === undefined && oe === undefined) return;
    const snapshotId = oe?.str('SnapshotId') ?? b?.ebs?.snapshotId;
    const snap = snapshotId !== undefined ? state.snapshots[snapshotId] : undefined;
    const encrypted = oe?.bool('Encrypted') ?? b?.ebs?.encrypted ?? snap?.encrypted ?? false;
    const v: LaunchVolume = { encrypted, volumeType: oe?.str('VolumeType') ?? b?.ebs?.volumeType ?? 'gp3' };
    const size = oe?.int('VolumeSize') ?? b?.ebs?.volumeSize ?? snap?.volumeSize;
    if (size !== undefined) v.size = size;
    if (snapshotId !== undefined) v.snapshotId = snapshotId;
    const iops = oe?.int('Iops') ?? b?.ebs?.iops;
    if (iops !== undefined) v.iops = iops;
    const throughput = oe?.int('Throughput') ?? b?.ebs?.throughput;
    if (throughput !== undefined) v.throughput = throughput;
    const requestKey = oe?.str('KmsKeyId');
    if (requestKey !== undefined) v.requestKey = requestKey;
    if (encrypted) v.key = requestKey ?? b?.ebs?.kmsKeyId ?? snap?.kmsKeyId ?? 'alias/aws/ebs';
    out.push(v);
  };
  for (const b of image?.blockDeviceMappings ?? []) fromMapping(b, overrides.get(b.deviceName));
  for (const [deviceName, o] of overrides) {
    if (image?.blockDeviceMappings.some((b) => b.deviceName === deviceName) === true) continue;
    fromMapping(undefined, o);
  }
  return out;
}

function launchTemplateVersion(t: LaunchTemplateRecord, spec: string | undefined): LaunchTemplateDataRecord | undefined {
  const n = spec === undefined || spec === '$Default' ? t.defaultVersion : spec === '$Latest' ? t.latestVersion : Number(spec);
  return t.versions.find((v) => v.versionNumber === n)?.data;
}

function runInstances(input: Ec2AccessInput): AccessRequest[] {
  const { params: p, state, region, account } = input;
  const network = input.network ?? LOCAL_DEFAULT_NETWORK;
  const arn = (type: string, id: string): string => ec2Arn(region, account, type, id);

  // A launch template supplies what the request leaves out; its resources say so.
  const lt = templateNamed(state, p.child('LaunchTemplate'));
  const ltData = lt?.template !== undefined ? launchTemplateVersion(lt.template, p.child('LaunchTemplate')?.str('Version')) : undefined;
  const ltContext = (fromTemplate: boolean): AccessContext =>
    lt === undefined ? {} : { 'ec2:LaunchTemplate': arn('launch-template', lt.id), 'ec2:IsLaunchTemplateResource': fromTemplate };

  const specs = tagSpecs(p);
  for (const s of ltData?.tagSpecifications ?? []) specs[s.resourceType] = { ...s.tags, ...(specs[s.resourceType] ?? {}) };

  const imageId = p.str('ImageId') ?? ltData?.imageId ?? '*';
  const image = state.images[imageId];
  const out: AccessRequest[] = [
    ec2Request(input, 'RunInstances', arn('image', imageId), {
      ...imageContext(image, imageId),
      ...ltContext(p.str('ImageId') === undefined),
    }),
  ];

  // The instance.
  const profile = p.child('IamInstanceProfile');
  const profileArn =
    profile?.str('Arn') ??
    (profile?.str('Name') !== undefined ? `arn:aws:iam::${account}:instance-profile/${profile.str('Name')}` : undefined);
  const metadata = p.child('MetadataOptions');
  const imdsV2 = image?.imdsSupport === 'v2.0';
  const placement = p.child('Placement');
  const instance: AccessContext = {
    ...requestTagContext(specs.instance),
    'ec2:InstanceType': p.str('InstanceType') ?? ltData?.instanceType ?? 'm1.small',
    'ec2:RootDeviceType': image?.rootDeviceType ?? 'ebs',
    'ec2:EbsOptimized': p.bool('EbsOptimized') ?? false,
    'ec2:InstanceMarketType': p.child('InstanceMarketOptions')?.str('MarketType') ?? 'on-demand',
    'ec2:MetadataHttpEndpoint': metadata?.str('HttpEndpoint') ?? 'enabled',
    'ec2:MetadataHttpTokens': metadata?.str('HttpTokens') ?? (imdsV2 ? 'required' : 'optional'),
    'ec2:MetadataHttpPutResponseHopLimit': metadata?.int('HttpPutResponseHopLimit') ?? (imdsV2 ? 2 : 1),
    'ec2:Tenancy': placement?.str('Tenancy') ?? 'default',
    ...ltContext(false),
  };
  const az = placement?.str('AvailabilityZone');
  if (az !== undefined) instance['ec2:AvailabilityZone'] = az;
  if (profileArn !== undefined) instance['ec2:InstanceProfile'] = profileArn;
  out.push(ec2Request(input, 'RunInstances', arn('instance', '*'), instance));

  // Its volumes, and the KMS use of the encrypted ones.
  const volumes = launchVolumes(image, state, p);
  const kms: AccessRequest[] = [];
  for (const v of volumes) {
    const context: AccessContext = {
      ...requestTagContext(specs.volume),
      'ec2:Encrypted': v.encrypted,
      'ec2:VolumeType': v.volumeType,
      ...ltContext(false),
    };
    if (v.size !== undefined) context['ec2:VolumeSize'] = v.size;
    if (v.snapshotId !== undefined) context['ec2:ParentSnapshot'] = arn('snapshot', v.snapshotId);
    if (v.iops !== undefined) context['ec2:VolumeIops'] = v.iops;
    if (v.throughput !== undefined) context['ec2:VolumeThroughput'] = v.throughput;
    if (v.requestKey !== undefined) context['ec2:KmsKeyId'] = v.requestKey;
    out.push(ec2Request(input, 'RunInstances', arn('volume', '*'), context));
    if (v.key === undefined) continue;
    const target = keyIn(input, region, v.key);
    const snap = v.snapshotId !== undefined ? state.snapshots[v.snapshotId] : undefined;
    const source = snap?.encrypted === true ? keyIn(input, region, snap.kmsKeyId ?? 'alias/aws/ebs') : undefined;
    if (target !== undefined) kms.push(...ebsKeyUse(input, target, source));
  }

  // Network: the subnet, the primary network interface (new unless one is given), security groups.
  const nic = p.list('NetworkInterface')[0];
  const subnetId = p.str('SubnetId') ?? nic?.str('SubnetId') ?? network.subnetId;
  const vpc = arn('vpc', network.vpcId);
  out.push(ec2Request(input, 'RunInstances', arn('subnet', subnetId), { 'ec2:SubnetID': subnetId, 'ec2:Vpc': vpc, ...ltContext(false) }));
  const existingNic = nic?.str('NetworkInterfaceId');
  const nicContext: AccessContext = { 'ec2:Subnet': arn('subnet', subnetId), 'ec2:Vpc': vpc, ...ltContext(false) };
  if (existingNic !== undefined) {
    out.push(
      ec2Request(input, 'RunInstances', arn('network-interface', existingNic), { 'ec2:NetworkInterfaceID': existingNic, ...nicContext }),
    );
  } else {
    const publicIp = nic?.bool('AssociatePublicIpAddress');
    if (publicIp !== undefined) nicContext['ec2:AssociatePublicIpAddress'] = publicIp;
    out.push(
      ec2Request(input, 'RunInstances', arn('network-interface', '*'), { ...requestTagContext(specs['network-interface']), ...nicContext }),
    );
  }
  const requestGroups = [...p.strings('SecurityGroupId'), ...(nic?.strings('SecurityGroupId') ?? [])];
  const fromTemplate = requestGroups.length === 0 && (ltData?.securityGroupIds?.length ?? 0) > 0;
  const groups = requestGroups.length > 0 ? requestGroups : fromTemplate ? (ltData?.securityGroupIds ?? []) : [network.securityGroupId];
  for (const g of groups) {
    out.push(
      ec2Request(input, 'RunInstances', arn('security-group', g), { 'ec2:SecurityGroupID': g, 'ec2:Vpc': vpc, ...ltContext(fromTemplate) }),
    );
  }

  // Key pair and launch template.
  const keyName = p.str('KeyName') ?? ltData?.keyName;
  if (keyName !== undefined) {
    out.push(
      ec2Request(input, 'RunInstances', arn('key-pair', keyName), {
        'ec2:KeyPairName': keyName,
        ...ltContext(p.str('KeyName') === undefined),
      }),
    );
  }
  if (lt !== undefined) {
    out.push(ec2Request(input, 'RunInstances', arn('launch-template', lt.id), { ...ec2Tags(lt.template?.tags), ...ltContext(true) }));
  }

  out.push(...createTagsOnCreate(input, 'RunInstances', specs, ['instance', 'volume', 'network-interface', 'spot-instances-request']));
  out.push(...kms);

  // The instance profile's role is passed to EC2.
  if (profileArn !== undefined) {
    for (const role of (input.instanceProfileRoles ?? instanceProfileRoleOfSameName)(profileArn)) {
      out.push({
        action: 'iam:PassRole',
        resource: role,
        context: { ...callerContext(region), 'iam:PassedToService': 'ec2.amazonaws.com' },
      });
    }
  }
  return uniqueRequests(out);
}

// ---- tags ---------------------------------------------------------------------------------------

/** The ARN and context of an existing resource of any type, by id. */
function resourceById(input: Ec2AccessInput, id: string): { arn: string; context: AccessContext } | undefined {
  const { state, region, account } = input;
  const type = resourceTypeOfId(id);
  if (type === undefined) return undefined;
  const arn = ec2Arn(region, account, type, id);
  switch (type) {
    case 'image':
      return { arn, context: imageContext(state.images[id], id) };
    case 'snapshot':
      return { arn, context: snapshotContext(state.snapshots[id], id, region) };
    case 'instance':
      return { arn, context: instanceContext(state.instances[id], id) };
    case 'volume':
      return { arn, context: volumeContext(state.volumes[id], id, region) };
    case 'launch-template':
      return { arn, context: ec2Tags(templatesOf(state)[id]?.tags) };
    default:
      return { arn, context: {} };
  }
}

function tagsOfParams(p: Ec2Params): { tags: TagMap; keys: string[] } {
  const tags: TagMap = {};
  const keys: string[] = [];
  for (const t of p.list('Tag')) {
    const key = t.str('Key');
    if (key === undefined) continue;
    keys.push(key);
    const value = t.str('Value');
    if (value !== undefined) tags[key] = value;
  }
  return { tags, keys };
}

function createTags(input: Ec2AccessInput): AccessRequest[] {
  const { tags } = tagsOfParams(input.params);
  return uniqueRequests(
    input.params.strings('ResourceId').flatMap((id) => {
      const r = resourceById(input, id);
      return r === undefined ? [] : [ec2Request(input, 'CreateTags', r.arn, { ...r.context, ...requestTagContext(tags) })];
    }),
  );
}

function deleteTags(input: Ec2AccessInput): AccessRequest[] {
  const { tags, keys } = tagsOfParams(input.params);
  const requested: AccessContext = {};
  for (const [k, v] of Object.entries(tags)) requested[`aws:RequestTag/${k}`] = v;
  if (keys.length > 0) requested['aws:TagKeys'] = keys;
  return uniqueRequests(
    input.params.strings('ResourceId').flatMap((id) => {
      const r = resourceById(input, id);
      return r === undefined ? [] : [ec2Request(input, 'DeleteTags', r.arn, { ...r.context, ...requested })];
    }),
  );
}

// ---- launch templates ---------------------------------------------------------------------------

function createLaunchTemplate(input: Ec2AccessInput): AccessRequest[] {
  const specs = tagSpecs(input.params);
  return [
    ec2Request(
      input,
      'CreateLaunchTemplate',
      ec2Arn(input.region, input.account, 'launch-template', '*'),
      requestTagContext(specs['launch-template']),
    ),
    ...createTagsOnCreate(input, 'CreateLaunchTemplate', specs, ['launch-template']),
  ];
}

const onLaunchTemplate =
  (action: string) =>
  (input: Ec2AccessInput): AccessRequest[] => {
    const lt = templateNamed(input.state, input.params);
    const id = lt?.id ?? '*';
    return [ec2Request(input, action, ec2Arn(input.region, input.account, 'launch-template', id), ec2Tags(lt?.template?.tags))];
  };

// ---- the table ----------------------------------------------------------------------------------

/** Every action of local/ec2/service.ts → what EC2 authorizes for it. */
export const EC2_ACCESS: AccessTable<Ec2AccessInput> = {
  DescribeRegions: wildcard('DescribeRegions'),
  DescribeTags: wildcard('DescribeTags'),
  DescribeInstances: wildcard('DescribeInstances'),
  RunInstances: runInstances,
  StopInstances: onInstances('StopInstances'),
  StartInstances: onInstances('StartInstances'),
  TerminateInstances: onInstances('TerminateInstances'),
  GetConsoleOutput: (input) => {
    const id = input.params.str('InstanceId') ?? '*';
    return [
      ec2Request(
        input,
        'GetConsoleOutput',
        ec2Arn(input.region, input.account, 'instance', id),
        instanceContext(input.state.instances[id], id),
      ),
    ];
  },
  CreateImage: createImage,
  DescribeImages: wildcard('DescribeImages'),
  RegisterImage: registerImage,
  CopyImage: copyImage,
  DeregisterImage: deregisterImage,
  ModifyImageAttribute: (input) => [
    imageRequest(input, 'ModifyImageAttribute', input.params.str('ImageId') ?? '*', withAttribute(imageAttributeModified(input.params))),
  ],
  DescribeImageAttribute: onImage('DescribeImageAttribute'),
  ResetImageAttribute: (input) => [
    imageRequest(input, 'ResetImageAttribute', input.params.str('ImageId') ?? '*', withAttribute(input.params.str('Attribute'))),
  ],
  EnableImageDeprecation: onImage('EnableImageDeprecation'),
  DisableImageDeprecation: onImage('DisableImageDeprecation'),
  EnableImage: onImage('EnableImage'),
  DisableImage: onImage('DisableImage'),
  EnableImageDeregistrationProtection: onImage('EnableImageDeregistrationProtection'),
  DisableImageDeregistrationProtection: onImage('DisableImageDeregistrationProtection'),
  GetImageBlockPublicAccessState: wildcard('GetImageBlockPublicAccessState'),
  EnableImageBlockPublicAccess: wildcard('EnableImageBlockPublicAccess'),
  DisableImageBlockPublicAccess: wildcard('DisableImageBlockPublicAccess'),
  CreateTags: createTags,
  DeleteTags: deleteTags,
  DescribeSnapshots: wildcard('DescribeSnapshots'),
  DeleteSnapshot: onSnapshot('DeleteSnapshot'),
  ModifySnapshotAttribute: onSnapshot('ModifySnapshotAttribute', volumePermissionChanges),
  DescribeSnapshotAttribute: onSnapshot('DescribeSnapshotAttribute'),
  ResetSnapshotAttribute: onSnapshot('ResetSnapshotAttribute', (p) => withAttribute(p.str('Attribute'))),
  CreateLaunchTemplate: createLaunchTemplate,
  CreateLaunchTemplateVersion: onLaunchTemplate('CreateLaunchTemplateVersion'),
  DescribeLaunchTemplates: wildcard('DescribeLaunchTemplates'),
  DescribeLaunchTemplateVersions: wildcard('DescribeLaunchTemplateVersions'),
  ModifyLaunchTemplate: onLaunchTemplate('ModifyLaunchTemplate'),
  DeleteLaunchTemplate: onLaunchTemplate('DeleteLaunchTemplate'),
  DeleteLaunchTemplateVersions: onLaunchTemplate('DeleteLaunchTemplateVersions'),
  DescribeImageReferences: wildcard('DescribeImageReferences'),
};

/**
 * Checks EC2 makes per item, whose denial the response reports instead of failing the call:
 * DeregisterImage with DeleteAssociatedSnapshots deletes each snapshot only if the caller may
 * ec2:DeleteSnapshot it, else reports it `missing-permissions` in DeleteSnapshotResults (API
 * reference, DeleteSnapshotReturnCode) while the image is still deregistered.
 */
export const EC2_ITEM_ACCESS: ItemAccessTable<Ec2AccessInput> = {
  DeregisterImage: deregisterImageSnapshots,
};
