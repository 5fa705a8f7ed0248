import type { VirtualClock } from '../clock.js';
import { headerValue, type LocalRequest, type LocalResponse, type LocalService } from '../http.js';
import { actionTable, withAccess, type AccessTable, type ActionTable, type Authorize } from '../protocols/access.js';
import { EC2_XMLNS, handleQuery, type QueryCall, type QueryService, type XmlObject } from '../protocols/query.js';
import { JsonFileStore } from '../persist.js';
import type { ActionContext, Durations, Ec2Faults } from './context.js';
import { Ec2ApiError } from './errors.js';
import { createImage, describeImages } from './images.js';
import {
  copyImage,
  deregisterImage,
  describeImageAttribute,
  disableImage,
  disableImageBlockPublicAccess,
  disableImageDeprecation,
  disableImageDeregistrationProtection,
  enableImage,
  enableImageBlockPublicAccess,
  enableImageDeprecation,
  enableImageDeregistrationProtection,
  getImageBlockPublicAccessState,
  modifyImageAttribute,
  registerImage,
  resetImageAttribute,
} from './image-lifecycle.js';
import { describeImageReferences, noParameterReferences, type ParameterReferences } from './image-references.js';
import {
  createLaunchTemplate,
  createLaunchTemplateVersion,
  deleteLaunchTemplate,
  deleteLaunchTemplateVersions,
  describeLaunchTemplates,
  describeLaunchTemplateVersions,
  modifyLaunchTemplate,
  templateByName,
  templatesOf,
} from './launch-templates.js';
import { describeInstances, getConsoleOutput, runInstances, startInstances, stopInstances, terminateInstances } from './instances.js';
import { DEFAULT_DURATIONS, DEFAULT_QUOTAS, type Ec2Quotas } from './limits.js';
import { isoMs, LOCAL_ACCOUNT_ID, REGIONS, type Ec2State, type ImageRecord, type RegionState } from './model.js';
import { registerFromImageLocation, type RegisterFromImageLocation } from './register-location.js';
import { describeRegions } from './regions.js';
import { seedManagedImages, seedWorld, type ManagedImageSeed } from './seed.js';
import {
  deleteSnapshot,
  describeSnapshotAttribute,
  describeSnapshots,
  modifySnapshotAttribute,
  resetSnapshotAttribute,
} from './snapshots.js';
import { createTags, deleteTags, describeTags } from './tags.js';
import { throttleClass, TokenBuckets } from './throttle.js';
import { World, type Ec2Event } from './world.js';

export { LOCAL_ACCOUNT_ID } from './model.js';
export type { Ec2Event } from './world.js';
export type { ActionContext, Ec2Faults } from './context.js';
export type { ManagedImageSeed } from './seed.js';

/**
 * The local EC2 endpoint (Query protocol), wire-compatible with @aws-sdk/client-ec2 through an
 * endpoint override. Per-region world of instances, volumes, images and snapshots, persisted
 * with JsonFileStore; asynchronous state changes in simulated time (VirtualClock); token-bucket
 * throttling with the numbers of aws-facts.md (limits.ts); fault injection (`faults`).
 *
 * Behaviours worth knowing (details in the modules):
 * - CreateImage without NoReboot reboots a running instance (stopping → stopped → pending →
 *   running, 15 simulated s each); snapshots start when it is stopped. Images (and their
 *   snapshots) complete `imageAvailableAfterMs` after creation, copies `copyAvailableAfterMs`.
 * - A builder (RunInstances) whose user data has a line `shutdown -h now` (or `poweroff`,
 *   `halt -p`) shuts itself down `builderBuildMs` after it is running: stopped, or terminated
 *   with InstanceInitiatedShutdownBehavior=terminate. `aws ec2 create-tags ... --tags Key=K,Value=V`
 *   in the user data sets those tags on the instance at that moment (instances.ts).
 * - Deprecated images leave searches unless IncludeDeprecated, asked for by id, or owned by
 *   the caller; disabled images only with IncludeDisabled; deregistered ones stay visible
 *   (state deregistered) for an hour of simulated time. Terminated instances stay visible.
 * - Launch templates (launch-templates.ts) persist with the region; DescribeImageReferences
 *   (image-references.ts) finds the instances and launch templates that use an image.
 * - Faults: see Ec2Faults (context.ts): failImages, failCopiesTo, unreachableRegions (503
 *   Unavailable), throttleAll (503 RequestLimitExceeded), notFoundWindowMs (eventual
 *   consistency), missingKmsKeys (CopyImage answers InvalidParameterValue).
 */
