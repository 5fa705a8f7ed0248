import { createHash } from 'node:crypto';
import {
  getInstance,
  instanceNotFound,
  addTags,
  maxResults,
  paginate,
  parseTagSpecifications,
  sortKey,
  type ActionContext,
  type ActionHandler,
  checkInstanceId,
  getImage,
} from './context.js';
import { Ec2ApiError, invalidValue } from './errors.js';
import { parseFilters, applyFilters, type FilterSpec } from './filters.js';
import {
  INSTANCE_STATE_CODES,
  LOCAL_ACCOUNT_ID as ACCOUNT,
  newId,
  type InstanceMetadataOptions,
  type InstanceRecord,
  type InstanceStateName,
  type TagMap,
} from './model.js';
import { instanceXml } from './render.js';
import type { World } from './world.js';
import { TEST_SCRIPT_BEGIN, TEST_SCRIPT_END } from '../../functions/lib/userdata.js';
import type { Params, XmlObject } from '../protocols/query.js';

/**
 * Instances: DescribeInstances, RunInstances, StopInstances, StartInstances, TerminateInstances.
 *
 * A builder instance "runs its user data": when the (base64) user data contains the line
 * `shutdown -h now` (or `poweroff` / `halt -p`), the instance shuts itself down once
 * `builderBuildMs` of simulated time after it is running — stopped with
 * InstanceInitiatedShutdownBehavior=stop (the default), terminated with `terminate`. When the
 * user data tags the instance (`aws ec2 create-tags ... --tags Key=K,Value=V`, as the factory's
 * tag done-signal does), those tags appear at the same moment.
 *
 * A test instance (its user data holds the factory's test wrapper, functions/lib/userdata.ts
 * testScript) "runs" the family's test script: it fails when the script has a line `exit N`
 * (N > 0) or `false`, never finishes when it has `sleep infinity`, and passes otherwise; the
 * wrapper then reports as it says (stops itself on a pass, or tags ami-factory:test-status).
 * The script's `echo` lines, and the wrapper's verdict line, are its console output
 * (GetConsoleOutput), written when the script ends. The fault `failTestsIn` fails the tests
 * of some regions whatever their script.
 */
const FILTERS: FilterSpec<{ inst: InstanceRecord; state: InstanceStateName }> = {
  names: new Set([
    'instance-id',
    'instance-state-name',
    'instance-state-code',
    'image-id',
    'instance-type',
    'architecture',
    'availability-zone',
    'block-device-mapping.volume-id',
    'block-device-mapping.device-name',
    'client-token',
    'reservation-id',
    'root-device-type',
    'root-device-name',
    'subnet-id',
    'vpc-id',
    'private-ip-address',
    'owner-id',
  ]),
  tags: (x) => x.inst.tags,
  values: ({ inst, state }, name) => {
    switch (name) {
      case 'instance-id':
        return [inst.instanceId];
      case 'instance-state-name':
        return [state];
      case 'instance-state-code':
        return [String(INSTANCE_STATE_CODES[state])];
      case 'image-id':
        return [inst.imageId];
      case 'instance-type':
        return [inst.instanceType];
      case 'architecture':
        return [inst.architecture];
      case 'availability-zone':
        return [inst.availabilityZone];
      case 'block-device-mapping.volume-id':
        return state === 'terminated' ? [] : inst.volumes.map((v) => v.volumeId);
      case 'block-device-mapping.device-name':
        return state === 'terminated' ? [] : inst.volumes.map((v) => v.deviceName);
      case 'client-token':
        return inst.clientToken !== undefined ? [inst.clientToken] : [];
      case 'reservation-id':
        return [inst.reservationId];
      case 'root-device-type':
        return ['ebs'];
      case 'root-device-name':
        return [inst.rootDeviceName];
      case 'subnet-id':
        return [inst.subnetId];
      case 'vpc-id':
        return [inst.vpcId];
      case 'private-ip-address':
        return [inst.privateIp];
      case 'owner-id':
        return [ACCOUNT];
      default:
        return [];
    }
  },
};

