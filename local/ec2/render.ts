import { createHash } from 'node:crypto';
import { tagSet } from './context.js';
import {
  INSTANCE_STATE_CODES,
  isoMs,
  LOCAL_ACCOUNT_ID,
  type BlockDeviceRecord,
  type ImageRecord,
  type InstanceRecord,
  type LaunchPermissionRecord,
  type SnapshotRecord,
} from './model.js';
import type { World } from './world.js';
import type { XmlObject } from '../protocols/query.js';

/** Element names as @aws-sdk/client-ec2 deserializes them (`imagesSet/item`, `imageOwnerId`, ...). */
export function blockDeviceXml(b: BlockDeviceRecord): XmlObject {
  const out: XmlObject = { deviceName: b.deviceName };
  if (b.virtualName !== undefined) out.virtualName = b.virtualName;
  if (b.noDevice === true) out.noDevice = '';
  if (b.ebs !== undefined) {
    out.ebs = {
      snapshotId: b.ebs.snapshotId,
      volumeSize: b.ebs.volumeSize,
      deleteOnTermination: b.ebs.deleteOnTermination,
      volumeType: b.ebs.volumeType,
      iops: b.ebs.iops,
      throughput: b.ebs.throughput,
      encrypted: b.ebs.encrypted,
      kmsKeyId: b.ebs.kmsKeyId,
    };
  }
  return out;
}

export function imageIsPublic(image: ImageRecord): boolean {
  return image.launchPermissions.some((lp) => lp.group === 'all');
}

export function imageXml(image: ImageRecord, now: number): XmlObject {
  return {
    imageId: image.imageId,
    imageLocation: image.imageLocation ?? `${image.ownerAlias ?? image.ownerId}/${image.name}`,
    imageState: image.state,
    imageOwnerId: image.ownerId,
    creationDate: isoMs(image.createdMs),
    isPublic: imageIsPublic(image),
    architecture: image.architecture,
    imageType: image.imageType,
    platform: image.platform,
    platformDetails: image.platformDetails,
    usageOperation: image.usageOperation,
    imageOwnerAlias: image.ownerAlias,
    name: image.name,
    description: image.description,
    rootDeviceType: image.rootDeviceType,
    rootDeviceName: image.rootDeviceName,
    blockDeviceMapping: image.blockDeviceMappings.map(blockDeviceXml),
    virtualizationType: image.virtualizationType,
    tagSet: tagSet(image.tags),
    hypervisor: image.hypervisor,
    enaSupport: image.enaSupport,
    sriovNetSupport: image.sriovNetSupport,
    bootMode: image.bootMode,
    tpmSupport: image.tpmSupport,
    imdsSupport: image.imdsSupport,
    deprecationTime: image.deprecationMs !== undefined ? isoMs(image.deprecationMs) : undefined,
    stateReason: image.stateReason,
    sourceInstanceId: image.sourceInstanceId,
    sourceImageId: image.sourceImageId,
    sourceImageRegion: image.sourceImageRegion,
    deregistrationProtection: deregistrationProtectionValue(image, now),
  };
}

/** `disabled`, `enabled-with-cooldown`, `enabled-without-cooldown`, or `disabled-until <time>` during a cooldown. */
export function deregistrationProtectionValue(image: ImageRecord, now: number): string {
  if (image.deregistrationProtection === 'disabled' && image.protectedUntilMs !== undefined && image.protectedUntilMs > now) {
    return `disabled-until ${isoMs(image.protectedUntilMs).replace(/\.\d{3}Z$/, 'Z')}`;
  }
  return image.deregistrationProtection;
}

export function launchPermissionXml(lp: LaunchPermissionRecord): XmlObject {
  return { group: lp.group, userId: lp.userId, organizationArn: lp.organizationArn, organizationalUnitArn: lp.organizationalUnitArn };
}

/** Instance types EBS-optimized by default (current generations): DescribeInstances reports ebsOptimized true for them. */
const EBS_OPTIMIZED_BY_DEFAULT = /^(t3a?|t4g|[a-z]+[5-9][a-z0-9-]*)\./;

/** Stable ids derived from the instance's (EC2 would have made them at launch; derived, old worlds have them too). */
function derivedId(prefix: string, instanceId: string, length: number): string {
  return `${prefix}${createHash('sha256').update(`${prefix}${instanceId}`).digest('hex').slice(0, length)}`;
}