export interface Ec2ServiceOptions {
  clock: VirtualClock;
  /** e.g. `.ami-factory/ec2.json`; undefined = in memory. */
  stateFile?: string;
  /** Seed the demo world when the state file is new (default true). */
  seed?: boolean;
  /** Bulk inventory of available managed images (benchmarks); seeded once per family, persisted once (seed.ts). */
  seedImages?: ManagedImageSeed;
  /** Simulated ms pending → available of CreateImage/RegisterImage (default 5 min). */
  imageAvailableAfterMs?: number;
  /** Simulated ms pending → available of CopyImage (default 10 min, or 2 × imageAvailableAfterMs when that is given). */
  copyAvailableAfterMs?: number;
  /** Simulated ms a builder's user data runs before its done signal (default 3 min). */
  builderBuildMs?: number;
  /** Token buckets on (default true). */
  throttling?: boolean;
  /**
   * The clock the token buckets refill on: `real` (default: EC2's buckets refill in real time,
   * whatever the simulated time scale) or `simulated` (benchmarks that compress hours of calls).
   */
  throttleClock?: 'real' | 'simulated';
  /** Quotas AWS lets accounts raise (default: aws-facts.md). */
  quotas?: Partial<Ec2Quotas>;
  /** Initial fault switches (also mutable later through `service.faults`). */
  faults?: Ec2Faults;
  /** Instance-store RegisterImage (ImageLocation); default: register-location.ts. */
  registerFromImageLocation?: RegisterFromImageLocation;
  /**
   * The ARNs of the SSM parameters of data type aws:ec2:image whose value is the image, in the
   * region (the local SSM's imageReferences): DescribeImageReferences reports them as
   * `ssm:Parameter`. Default: none.
   */
  parameterReferences?: ParameterReferences;
  /** 'EC2 AMI State Change' and 'EC2 Instance State-change Notification' events. */
  onEvent?: (e: Ec2Event) => void;
  /** Authorization of each call (protocols/access.ts); default: every call is allowed. */
  authorize?: Authorize;
  /** The access requests of each action, by action name (default: `ec2:<Action>` on `*`). */
  access?: AccessTable<ActionContext>;
}

export interface ImageSnapshot {
  imageId: string;
  name: string;
  state: string;
  ownerId: string;
  tags: Record<string, string>;
  snapshotIds: string[];
  launchPermissions: { userId?: string; group?: string; organizationArn?: string; organizationalUnitArn?: string }[];
  deprecationTime?: string;
  creationDate: string;
}

/** A launch template as other local services (Auto Scaling) see it. */
export interface LaunchTemplateInfo {
  launchTemplateId: string;
  launchTemplateName: string;
  defaultVersion: number;
  latestVersion: number;
  versions: number[];
}

export interface Ec2CallLogEntry {
  atMs: number;
  region: string;
  action: string;
  throttled: boolean;
}

const CALL_LOG_MAX = 1_000_000;

export interface Ec2Service extends LocalService {
  /** Fault switches, mutable at runtime. */
  readonly faults: Ec2Faults;
  /** Every state the instance has been in, with the simulated time it began (planned future states excluded). */
  instanceHistory(region: string, instanceId: string): { state: string; at: string }[];
  /** Calls answered (errors included) and calls throttled, keyed `${region}:${Action}`. */
  stats(): { calls: Record<string, number>; throttled: Record<string, number> };
  /**
   * The calls since the last resetStats, in order: simulated time (ms), region, action, whether
   * it was throttled (benchmarks chart them against the buckets' refill). The last 1,000,000 at most.
   */
  callLog(): readonly Ec2CallLogEntry[];
  resetStats(): void;
  /** Refills every token bucket (tests). */
  resetThrottling(): void;
  /** Images of a region as the world holds them (tests, CLI); applies due state changes first. */
  images(region: string): ImageSnapshot[];
  /** A launch template of the region by id or by name (Auto Scaling's validation); undefined when there is none. */
  launchTemplate(region: string, ref: { id?: string; name?: string }): LaunchTemplateInfo | undefined;
  /** Whether the account can launch `imageId` in the region (exists, visible, not deregistered). */
  imageUsable(region: string, imageId: string): boolean;
  /** The raw region state (read-only use: tests and inspection). */
  regionState(region: string): RegionState;
  /** Persist now. */
  flush(): void;
  /** Stop timers and persist. */
  close(): void;
}

