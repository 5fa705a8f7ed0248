import { createHash, randomBytes } from 'node:crypto';

/**
 * The persisted local EC2 world. Regions are isolated; every time is simulated epoch ms
 * (VirtualClock). State changes that take time are stored as their due times and applied
 * lazily (`World.advance`), so a reloaded world continues where it was.
 */
export const LOCAL_ACCOUNT_ID = '111122223333';
/** Amazon's account for public base images (Amazon Linux). */
export const AMAZON_ACCOUNT_ID = '137112412989';

/**
 * DescribeRegions; the regions this endpoint serves: AWS's default commercial Regions, those
 * launched before 20 March 2019, which every account has enabled (opt-in-not-required; the
 * later ones are opt-in). Seventeen, so that one build can be copied to sixteen (bench/fanout).
 */
export const REGIONS = [
  'us-east-1',
  'us-east-2',
  'us-west-1',
  'us-west-2',
  'ca-central-1',
  'sa-east-1',
  'eu-west-1',
  'eu-west-2',
  'eu-west-3',
  'eu-central-1',
  'eu-north-1',
  'ap-south-1',
  'ap-northeast-1',
  'ap-northeast-2',
  'ap-northeast-3',
  'ap-southeast-1',
  'ap-southeast-2',
] as const;

export type TagMap = Record<string, string>;

export type InstanceStateName = 'pending' | 'running' | 'shutting-down' | 'terminated' | 'stopping' | 'stopped';
export const INSTANCE_STATE_CODES: Record<InstanceStateName, number> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

export interface TimelineEntry {
  state: InstanceStateName;
  atMs: number;
  /** Why (stateReason code), for stopped/terminated states. */
  reason?: string;
}

export interface InstanceVolume {
  deviceName: string;
  volumeId: string;
  deleteOnTermination: boolean;
  attachMs: number;
}

export interface InstanceRecord {
  instanceId: string;
  reservationId: string;
  imageId: string;
  instanceType: string;
  architecture: string;
  launchMs: number;
  /** amiLaunchIndex within its reservation. */
  launchIndex?: number;
  availabilityZone: string;
  subnetId: string;
  vpcId: string;
  privateIp: string;
  rootDeviceName: string;
  bootMode?: string;
  clientToken?: string;
  /** Base64, as sent to RunInstances. */
  userData?: string;
  shutdownBehavior: 'stop' | 'terminate';
  volumes: InstanceVolume[];
  tags: TagMap;
  /** Every state with the simulated time it began, past and planned; sorted by time. */
  timeline: TimelineEntry[];
  /** Timeline entries already announced (state-change events). */
  announced: number;
  /** Tags the instance sets on itself later (a builder's tag done-signal). */
  plannedTags?: { atMs: number; tags: TagMap }[];
  /** What the instance's user data printed to its console, and when (GetConsoleOutput). */
  console?: { atMs: number; lines: string[] }[];
  /** RunInstances EbsOptimized (absent: the instance type's default). */
  ebsOptimized?: boolean;
  /** RunInstances HibernationOptions.Configured. */
  hibernationConfigured?: boolean;
  /** Instance metadata service options at launch (absent: IMDSv1 allowed, hop limit 1). */
  metadataOptions?: InstanceMetadataOptions;
}

export interface InstanceMetadataOptions {
  httpTokens: 'optional' | 'required';
  httpPutResponseHopLimit: number;
  httpEndpoint: 'enabled' | 'disabled';
  httpProtocolIpv6: 'enabled' | 'disabled';
  instanceMetadataTags: 'enabled' | 'disabled';
}

export interface VolumeRecord {
  volumeId: string;
  size: number;
  volumeType: string;
  encrypted: boolean;
  kmsKeyId?: string;
  iops?: number;
  throughput?: number;
  snapshotId?: string;
  availabilityZone: string;
  createdMs: number;
  tags: TagMap;
}

export type SnapshotState = 'pending' | 'completed' | 'error';

export interface SnapshotRecord {
  snapshotId: string;
  volumeId: string;
  volumeSize: number;
  encrypted: boolean;
  kmsKeyId?: string;
  description: string;
  ownerId: string;
  startMs: number;
  state: SnapshotState;
  /** When a pending snapshot completes (its image's availability time). */
  completeAtMs?: number;
  stateMessage?: string;
  tags: TagMap;
  createVolumePermission: { userIds: string[]; groups: string[] };
}

export interface BlockDeviceRecord {
  deviceName: string;
  /** EBS: snapshot, size, type... Absent for ephemeral (virtualName) and NoDevice mappings. */
  ebs?: {
    snapshotId?: string;
    volumeSize?: number;
    volumeType?: string;
    deleteOnTermination: boolean;
    encrypted: boolean;
    kmsKeyId?: string;
    iops?: number;
    throughput?: number;
  };
  virtualName?: string;
  noDevice?: boolean;
}

export interface LaunchPermissionRecord {
  userId?: string;
  group?: 'all';
  organizationArn?: string;
  organizationalUnitArn?: string;
}

export type ImageState = 'pending' | 'available' | 'failed' | 'deregistered' | 'disabled' | 'invalid' | 'error' | 'transient';