/** The primary network interface every VPC instance has (eth0, device index 0), while it is not terminated. */
function networkInterfaceXml(inst: InstanceRecord, privateDnsName: string): XmlObject {
  const mac = derivedId('', inst.instanceId, 10).replace(/(..)(?!$)/g, '$1:');
  const group = { groupId: 'sg-0a1b2c3d4e5f60718', groupName: 'default' };
  return {
    attachment: {
      attachTime: isoMs(inst.launchMs),
      attachmentId: derivedId('eni-attach-', inst.instanceId, 17),
      deleteOnTermination: true,
      deviceIndex: 0,
      status: 'attached',
      networkCardIndex: 0,
    },
    description: '',
    groupSet: [group],
    ipv6AddressesSet: [],
    macAddress: `02:${mac}`,
    networkInterfaceId: derivedId('eni-', inst.instanceId, 17),
    ownerId: LOCAL_ACCOUNT_ID,
    privateDnsName,
    privateIpAddress: inst.privateIp,
    privateIpAddressesSet: [{ primary: true, privateDnsName, privateIpAddress: inst.privateIp }],
    sourceDestCheck: true,
    status: 'in-use',
    subnetId: inst.subnetId,
    vpcId: inst.vpcId,
    interfaceType: 'interface',
  };
}

export function instanceXml(world: World, inst: InstanceRecord, launchIndex: number): XmlObject {
  const entry = world.instanceEntry(inst);
  const state = entry.state;
  const stopped = state === 'stopped' || state === 'terminated' || state === 'stopping' || state === 'shutting-down';
  const reasonCode = entry.reason ?? 'Client.UserInitiatedShutdown';
  const attached = state !== 'terminated';
  const privateDnsName = attached ? `ip-${inst.privateIp.replace(/\./g, '-')}.ec2.internal` : '';
  const metadata = inst.metadataOptions ?? {
    httpTokens: 'optional',
    httpPutResponseHopLimit: 1,
    httpEndpoint: 'enabled',
    httpProtocolIpv6: 'disabled',
    instanceMetadataTags: 'disabled',
  };
  return {
    instanceId: inst.instanceId,
    imageId: inst.imageId,
    instanceState: { code: INSTANCE_STATE_CODES[state], name: state },
    privateDnsName,
    dnsName: '',
    reason: stopped
      ? `User initiated (${isoMs(entry.atMs)
          .replace('T', ' ')
          .replace(/\.\d{3}Z$/, ' GMT')})`
      : '',
    amiLaunchIndex: launchIndex,
    productCodes: [],
    instanceType: inst.instanceType,
    launchTime: isoMs(inst.launchMs),
    placement: { availabilityZone: inst.availabilityZone, groupName: '', tenancy: 'default' },
    monitoring: { state: 'disabled' },
    subnetId: attached ? inst.subnetId : undefined,
    vpcId: attached ? inst.vpcId : undefined,
    privateIpAddress: attached ? inst.privateIp : undefined,
    sourceDestCheck: true,
    groupSet: [{ groupId: 'sg-0a1b2c3d4e5f60718', groupName: 'default' }],
    stateReason: stopped
      ? {
          code: reasonCode,
          message: `${reasonCode}: ${reasonCode === 'Client.InstanceInitiatedShutdown' ? 'Instance initiated shutdown' : 'User initiated shutdown'}`,
        }
      : state === 'pending'
        ? { code: 'pending', message: 'pending' }
        : undefined,
    architecture: inst.architecture,
    rootDeviceType: 'ebs',
    rootDeviceName: inst.rootDeviceName,
    blockDeviceMapping: attached
      ? inst.volumes.map((v) => ({
          deviceName: v.deviceName,
          ebs: { volumeId: v.volumeId, status: 'attached', attachTime: isoMs(v.attachMs), deleteOnTermination: v.deleteOnTermination },
        }))
      : [],
    virtualizationType: 'hvm',
    clientToken: inst.clientToken ?? '',
    tagSet: tagSet(inst.tags),
    hypervisor: 'xen',
    networkInterfaceSet: attached ? [networkInterfaceXml(inst, privateDnsName)] : [],
    ebsOptimized: inst.ebsOptimized ?? EBS_OPTIMIZED_BY_DEFAULT.test(inst.instanceType),
    enaSupport: true,
    hibernationOptions: { configured: inst.hibernationConfigured ?? false },
    metadataOptions: { state: state === 'pending' ? 'pending' : 'applied', ...metadata },
    bootMode: inst.bootMode,
    platformDetails: 'Linux/UNIX',
    usageOperation: 'RunInstances',
  };
}

export function snapshotXml(snap: SnapshotRecord, now: number): XmlObject {
  let progress = snap.state === 'completed' ? 100 : 0;
  if (snap.state === 'pending' && snap.completeAtMs !== undefined && snap.completeAtMs > snap.startMs) {
    progress = Math.min(99, Math.max(0, Math.floor(((now - snap.startMs) / (snap.completeAtMs - snap.startMs)) * 100)));
  }
  return {
    snapshotId: snap.snapshotId,
    volumeId: snap.volumeId,
    status: snap.state,
    statusMessage: snap.stateMessage,
    startTime: isoMs(snap.startMs),
    progress: `${progress}%`,
    ownerId: snap.ownerId,
    ownerAlias: snap.ownerId === LOCAL_ACCOUNT_ID ? undefined : 'amazon',
    volumeSize: snap.volumeSize,
    description: snap.description,
    encrypted: snap.encrypted,
    kmsKeyId: snap.kmsKeyId,
    tagSet: tagSet(snap.tags),
    storageTier: 'standard',
  };
}
