import { createHash, randomUUID } from 'node:crypto';
import type { VirtualClock } from '../clock.js';
import { LocalApiError, type LocalRequest, type LocalResponse, type LocalService } from '../http.js';
import { JsonFileStore } from '../persist.js';
import { isoMs, LOCAL_ACCOUNT_ID, REGIONS } from '../ec2/model.js';
import { actionTable, withAccess, type AccessTable, type Authorize } from '../protocols/access.js';
import { keyedPage, type Page } from '../protocols/paging.js';
import { handleQuery, type Params, type QueryService, type XmlObject } from '../protocols/query.js';

/**
 * The local EC2 Auto Scaling endpoint (Query protocol, Version 2011-01-01): launch
 * configurations and Auto Scaling groups, per region, persisted with JsonFileStore. It models
 * what image retention needs to see — which launch configuration, launch template (and version)
 * or mixed-instances overrides a group launches from — and no more: groups launch no
 * instances (`Instances` is empty), there are no scaling activities or policies.
 *
 * Wire format: requests are form-urlencoded with lists as `Name.member.N`; responses are
 * `<XResponse><XResult>…</XResult><ResponseMetadata><RequestId/></ResponseMetadata></XResponse>`
 * (no Result element for actions without output), lists as `<member>`; errors are
 * `<ErrorResponse><Error><Type>Sender</Type><Code/><Message/></Error><RequestId/></ErrorResponse>`.
 * Invalid input answers `ValidationError`, like Auto Scaling (it has no MissingParameter). The
 * SDK maps the modelled wire codes to its exception names: `AlreadyExists` surfaces as
 * `AlreadyExistsFault`, `ResourceInUse` as `ResourceInUseFault`.
 */
export const AUTOSCALING_XMLNS = 'http://autoscaling.amazonaws.com/doc/2011-01-01/';

/** DescribeAutoScalingGroups / DescribeLaunchConfigurations MaxRecords: default 50, at most 100 (Auto Scaling API reference). */
export const MAX_RECORDS = { default: 50, max: 100 } as const;

/** What Auto Scaling asks of the local EC2 endpoint (Ec2Service implements it). */
export interface Ec2Lookup {
  launchTemplate(
    region: string,
    ref: { id?: string; name?: string },
  ):
    { launchTemplateId: string; launchTemplateName: string; defaultVersion: number; latestVersion: number; versions: number[] } | undefined;
  imageUsable(region: string, imageId: string): boolean;
}

export interface AutoScalingServiceOptions {
  clock: VirtualClock;
  /** e.g. `.ami-factory/autoscaling.json`; undefined = in memory. */
  stateFile?: string;
  /** The local EC2 endpoint, to validate launch templates and image ids as Auto Scaling does; without it, references are taken as given. */
  ec2?: Ec2Lookup;
  /** Authorization of each call (protocols/access.ts); default: every call is allowed. */
  authorize?: Authorize;
  /** The access requests of each action, by action name (default: `autoscaling:<Action>` on `*`). */
  access?: AccessTable<AutoScalingContext>;
}

export interface AutoScalingService extends LocalService {
  /** Persist now and stop. */
  close(): void;
}

export function createAutoScalingService(opts: AutoScalingServiceOptions): AutoScalingService {
  return new LocalAutoScaling(opts);
}

// ---- model ---------------------------------------------------------------------------------------------

export interface LaunchTemplateSpecRecord {
  launchTemplateId?: string;
  launchTemplateName?: string;
  version?: string;
}

export interface LaunchConfigurationRecord {
  name: string;
  arn: string;
  imageId: string;
  instanceType: string;
  keyName?: string;
  securityGroups: string[];
  userData?: string;
  createdMs: number;
}

export interface OverrideRecord {
  instanceType?: string;
  weightedCapacity?: string;
  imageId?: string;
  launchTemplate?: LaunchTemplateSpecRecord;
}

export interface GroupRecord {
  name: string;
  arn: string;
  minSize: number;
  maxSize: number;
  desiredCapacity: number;
  defaultCooldown: number;
  availabilityZones: string[];
  vpcZoneIdentifier?: string;
  healthCheckType: string;
  healthCheckGracePeriod: number;
  createdMs: number;
  launchConfigurationName?: string;
  launchTemplate?: LaunchTemplateSpecRecord;
  mixedInstancesPolicy?: { launchTemplate: LaunchTemplateSpecRecord; overrides: OverrideRecord[] };
  tags: { key: string; value: string; propagateAtLaunch: boolean }[];
  terminationPolicies: string[];
}

