import { applyFilters, parseFilters, type FilterSpec } from './filters.js';
import { checkTemplateId, templateIdNotFound, templatesOf } from './launch-templates.js';
import {
  addTags,
  checkImageId,
  checkInstanceId,
  checkSnapshotId,
  imageNotFound,
  instanceNotFound,
  parseTags,
  snapshotNotFound,
  validateTag,
  maxResults,
  paginate,
  type ActionContext,
  type ActionHandler,
} from './context.js';
import { Ec2ApiError } from './errors.js';
import { ID_PATTERNS, LOCAL_ACCOUNT_ID, type TagMap } from './model.js';

/** CreateTags / DeleteTags on images, snapshots, volumes, instances and launch templates of the region. */
function tagsOf(ctx: ActionContext, id: string): TagMap {
  const { rs } = ctx;
  if (id.startsWith('ami-')) {
    checkImageId(id);
    const image = rs.images[id];
    if (image === undefined || image.state === 'deregistered' || (image.visibleFromMs ?? 0) > ctx.now) throw imageNotFound([id]);
    if (image.ownerId !== LOCAL_ACCOUNT_ID && !image.launchPermissions.some((lp) => lp.group === 'all' || lp.userId === LOCAL_ACCOUNT_ID)) {
      throw imageNotFound([id]);
    }
    return image.tags;
  }
  if (id.startsWith('snap-')) {
    checkSnapshotId(id);
    const snap = rs.snapshots[id];
    if (snap === undefined || snap.ownerId !== LOCAL_ACCOUNT_ID) throw snapshotNotFound(id);
    return snap.tags;
  }
  if (id.startsWith('vol-')) {
    if (!ID_PATTERNS.vol.test(id)) throw new Ec2ApiError('InvalidVolumeID.Malformed', `Invalid id: "${id}" (expecting "vol-...")`);
    const vol = rs.volumes[id];
    if (vol === undefined) throw new Ec2ApiError('InvalidVolume.NotFound', `The volume '${id}' does not exist.`);
    return vol.tags;
  }
  if (id.startsWith('i-')) {
    checkInstanceId(id);
    const inst = rs.instances[id];
    if (inst === undefined) throw instanceNotFound([id]);
    return inst.tags;
  }
  if (id.startsWith('lt-')) {
    checkTemplateId(id);
    const t = templatesOf(rs)[id];
    if (t === undefined) throw templateIdNotFound(id);
    return t.tags;
  }
  throw new Ec2ApiError('InvalidID', `The ID '${id}' is not valid`);
}

export const createTags: ActionHandler = (ctx) => {
  const ids = ctx.p.strings('ResourceId');
  if (ids.length === 0) throw new Ec2ApiError('MissingParameter', 'The request must contain the parameter ResourceId');
  const tags = parseTags(ctx.p.list('Tag'));
  if (Object.keys(tags).length === 0) throw new Ec2ApiError('MissingParameter', 'The request must contain the parameter Tag');
  const targets = ids.map((id) => tagsOf(ctx, id));
  for (const t of targets) {
    const merged = { ...t };
    addTags(merged, tags);
  }
  for (const t of targets) addTags(t, tags);
  ctx.world.store.markDirty();
  return { return: true };
};

export const deleteTags: ActionHandler = (ctx) => {
  const ids = ctx.p.strings('ResourceId');
  if (ids.length === 0) throw new Ec2ApiError('MissingParameter', 'The request must contain the parameter ResourceId');
  const specs = ctx.p.list('Tag').map((t) => ({ key: t.required('Key'), value: t.str('Value') }));
  for (const s of specs) validateTag(s.key, s.value ?? '');
  const targets = ids.map((id) => tagsOf(ctx, id));
  for (const t of targets) {
    if (specs.length === 0) {
      for (const k of Object.keys(t)) if (!k.startsWith('aws:')) delete t[k];
      continue;
    }
    for (const s of specs) {
      if (t[s.key] === undefined) continue;
      if (s.value === undefined || t[s.key] === s.value) delete t[s.key];
    }
  }
  ctx.world.store.markDirty();
  return { return: true };
};

/** One tag of one resource, as DescribeTags lists it. */
interface TagEntry {
  resourceId: string;
  /** EC2's resource type names: `image`, `instance`, `snapshot`, `volume`, `launch-template`. */
  resourceType: string;
  key: string;
  value: string;
}

const TAG_FILTERS: FilterSpec<TagEntry> = {
  names: new Set(['key', 'resource-id', 'resource-type', 'value']),
  values: (t, name) => {
    switch (name) {
      case 'key':
        return [t.key];
      case 'resource-id':
        return [t.resourceId];
      case 'resource-type':
        return [t.resourceType];
      default:
        return [t.value];
    }
  },
  // `tag:<key>` (values: the tag's value) selects the tags with that key and value.
  tags: (t) => ({ [t.key]: t.value }),
};

/**
 * DescribeTags: the tags of the account's resources in the region (images it owns and that
 * answer, snapshots it owns, volumes, instances, launch templates), filtered by `key`,
 * `resource-id`, `resource-type`, `value` or `tag:<key>`, in resource id then key order, paged
 * by MaxResults (5–1000) and NextToken.
 */
export const describeTags: ActionHandler = (ctx) => {
  const { rs, now } = ctx;
  const max = maxResults(ctx.p, false, '');
  const entries: TagEntry[] = [];
  const add = (resourceId: string, resourceType: string, tags: TagMap): void => {
    for (const [key, value] of Object.entries(tags)) entries.push({ resourceId, resourceType, key, value });
  };
  for (const i of Object.values(rs.images)) {
    if (i.ownerId === LOCAL_ACCOUNT_ID && i.state !== 'deregistered' && (i.visibleFromMs ?? 0) <= now) add(i.imageId, 'image', i.tags);
  }
  for (const s of Object.values(rs.snapshots)) if (s.ownerId === LOCAL_ACCOUNT_ID) add(s.snapshotId, 'snapshot', s.tags);
  for (const v of Object.values(rs.volumes)) add(v.volumeId, 'volume', v.tags);
  for (const i of Object.values(rs.instances)) add(i.instanceId, 'instance', i.tags);
  for (const t of Object.values(templatesOf(rs))) add(t.launchTemplateId, 'launch-template', t.tags);
  const key = (t: TagEntry): string => `${t.resourceId}\u0000${t.key}`;
  const list = applyFilters(entries, parseFilters(ctx.p), TAG_FILTERS).sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  const page = paginate(ctx, list, key, max);
  return {
    tagSet: page.items.map((t) => ({ resourceId: t.resourceId, resourceType: t.resourceType, key: t.key, value: t.value })),
    nextToken: page.nextToken,
  };
};
