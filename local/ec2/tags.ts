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
  type ActionContext,
  type ActionHandler,
} from './context.js';
import { Ec2ApiError } from './errors.js';
import { ID_PATTERNS, LOCAL_ACCOUNT_ID, type TagMap } from './model.js';

/** CreateTags / DeleteTags on images, snapshots, volumes and instances of the region. */
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
