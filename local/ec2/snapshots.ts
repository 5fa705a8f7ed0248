import {
  checkSnapshotId,
  getOwnSnapshot,
  getSnapshot,
  isAccountId,
  maxResults,
  paginate,
  snapshotAccessible,
  snapshotNotFound,
  sortKey,
  type ActionContext,
  type ActionHandler,
} from './context.js';
import { Ec2ApiError, invalidValue } from './errors.js';
import { applyFilters, parseFilters, type FilterSpec } from './filters.js';
import { AMAZON_ACCOUNT_ID, awsManagedEbsKey, isoMs, LOCAL_ACCOUNT_ID, type SnapshotRecord } from './model.js';
import { snapshotXml } from './render.js';

const SNAPSHOT_FILTERS: FilterSpec<SnapshotRecord> = {
  names: new Set([
    'snapshot-id',
    'volume-id',
    'status',
    'owner-id',
    'owner-alias',
    'description',
    'encrypted',
    'volume-size',
    'progress',
    'start-time',
    'kms-key-id',
    'storage-tier',
  ]),
  tags: (s) => s.tags,
  values: (s, name) => {
    switch (name) {
      case 'snapshot-id':
        return [s.snapshotId];
      case 'volume-id':
        return [s.volumeId];
      case 'status':
        return [s.state];
      case 'owner-id':
        return [s.ownerId];
      case 'owner-alias':
        return s.ownerId === AMAZON_ACCOUNT_ID ? ['amazon'] : [];
      case 'description':
        return [s.description];
      case 'encrypted':
        return [String(s.encrypted)];
      case 'volume-size':
        return [String(s.volumeSize)];
      case 'progress':
        return [s.state === 'completed' ? '100%' : '0%'];
      case 'start-time':
        return [isoMs(s.startMs)];
      case 'kms-key-id':
        return s.kmsKeyId !== undefined ? [s.kmsKeyId] : [];
      case 'storage-tier':
        return ['standard'];
      default:
        return [];
    }
  },
};

export const describeSnapshots: ActionHandler = (ctx) => {
  const { p, rs, now } = ctx;
  const ids = p.strings('SnapshotId');
  const max = maxResults(p, ids.length > 0, 'SnapshotIds');
  const owners = p.strings('Owner').map((o) => {
    if (o === 'self') return LOCAL_ACCOUNT_ID;
    if (o === 'amazon') return AMAZON_ACCOUNT_ID;
    if (isAccountId(o)) return o;
    throw invalidValue(`Invalid value '${o}' for Owner`);
  });
  const restorableBy = p.strings('RestorableBy').map((r) => (r === 'self' ? LOCAL_ACCOUNT_ID : r));
  let list: SnapshotRecord[];
  if (ids.length > 0) {
    ids.forEach(checkSnapshotId);
    const missingIds = ids.filter((id) => {
      const s = rs.snapshots[id];
      return s === undefined || !snapshotAccessible(s);
    });
    if (missingIds.length > 0) {
      if (missingIds.length === 1) throw snapshotNotFound(missingIds[0] as string);
      throw new Ec2ApiError('InvalidSnapshot.NotFound', `The snapshots '${missingIds.join(', ')}' do not exist.`);
    }
    list = [...new Set(ids)].map((id) => rs.snapshots[id] as SnapshotRecord);
  } else {
    list = Object.values(rs.snapshots).filter(snapshotAccessible);
  }
  if (owners.length > 0) list = list.filter((s) => owners.includes(s.ownerId));
  if (restorableBy.length > 0) {
    list = list.filter((s) =>
      restorableBy.some(
        (a) => s.ownerId === a || s.createVolumePermission.groups.includes('all') || s.createVolumePermission.userIds.includes(a),
      ),
    );
  }
  list = applyFilters(list, parseFilters(p), SNAPSHOT_FILTERS);
  list.sort((a, b) => sortKey(a.startMs, a.snapshotId).localeCompare(sortKey(b.startMs, b.snapshotId)));
  const page = paginate(ctx, list, (s) => sortKey(s.startMs, s.snapshotId), max);
  return { snapshotSet: page.items.map((s) => snapshotXml(s, now)), nextToken: page.nextToken };
};

/** Images (not deregistered) whose block device mappings use the snapshot. */
export function imagesUsing(ctx: Pick<ActionContext, 'world' | 'region'>, snapshotId: string, except?: string): string[] {
  return ctx.world
    .snapshotUsers(ctx.region, snapshotId)
    .filter((i) => i.state !== 'deregistered' && i.imageId !== except)
    .map((i) => i.imageId);
}

export const deleteSnapshot: ActionHandler = (ctx) => {
  const id = ctx.p.required('SnapshotId');
  const snap = getOwnSnapshot(ctx, id);
  const users = imagesUsing(ctx, snap.snapshotId);
  if (users.length > 0) {
    throw new Ec2ApiError('InvalidSnapshot.InUse', `The snapshot ${snap.snapshotId} is currently in use by ${users[0]}`);
  }
  delete ctx.rs.snapshots[snap.snapshotId];
  ctx.world.store.markDirty();
  return { return: true };
};