export interface RegionAutoScaling {
  launchConfigurations: Record<string, LaunchConfigurationRecord>;
  groups: Record<string, GroupRecord>;
}

interface AutoScalingState {
  version: 1;
  regions: Record<string, RegionAutoScaling>;
}

// ---- errors ----------------------------------------------------------------------------------------

export class AutoScalingApiError extends LocalApiError {}

const validation = (message: string): AutoScalingApiError => new AutoScalingApiError('ValidationError', message);

// ---- parameters ------------------------------------------------------------------------------------------

function requiredInt(p: Params, key: string): number {
  const v = p.int(key);
  if (v === undefined)
    throw validation(`1 validation error detected: Value null at '${key}' failed to satisfy constraint: Member must not be null`);
  if (v < 0) throw validation(`${key} must be at least 0`);
  return v;
}

const NAME = /^[\u0020-\uD7FF\uE000-\uFFFD\t\r\n]{1,255}$/;

function requiredName(p: Params, key: string): string {
  const v = p.str(key);
  if (v === undefined || v === '') {
    throw validation(`1 validation error detected: Value null at '${key}' failed to satisfy constraint: Member must not be null`);
  }
  if (!NAME.test(v) || v.includes(':')) throw validation(`${key} '${v}' must be 1 to 255 characters and must not contain ':'`);
  return v;
}

function templateSpec(p: Params | undefined): LaunchTemplateSpecRecord | undefined {
  if (p === undefined) return undefined;
  const spec: LaunchTemplateSpecRecord = {};
  const id = p.str('LaunchTemplateId');
  const name = p.str('LaunchTemplateName');
  const version = p.str('Version');
  if (id !== undefined) spec.launchTemplateId = id;
  if (name !== undefined) spec.launchTemplateName = name;
  if (version !== undefined) spec.version = version;
  return spec;
}

// ---- the service ----------------------------------------------------------------------------------------

/** What an Auto Scaling action is given: the region, its state, the request's parameters, the simulated time. */
export interface AutoScalingContext {
  region: string;
  ra: RegionAutoScaling;
  p: Params;
  now: number;
}

type Handler = (ctx: AutoScalingContext) => XmlObject | undefined;

const MUTATING = new Set([
  'CreateLaunchConfiguration',
  'DeleteLaunchConfiguration',
  'CreateAutoScalingGroup',
  'UpdateAutoScalingGroup',
  'DeleteAutoScalingGroup',
]);

class LocalAutoScaling implements AutoScalingService {
  readonly name = 'autoscaling';

  actionNames(): string[] {
    return Object.keys(this.protocol.actions);
  }
  private readonly store: JsonFileStore<AutoScalingState>;
  private readonly protocol: QueryService<AutoScalingContext>;

  constructor(private readonly opts: AutoScalingServiceOptions) {
    this.store = new JsonFileStore<AutoScalingState>(opts.stateFile, () => ({ version: 1, regions: {} }));
    const actions = actionTable<AutoScalingContext, XmlObject | undefined>({
      CreateLaunchConfiguration: (c) => this.createLaunchConfiguration(c),
      DescribeLaunchConfigurations: (c) => this.describeLaunchConfigurations(c),
      DeleteLaunchConfiguration: (c) => this.deleteLaunchConfiguration(c),
      CreateAutoScalingGroup: (c) => this.createGroup(c),
      DescribeAutoScalingGroups: (c) => this.describeGroups(c),
      UpdateAutoScalingGroup: (c) => this.updateGroup(c),
      DeleteAutoScalingGroup: (c) => this.deleteGroup(c),
    });
    this.protocol = {
      flavour: { kind: 'awsquery', xmlns: AUTOSCALING_XMLNS },
      iamPrefix: 'autoscaling',
      actions: withAccess(actions, opts.access),
      authorize: opts.authorize,
      admit: ({ req }) => {
        if (!(REGIONS as readonly string[]).includes(req.region)) {
          throw new AutoScalingApiError('InvalidClientTokenId', `The local cloud does not serve region '${req.region}'`, 403);
        }
      },
      context: ({ req, params }) => ({ region: req.region, ra: this.region(req.region), p: params, now: this.opts.clock.nowMs() }),
      completed: ({ action }) => {
        if (MUTATING.has(action)) this.store.markDirty();
      },
    };
  }

