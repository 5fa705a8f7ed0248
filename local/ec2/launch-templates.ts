import { createHash } from 'node:crypto';
import {
  addTags,
  paginate,
  parseTags,
  parseTagSpecifications,
  sortKey,
  tagSet,
  type ActionContext,
  type ActionHandler,
} from './context.js';
import { Ec2ApiError, invalidCombination, invalidValue } from './errors.js';
import { applyFilters, parseFilters, type FilterSpec } from './filters.js';
import { LAUNCH_TEMPLATE_MAX_RESULTS } from './limits.js';
import {
  ID_PATTERNS,
  isoMs,
  LOCAL_ACCOUNT_ID,
  newId,
  type LaunchTemplateDataRecord,
  type LaunchTemplateRecord,
  type LaunchTemplateVersionRecord,
  type RegionState,
} from './model.js';
import type { Params } from '../protocols/query.js';
import type { XmlObject } from '../protocols/query.js';

/**
 * EC2 launch templates: CreateLaunchTemplate, CreateLaunchTemplateVersion, DescribeLaunchTemplates,
 * DescribeLaunchTemplateVersions, ModifyLaunchTemplate, DeleteLaunchTemplate,
 * DeleteLaunchTemplateVersions. Persisted with the region (RegionState.launchTemplates).
 *
 * LaunchTemplateData is modelled as far as the factory needs it: ImageId, InstanceType, KeyName,
 * UserData, InstanceInitiatedShutdownBehavior, SecurityGroupIds, TagSpecifications. An ImageId
 * that does not exist (or is not visible) does not fail the call: like EC2, the template is made
 * and the response carries a `warning` with the error.
 */

/** Launch template names: 3–128 characters of letters, digits, ( ) . - / _ (EC2 API reference). */
const TEMPLATE_NAME = /^[a-zA-Z0-9().\-/_]{3,128}$/;
/** Versions of one template (EC2 quota: 10,000 versions per launch template). */
const MAX_VERSIONS = 10_000;

export function templatesOf(rs: RegionState): Record<string, LaunchTemplateRecord> {
  rs.launchTemplates ??= {};
  return rs.launchTemplates;
}

function tokensOf(rs: RegionState): NonNullable<RegionState['launchTemplateTokens']> {
  rs.launchTemplateTokens ??= {};
  return rs.launchTemplateTokens;
}

type TokenRecord = NonNullable<RegionState['launchTemplateTokens']>[string];

/**
 * The request's ClientToken, its parameters' fingerprint, and the earlier call made with that
 * token (a replay); the same token with different parameters is refused.
 */
function replay(rs: RegionState, p: Params): { token: string | undefined; fingerprint: string; prior: TokenRecord | undefined } {
  const token = clientToken(p);
  const fingerprint = fingerprintOf(p);
  const prior = token === undefined ? undefined : tokensOf(rs)[token];
  if (prior !== undefined && prior.fingerprint !== fingerprint) {
    throw new Ec2ApiError('IdempotentParameterMismatch', `Client token '${token}' was used with different parameters`);
  }
  return { token, fingerprint, prior };
}

export function templateIdNotFound(id: string): Ec2ApiError {
  return new Ec2ApiError('InvalidLaunchTemplateId.NotFound', `The specified launch template, with template ID ${id}, does not exist.`);
}

function templateNameNotFound(name: string): Ec2ApiError {
  return new Ec2ApiError(
    'InvalidLaunchTemplateName.NotFoundException',
    `The specified launch template, with template name ${name}, does not exist.`,
  );
}

function versionNotFound(t: LaunchTemplateRecord, version: string): Ec2ApiError {
  return new Ec2ApiError(
    'InvalidLaunchTemplateId.VersionNotFound',
    `Could not find launch template version ${version} for launch template ID ${t.launchTemplateId}.`,
  );
}

export function checkTemplateId(id: string): void {
  if (!ID_PATTERNS.lt.test(id))
    throw new Ec2ApiError('InvalidLaunchTemplateId.Malformed', `The specified ID for the launch template (${id}) is not valid.`);
}

function checkTemplateName(name: string): void {
  if (!TEMPLATE_NAME.test(name)) {
    throw new Ec2ApiError(
      'InvalidLaunchTemplateName.MalformedException',
      `A launch template name must be between 3 and 128 characters, and may contain letters, numbers, and the following characters: - ( ) . / _.' (${name})`,
    );
  }
}

export function templateByName(rs: RegionState, name: string): LaunchTemplateRecord | undefined {
  return Object.values(templatesOf(rs)).find((t) => t.name === name);
}