function reservationsXml(world: World, instances: InstanceRecord[]): XmlObject[] {
  const byReservation = new Map<string, InstanceRecord[]>();
  for (const inst of instances) {
    const list = byReservation.get(inst.reservationId) ?? [];
    list.push(inst);
    byReservation.set(inst.reservationId, list);
  }
  return [...byReservation.entries()].map(([reservationId, list]) => ({
    reservationId,
    ownerId: ACCOUNT,
    groupSet: [],
    instancesSet: list.map((inst) => instanceXml(world, inst, inst.launchIndex ?? 0)),
  }));
}

export const describeInstances: ActionHandler = (ctx) => {
  const ids = ctx.p.strings('InstanceId');
  const max = maxResults(ctx.p, ids.length > 0, 'InstanceIds');
  let list: InstanceRecord[];
  if (ids.length > 0) {
    ids.forEach(checkInstanceId);
    const missingIds = ids.filter((id) => ctx.rs.instances[id] === undefined);
    if (missingIds.length > 0) throw instanceNotFound(missingIds);
    list = [...new Set(ids)].map((id) => ctx.rs.instances[id] as InstanceRecord);
  } else {
    list = Object.values(ctx.rs.instances);
  }
  const withState = list.map((inst) => ({ inst, state: ctx.world.instanceState(inst, ctx.now) }));
  const filtered = applyFilters(withState, parseFilters(ctx.p), FILTERS).map((x) => x.inst);
  filtered.sort((a, b) => sortKey(a.launchMs, a.instanceId).localeCompare(sortKey(b.launchMs, b.instanceId)));
  const page = paginate(ctx, filtered, (i) => sortKey(i.launchMs, i.instanceId), max);
  return { reservationSet: reservationsXml(ctx.world, page.items), nextToken: page.nextToken };
};

// ---- RunInstances ------------------------------------------------------------------------------

const SHUTDOWN_MARKER = /^\s*(sudo\s+)?(shutdown\s+(-h|-P|--poweroff|--halt)\s+now|poweroff|halt\s+-p)\s*$/m;
const SELF_TAG = /aws\s+ec2\s+create-tags\s+[^\n]*--tags\s+((?:Key=[^,\s]+,Value=[^\s]*\s*)+)/g;

