import { emptyRegion, type RegionState } from '../../local/ec2/model.js';
import type { AccessContext } from '../../local/iam/access-request.js';

/** A small EC2 world for the access tests: the web instance, a managed image and its snapshot, an Amazon base image. */
export const ACCOUNT = '111122223333';
export const REGION = 'us-east-1';
export const INSTANCE = 'i-0123456789abcdef0';
export const VOLUME = 'vol-0123456789abcdef0';
export const IMAGE = 'ami-0123456789abcdef0';
export const SNAPSHOT = 'snap-0123456789abcdef0';
export const BASE_IMAGE = 'ami-0fedcba9876543210';
export const BASE_SNAPSHOT = 'snap-0fedcba9876543210';

export const managed = { 'ami-factory:managed': 'true', 'ami-factory:family': 'web', 'ami-factory:build-id': '3f2a1b2c' };
export const factoryTags = Object.entries(managed).map(([Key, Value]) => ({ Key, Value }));
export const requestTags: AccessContext = {
  'aws:RequestTag/ami-factory:managed': 'true',
  'aws:RequestTag/ami-factory:family': 'web',
  'aws:RequestTag/ami-factory:build-id': '3f2a1b2c',
  'aws:TagKeys': ['ami-factory:managed', 'ami-factory:family', 'ami-factory:build-id'],
};

export function base(region = REGION): AccessContext {
  return { 'aws:RequestedRegion': region, 'aws:SecureTransport': false, 'ec2:Region': region };
}

export const arn = {
  instance: (id: string, region = REGION) => `arn:aws:ec2:${region}:${ACCOUNT}:instance/${id}`,
  volume: (id: string) => `arn:aws:ec2:${REGION}:${ACCOUNT}:volume/${id}`,
  image: (id: string, region = REGION) => `arn:aws:ec2:${region}::image/${id}`,
  snapshot: (id: string, region = REGION) => `arn:aws:ec2:${region}::snapshot/${id}`,
};

/** A region with the web instance (tagged, one volume), a managed image and its snapshot, and an Amazon base image. */
export function world(): RegionState {
  const rs = emptyRegion();
  rs.volumes[VOLUME] = {
    volumeId: VOLUME,
    size: 8,
    volumeType: 'gp3',
    encrypted: false,
    availabilityZone: 'us-east-1a',
    createdMs: 0,
    tags: {},
  };
  rs.instances[INSTANCE] = {
    instanceId: INSTANCE,
    reservationId: 'r-0123456789abcdef0',
    imageId: BASE_IMAGE,
    instanceType: 't3.small',
    architecture: 'x86_64',
    launchMs: 0,
    availabilityZone: 'us-east-1a',
    subnetId: 'subnet-0a1b2c3d4e5f60700',
    vpcId: 'vpc-0a1b2c3d4e5f60789',
    privateIp: '10.0.0.10',
    rootDeviceName: '/dev/xvda',
    shutdownBehavior: 'stop',
    volumes: [{ deviceName: '/dev/xvda', volumeId: VOLUME, deleteOnTermination: true, attachMs: 0 }],
    tags: { Role: 'web', Golden: 'true' },
    timeline: [{ state: 'running', atMs: 0 }],
    announced: 1,
  };
  rs.snapshots[SNAPSHOT] = {
    snapshotId: SNAPSHOT,
    volumeId: VOLUME,
    volumeSize: 8,
    encrypted: false,
    description: '',
    ownerId: ACCOUNT,
    startMs: Date.parse('2026-11-23T07:45:00.000Z'),
    state: 'completed',
    tags: { ...managed },
    createVolumePermission: { userIds: [], groups: [] },
  };
  rs.snapshots[BASE_SNAPSHOT] = {
    ...(rs.snapshots[SNAPSHOT] as NonNullable<RegionState['snapshots'][string]>),
    snapshotId: BASE_SNAPSHOT,
    tags: {},
    ownerId: '137112412989',
  };
  const image = {
    imageId: IMAGE,
    name: 'web-20261123T0742Z-3f2a1b2c',
    ownerId: ACCOUNT,
    state: 'available' as const,
    createdMs: 0,
    kind: 'create' as const,
    imageType: 'machine' as const,
    architecture: 'x86_64',
    platformDetails: 'Linux/UNIX',
    usageOperation: 'RunInstances',
    rootDeviceType: 'ebs' as const,
    rootDeviceName: '/dev/xvda',
    virtualizationType: 'hvm' as const,
    hypervisor: 'xen' as const,
    enaSupport: true,
    blockDeviceMappings: [
      {
        deviceName: '/dev/xvda',
        ebs: { snapshotId: SNAPSHOT, volumeSize: 8, volumeType: 'gp3', deleteOnTermination: true, encrypted: false },
      },
    ],
    launchPermissions: [],
    tags: { ...managed },
    deregistrationProtection: 'disabled' as const,
    requestId: 'req',
  };
  rs.images[IMAGE] = image;
  rs.images[BASE_IMAGE] = {
    ...image,
    imageId: BASE_IMAGE,
    name: 'al2023-ami-2023.6-x86_64',
    ownerId: '137112412989',
    ownerAlias: 'amazon',
    tags: {},
    launchPermissions: [{ group: 'all' }],
    imdsSupport: 'v2.0',
    blockDeviceMappings: [
      {
        deviceName: '/dev/xvda',
        ebs: { snapshotId: BASE_SNAPSHOT, volumeSize: 8, volumeType: 'gp3', deleteOnTermination: true, encrypted: false },
      },
    ],
  };
  return rs;
}