/** The template named by `LaunchTemplateId` or `LaunchTemplateName` (exactly one of them). */
function getTemplate(ctx: ActionContext): LaunchTemplateRecord {
  const id = ctx.p.str('LaunchTemplateId');
  const name = ctx.p.str('LaunchTemplateName');
  if (id !== undefined && name !== undefined) {
    throw invalidCombination(
      'Both a launch template ID and a launch template name were specified. Specify either the ID or the name, not both.',
    );
  }
  if (id !== undefined) {
    checkTemplateId(id);
    const t = templatesOf(ctx.rs)[id];
    if (t === undefined) throw templateIdNotFound(id);
    return t;
  }
  if (name !== undefined) {
    const t = templateByName(ctx.rs, name);
    if (t === undefined) throw templateNameNotFound(name);
    return t;
  }
  throw new Ec2ApiError('MissingParameter', 'The request must contain the parameter launchTemplateName or launchTemplateId');
}

/** `$Latest`, `$Default` or a number, as a version of `t` (VersionNotFound when it has no such version). */
export function resolveVersion(t: LaunchTemplateRecord, spec: string): LaunchTemplateVersionRecord {
  const n = spec === '$Latest' ? t.latestVersion : spec === '$Default' ? t.defaultVersion : /^\d+$/.test(spec) ? Number(spec) : NaN;
  if (Number.isNaN(n)) throw invalidValue(`Invalid launch template version '${spec}': a version number, $Latest or $Default is expected`);
  const v = t.versions.find((x) => x.versionNumber === n);
  if (v === undefined) throw versionNotFound(t, spec);
  return v;
}

function fingerprintOf(p: Params): string {
  const rest = Object.fromEntries(Object.entries(p.tree).filter(([k]) => k !== 'ClientToken' && k !== 'Action' && k !== 'Version'));
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex');
}

function clientToken(p: Params): string | undefined {
  const token = p.str('ClientToken');
  if (token === undefined || token === '') return undefined;
  if (token.length > 128) throw invalidValue('ClientToken must be at most 128 ASCII characters');
  return token;
}

// ---- LaunchTemplateData ---------------------------------------------------------------------------

function parseData(p: Params | undefined, base: LaunchTemplateDataRecord = {}): LaunchTemplateDataRecord {
  const data: LaunchTemplateDataRecord = { ...base };
  if (p === undefined) return data;
  const imageId = p.str('ImageId');
  if (imageId !== undefined) {
    // The resolve:ssm:<parameter> form is not modelled; an AMI id must look like one.
    if (!ID_PATTERNS.ami.test(imageId)) throw new Ec2ApiError('InvalidAMIID.Malformed', `Invalid id: "${imageId}" (expecting "ami-...")`);
    data.imageId = imageId;
  }
  const instanceType = p.str('InstanceType');
  if (instanceType !== undefined) data.instanceType = instanceType;
  const keyName = p.str('KeyName');
  if (keyName !== undefined) data.keyName = keyName;
  const userData = p.str('UserData');
  if (userData !== undefined) data.userData = userData;
  const behavior = p.str('InstanceInitiatedShutdownBehavior');
  if (behavior !== undefined) {
    if (behavior !== 'stop' && behavior !== 'terminate')
      throw invalidValue(`Invalid value '${behavior}' for InstanceInitiatedShutdownBehavior`);
    data.instanceInitiatedShutdownBehavior = behavior;
  }
  const groups = p.strings('SecurityGroupId');
  if (groups.length > 0) data.securityGroupIds = groups;
  const specs = p.list('TagSpecification');
  if (specs.length > 0)
    data.tagSpecifications = specs.map((s) => ({ resourceType: s.required('ResourceType'), tags: parseTags(s.list('Tag')) }));
  return data;
}

/** A `warning/errorSet` when the data names an image the caller cannot use (EC2 creates the version anyway). */
function dataWarning(ctx: ActionContext, data: LaunchTemplateDataRecord): XmlObject | undefined {
  if (data.imageId === undefined) return undefined;
  const image = ctx.rs.images[data.imageId];
  const usable =
    image !== undefined &&
    image.state !== 'deregistered' &&
    (image.ownerId === LOCAL_ACCOUNT_ID || image.launchPermissions.some((lp) => lp.group === 'all' || lp.userId === LOCAL_ACCOUNT_ID));
  if (usable) return undefined;
  return { errorSet: [{ code: 'InvalidAMIID.NotFound', message: `The image id '[${data.imageId}]' does not exist` }] };
}