  matches(req: LocalRequest): boolean {
    return req.service === 'autoscaling';
  }

  handle(req: LocalRequest): Promise<LocalResponse> {
    return handleQuery(req, this.protocol);
  }

  close(): void {
    this.store.flush();
  }

  private region(name: string): RegionAutoScaling {
    let r = this.store.data.regions[name];
    if (r === undefined) {
      r = { launchConfigurations: {}, groups: {} };
      this.store.data.regions[name] = r;
    }
    return r;
  }

  private arn(region: string, kind: 'autoScalingGroup' | 'launchConfiguration', name: string): string {
    const h = createHash('sha256').update(`${region}|${kind}|${name}|${randomUUID()}`).digest('hex');
    const uuid = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
    return `arn:aws:autoscaling:${region}:${LOCAL_ACCOUNT_ID}:${kind}:${uuid}:${kind}Name/${name}`;
  }

  // ---- launch configurations ----------------------------------------------------------------------------

  private createLaunchConfiguration({ region, ra, p, now }: Parameters<Handler>[0]): undefined {
    const name = requiredName(p, 'LaunchConfigurationName');
    if (ra.launchConfigurations[name] !== undefined) {
      throw new AutoScalingApiError(
        'AlreadyExists',
        `Launch Configuration by this name already exists - A launch configuration already exists with the name ${name}`,
      );
    }
    const imageId = p.str('ImageId');
    const instanceType = p.str('InstanceType');
    if (imageId === undefined || imageId === '')
      throw validation('Valid requests must contain either the ImageId or the InstanceId parameter.');
    if (instanceType === undefined || instanceType === '')
      throw validation('Valid requests must contain either the InstanceType or the InstanceId parameter.');
    if (this.opts.ec2 !== undefined && !this.opts.ec2.imageUsable(region, imageId)) {
      throw validation(`The image id '[${imageId}]' does not exist`);
    }
    const lc: LaunchConfigurationRecord = {
      name,
      arn: this.arn(region, 'launchConfiguration', name),
      imageId,
      instanceType,
      securityGroups: p.members('SecurityGroups'),
      createdMs: now,
    };
    const keyName = p.str('KeyName');
    if (keyName !== undefined) lc.keyName = keyName;
    const userData = p.str('UserData');
    if (userData !== undefined) lc.userData = userData;
    ra.launchConfigurations[name] = lc;
    return undefined;
  }

  private describeLaunchConfigurations({ ra, p }: Parameters<Handler>[0]): XmlObject {
    const names = p.members('LaunchConfigurationNames');
    let list = Object.values(ra.launchConfigurations);
    if (names.length > 0) list = list.filter((lc) => names.includes(lc.name));
    list.sort((a, b) => byName(a.name, b.name));
    const page = pageOf(p, list, (lc) => lc.name);
    return {
      LaunchConfigurations: page.items.map((lc) => ({
        LaunchConfigurationName: lc.name,
        LaunchConfigurationARN: lc.arn,
        ImageId: lc.imageId,
        KeyName: lc.keyName ?? '',
        SecurityGroups: lc.securityGroups,
        ClassicLinkVPCSecurityGroups: [],
        UserData: lc.userData ?? '',
        InstanceType: lc.instanceType,
        KernelId: '',
        RamdiskId: '',
        BlockDeviceMappings: [],
        InstanceMonitoring: { Enabled: true },
        CreatedTime: isoMs(lc.createdMs),
        EbsOptimized: false,
      })),
      NextToken: page.nextToken,
    };
  }