export function createEc2Service(opts: Ec2ServiceOptions): Ec2Service {
  return new LocalEc2(opts);
}

const ACTIONS: ActionTable<ActionContext, XmlObject> = actionTable<ActionContext, XmlObject>({
  DescribeRegions: describeRegions,
  DescribeInstances: describeInstances,
  RunInstances: runInstances,
  StopInstances: stopInstances,
  StartInstances: startInstances,
  TerminateInstances: terminateInstances,
  GetConsoleOutput: getConsoleOutput,
  CreateImage: createImage,
  DescribeImages: describeImages,
  RegisterImage: registerImage,
  CopyImage: copyImage,
  DeregisterImage: deregisterImage,
  ModifyImageAttribute: modifyImageAttribute,
  DescribeImageAttribute: describeImageAttribute,
  ResetImageAttribute: resetImageAttribute,
  EnableImageDeprecation: enableImageDeprecation,
  DisableImageDeprecation: disableImageDeprecation,
  EnableImage: enableImage,
  DisableImage: disableImage,
  EnableImageDeregistrationProtection: enableImageDeregistrationProtection,
  DisableImageDeregistrationProtection: disableImageDeregistrationProtection,
  GetImageBlockPublicAccessState: getImageBlockPublicAccessState,
  EnableImageBlockPublicAccess: enableImageBlockPublicAccess,
  DisableImageBlockPublicAccess: disableImageBlockPublicAccess,
  CreateTags: createTags,
  DeleteTags: deleteTags,
  DescribeTags: describeTags,
  DescribeSnapshots: describeSnapshots,
  DeleteSnapshot: deleteSnapshot,
  ModifySnapshotAttribute: modifySnapshotAttribute,
  DescribeSnapshotAttribute: describeSnapshotAttribute,
  ResetSnapshotAttribute: resetSnapshotAttribute,
  CreateLaunchTemplate: createLaunchTemplate,
  CreateLaunchTemplateVersion: createLaunchTemplateVersion,
  DescribeLaunchTemplates: describeLaunchTemplates,
  DescribeLaunchTemplateVersions: describeLaunchTemplateVersions,
  ModifyLaunchTemplate: modifyLaunchTemplate,
  DeleteLaunchTemplate: deleteLaunchTemplate,
  DeleteLaunchTemplateVersions: deleteLaunchTemplateVersions,
  DescribeImageReferences: describeImageReferences,
});

/** Names of the actions this endpoint serves. */
export const SUPPORTED_ACTIONS: readonly string[] = Object.keys(ACTIONS);

class LocalEc2 implements Ec2Service {
  readonly name = 'ec2';

  actionNames(): string[] {
    return Object.keys(this.protocol.actions);
  }
  readonly faults: Ec2Faults;
  private readonly store: JsonFileStore<Ec2State>;
  private readonly world: World;
  private readonly buckets: TokenBuckets;
  private readonly durations: Durations;
  private readonly quotas: Ec2Quotas;
  private calls: Record<string, number> = {};
  private throttled: Record<string, number> = {};
  private log: Ec2CallLogEntry[] = [];
  /** The Query protocol's view of this endpoint: the action table and the checks around each call. */
  private readonly protocol: QueryService<ActionContext>;