export interface ImageRecord {
  imageId: string;
  name: string;
  description?: string;
  ownerId: string;
  ownerAlias?: string;
  state: ImageState;
  stateReason?: { code: string; message: string };
  createdMs: number;
  /** A pending image becomes available (or failed) at this simulated time. */
  availableAtMs?: number;
  kind: 'create' | 'register' | 'copy' | 'seed';
  imageType: 'machine' | 'kernel' | 'ramdisk';
  architecture: string;
  platform?: 'windows';
  platformDetails: string;
  usageOperation: string;
  rootDeviceType: 'ebs' | 'instance-store';
  rootDeviceName: string;
  virtualizationType: 'hvm' | 'paravirtual';
  hypervisor: 'xen';
  enaSupport: boolean;
  sriovNetSupport?: string;
  bootMode?: string;
  tpmSupport?: string;
  imdsSupport?: string;
  imageLocation?: string;
  sourceInstanceId?: string;
  sourceImageId?: string;
  sourceImageRegion?: string;
  blockDeviceMappings: BlockDeviceRecord[];
  launchPermissions: LaunchPermissionRecord[];
  tags: TagMap;
  deprecationMs?: number;
  deregistrationProtection: 'disabled' | 'enabled-with-cooldown' | 'enabled-without-cooldown';
  /** After protection with cooldown is disabled: deregistration refused until then. */
  protectedUntilMs?: number;
  deregisteredMs?: number;
  /** Eventual consistency (fault notFoundWindowMs): the id answers NotFound until then. */
  visibleFromMs?: number;
  /** The request that created the image (the event's RequestId). */
  requestId: string;
  /** CopyImage: where it came from, and whether the copy must fail (decided at completion). */
  copy?: { sourceRegion: string; sourceImageId: string; clientToken?: string };
}

/** What a launch template version holds (the subset of LaunchTemplateData the local cloud models). */
export interface LaunchTemplateDataRecord {
  imageId?: string;
  instanceType?: string;
  keyName?: string;
  /** Base64, as sent. */
  userData?: string;
  instanceInitiatedShutdownBehavior?: string;
  securityGroupIds?: string[];
  tagSpecifications?: { resourceType: string; tags: TagMap }[];
}

export interface LaunchTemplateVersionRecord {
  versionNumber: number;
  description?: string;
  createdMs: number;
  data: LaunchTemplateDataRecord;
}

export interface LaunchTemplateRecord {
  launchTemplateId: string;
  name: string;
  createdMs: number;
  defaultVersion: number;
  latestVersion: number;
  tags: TagMap;
  /** Every version not deleted, ascending by number. */
  versions: LaunchTemplateVersionRecord[];
}

export interface RegionState {
  instances: Record<string, InstanceRecord>;
  volumes: Record<string, VolumeRecord>;
  images: Record<string, ImageRecord>;
  snapshots: Record<string, SnapshotRecord>;
  imageBlockPublicAccess: 'unblocked' | 'block-new-sharing';
  /** RunInstances ClientToken → the instances it launched. */
  runTokens: Record<string, { reservationId: string; instanceIds: string[]; fingerprint: string }>;
  /** CopyImage ClientToken → the copy it made. */
  copyTokens: Record<string, { imageId: string; fingerprint: string }>;
  /** Launch templates by id (optional: worlds persisted before they existed lack it). */
  launchTemplates?: Record<string, LaunchTemplateRecord>;
  /** CreateLaunchTemplate / CreateLaunchTemplateVersion ClientToken → what it made. */
  launchTemplateTokens?: Record<string, { launchTemplateId: string; versionNumber: number; fingerprint: string }>;
}

export interface Ec2State {
  version: 1;
  seeded: boolean;
  regions: Record<string, RegionState>;
  /** Bulk-seeded managed images per family (seedManagedImages), so a restart does not seed again. */
  managedSeeds?: Record<string, number>;
}

export function emptyRegion(): RegionState {
  return {
    instances: {},
    volumes: {},
    images: {},
    snapshots: {},
    imageBlockPublicAccess: 'unblocked',
    runTokens: {},
    copyTokens: {},
    launchTemplates: {},
    launchTemplateTokens: {},
  };
}

/** `ami-`, `snap-`, `vol-`, `i-` + 17 hex digits, like current EC2 ids. */
export function newId(prefix: 'ami' | 'snap' | 'vol' | 'i' | 'r' | 'lt'): string {
  return `${prefix}-${randomBytes(9).toString('hex').slice(0, 17)}`;
}

export const ID_PATTERNS = {
  ami: /^ami-[0-9a-f]{8}([0-9a-f]{9})?$/,
  snap: /^snap-[0-9a-f]{8}([0-9a-f]{9})?$/,
  vol: /^vol-[0-9a-f]{8}([0-9a-f]{9})?$/,
  i: /^i-[0-9a-f]{8}([0-9a-f]{9})?$/,
  lt: /^lt-[0-9a-f]{17}$/,
} as const;

export const imageArn = (region: string, imageId: string): string => `arn:aws:ec2:${region}::image/${imageId}`;
export const instanceArn = (region: string, account: string, instanceId: string): string =>
  `arn:aws:ec2:${region}:${account}:instance/${instanceId}`;

export const launchTemplateArn = (region: string, account: string, launchTemplateId: string): string =>
  `arn:aws:ec2:${region}:${account}:launch-template/${launchTemplateId}`;

/** A stable fake KMS key id for an alias (same alias, same region → same key). */
export function kmsKeyArn(region: string, keyOrAlias: string): string {
  if (/^arn:aws[a-z-]*:kms:[^:]+:\d{12}:key\//.test(keyOrAlias)) return keyOrAlias;
  const h = createHash('sha256').update(`${region}|${keyOrAlias}`).digest('hex');
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(keyOrAlias)
    ? keyOrAlias
    : `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
  return `arn:aws:kms:${region}:${LOCAL_ACCOUNT_ID}:key/${uuid}`;
}

/** The AWS-managed EBS key of a region (`alias/aws/ebs`): snapshots encrypted with it cannot be shared. */
export const awsManagedEbsKey = (region: string): string => kmsKeyArn(region, 'alias/aws/ebs');

export function isoMs(ms: number): string {
  return new Date(ms).toISOString();
}