  private deleteLaunchConfiguration({ ra, p }: Parameters<Handler>[0]): undefined {
    const name = requiredName(p, 'LaunchConfigurationName');
    if (ra.launchConfigurations[name] === undefined)
      throw validation(`Launch configuration name not found - Launch configuration ${name} not found`);
    const user = Object.values(ra.groups).find((g) => g.launchConfigurationName === name);
    if (user !== undefined) {
      throw new AutoScalingApiError(
        'ResourceInUse',
        `Cannot delete launch configuration ${name} because it is attached to AutoScalingGroup ${user.name}`,
      );
    }
    delete ra.launchConfigurations[name];
    return undefined;
  }

  // ---- groups ----------------------------------------------------------------------------------------------

  /** Validates a launch template reference as Auto Scaling does, and fills in both id and name. */
  private checkTemplate(region: string, spec: LaunchTemplateSpecRecord, where: string): LaunchTemplateSpecRecord {
    const { launchTemplateId: id, launchTemplateName: name, version } = spec;
    if ((id === undefined) === (name === undefined)) {
      throw validation(`Valid requests must contain either launchTemplateId or LaunchTemplateName in ${where}, not both.`);
    }
    if (version !== undefined && version !== '$Latest' && version !== '$Default' && !/^\d+$/.test(version)) {
      throw validation(
        `The launch template version '${version}' in ${where} is not valid: a version number, $Latest or $Default is expected`,
      );
    }
    const ec2 = this.opts.ec2;
    if (ec2 === undefined) return { ...spec };
    const t = ec2.launchTemplate(region, id !== undefined ? { id } : { name: name as string });
    if (t === undefined) {
      throw validation(
        `You must use a valid fully-formed launch template. The specified launch template, with template ${id !== undefined ? `ID ${id}` : `name ${name}`}, does not exist.`,
      );
    }
    if (version !== undefined && /^\d+$/.test(version) && !t.versions.includes(Number(version))) {
      throw validation(
        `You must use a valid fully-formed launch template. The specified launch template version ${version} of ${t.launchTemplateId} does not exist.`,
      );
    }
    const out: LaunchTemplateSpecRecord = { launchTemplateId: t.launchTemplateId, launchTemplateName: t.launchTemplateName };
    if (version !== undefined) out.version = version;
    return out;
  }

  /** The launch source of a create or update: exactly one of LaunchConfigurationName, LaunchTemplate, MixedInstancesPolicy. */
  private launchSource(
    region: string,
    ra: RegionAutoScaling,
    p: Params,
    required: boolean,
  ): Pick<GroupRecord, 'launchConfigurationName' | 'launchTemplate' | 'mixedInstancesPolicy'> | undefined {
    const lcName = p.str('LaunchConfigurationName');
    const lt = templateSpec(p.child('LaunchTemplate'));
    const mip = p.child('MixedInstancesPolicy');
    const given = [lcName !== undefined, lt !== undefined, mip !== undefined].filter(Boolean).length;
    if (given === 0) {
      if (required)
        throw validation(
          'Valid requests must contain either LaunchTemplate, LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter.',
        );
      return undefined;
    }
    if (given > 1)
      throw validation('Valid requests must contain only one of LaunchTemplate, LaunchConfigurationName or MixedInstancesPolicy.');
    if (lcName !== undefined) {
      if (ra.launchConfigurations[lcName] === undefined)
        throw validation(`Launch configuration name not found - Launch configuration ${lcName} not found`);
      return { launchConfigurationName: lcName };
    }
    if (lt !== undefined) return { launchTemplate: this.checkTemplate(region, lt, 'LaunchTemplate') };
    const mipLt = mip?.child('LaunchTemplate');
    const spec = templateSpec(mipLt?.child('LaunchTemplateSpecification'));
    if (mipLt === undefined || spec === undefined)
      throw validation('MixedInstancesPolicy must contain LaunchTemplate.LaunchTemplateSpecification.');
    const overrides: OverrideRecord[] = mipLt.memberList('Overrides').map((o, i) => {
      const rec: OverrideRecord = {};
      const instanceType = o.str('InstanceType');
      if (instanceType !== undefined) rec.instanceType = instanceType;
      const weight = o.str('WeightedCapacity');
      if (weight !== undefined) rec.weightedCapacity = weight;
      const imageId = o.str('ImageId');
      if (imageId !== undefined) {
        if (this.opts.ec2 !== undefined && !this.opts.ec2.imageUsable(region, imageId))
          throw validation(`The image id '[${imageId}]' does not exist`);
        rec.imageId = imageId;
      }
      const ols = templateSpec(o.child('LaunchTemplateSpecification'));
      if (ols !== undefined) rec.launchTemplate = this.checkTemplate(region, ols, `Overrides.member.${i + 1}.LaunchTemplateSpecification`);
      return rec;
    });
    return {
      mixedInstancesPolicy: {
        launchTemplate: this.checkTemplate(region, spec, 'MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification'),
        overrides,
      },
    };
  }