  constructor(private readonly opts: Ec2ServiceOptions) {
    this.faults = opts.faults ?? {};
    const imageMs = opts.imageAvailableAfterMs ?? DEFAULT_DURATIONS.imageAvailableAfterMs;
    this.durations = {
      ...DEFAULT_DURATIONS,
      imageAvailableAfterMs: imageMs,
      copyAvailableAfterMs:
        opts.copyAvailableAfterMs ??
        (opts.imageAvailableAfterMs !== undefined ? 2 * opts.imageAvailableAfterMs : DEFAULT_DURATIONS.copyAvailableAfterMs),
      builderBuildMs: opts.builderBuildMs ?? DEFAULT_DURATIONS.builderBuildMs,
    };
    this.quotas = { ...DEFAULT_QUOTAS, ...(opts.quotas ?? {}) };
    this.buckets = new TokenBuckets(opts.throttleClock === 'simulated' ? () => opts.clock.nowMs() : () => Date.now());
    this.store = new JsonFileStore<Ec2State>(opts.stateFile, () => ({ version: 1, seeded: false, regions: {} }));
    this.world = new World(this.store, opts.clock, {
      failureOf: (region, image) => this.failureOf(region, image),
      emit: (e) => this.emit(e),
      deregisteredVisibleMs: this.durations.deregisteredVisibleMs,
    });
    for (const r of REGIONS) this.world.region(r);
    if (!this.store.data.seeded && (opts.seed ?? true)) {
      seedWorld(this.store.data, opts.clock.nowMs(), (r) => this.world.region(r));
      this.store.markDirty();
      this.store.flush();
    }
    if (
      opts.seedImages !== undefined &&
      seedManagedImages(this.store.data, opts.clock.nowMs(), (r) => this.world.region(r), opts.seedImages) > 0
    ) {
      this.store.markDirty();
      this.store.flush();
    }
    // A reloaded world continues: due changes apply now, pending ones get their timers again.
    this.world.advance();
    this.protocol = this.queryService();
  }

  // ---- LocalService ---------------------------------------------------------------------------

  matches(req: LocalRequest): boolean {
    if (req.service === 'ec2') return true;
    if (req.service !== undefined) return false;
    if (headerValue(req.headers, 'x-amz-target') !== undefined) return false;
    const type = headerValue(req.headers, 'content-type') ?? '';
    const body = req.body.toString('utf8');
    return (type === '' || type.startsWith('application/x-www-form-urlencoded')) && /(^|&)Action=/.test(body);
  }

  handle(req: LocalRequest): Promise<LocalResponse> {
    return handleQuery(req, this.protocol);
  }

  private queryService(): QueryService<ActionContext> {
    return {
      flavour: { kind: 'ec2', xmlns: EC2_XMLNS },
      iamPrefix: 'ec2',
      actions: withAccess(ACTIONS, this.opts.access),
      authorize: this.opts.authorize,
      admit: ({ req }) => {
        const region = req.region;
        if (!(REGIONS as readonly string[]).includes(region)) {
          throw new Ec2ApiError('AuthFailure', `The local cloud does not serve region '${region}' (regions: ${REGIONS.join(', ')})`, 401);
        }
        if (this.faults.unreachableRegions?.includes(region) === true) {
          throw new Ec2ApiError('Unavailable', `The service is unavailable in ${region}. Please try again shortly.`, 503);
        }
      },
      context: (call) => this.context(call),
      // Reads change nothing (due state changes mark the store themselves, in advance()).
      completed: ({ action }) => {
        if (!action.startsWith('Describe') && !action.startsWith('Get')) this.store.markDirty();
      },
    };
  }

  /** Throttling and call counts, due state changes, then the action's context. */
  private context({ req, action, params, requestId }: QueryCall): ActionContext {
    const region = req.region;
    const key = `${region}:${action}`;
    const unfiltered =
      !params.has('InstanceId') && !params.has('SnapshotId') && !params.has('Filter') && !params.has('MaxResults') && !params.has('Owner');
    if (this.faults.throttleAll === true || ((this.opts.throttling ?? true) && !this.takeToken(region, action, unfiltered))) {
      this.throttled[key] = (this.throttled[key] ?? 0) + 1;
      this.logCall(region, action, true);
      throw new Ec2ApiError('RequestLimitExceeded', 'Request limit exceeded.', 503);
    }
    this.calls[key] = (this.calls[key] ?? 0) + 1;
    this.logCall(region, action, false);
    this.world.advance();
    return {
      action,
      region,
      rs: this.world.region(region),
      world: this.world,
      now: this.world.now(),
      p: params,
      requestId,
      durations: this.durations,
      quotas: this.quotas,
      faults: this.faults,
      registerFromImageLocation: this.opts.registerFromImageLocation ?? registerFromImageLocation,
      parameterReferences: this.opts.parameterReferences ?? noParameterReferences,
      req,
      refused: new Map(),
    };
  }

  private takeToken(region: string, action: string, unfiltered: boolean): boolean {
    return this.buckets.take(LOCAL_ACCOUNT_ID, region, throttleClass(action, unfiltered));
  }

  // ---- faults and events ------------------------------------------------------------------------