/** What the simulated builder does with its user data (see the module comment). */
export function builderPlan(userDataBase64: string | undefined): { shutdown: boolean; tags: TagMap } {
  if (userDataBase64 === undefined || userDataBase64 === '') return { shutdown: false, tags: {} };
  const script = Buffer.from(userDataBase64, 'base64').toString('utf8');
  const tags: TagMap = {};
  for (const m of script.matchAll(SELF_TAG)) {
    for (const kv of (m[1] ?? '').trim().split(/\s+/)) {
      const t = /^Key=([^,]+),Value=(.*)$/.exec(kv);
      if (t !== null) tags[(t[1] ?? '').replace(/^["']|["']$/g, '')] = (t[2] ?? '').replace(/^["']|["']$/g, '');
    }
  }
  return { shutdown: SHUTDOWN_MARKER.test(script), tags };
}

/** What a simulated test instance does with the factory's test wrapper (see the module comment). */
export function testPlan(
  userDataBase64: string | undefined,
  forceFailure = false,
): { shutdown: boolean; tags: TagMap; console: string[] } | undefined {
  if (userDataBase64 === undefined || userDataBase64 === '') return undefined;
  const script = Buffer.from(userDataBase64, 'base64').toString('utf8');
  const begin = script.indexOf(TEST_SCRIPT_BEGIN);
  const end = script.indexOf(TEST_SCRIPT_END);
  if (begin < 0 || end < begin) return undefined;
  const body = script.slice(begin + TEST_SCRIPT_BEGIN.length, end);
  const wrapper = script.slice(end);
  const lines = body.split('\n');
  const stopAt = lines.findIndex((l) => /^\s*(exit\s+[1-9]\d*|false|sleep\s+infinity)\s*(#.*)?$/.test(l));
  const ran = stopAt < 0 ? lines : lines.slice(0, stopAt);
  const hangs = stopAt >= 0 && /sleep\s+infinity/.test(lines[stopAt] ?? '');
  const console = ran.flatMap((l) => {
    const m = /^\s*echo\s+(.*)$/.exec(l);
    return m === null ? [] : [(m[1] ?? '').trim().replace(/^(["'])(.*)\1$/, '$2')];
  });
  const own = builderPlan(Buffer.from(ran.join('\n'), 'utf8').toString('base64')).tags;
  if (hangs) return { shutdown: false, tags: own, console };
  const status = stopAt < 0 && !forceFailure ? 'passed' : 'failed';
  if (forceFailure) console.push('test failed (local fault: failTestsIn)');
  console.push(`ami-factory test: ${status}`);
  const tagReport = /create-tags[^\n]*Value=\$STATUS/.test(wrapper);
  const tagKey = /--tags\s+Key=([^,\s]+),Value=\$STATUS/.exec(wrapper)?.[1];
  return {
    shutdown: !tagReport && status === 'passed' && /shutdown -h now/.test(wrapper),
    tags: tagReport && tagKey !== undefined ? { ...own, [tagKey]: status } : own,
    console,
  };
}

const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\d[a-z0-9-]*\.(nano|micro|small|medium|large|xlarge|\d+xlarge|metal(-\d+xl)?)$/;

export const runInstances: ActionHandler = (ctx) => {
  const { p, rs, now } = ctx;
  const imageId = p.required('ImageId');
  const minCount = p.int('MinCount');
  const maxCount = p.int('MaxCount');
  if (minCount === undefined) throw new Ec2ApiError('MissingParameter', 'The request must contain the parameter MinCount');
  if (maxCount === undefined) throw new Ec2ApiError('MissingParameter', 'The request must contain the parameter MaxCount');
  if (minCount < 1 || maxCount < minCount) throw invalidValue(`Invalid MinCount/MaxCount: ${minCount}/${maxCount}`);
  const instanceType = p.str('InstanceType') ?? 'm1.small';
  if (!INSTANCE_TYPE.test(instanceType)) throw invalidValue(`Invalid value '${instanceType}' for InstanceType.`);
  const clientToken = p.str('ClientToken');
  const fingerprint = createHash('sha256')
    .update(
      JSON.stringify(Object.fromEntries(Object.entries(p.tree).filter(([k]) => k !== 'ClientToken' && k !== 'Action' && k !== 'Version'))),
    )
    .digest('hex');
  if (clientToken !== undefined && clientToken !== '') {
    if (clientToken.length > 64) throw invalidValue('ClientToken must be at most 64 ASCII characters');
    const prior = rs.runTokens[clientToken];
    if (prior !== undefined) {
      if (prior.fingerprint !== fingerprint) {
        throw new Ec2ApiError('IdempotentParameterMismatch', `Client token '${clientToken}' was used with different parameters`);
      }
      const instances = prior.instanceIds.flatMap((id) => (rs.instances[id] !== undefined ? [rs.instances[id]] : []));
      return {
        reservationId: prior.reservationId,
        ownerId: ACCOUNT,
        groupSet: [],
        instancesSet: instances.map((i) => instanceXml(ctx.world, i, i.launchIndex ?? 0)),
      };
    }
  }
  const image = getImage(ctx, imageId);
  if (image.state !== 'available') {
    throw new Ec2ApiError('InvalidAMIID.Unavailable', `The image id '[${image.imageId}]' is not available (state: ${image.state})`);
  }
  if (image.rootDeviceType !== 'ebs')
    throw new Ec2ApiError('InvalidParameterValue', `Launching instance-store image ${image.imageId} is not supported locally`);
  const tagSpecs = parseTagSpecifications(p, ['instance', 'volume', 'network-interface', 'spot-instances-request']);
  const shutdownBehavior = p.str('InstanceInitiatedShutdownBehavior') ?? 'stop';
  if (shutdownBehavior !== 'stop' && shutdownBehavior !== 'terminate') {
    throw invalidValue(`Invalid value '${shutdownBehavior}' for InstanceInitiatedShutdownBehavior`);
  }
  const userData = p.str('UserData');
  if (userData !== undefined && Buffer.from(userData, 'base64').length > 16 * 1024) {
    throw invalidValue('User data is limited to 16384 bytes');
  }
  const overrides = new Map(p.list('BlockDeviceMapping').map((b) => [b.required('DeviceName'), b]));
  const metadata = metadataOptions(p.child('MetadataOptions'), image.imdsSupport === 'v2.0');
  const ebsOptimized = p.bool('EbsOptimized');
  const hibernation = p.child('HibernationOptions')?.bool('Configured');
  const test = testPlan(userData, ctx.faults.failTestsIn?.includes(ctx.region) === true);
  const plan = test ?? builderPlan(userData);
  const reservationId = newId('r');
  const created: InstanceRecord[] = [];
  const az = `${ctx.region}a`;
  for (let n = 0; n < maxCount; n++) {
    const instanceId = newId('i');
    const volumes: InstanceRecord['volumes'] = [];
    for (const b of image.blockDeviceMappings) {
      if (b.ebs === undefined || b.noDevice === true) continue;
      const o = overrides.get(b.deviceName);
      if (o?.has('NoDevice') === true) continue;
      const oe = o?.child('Ebs');
      const snap = b.ebs.snapshotId !== undefined ? rs.snapshots[b.ebs.snapshotId] : undefined;
      const size = oe?.int('VolumeSize') ?? b.ebs.volumeSize ?? snap?.volumeSize ?? 8;
      const volumeId = newId('vol');
      rs.volumes[volumeId] = {
        volumeId,
        size,
        volumeType: oe?.str('VolumeType') ?? b.ebs.volumeType ?? 'gp3',
        encrypted: oe?.bool('Encrypted') ?? b.ebs.encrypted,
        ...(b.ebs.kmsKeyId !== undefined ? { kmsKeyId: b.ebs.kmsKeyId } : {}),
        ...(b.ebs.snapshotId !== undefined ? { snapshotId: b.ebs.snapshotId } : {}),
        availabilityZone: az,
        createdMs: now,
        tags: { ...(tagSpecs.volume ?? {}) },
      };
      volumes.push({
        deviceName: b.deviceName,
        volumeId,
        deleteOnTermination: oe?.bool('DeleteOnTermination') ?? b.ebs.deleteOnTermination,
        attachMs: now,
      });
    }
    const inst: InstanceRecord = {
      instanceId,
      reservationId,
      imageId: image.imageId,
      instanceType,
      architecture: image.architecture,
      launchMs: now,
      launchIndex: n,
      availabilityZone: az,
      subnetId: p.str('SubnetId') ?? 'subnet-0a1b2c3d4e5f60700',
      vpcId: 'vpc-0a1b2c3d4e5f60789',
      privateIp: `10.0.${Math.floor(Math.random() * 250) + 1}.${Math.floor(Math.random() * 250) + 2}`,
      rootDeviceName: image.rootDeviceName,
      shutdownBehavior,
      volumes,
      tags: {},
      timeline: [{ state: 'pending', atMs: now }],
      announced: 0,
    };
    if (image.bootMode !== undefined) inst.bootMode = image.bootMode;
    inst.metadataOptions = metadata;
    if (ebsOptimized !== undefined) inst.ebsOptimized = ebsOptimized;
    if (hibernation !== undefined) inst.hibernationConfigured = hibernation;
    if (clientToken !== undefined && clientToken !== '') inst.clientToken = clientToken;
    if (userData !== undefined) inst.userData = userData;
    addTags(inst.tags, tagSpecs.instance ?? {});
    const steps: { state: InstanceStateName; afterMs: number; reason?: string }[] = [
      { state: 'running', afterMs: ctx.durations.instanceBootMs },
    ];
    if (plan.shutdown) {
      const done = shutdownSteps(shutdownBehavior, ctx.durations);
      done[0] = { ...(done[0] as (typeof done)[number]), afterMs: ctx.durations.builderBuildMs };
      steps.push(...done);
    }
    ctx.world.plan(inst, steps, now);
    const scriptEndMs = now + ctx.durations.instanceBootMs + ctx.durations.builderBuildMs;
    if (Object.keys(plan.tags).length > 0) {
      inst.plannedTags = [{ atMs: scriptEndMs, tags: plan.tags }];
    }
    if (test !== undefined && test.console.length > 0) inst.console = [{ atMs: scriptEndMs, lines: test.console }];
    rs.instances[instanceId] = inst;
    created.push(inst);
  }
  if (clientToken !== undefined && clientToken !== '') {
    rs.runTokens[clientToken] = { reservationId, instanceIds: created.map((i) => i.instanceId), fingerprint };
  }
  ctx.world.schedule();
  return { reservationId, ownerId: ACCOUNT, groupSet: [], instancesSet: created.map((i) => instanceXml(ctx.world, i, i.launchIndex ?? 0)) };
};

/**
 * RunInstances MetadataOptions over the defaults: an AMI with ImdsSupport v2.0 launches with
 * IMDSv2 required and a hop limit of 2, others with IMDSv1 allowed and a hop limit of 1.
 */
function metadataOptions(p: Params | undefined, imdsV2: boolean): InstanceMetadataOptions {
  const oneOf = <T extends string>(key: string, allowed: readonly T[], dflt: T): T => {
    const v = p?.str(key);
    if (v === undefined) return dflt;
    if (!(allowed as readonly string[]).includes(v)) throw invalidValue(`Invalid value '${v}' for MetadataOptions.${key}`);
    return v as T;
  };
  const hops = p?.int('HttpPutResponseHopLimit') ?? (imdsV2 ? 2 : 1);
  if (hops < 1 || hops > 64) throw invalidValue(`Invalid value '${hops}' for MetadataOptions.HttpPutResponseHopLimit (1-64)`);
  return {
    httpTokens: oneOf('HttpTokens', ['optional', 'required'] as const, imdsV2 ? 'required' : 'optional'),
    httpPutResponseHopLimit: hops,
    httpEndpoint: oneOf('HttpEndpoint', ['enabled', 'disabled'] as const, 'enabled'),
    httpProtocolIpv6: oneOf('HttpProtocolIpv6', ['enabled', 'disabled'] as const, 'disabled'),
    instanceMetadataTags: oneOf('InstanceMetadataTags', ['enabled', 'disabled'] as const, 'disabled'),
  };
}

function shutdownSteps(
  behavior: 'stop' | 'terminate',
  d: ActionContext['durations'],
): { state: InstanceStateName; afterMs: number; reason?: string }[] {
  const reason = 'Client.InstanceInitiatedShutdown';
  return behavior === 'stop'
    ? [
        { state: 'stopping', afterMs: 0, reason },
        { state: 'stopped', afterMs: d.instanceStopMs, reason },
      ]
    : [
        { state: 'shutting-down', afterMs: 0, reason },
        { state: 'terminated', afterMs: d.instanceStopMs, reason },
      ];
}

// ---- Stop / Start / Terminate ------------------------------------------------------------------

function stateChange(ctx: ActionContext, change: (inst: InstanceRecord, state: InstanceStateName) => void): XmlObject {
  const ids = ctx.p.strings('InstanceId');
  if (ids.length === 0) throw new Ec2ApiError('MissingParameter', 'The request must contain the parameter InstanceId');
  ids.forEach(checkInstanceId);
  const missingIds = ids.filter((id) => ctx.rs.instances[id] === undefined);
  if (missingIds.length > 0) throw instanceNotFound(missingIds);
  const items: XmlObject[] = [];
  const insts = ids.map((id) => getInstance(ctx, id));
  const before = insts.map((inst) => ctx.world.instanceState(inst, ctx.now));
  insts.forEach((inst, i) => change(inst, before[i] as InstanceStateName));
  insts.forEach((inst, i) => {
    const prev = before[i] as InstanceStateName;
    const cur = ctx.world.instanceState(inst, ctx.now);
    items.push({
      instanceId: inst.instanceId,
      currentState: { code: INSTANCE_STATE_CODES[cur], name: cur },
      previousState: { code: INSTANCE_STATE_CODES[prev], name: prev },
    });
  });
  return { instancesSet: items };
}

export const stopInstances: ActionHandler = (ctx) => {
  // Validate all before changing any.
  for (const id of ctx.p.strings('InstanceId')) {
    const inst = ctx.rs.instances[id];
    if (inst === undefined) continue;
    const s = ctx.world.instanceState(inst, ctx.now);
    if (s === 'terminated' || s === 'shutting-down' || s === 'pending') {
      throw new Ec2ApiError('IncorrectInstanceState', `The instance '${id}' is not in a state from which it can be stopped.`);
    }
  }
  return stateChange(ctx, (inst, s) => {
    if (s === 'stopped' || s === 'stopping') return;
    ctx.world.plan(
      inst,
      [
        { state: 'stopping', afterMs: 0, reason: 'Client.UserInitiatedShutdown' },
        { state: 'stopped', afterMs: ctx.durations.instanceStopMs, reason: 'Client.UserInitiatedShutdown' },
      ],
      ctx.now,
    );
  });
};

export const startInstances: ActionHandler = (ctx) => {
  for (const id of ctx.p.strings('InstanceId')) {
    const inst = ctx.rs.instances[id];
    if (inst === undefined) continue;
    const s = ctx.world.instanceState(inst, ctx.now);
    if (s !== 'stopped' && s !== 'running' && s !== 'pending') {
      throw new Ec2ApiError('IncorrectInstanceState', `The instance '${id}' is not in a state from which it can be started.`);
    }
  }
  return stateChange(ctx, (inst, s) => {
    if (s !== 'stopped') return;
    ctx.world.plan(
      inst,
      [
        { state: 'pending', afterMs: 0 },
        { state: 'running', afterMs: ctx.durations.instanceBootMs },
      ],
      ctx.now,
    );
  });
};

export const terminateInstances: ActionHandler = (ctx) =>
  stateChange(ctx, (inst, s) => {
    if (s === 'terminated' || s === 'shutting-down') return;
    ctx.world.plan(
      inst,
      [
        { state: 'shutting-down', afterMs: 0, reason: 'Client.UserInitiatedShutdown' },
        { state: 'terminated', afterMs: ctx.durations.instanceStopMs, reason: 'Client.UserInitiatedShutdown' },
      ],
      ctx.now,
    );
  });

// ---- GetConsoleOutput ---------------------------------------------------------------------------

/**
 * GetConsoleOutput: the instance's console output, base64 (`output`), with the time it was last
 * updated (`timestamp`). The simulated console has the boot lines once the instance is running
 * and what its user data printed once that ran; before the instance has booted EC2 gives no
 * output (the element is absent).
 */
export const getConsoleOutput: ActionHandler = (ctx) => {
  const id = ctx.p.required('InstanceId');
  checkInstanceId(id);
  const inst = ctx.rs.instances[id];
  if (inst === undefined) throw instanceNotFound([id]);
  const runningAt = inst.timeline.find((e) => e.state === 'running' && e.atMs <= ctx.now)?.atMs;
  if (runningAt === undefined) return { instanceId: id, timestamp: new Date(ctx.now).toISOString() };
  const lines = [
    `[    0.000000] Linux version 6.1.0 (ami-factory local cloud) booting ${inst.instanceId}`,
    `[    2.000000] cloud-init: running user data`,
  ];
  let updated = runningAt;
  for (const c of inst.console ?? []) {
    if (c.atMs > ctx.now) continue;
    lines.push(...c.lines);
    updated = Math.max(updated, c.atMs);
  }
  return {
    instanceId: id,
    timestamp: new Date(updated).toISOString(),
    output: Buffer.from(`${lines.join('\r\n')}\r\n`, 'utf8').toString('base64'),
  };
};
