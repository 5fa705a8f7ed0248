import { randomUUID } from 'node:crypto';
import {
  AMAZON_ACCOUNT_ID,
  LOCAL_ACCOUNT_ID,
  newId,
  REGIONS,
  type Ec2State,
  type ImageRecord,
  type InstanceRecord,
  type RegionState,
} from './model.js';

const DAY = 86_400_000;

/** Amazon Linux 2023 base images seeded in every region (public, owned by Amazon). */
export const SEED_BASE_IMAGES = [
  {
    name: 'al2023-ami-2023.5.20240624.0-kernel-6.1-x86_64',
    created: '2024-06-24T21:18:52.000Z',
    arch: 'x86_64',
    deprecated: '2024-09-24T21:18:00.000Z',
  },
  { name: 'al2023-ami-2023.6.20241010.0-kernel-6.1-x86_64', created: '2024-10-10T20:10:37.000Z', arch: 'x86_64' },
  { name: 'al2023-ami-2023.6.20241111.0-kernel-6.1-x86_64', created: '2024-11-11T23:41:26.000Z', arch: 'x86_64' },
  { name: 'al2023-ami-2023.6.20241111.0-kernel-6.1-arm64', created: '2024-11-11T23:41:30.000Z', arch: 'arm64' },
] as const;

function seedBaseImages(rs: RegionState): string {
  let newest = '';
  for (const b of SEED_BASE_IMAGES) {
    const imageId = newId('ami');
    const snapshotId = newId('snap');
    const createdMs = Date.parse(b.created);
    rs.snapshots[snapshotId] = {
      snapshotId,
      volumeId: 'vol-ffffffff',
      volumeSize: 8,
      encrypted: false,
      description: `Copied for DestinationAmi ${imageId} from SourceAmi ami-0000000000000000 for SourceSnapshot snap-0000000000000000`,
      ownerId: AMAZON_ACCOUNT_ID,
      startMs: createdMs,
      state: 'completed',
      tags: {},
      createVolumePermission: { userIds: [], groups: [] },
    };
    const image: ImageRecord = {
      imageId,
      name: b.name,
      description: `Amazon Linux 2023 AMI ${b.name.split('-')[2] ?? ''} ${b.arch} HVM kernel-6.1`,
      ownerId: AMAZON_ACCOUNT_ID,
      ownerAlias: 'amazon',
      state: 'available',
      createdMs,
      kind: 'seed',
      imageType: 'machine',
      architecture: b.arch,
      platformDetails: 'Linux/UNIX',
      usageOperation: 'RunInstances',
      rootDeviceType: 'ebs',
      rootDeviceName: '/dev/xvda',
      virtualizationType: 'hvm',
      hypervisor: 'xen',
      enaSupport: true,
      sriovNetSupport: 'simple',
      bootMode: b.arch === 'arm64' ? 'uefi' : 'uefi-preferred',
      imdsSupport: 'v2.0',
      imageLocation: `amazon/${b.name}`,
      blockDeviceMappings: [
        {
          deviceName: '/dev/xvda',
          ebs: { snapshotId, volumeSize: 8, volumeType: 'gp3', deleteOnTermination: true, encrypted: false, iops: 3000, throughput: 125 },
        },
      ],
      launchPermissions: [{ group: 'all' }],
      tags: {},
      deregistrationProtection: 'disabled',
      requestId: randomUUID(),
    };
    if ('deprecated' in b) image.deprecationMs = Date.parse(b.deprecated);
    rs.images[imageId] = image;
    if (b.arch === 'x86_64' && !('deprecated' in b)) newest = imageId;
  }
  return newest;
}

/**
 * The demo world: Amazon Linux base images in every region, and in us-east-1 three running
 * `web` instances (tags Name, ami-factory:family=web, Role=web; exactly one Golden=true),
 * each with an 8 GiB gp3 root volume on /dev/xvda and, for two of them, a data volume, and the
 * `web` launch template (SEED_WEB_LAUNCH_TEMPLATE_ID, version 1 on the base image).
 */