function dataXml(d: LaunchTemplateDataRecord): XmlObject {
  return {
    imageId: d.imageId,
    instanceType: d.instanceType,
    keyName: d.keyName,
    userData: d.userData,
    instanceInitiatedShutdownBehavior: d.instanceInitiatedShutdownBehavior,
    securityGroupIdSet: d.securityGroupIds,
    tagSpecificationSet: d.tagSpecifications?.map((s) => ({ resourceType: s.resourceType, tagSet: tagSet(s.tags) })),
  };
}

const createdBy = `arn:aws:iam::${LOCAL_ACCOUNT_ID}:root`;

export function templateXml(t: LaunchTemplateRecord): XmlObject {
  return {
    launchTemplateId: t.launchTemplateId,
    launchTemplateName: t.name,
    createTime: isoMs(t.createdMs),
    createdBy,
    defaultVersionNumber: t.defaultVersion,
    latestVersionNumber: t.latestVersion,
    tagSet: tagSet(t.tags),
  };
}

function versionXml(t: LaunchTemplateRecord, v: LaunchTemplateVersionRecord): XmlObject {
  return {
    launchTemplateId: t.launchTemplateId,
    launchTemplateName: t.name,
    versionNumber: v.versionNumber,
    versionDescription: v.description,
    createTime: isoMs(v.createdMs),
    createdBy,
    defaultVersion: v.versionNumber === t.defaultVersion,
    launchTemplateData: dataXml(v.data),
  };
}

function versionDescription(p: Params): string | undefined {
  const d = p.str('VersionDescription');
  if (d !== undefined && d.length > 255) throw invalidValue('VersionDescription must be at most 255 characters');
  return d;
}

// ---- Create ------------------------------------------------------------------------------------------

export const createLaunchTemplate: ActionHandler = (ctx) => {
  const { p, rs } = ctx;
  const name = p.required('LaunchTemplateName');
  checkTemplateName(name);
  const dataParams = p.child('LaunchTemplateData');
  if (dataParams === undefined) throw new Ec2ApiError('MissingParameter', 'The request must contain the parameter LaunchTemplateData');
  const { token, fingerprint, prior } = replay(rs, p);
  if (prior !== undefined) {
    const t = templatesOf(rs)[prior.launchTemplateId];
    if (t !== undefined) return { launchTemplate: templateXml(t) };
  }
  if (templateByName(rs, name) !== undefined) {
    throw new Ec2ApiError('InvalidLaunchTemplateName.AlreadyExistsException', `Launch template name already in use.`);
  }
  const data = parseData(dataParams);
  const tagSpecs = parseTagSpecifications(p, ['launch-template']);
  const t: LaunchTemplateRecord = {
    launchTemplateId: newId('lt'),
    name,
    createdMs: ctx.now,
    defaultVersion: 1,
    latestVersion: 1,
    tags: {},
    versions: [],
  };
  const version: LaunchTemplateVersionRecord = { versionNumber: 1, createdMs: ctx.now, data };
  const description = versionDescription(p);
  if (description !== undefined) version.description = description;
  t.versions.push(version);
  addTags(t.tags, tagSpecs['launch-template'] ?? {});
  templatesOf(rs)[t.launchTemplateId] = t;
  if (token !== undefined) tokensOf(rs)[token] = { launchTemplateId: t.launchTemplateId, versionNumber: 1, fingerprint };
  return { launchTemplate: templateXml(t), warning: dataWarning(ctx, data) };
};

export const createLaunchTemplateVersion: ActionHandler = (ctx) => {
  const { p, rs } = ctx;
  const { token, fingerprint, prior } = replay(rs, p);
  if (prior !== undefined) {
    const t = templatesOf(rs)[prior.launchTemplateId];
    const v = t?.versions.find((x) => x.versionNumber === prior.versionNumber);
    if (t !== undefined && v !== undefined) return { launchTemplateVersion: versionXml(t, v) };
  }
  const t = getTemplate(ctx);
  const dataParams = p.child('LaunchTemplateData');
  if (dataParams === undefined) throw new Ec2ApiError('MissingParameter', 'The request must contain the parameter LaunchTemplateData');
  const source = p.str('SourceVersion');
  const base = source !== undefined ? structuredClone(resolveVersion(t, source).data) : {};
  if (t.versions.length >= MAX_VERSIONS) {
    throw new Ec2ApiError(
      'LaunchTemplateVersionLimitExceeded',
      `The launch template ${t.launchTemplateId} has reached its limit of ${MAX_VERSIONS} versions`,
    );
  }
  const data = parseData(dataParams, base);
  const version: LaunchTemplateVersionRecord = { versionNumber: t.latestVersion + 1, createdMs: ctx.now, data };
  const description = versionDescription(p);
  if (description !== undefined) version.description = description;
  t.versions.push(version);
  t.latestVersion = version.versionNumber;
  if (token !== undefined)
    tokensOf(rs)[token] = { launchTemplateId: t.launchTemplateId, versionNumber: version.versionNumber, fingerprint };
  return { launchTemplateVersion: versionXml(t, version), warning: dataWarning(ctx, data) };
};

