import type { LocalRequest } from '../http.js';
import { Ec2ApiError, invalidCombination, invalidValue } from './errors.js';
import { MAX_RESULTS, type Ec2Quotas } from './limits.js';
import {
  ID_PATTERNS,
  LOCAL_ACCOUNT_ID,
  type ImageRecord,
  type InstanceRecord,
  type RegionState,
  type SnapshotRecord,
  type TagMap,
} from './model.js';
import { queryPage, type Params, type XmlObject, type XmlValue } from '../protocols/query.js';
import { timeKey, type Page } from '../protocols/paging.js';
import type { RegisterFromImageLocation } from './register-location.js';
import type { World } from './world.js';

/** Fault switches, mutable at runtime (`service.faults`). */
export interface Ec2Faults {
  /** Images (any kind, copies too) whose name starts with `namePrefix` (in `region`) end `failed` with `reason`. */
  failImages?: { region?: string; namePrefix?: string; reason?: string }[];
  /** Copies into these regions end `failed`. */
  failCopiesTo?: string[];
  /** Every call to these regions answers 503 `Unavailable`. */
  unreachableRegions?: string[];
  /** Every call answers 503 `RequestLimitExceeded`. */
  throttleAll?: boolean;
  /** A just-created image id answers `InvalidAMIID.NotFound` (and is left out of searches) for this long (simulated ms). */
  notFoundWindowMs?: number;
  /** Image tests in these regions fail as if their script exited non-zero (local/ec2/instances.ts testPlan). */
  failTestsIn?: string[];
  /** KMS keys (as given: `alias/x`, key id or ARN) that do not exist: CopyImage with them is refused. */
  missingKmsKeys?: string[];
}

export interface Durations {
  imageAvailableAfterMs: number;
  copyAvailableAfterMs: number;
  instanceBootMs: number;
  instanceStopMs: number;
  builderBuildMs: number;
  deregisteredVisibleMs: number;
}

export interface ActionContext {
  action: string;
  region: string;
  rs: RegionState;
  world: World;
  now: number;
  p: Params;
  requestId: string;
  durations: Durations;
  quotas: Ec2Quotas;
  faults: Ec2Faults;
  /** RegisterImage with ImageLocation (instance-store), see register-location.ts. */
  registerFromImageLocation: RegisterFromImageLocation;
  /** SSM parameters (aws:ec2:image) naming an image, for DescribeImageReferences (image-references.ts). */
  parameterReferences: (region: string, imageId: string) => string[];
  /** The request (its caller's access key). */
  req?: LocalRequest;
  /** Items of a batch the caller may not act on (a snapshot of DeregisterImage → its return code), set by the authorization. */
  refused: Map<string, string>;
}

export type ActionResult = XmlObject | Promise<XmlObject>;
export type ActionHandler = (ctx: ActionContext) => ActionResult;

// ---- ids and lookups -----------------------------------------------------------------------------

export function checkImageId(id: string): void {
  if (!ID_PATTERNS.ami.test(id)) throw new Ec2ApiError('InvalidAMIID.Malformed', `Invalid id: "${id}" (expecting "ami-...")`);
}

export function checkInstanceId(id: string): void {
  if (!ID_PATTERNS.i.test(id)) throw new Ec2ApiError('InvalidInstanceID.Malformed', `Invalid id: "${id}" (expecting "i-...")`);
}

export function checkSnapshotId(id: string): void {
  if (!ID_PATTERNS.snap.test(id)) throw new Ec2ApiError('InvalidSnapshotID.Malformed', `Invalid id: "${id}" (expecting "snap-...")`);
}

/** Whether the image id answers yet (eventual consistency window after creation). */
export function imageVisible(ctx: ActionContext, image: ImageRecord): boolean {
  return image.visibleFromMs === undefined || image.visibleFromMs <= ctx.now;
}

/** Whether the account may see the image: its own, public, or shared with it. */
export function imageAccessible(image: ImageRecord): boolean {
  return image.ownerId === LOCAL_ACCOUNT_ID || image.launchPermissions.some((lp) => lp.group === 'all' || lp.userId === LOCAL_ACCOUNT_ID);
}

export function imageNotFound(ids: string[]): Ec2ApiError {
  return new Ec2ApiError(
    'InvalidAMIID.NotFound',
    ids.length === 1 ? `The image id '[${ids[0]}]' does not exist` : `The image ids '[${ids.join(', ')}]' do not exist`,
  );
}

/** An image the caller can see in this region (not yet visible, gone, or not accessible: NotFound). */
export function getImage(ctx: ActionContext, id: string | undefined, param = 'ImageId'): ImageRecord {
  const imageId = id ?? ctx.p.required(param);
  checkImageId(imageId);
  const image = ctx.rs.images[imageId];
  if (image === undefined || !imageVisible(ctx, image) || !imageAccessible(image)) throw imageNotFound([imageId]);
  return image;
}

/** An image the caller owns and that is not deregistered (modifications). */
export function getOwnImage(ctx: ActionContext, id?: string): ImageRecord {
  const image = getImage(ctx, id);
  if (image.state === 'deregistered') throw imageNotFound([image.imageId]);
  if (image.ownerId !== LOCAL_ACCOUNT_ID) {
    throw new Ec2ApiError('AuthFailure', `Not authorized for image:${image.imageId}`);
  }
  return image;
}