  private createGroup({ region, ra, p, now }: Parameters<Handler>[0]): undefined {
    const name = requiredName(p, 'AutoScalingGroupName');
    if (ra.groups[name] !== undefined) {
      throw new AutoScalingApiError(
        'AlreadyExists',
        `AutoScalingGroup by this name already exists - A group with the name ${name} already exists`,
      );
    }
    const minSize = requiredInt(p, 'MinSize');
    const maxSize = requiredInt(p, 'MaxSize');
    const desiredCapacity = p.int('DesiredCapacity') ?? minSize;
    checkSizes(minSize, maxSize, desiredCapacity);
    const source = this.launchSource(region, ra, p, true);
    const g: GroupRecord = {
      name,
      arn: this.arn(region, 'autoScalingGroup', name),
      minSize,
      maxSize,
      desiredCapacity,
      defaultCooldown: p.int('DefaultCooldown') ?? 300,
      availabilityZones: p.members('AvailabilityZones'),
      healthCheckType: p.str('HealthCheckType') ?? 'EC2',
      healthCheckGracePeriod: p.int('HealthCheckGracePeriod') ?? 0,
      createdMs: now,
      tags: p.memberList('Tags').map((t) => ({
        key: t.required('Key'),
        value: t.str('Value') ?? '',
        propagateAtLaunch: t.bool('PropagateAtLaunch') ?? false,
      })),
      terminationPolicies: p.members('TerminationPolicies'),
      ...source,
    };
    const vpc = p.str('VPCZoneIdentifier');
    if (vpc !== undefined) g.vpcZoneIdentifier = vpc;
    if (g.terminationPolicies.length === 0) g.terminationPolicies = ['Default'];
    ra.groups[name] = g;
    return undefined;
  }

  private describeGroups({ ra, p }: Parameters<Handler>[0]): XmlObject {
    const names = p.members('AutoScalingGroupNames');
    let list = Object.values(ra.groups);
    if (names.length > 0) list = list.filter((g) => names.includes(g.name));
    for (const f of p.memberList('Filters')) {
      const fname = f.required('Name');
      const values = f.members('Values');
      list = list.filter((g) => {
        if (fname === 'tag-key') return g.tags.some((t) => values.includes(t.key));
        if (fname === 'tag-value') return g.tags.some((t) => values.includes(t.value));
        if (fname.startsWith('tag:')) return g.tags.some((t) => t.key === fname.slice(4) && values.includes(t.value));
        throw validation(`Filter name '${fname}' is not valid (tag:<key>, tag-key, tag-value)`);
      });
    }
    list.sort((a, b) => byName(a.name, b.name));
    const page = pageOf(p, list, (g) => g.name);
    return { AutoScalingGroups: page.items.map(groupXml), NextToken: page.nextToken };
  }

  private updateGroup({ region, ra, p }: Parameters<Handler>[0]): undefined {
    const name = requiredName(p, 'AutoScalingGroupName');
    const g = ra.groups[name];
    if (g === undefined) throw validation('AutoScalingGroup name not found - null');
    const minSize = p.int('MinSize') ?? g.minSize;
    const maxSize = p.int('MaxSize') ?? g.maxSize;
    let desired = p.int('DesiredCapacity') ?? g.desiredCapacity;
    // Like Auto Scaling, a new MinSize/MaxSize drags the desired capacity along when it was not given.
    if (!p.has('DesiredCapacity')) desired = Math.min(maxSize, Math.max(minSize, desired));
    checkSizes(minSize, maxSize, desired);
    const source = this.launchSource(region, ra, p, false);
    if (source !== undefined) {
      delete g.launchConfigurationName;
      delete g.launchTemplate;
      delete g.mixedInstancesPolicy;
      Object.assign(g, source);
    }
    g.minSize = minSize;
    g.maxSize = maxSize;
    g.desiredCapacity = desired;
    const cooldown = p.int('DefaultCooldown');
    if (cooldown !== undefined) g.defaultCooldown = cooldown;
    const azs = p.members('AvailabilityZones');
    if (azs.length > 0) g.availabilityZones = azs;
    const vpc = p.str('VPCZoneIdentifier');
    if (vpc !== undefined) g.vpcZoneIdentifier = vpc;
    const hc = p.str('HealthCheckType');
    if (hc !== undefined) g.healthCheckType = hc;
    return undefined;
  }

