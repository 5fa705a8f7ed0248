import { checkImageId, getImage, maxResults, paginate, type ActionHandler } from './context.js';
import { Ec2ApiError, invalidValue } from './errors.js';
import { templatesOf } from './launch-templates.js';
import { IMAGE_REFERENCES_MAX_IMAGE_IDS, IMAGE_REFERENCES_VERSION_DEPTH } from './limits.js';
import { instanceArn, launchTemplateArn, LOCAL_ACCOUNT_ID, type InstanceStateName } from './model.js';
import type { XmlObject } from '../protocols/query.js';

/**
 * DescribeImageReferences: which resources of the account use an image (aws-facts.md,
 * "Retirement"). Locally: instances (`ec2:Instance`) whose image it is, and launch templates
 * (`ec2:LaunchTemplate`) one of whose newest `version-depth` versions (default 10) or whose
 * `$Default` version names it, and SSM parameters (`ssm:Parameter`) of data type `aws:ec2:image`
 * whose current value is the image (the local SSM's, through `parameterReferences`; AWS reports
 * those parameters too: "Identify your resources referencing specified AMIs", EC2 user guide).
 * The Image Builder types are accepted and find nothing (the local cloud has no Image Builder).
 *
 * Terminated instances count while EC2 still shows them (an hour, like a deregistered image).
 */
export const IMAGE_REFERENCE_TYPES = [
  'ec2:Instance',
  'ec2:LaunchTemplate',
  'ssm:Parameter',
  'imagebuilder:ImageRecipe',
  'imagebuilder:ContainerRecipe',
] as const;

/** The ARNs of the SSM parameters (aws:ec2:image) whose current value is the image, in a region. */
export type ParameterReferences = (region: string, imageId: string) => string[];
export const noParameterReferences: ParameterReferences = () => [];

const INSTANCE_STATES: readonly InstanceStateName[] = ['pending', 'running', 'shutting-down', 'terminated', 'stopping', 'stopped'];

interface TypeOptions {
  states?: Set<string>;
  depth?: number;
}

interface Reference {
  order: number;
  imageId: string;
  resourceType: string;
  arn: string;
}

export const describeImageReferences: ActionHandler = (ctx) => {
  const { p, rs, now } = ctx;
  const ids = p.strings('ImageId');
  if (ids.length === 0) throw new Ec2ApiError('MissingParameter', 'The request must contain the parameter ImageId');
  if (ids.length > IMAGE_REFERENCES_MAX_IMAGE_IDS) {
    throw invalidValue(`The maximum number of image IDs per request is ${IMAGE_REFERENCES_MAX_IMAGE_IDS}; ${ids.length} were specified`);
  }
  const max = maxResults(p, false, 'ImageIds');
  const includeAll = p.bool('IncludeAllResourceTypes') ?? false;
  const requested = p.list('ResourceType');
  if (!includeAll && requested.length === 0) {
    throw new Ec2ApiError('MissingParameter', 'The request must contain the parameter IncludeAllResourceTypes or ResourceTypes');
  }
  const types = new Map<string, TypeOptions>();
  if (includeAll) for (const t of IMAGE_REFERENCE_TYPES) types.set(t, {});
  for (const r of requested) {
    const type = r.required('ResourceType');
    if (!(IMAGE_REFERENCE_TYPES as readonly string[]).includes(type)) {
      throw invalidValue(`Invalid value '${type}' for ResourceType. Expecting one of ${IMAGE_REFERENCE_TYPES.join(', ')}`);
    }
    const opts: TypeOptions = {};
    for (const o of r.list('ResourceTypeOption')) {
      const name = o.required('OptionName');
      const values = o.strings('OptionValue');
      if (type === 'ec2:Instance' && name === 'state-name') {
        const bad = values.find((v) => !(INSTANCE_STATES as readonly string[]).includes(v));
        if (bad !== undefined) throw invalidValue(`Invalid value '${bad}' for option state-name`);
        opts.states = new Set(values);
      } else if (type === 'ec2:LaunchTemplate' && name === 'version-depth') {
        const v = values[0] ?? '';
        const depth = /^\d+$/.test(v) ? Number(v) : NaN;
        if (values.length !== 1 || !(depth >= IMAGE_REFERENCES_VERSION_DEPTH.min && depth <= IMAGE_REFERENCES_VERSION_DEPTH.max)) {
          throw invalidValue(`Invalid value '${values.join(',')}' for option version-depth; an integer between 1 and 10000 is expected`);
        }
        opts.depth = depth;
      } else {
        throw invalidValue(`Invalid option '${name}' for resource type ${type}`);
      }
    }
    types.set(type, opts);
  }

  ids.forEach(checkImageId);
  const unique = [...new Set(ids)];
  for (const id of unique) getImage(ctx, id);

  const refs: Reference[] = [];
  const instanceOpts = types.get('ec2:Instance');
  const templateOpts = types.get('ec2:LaunchTemplate');
  const parameterOpts = types.get('ssm:Parameter');
  unique.forEach((imageId, i) => {
    if (instanceOpts !== undefined) {
      for (const inst of Object.values(rs.instances)) {
        if (inst.imageId !== imageId) continue;
        const entry = ctx.world.instanceEntry(inst, now);
        if (entry.state === 'terminated' && entry.atMs + TERMINATED_VISIBLE_MS <= now) continue;
        if (instanceOpts.states !== undefined && !instanceOpts.states.has(entry.state)) continue;
        refs.push({ order: i, imageId, resourceType: 'ec2:Instance', arn: instanceArn(ctx.region, LOCAL_ACCOUNT_ID, inst.instanceId) });
      }
    }
    if (templateOpts !== undefined) {
      const depth = templateOpts.depth ?? IMAGE_REFERENCES_VERSION_DEPTH.default;
      for (const t of Object.values(templatesOf(rs))) {
        const newest = [...t.versions].sort((a, b) => b.versionNumber - a.versionNumber).slice(0, depth);
        const checked = newest.concat(t.versions.filter((v) => v.versionNumber === t.defaultVersion));
        if (!checked.some((v) => v.data.imageId === imageId)) continue;
        refs.push({
          order: i,
          imageId,
          resourceType: 'ec2:LaunchTemplate',
          arn: launchTemplateArn(ctx.region, LOCAL_ACCOUNT_ID, t.launchTemplateId),
        });
      }
    }
    if (parameterOpts !== undefined) {
      for (const arn of ctx.parameterReferences(ctx.region, imageId)) refs.push({ order: i, imageId, resourceType: 'ssm:Parameter', arn });
    }
  });
  const key = (r: Reference): string => `${String(r.order).padStart(2, '0')}|${r.resourceType}|${r.arn}`;
  refs.sort((a, b) => key(a).localeCompare(key(b)));
  const page = paginate(ctx, refs, key, max);
  const items: XmlObject[] = page.items.map((r) => ({ imageId: r.imageId, resourceType: r.resourceType, arn: r.arn }));
  return { imageReferenceSet: items, nextToken: page.nextToken };
};

/** How long EC2 keeps showing a terminated instance (about an hour). */
const TERMINATED_VISIBLE_MS = 60 * 60_000;