export function instanceNotFound(ids: string[]): Ec2ApiError {
  return new Ec2ApiError(
    'InvalidInstanceID.NotFound',
    ids.length === 1 ? `The instance ID '${ids[0]}' does not exist` : `The instance IDs '${ids.join(', ')}' do not exist`,
  );
}

export function getInstance(ctx: ActionContext, id: string): InstanceRecord {
  checkInstanceId(id);
  const inst = ctx.rs.instances[id];
  if (inst === undefined) throw instanceNotFound([id]);
  return inst;
}

export function snapshotNotFound(id: string): Ec2ApiError {
  return new Ec2ApiError('InvalidSnapshot.NotFound', `The snapshot '${id}' does not exist.`);
}

export function snapshotAccessible(snap: SnapshotRecord): boolean {
  return (
    snap.ownerId === LOCAL_ACCOUNT_ID ||
    snap.createVolumePermission.groups.includes('all') ||
    snap.createVolumePermission.userIds.includes(LOCAL_ACCOUNT_ID)
  );
}

export function getSnapshot(ctx: ActionContext, id: string): SnapshotRecord {
  checkSnapshotId(id);
  const snap = ctx.rs.snapshots[id];
  if (snap === undefined || !snapshotAccessible(snap)) throw snapshotNotFound(id);
  return snap;
}

export function getOwnSnapshot(ctx: ActionContext, id: string): SnapshotRecord {
  const snap = getSnapshot(ctx, id);
  if (snap.ownerId !== LOCAL_ACCOUNT_ID) throw new Ec2ApiError('UnauthorizedOperation', `You are not authorized to modify snapshot ${id}`);
  return snap;
}

// ---- tags --------------------------------------------------------------------------------------------

export const MAX_TAGS = 50;

export function validateTag(key: string, value: string): void {
  if (key.length === 0 || key.length > 128) throw invalidValue(`Tag key '${key}' must be 1 to 128 characters`);
  if (value.length > 256) throw invalidValue(`Tag value for key '${key}' exceeds 256 characters`);
  if (key.toLowerCase().startsWith('aws:')) throw invalidValue(`Tag keys starting with 'aws:' are reserved for internal use`);
}

export function parseTags(list: Params[]): TagMap {
  const tags: TagMap = {};
  for (const t of list) {
    const key = t.required('Key');
    const value = t.str('Value') ?? '';
    validateTag(key, value);
    tags[key] = value;
  }
  return tags;
}

export function addTags(target: TagMap, tags: TagMap): void {
  for (const [k, v] of Object.entries(tags)) target[k] = v;
  if (Object.keys(target).length > MAX_TAGS) {
    throw new Ec2ApiError('TagLimitExceeded', `The maximum number of tags per resource (${MAX_TAGS}) has been exceeded`);
  }
}

/** `TagSpecification.N` by resource type; types outside `allowed` are InvalidParameterValue. */
export function parseTagSpecifications(p: Params, allowed: string[]): Record<string, TagMap> {
  const out: Record<string, TagMap> = {};
  for (const spec of p.list('TagSpecification')) {
    const type = spec.required('ResourceType');
    if (!allowed.includes(type)) {
      throw invalidValue(`'${type}' is not a valid taggable resource type for this operation (expecting one of ${allowed.join(', ')})`);
    }
    const tags = parseTags(spec.list('Tag'));
    const target = (out[type] ??= {});
    addTags(target, tags);
  }
  return out;
}

export function tagSet(tags: TagMap): XmlValue {
  const entries = Object.entries(tags);
  if (entries.length === 0) return undefined;
  return entries.map(([key, value]) => ({ key, value }));
}

// ---- pagination ----------------------------------------------------------------------------------

export type { Page };

/** MaxResults within the bounds, and never together with explicit ids. */
export function maxResults(p: Params, idsGiven: boolean, idsParam: string): number | undefined {
  const max = p.int('MaxResults');
  if (max === undefined) return undefined;
  if (idsGiven) throw invalidCombination(`The parameter MaxResults cannot be used with the parameter ${idsParam}`);
  if (max < MAX_RESULTS.min || max > MAX_RESULTS.max) {
    throw invalidValue(
      `Value ( ${max} ) for parameter maxResults is invalid. Expecting a value between ${MAX_RESULTS.min} and ${MAX_RESULTS.max}.`,
    );
  }
  return max;
}

/**
 * A page of `items` (already in a stable order, keyed by `key`) after the opaque NextToken.
 * The token names the last item returned, so items added meanwhile are not skipped or repeated.
 */
export function paginate<T>(ctx: ActionContext, items: T[], key: (t: T) => string, max: number | undefined): Page<T> {
  return queryPage(ctx.p, items, key, {
    action: ctx.action,
    region: ctx.region,
    max,
    invalid: (token) => invalidValue(`Invalid value '${token}' for NextToken`),
  });
}

/** A sortable key: creation time (fixed width), then id. */
export const sortKey = timeKey;

export function isAccountId(s: string): boolean {
  return /^\d{12}$/.test(s);
}