  private failureOf(region: string, image: ImageRecord): string | undefined {
    for (const f of this.faults.failImages ?? []) {
      if (f.region !== undefined && f.region !== region) continue;
      if (f.namePrefix !== undefined && !image.name.startsWith(f.namePrefix)) continue;
      return f.reason ?? 'An internal error has occurred (local fault: failImages)';
    }
    if (image.copy !== undefined) {
      if (this.faults.failCopiesTo?.includes(region) === true)
        return `Copy of ${image.copy.sourceImageId} to ${region} failed (local fault: failCopiesTo)`;
      if (this.faults.unreachableRegions?.includes(image.copy.sourceRegion) === true) {
        return `The source region ${image.copy.sourceRegion} could not be reached`;
      }
    }
    return undefined;
  }

  private emit(e: Ec2Event): void {
    if (this.opts.onEvent === undefined) return;
    try {
      this.opts.onEvent(e);
    } catch {
      // Best effort, like EC2's events: a failing consumer does not break the endpoint.
    }
  }

  // ---- inspection -------------------------------------------------------------------------------

  instanceHistory(region: string, instanceId: string): { state: string; at: string }[] {
    this.world.advance();
    const inst = this.world.state.regions[region]?.instances[instanceId];
    if (inst === undefined) return [];
    const now = this.world.now();
    return inst.timeline.filter((e) => e.atMs <= now).map((e) => ({ state: e.state, at: isoMs(e.atMs) }));
  }

  stats(): { calls: Record<string, number>; throttled: Record<string, number> } {
    return { calls: { ...this.calls }, throttled: { ...this.throttled } };
  }

  callLog(): readonly Ec2CallLogEntry[] {
    return [...this.log];
  }

  private logCall(region: string, action: string, throttled: boolean): void {
    if (this.log.length >= CALL_LOG_MAX) this.log.splice(0, CALL_LOG_MAX / 2);
    this.log.push({ atMs: this.opts.clock.nowMs(), region, action, throttled });
  }

  resetStats(): void {
    this.calls = {};
    this.throttled = {};
    this.log = [];
  }

  resetThrottling(): void {
    this.buckets.reset();
  }

  images(region: string): ImageSnapshot[] {
    this.world.advance();
    return Object.values(this.world.region(region).images).map((i) => {
      const out: ImageSnapshot = {
        imageId: i.imageId,
        name: i.name,
        state: i.state,
        ownerId: i.ownerId,
        tags: { ...i.tags },
        snapshotIds: i.blockDeviceMappings.flatMap((b) => (b.ebs?.snapshotId !== undefined ? [b.ebs.snapshotId] : [])),
        launchPermissions: i.launchPermissions.map((lp) => ({ ...lp })),
        creationDate: isoMs(i.createdMs),
      };
      if (i.deprecationMs !== undefined) out.deprecationTime = isoMs(i.deprecationMs);
      return out;
    });
  }

  launchTemplate(region: string, ref: { id?: string; name?: string }): LaunchTemplateInfo | undefined {
    const rs = this.world.region(region);
    const t = ref.id !== undefined ? templatesOf(rs)[ref.id] : ref.name !== undefined ? templateByName(rs, ref.name) : undefined;
    if (t === undefined) return undefined;
    return {
      launchTemplateId: t.launchTemplateId,
      launchTemplateName: t.name,
      defaultVersion: t.defaultVersion,
      latestVersion: t.latestVersion,
      versions: t.versions.map((v) => v.versionNumber),
    };
  }

  imageUsable(region: string, imageId: string): boolean {
    this.world.advance();
    const image = this.world.region(region).images[imageId];
    if (image === undefined || image.state === 'deregistered') return false;
    if (image.visibleFromMs !== undefined && image.visibleFromMs > this.world.now()) return false;
    return image.ownerId === LOCAL_ACCOUNT_ID || image.launchPermissions.some((lp) => lp.group === 'all' || lp.userId === LOCAL_ACCOUNT_ID);
  }

  regionState(region: string): RegionState {
    this.world.advance();
    // The caller may change what it is handed (tests age an image): the world looks at everything next time.
    this.world.exposed();
    return this.world.region(region);
  }

  flush(): void {
    this.store.markDirty();
    this.store.flush();
  }

  close(): void {
    this.world.close();
    this.flush();
  }
}