  private deleteGroup({ ra, p }: Parameters<Handler>[0]): undefined {
    const name = requiredName(p, 'AutoScalingGroupName');
    if (ra.groups[name] === undefined) throw validation(`AutoScalingGroup name not found - AutoScalingGroup '${name}' not found`);
    delete ra.groups[name];
    return undefined;
  }
}

/** Code-unit order, the order NextToken compares in. */
function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function checkSizes(min: number, max: number, desired: number): void {
  if (min > max) throw validation(`The MinSize (${min}) must be less than or equal to the MaxSize (${max}).`);
  if (desired < min || desired > max) {
    throw validation(`Desired capacity:${desired} must be between the specified min size:${min} and max size:${max}`);
  }
}

function specXml(s: LaunchTemplateSpecRecord): XmlObject {
  return { LaunchTemplateId: s.launchTemplateId, LaunchTemplateName: s.launchTemplateName, Version: s.version ?? '$Default' };
}

function groupXml(g: GroupRecord): XmlObject {
  return {
    AutoScalingGroupName: g.name,
    AutoScalingGroupARN: g.arn,
    LaunchConfigurationName: g.launchConfigurationName,
    LaunchTemplate: g.launchTemplate !== undefined ? specXml(g.launchTemplate) : undefined,
    MixedInstancesPolicy:
      g.mixedInstancesPolicy !== undefined
        ? {
            LaunchTemplate: {
              LaunchTemplateSpecification: specXml(g.mixedInstancesPolicy.launchTemplate),
              Overrides: g.mixedInstancesPolicy.overrides.map((o) => ({
                InstanceType: o.instanceType,
                WeightedCapacity: o.weightedCapacity,
                LaunchTemplateSpecification: o.launchTemplate !== undefined ? specXml(o.launchTemplate) : undefined,
                ImageId: o.imageId,
              })),
            },
          }
        : undefined,
    MinSize: g.minSize,
    MaxSize: g.maxSize,
    DesiredCapacity: g.desiredCapacity,
    DefaultCooldown: g.defaultCooldown,
    AvailabilityZones: g.availabilityZones,
    LoadBalancerNames: [],
    TargetGroupARNs: [],
    HealthCheckType: g.healthCheckType,
    HealthCheckGracePeriod: g.healthCheckGracePeriod,
    Instances: [],
    CreatedTime: isoMs(g.createdMs),
    SuspendedProcesses: [],
    VPCZoneIdentifier: g.vpcZoneIdentifier ?? '',
    EnabledMetrics: [],
    Tags: g.tags.map((t) => ({
      ResourceId: g.name,
      ResourceType: 'auto-scaling-group',
      Key: t.key,
      Value: t.value,
      PropagateAtLaunch: t.propagateAtLaunch,
    })),
    TerminationPolicies: g.terminationPolicies,
    NewInstancesProtectedFromScaleIn: false,
    ServiceLinkedRoleARN: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling`,
    CapacityRebalance: false,
    TrafficSources: [],
  };
}

/** MaxRecords/NextToken paging over items sorted by `key` (the token names the last item returned). */
function pageOf<T>(p: Params, items: T[], key: (t: T) => string): Page<T> {
  const max = p.int('MaxRecords') ?? MAX_RECORDS.default;
  if (max < 1 || max > MAX_RECORDS.max) throw validation(`MaxRecords must be between 1 and ${MAX_RECORDS.max}`);
  return keyedPage(items, key, {
    token: p.str('NextToken'),
    max,
    invalid: () => new AutoScalingApiError('InvalidNextToken', 'The token provided is not valid.'),
  });
}