export function seedWorld(state: Ec2State, nowMs: number, region: (name: string) => RegionState): void {
  for (const name of REGIONS) {
    const rs = region(name);
    const base = seedBaseImages(rs);
    if (name !== 'us-east-1') continue;
    const webs = [
      { name: 'web-1', golden: true, data: 20, az: 'us-east-1a', ip: '10.0.1.11' },
      { name: 'web-2', golden: false, data: undefined, az: 'us-east-1b', ip: '10.0.2.12' },
      { name: 'web-3', golden: false, data: 50, az: 'us-east-1c', ip: '10.0.3.13' },
    ];
    webs.forEach((w, i) => {
      const instanceId = newId('i');
      const launchMs = nowMs - (10 - i) * DAY;
      const volumes: InstanceRecord['volumes'] = [];
      const addVolume = (deviceName: string, size: number, deleteOnTermination: boolean): void => {
        const volumeId = newId('vol');
        rs.volumes[volumeId] = {
          volumeId,
          size,
          volumeType: 'gp3',
          encrypted: false,
          iops: 3000,
          throughput: 125,
          availabilityZone: w.az,
          createdMs: launchMs,
          tags: { Name: w.name },
        };
        volumes.push({ deviceName, volumeId, deleteOnTermination, attachMs: launchMs });
      };
      addVolume('/dev/xvda', 8, true);
      if (w.data !== undefined) addVolume('/dev/sdf', w.data, false);
      const tags: Record<string, string> = { Name: w.name, 'ami-factory:family': 'web', Role: 'web' };
      if (w.golden) tags.Golden = 'true';
      rs.instances[instanceId] = {
        instanceId,
        reservationId: newId('r'),
        imageId: base,
        instanceType: 't3.micro',
        architecture: 'x86_64',
        launchMs,
        availabilityZone: w.az,
        subnetId: `subnet-0${(i + 1).toString().repeat(16)}`,
        vpcId: 'vpc-0a1b2c3d4e5f60789',
        privateIp: w.ip,
        rootDeviceName: '/dev/xvda',
        bootMode: 'uefi-preferred',
        shutdownBehavior: 'stop',
        volumes,
        tags,
        timeline: [
          { state: 'pending', atMs: launchMs },
          { state: 'running', atMs: launchMs + 30_000 },
        ],
        announced: 2,
      };
    });
    // The web tier's launch template, which the `web` family publishes to (factory.config.yml).
    rs.launchTemplates = {
      ...rs.launchTemplates,
      [SEED_WEB_LAUNCH_TEMPLATE_ID]: {
        launchTemplateId: SEED_WEB_LAUNCH_TEMPLATE_ID,
        name: 'web',
        createdMs: nowMs - 30 * DAY,
        defaultVersion: 1,
        latestVersion: 1,
        tags: { Name: 'web', Role: 'web' },
        versions: [
          { versionNumber: 1, description: 'web tier', createdMs: nowMs - 30 * DAY, data: { imageId: base, instanceType: 't3.micro' } },
        ],
      },
    };
  }
  state.seeded = true;
}

/** The id of the seeded `web` launch template in us-east-1 (fixed, so the config can name it). */
export const SEED_WEB_LAUNCH_TEMPLATE_ID = 'lt-0a1b2c3d4e5f60718';

/** Bulk inventory of managed images (benchmarks, retention at scale): see seedManagedImages. */
export interface ManagedImageSeed {
  /** Images in all (spread round-robin over `regions`). */
  count: number;
  regions: string[];
  family: string;
}

/** How far back the creation dates of bulk-seeded images reach (simulated days before now). */
export const MANAGED_SEED_SPAN_DAYS = 400;

