import { DescribeInstancesCommand, type EC2Client, type Filter, type Instance } from '@aws-sdk/client-ec2';
import type { InstanceSource } from '../build-request.js';
import { AmbiguousSourceError, SourceNotFoundError, SourceNotImageableError, UnexpectedResponseError, hasErrorName } from '../errors.js';
import { EC2_ERROR } from '../error-codes.js';

export interface ResolvedInstance {
  instanceId: string;
  name?: string;
  state: string;
  imageId?: string;
  architecture?: string;
  volumes: { deviceName: string; volumeId: string }[];
}

/** Instance states EC2 can make an image from (CreateImage refuses the others). */
const IMAGEABLE = ['pending', 'running', 'stopping', 'stopped'];

/**
 * Finds the one instance a build images: by id, or by a tag selector that must match
 * exactly one instance that can be imaged. Zero or several matches are named errors.
 */
export async function resolveSourceInstance(ec2: EC2Client, source: InstanceSource): Promise<ResolvedInstance> {
  if (source.instanceId !== undefined) {
    let instances: Instance[];
    try {
      instances = await describeAll(ec2, { InstanceIds: [source.instanceId] });
    } catch (e) {
      if (hasErrorName(e, EC2_ERROR.instanceNotFound, EC2_ERROR.instanceIdMalformed)) {
        throw new SourceNotFoundError(`Instance ${source.instanceId} does not exist in this region`, { cause: e });
      }
      throw e;
    }
    const instance = instances[0];
    if (instance === undefined) throw new SourceNotFoundError(`Instance ${source.instanceId} does not exist in this region`);
    const state = instance.State?.Name ?? 'unknown';
    if (!IMAGEABLE.includes(state)) {
      throw new SourceNotImageableError(`Instance ${source.instanceId} is ${state}; only ${IMAGEABLE.join('/')} instances can be imaged`);
    }
    return toResolved(instance);
  }
  const tags = source.tags ?? {};
  const filters: Filter[] = Object.entries(tags).map(([k, v]) => ({ Name: `tag:${k}`, Values: [v] }));
  filters.push({ Name: 'instance-state-name', Values: IMAGEABLE });
  const matches = await describeAll(ec2, { Filters: filters });
  const selector = Object.entries(tags)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  if (matches.length === 0) {
    throw new SourceNotFoundError(`No ${IMAGEABLE.join('/')} instance matches the tags {${selector}}`);
  }
  if (matches.length > 1) {
    const ids = matches.map((i) => i.InstanceId).join(', ');
    throw new AmbiguousSourceError(
      `${matches.length} instances match the tags {${selector}} (${ids}); the selector must match exactly one`,
    );
  }
  return toResolved(matches[0] as Instance);
}

async function describeAll(ec2: EC2Client, input: { InstanceIds?: string[]; Filters?: Filter[] }): Promise<Instance[]> {
  const out: Instance[] = [];
  let NextToken: string | undefined;
  do {
    const page = await ec2.send(new DescribeInstancesCommand({ ...input, ...(input.InstanceIds ? {} : { MaxResults: 1000 }), NextToken }));
    for (const r of page.Reservations ?? []) out.push(...(r.Instances ?? []));
    NextToken = page.NextToken;
  } while (NextToken !== undefined && NextToken !== '');
  return out;
}

function toResolved(instance: Instance): ResolvedInstance {
  if (instance.InstanceId === undefined) throw new UnexpectedResponseError('DescribeInstances returned an instance without an id');
  const name = instance.Tags?.find((t) => t.Key === 'Name')?.Value;
  const resolved: ResolvedInstance = {
    instanceId: instance.InstanceId,
    state: instance.State?.Name ?? 'unknown',
    volumes: (instance.BlockDeviceMappings ?? []).flatMap((b) =>
      b.DeviceName !== undefined && b.Ebs?.VolumeId !== undefined ? [{ deviceName: b.DeviceName, volumeId: b.Ebs.VolumeId }] : [],
    ),
  };
  if (name !== undefined) resolved.name = name;
  if (instance.ImageId !== undefined) resolved.imageId = instance.ImageId;
  if (instance.Architecture !== undefined) resolved.architecture = instance.Architecture;
  return resolved;
}