// ---- Describe ----------------------------------------------------------------------------------------

function maxResultsOf(p: Params, idsGiven: boolean, idsParam: string): number | undefined {
  const max = p.int('MaxResults');
  if (max === undefined) return undefined;
  if (idsGiven) throw invalidCombination(`The parameter MaxResults cannot be used with the parameter ${idsParam}`);
  if (max < LAUNCH_TEMPLATE_MAX_RESULTS.min || max > LAUNCH_TEMPLATE_MAX_RESULTS.max) {
    throw invalidValue(
      `Value ( ${max} ) for parameter maxResults is invalid. Expecting a value between ${LAUNCH_TEMPLATE_MAX_RESULTS.min} and ${LAUNCH_TEMPLATE_MAX_RESULTS.max}.`,
    );
  }
  return max;
}

const TEMPLATE_FILTERS: FilterSpec<LaunchTemplateRecord> = {
  names: new Set(['create-time', 'launch-template-name']),
  tags: (t) => t.tags,
  values: (t, name) => (name === 'create-time' ? [isoMs(t.createdMs)] : name === 'launch-template-name' ? [t.name] : []),
};

export const describeLaunchTemplates: ActionHandler = (ctx) => {
  const { p, rs } = ctx;
  const ids = p.strings('LaunchTemplateId');
  const names = p.strings('LaunchTemplateName');
  const max = maxResultsOf(p, ids.length > 0 || names.length > 0, ids.length > 0 ? 'LaunchTemplateIds' : 'LaunchTemplateNames');
  const all = templatesOf(rs);
  let list: LaunchTemplateRecord[];
  if (ids.length > 0 || names.length > 0) {
    ids.forEach(checkTemplateId);
    const missingId = ids.find((id) => all[id] === undefined);
    if (missingId !== undefined) throw templateIdNotFound(missingId);
    const missingName = names.find((n) => templateByName(rs, n) === undefined);
    if (missingName !== undefined) throw templateNameNotFound(missingName);
    const wanted = new Set([...ids, ...names.map((n) => (templateByName(rs, n) as LaunchTemplateRecord).launchTemplateId)]);
    list = [...wanted].map((id) => all[id] as LaunchTemplateRecord);
  } else {
    list = Object.values(all);
  }
  list = applyFilters(list, parseFilters(p), TEMPLATE_FILTERS);
  list.sort((a, b) => sortKey(a.createdMs, a.launchTemplateId).localeCompare(sortKey(b.createdMs, b.launchTemplateId)));
  const page = paginate(ctx, list, (t) => sortKey(t.createdMs, t.launchTemplateId), max);
  return { launchTemplates: page.items.map(templateXml), nextToken: page.nextToken };
};

type VersionView = { t: LaunchTemplateRecord; v: LaunchTemplateVersionRecord };

const VERSION_FILTERS: FilterSpec<VersionView> = {
  names: new Set([
    'create-time',
    'image-id',
    'instance-type',
    'is-default-version',
    'key-name',
    'launch-template-name',
    'launch-template-id',
  ]),
  tags: ({ t }) => t.tags,
  values: ({ t, v }, name) => {
    const opt = (s: string | undefined): string[] => (s === undefined ? [] : [s]);
    switch (name) {
      case 'create-time':
        return [isoMs(v.createdMs)];
      case 'image-id':
        return opt(v.data.imageId);
      case 'instance-type':
        return opt(v.data.instanceType);
      case 'is-default-version':
        return [String(v.versionNumber === t.defaultVersion)];
      case 'key-name':
        return opt(v.data.keyName);
      case 'launch-template-name':
        return [t.name];
      case 'launch-template-id':
        return [t.launchTemplateId];
      default:
        return [];
    }
  },
};

/** Newest version first within a template; templates in creation order. */
const versionKey = ({ t, v }: VersionView): string =>
  `${sortKey(t.createdMs, t.launchTemplateId)}|${String(MAX_VERSIONS * 10 - v.versionNumber).padStart(8, '0')}`;