function stamp(ms: number): string {
  // yyyymmddThhmmZ, the timestamp of the factory's deterministic names.
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\d{2}\.\d{3}Z$/, 'Z');
}

/**
 * Creates `count` available images owned by the account, as the factory would have built them:
 * tags `ami-factory:managed=true`, `ami-factory:family`, `ami-factory:build-id`,
 * `ami-factory:created-at`, names `<family>-<yyyymmddThhmmZ>-<buildId8>`, creation dates spread
 * evenly over the past MANAGED_SEED_SPAN_DAYS simulated days (newest first), one completed 8 GiB
 * snapshot each. Regions take turns. Idempotent per family: `state.managedSeeds` remembers how many
 * were seeded, so a restart with the same option adds nothing. Returns the number created.
 * The caller persists (once).
 */
export function seedManagedImages(state: Ec2State, nowMs: number, region: (name: string) => RegionState, seed: ManagedImageSeed): number {
  if (!Number.isInteger(seed.count) || seed.count < 0)
    throw new RangeError(`seedImages.count must be a non-negative integer, got ${seed.count}`);
  if (seed.regions.length === 0) throw new RangeError('seedImages.regions must name at least one region');
  const unknown = seed.regions.filter((r) => !(REGIONS as readonly string[]).includes(r));
  if (unknown.length > 0)
    throw new RangeError(`seedImages.regions: unknown region(s) ${unknown.join(', ')} (regions: ${REGIONS.join(', ')})`);
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(seed.family))
    throw new RangeError(`seedImages.family must be a lower-case name, got '${seed.family}'`);
  const seeds = (state.managedSeeds ??= {});
  const done = seeds[seed.family] ?? 0;
  if (done >= seed.count) return 0;
  const regions = seed.regions.map(region);
  const step = (MANAGED_SEED_SPAN_DAYS * DAY) / seed.count;
  for (let i = done; i < seed.count; i++) {
    const rs = regions[i % regions.length] as RegionState;
    const createdMs = Math.floor(nowMs - 60_000 - i * step);
    const buildId = randomUUID();
    const imageId = newId('ami');
    const snapshotId = newId('snap');
    // The factory tags an image and its snapshots alike at CreateImage (TagSpecifications).
    const tags = {
      'ami-factory:managed': 'true',
      'ami-factory:family': seed.family,
      'ami-factory:build-id': buildId,
      'ami-factory:created-at': new Date(createdMs).toISOString(),
    };
    rs.snapshots[snapshotId] = {
      snapshotId,
      volumeId: 'vol-ffffffff',
      volumeSize: 8,
      encrypted: false,
      description: `Created by CreateImage for ${imageId}`,
      ownerId: LOCAL_ACCOUNT_ID,
      startMs: createdMs,
      state: 'completed',
      tags: { ...tags },
      createVolumePermission: { userIds: [], groups: [] },
    };
    rs.images[imageId] = {
      imageId,
      name: `${seed.family}-${stamp(createdMs)}-${buildId.slice(0, 8)}`,
      ownerId: LOCAL_ACCOUNT_ID,
      state: 'available',
      createdMs,
      kind: 'seed',
      imageType: 'machine',
      architecture: 'x86_64',
      platformDetails: 'Linux/UNIX',
      usageOperation: 'RunInstances',
      rootDeviceType: 'ebs',
      rootDeviceName: '/dev/xvda',
      virtualizationType: 'hvm',
      hypervisor: 'xen',
      enaSupport: true,
      bootMode: 'uefi-preferred',
      blockDeviceMappings: [
        { deviceName: '/dev/xvda', ebs: { snapshotId, volumeSize: 8, volumeType: 'gp3', deleteOnTermination: true, encrypted: false } },
      ],
      launchPermissions: [],
      tags: { ...tags },
      deregistrationProtection: 'disabled',
      requestId: buildId,
    };
  }
  seeds[seed.family] = seed.count;
  return seed.count - done;
}