// ---- createVolumePermission ------------------------------------------------------------------------

export const modifySnapshotAttribute: ActionHandler = (ctx) => {
  const { p } = ctx;
  const snap = getOwnSnapshot(ctx, p.required('SnapshotId'));
  const attribute = p.str('Attribute') ?? 'createVolumePermission';
  if (attribute !== 'createVolumePermission') {
    throw invalidValue(`Value (${attribute}) for parameter attribute is invalid. Only createVolumePermission can be modified`);
  }
  const add: { userIds: string[]; groups: string[] } = { userIds: [], groups: [] };
  const remove: { userIds: string[]; groups: string[] } = { userIds: [], groups: [] };
  const cvp = p.child('CreateVolumePermission');
  for (const [op, target] of [
    ['Add', add],
    ['Remove', remove],
  ] as const) {
    for (const item of cvp?.list(op) ?? []) {
      const u = item.str('UserId');
      const g = item.str('Group');
      if (u !== undefined) target.userIds.push(u);
      if (g !== undefined) target.groups.push(g);
    }
  }
  const opType = p.str('OperationType');
  const flatUsers = p.strings('UserId');
  const flatGroups = p.strings('UserGroup');
  if (flatUsers.length > 0 || flatGroups.length > 0) {
    if (opType !== 'add' && opType !== 'remove')
      throw new Ec2ApiError('MissingParameter', 'The request must contain the parameter OperationType (add|remove)');
    const target = opType === 'add' ? add : remove;
    target.userIds.push(...flatUsers);
    target.groups.push(...flatGroups);
  }
  if (add.userIds.length + add.groups.length + remove.userIds.length + remove.groups.length === 0) {
    throw new Ec2ApiError('MissingParameter', 'The request must contain the parameter CreateVolumePermission');
  }
  for (const u of [...add.userIds, ...remove.userIds]) {
    if (!isAccountId(u))
      throw new Ec2ApiError('InvalidParameterValue', `Invalid value '${u}' for userId: an AWS account id (12 digits) is expected`);
  }
  for (const g of [...add.groups, ...remove.groups]) {
    if (g !== 'all') throw invalidValue(`Invalid value '${g}' for group; only 'all' is supported`);
  }
  if (snap.encrypted && add.groups.includes('all')) {
    throw invalidValue(`Encrypted snapshot ${snap.snapshotId} cannot be made public`);
  }
  if (snap.encrypted && add.userIds.length > 0 && (snap.kmsKeyId === undefined || snap.kmsKeyId === awsManagedEbsKey(ctx.region))) {
    throw invalidValue(
      `Snapshot ${snap.snapshotId} is encrypted with the AWS managed key and cannot be shared; use a customer managed key`,
    );
  }
  const perm = snap.createVolumePermission;
  for (const u of add.userIds) if (!perm.userIds.includes(u)) perm.userIds.push(u);
  for (const g of add.groups) if (!perm.groups.includes(g)) perm.groups.push(g);
  perm.userIds = perm.userIds.filter((u) => !remove.userIds.includes(u));
  perm.groups = perm.groups.filter((g) => !remove.groups.includes(g));
  ctx.world.store.markDirty();
  return { return: true };
};

export const describeSnapshotAttribute: ActionHandler = (ctx) => {
  const snap = getSnapshot(ctx, ctx.p.required('SnapshotId'));
  const attribute = ctx.p.required('Attribute');
  if (attribute === 'createVolumePermission') {
    if (snap.ownerId !== LOCAL_ACCOUNT_ID)
      throw new Ec2ApiError('UnauthorizedOperation', `You are not authorized to describe snapshot ${snap.snapshotId}`);
    return {
      snapshotId: snap.snapshotId,
      createVolumePermission: [
        ...snap.createVolumePermission.groups.map((group) => ({ group })),
        ...snap.createVolumePermission.userIds.map((userId) => ({ userId })),
      ],
    };
  }
  if (attribute === 'productCodes') return { snapshotId: snap.snapshotId, productCodes: [] };
  throw invalidValue(`Value (${attribute}) for parameter attribute is invalid. Expecting createVolumePermission or productCodes`);
};

export const resetSnapshotAttribute: ActionHandler = (ctx) => {
  const snap = getOwnSnapshot(ctx, ctx.p.required('SnapshotId'));
  const attribute = ctx.p.required('Attribute');
  if (attribute !== 'createVolumePermission')
    throw invalidValue(`Value (${attribute}) for parameter attribute is invalid. Only createVolumePermission can be reset`);
  snap.createVolumePermission = { userIds: [], groups: [] };
  ctx.world.store.markDirty();
  return { return: true };
};