function versionBound(t: LaunchTemplateRecord, spec: string | undefined): number | undefined {
  if (spec === undefined) return undefined;
  if (spec === '$Latest') return t.latestVersion;
  if (spec === '$Default') return t.defaultVersion;
  if (!/^\d+$/.test(spec)) throw invalidValue(`Invalid launch template version '${spec}'`);
  return Number(spec);
}

export const describeLaunchTemplateVersions: ActionHandler = (ctx) => {
  const { p, rs } = ctx;
  const specs = p.strings('LaunchTemplateVersion');
  const max = maxResultsOf(p, false, '');
  let views: VersionView[];
  if (!p.has('LaunchTemplateId') && !p.has('LaunchTemplateName')) {
    // Across the account: only $Latest and/or $Default versions can be asked for.
    if (specs.length === 0 || specs.some((s) => s !== '$Latest' && s !== '$Default')) {
      throw new Ec2ApiError('MissingParameter', 'The request must contain the parameter launchTemplateName or launchTemplateId');
    }
    views = Object.values(templatesOf(rs)).flatMap((t) =>
      [...new Set(specs.map((s) => resolveVersion(t, s).versionNumber))].map((n) => ({
        t,
        v: t.versions.find((x) => x.versionNumber === n) as LaunchTemplateVersionRecord,
      })),
    );
  } else {
    const t = getTemplate(ctx);
    let versions: LaunchTemplateVersionRecord[];
    if (specs.length > 0) {
      const numbers = new Set(specs.map((s) => resolveVersion(t, s).versionNumber));
      versions = t.versions.filter((v) => numbers.has(v.versionNumber));
    } else {
      versions = t.versions;
    }
    const min = versionBound(t, p.str('MinVersion'));
    const maxV = versionBound(t, p.str('MaxVersion'));
    versions = versions.filter((v) => (min === undefined || v.versionNumber >= min) && (maxV === undefined || v.versionNumber <= maxV));
    views = versions.map((v) => ({ t, v }));
  }
  views = applyFilters(views, parseFilters(p), VERSION_FILTERS);
  views.sort((a, b) => versionKey(a).localeCompare(versionKey(b)));
  const page = paginate(ctx, views, versionKey, max);
  return { launchTemplateVersionSet: page.items.map(({ t, v }) => versionXml(t, v)), nextToken: page.nextToken };
};

// ---- Modify / Delete ---------------------------------------------------------------------------------

export const modifyLaunchTemplate: ActionHandler = (ctx) => {
  const t = getTemplate(ctx);
  const spec = ctx.p.str('SetDefaultVersion');
  if (spec !== undefined) t.defaultVersion = resolveVersion(t, spec).versionNumber;
  return { launchTemplate: templateXml(t) };
};

export const deleteLaunchTemplate: ActionHandler = (ctx) => {
  const t = getTemplate(ctx);
  delete templatesOf(ctx.rs)[t.launchTemplateId];
  return { launchTemplate: templateXml(t) };
};

export const deleteLaunchTemplateVersions: ActionHandler = (ctx) => {
  const t = getTemplate(ctx);
  const specs = ctx.p.strings('LaunchTemplateVersion');
  if (specs.length === 0) throw new Ec2ApiError('MissingParameter', 'The request must contain the parameter LaunchTemplateVersion');
  if (specs.length > 200) throw invalidValue('You can specify at most 200 launch template versions per request');
  const ok: XmlObject[] = [];
  const failed: XmlObject[] = [];
  const base = { launchTemplateId: t.launchTemplateId, launchTemplateName: t.name };
  for (const spec of specs) {
    const n = /^\d+$/.test(spec) ? Number(spec) : undefined;
    const fail = (code: string, message: string): void => {
      failed.push({ ...base, versionNumber: n, responseError: { code, message } });
    };
    if (n === undefined) fail('launchTemplateVersionDoesNotExist', `The launch template version ${spec} is not a version number`);
    else if (!t.versions.some((v) => v.versionNumber === n))
      fail('launchTemplateVersionDoesNotExist', `The specified launch template version ${n} does not exist`);
    else if (n === t.defaultVersion)
      fail(
        'unexpectedError',
        'The default version of a launch template cannot be deleted; set another default or delete the launch template',
      );
    else {
      t.versions = t.versions.filter((v) => v.versionNumber !== n);
      ok.push({ ...base, versionNumber: n });
    }
  }
  t.latestVersion = Math.max(...t.versions.map((v) => v.versionNumber));
  return { successfullyDeletedLaunchTemplateVersionSet: ok, unsuccessfullyDeletedLaunchTemplateVersionSet: failed };
};
