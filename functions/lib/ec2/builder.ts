import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
  type Image,
  type Instance,
  type _InstanceType,
} from '@aws-sdk/client-ec2';
import { createHash } from 'node:crypto';
import type { BaseImageSource, BuildRequest } from '../build-request.js';
import { TAG } from '../constants.js';
import { SourceNotFoundError, UnexpectedResponseError, hasErrorName } from '../errors.js';
import { factoryTags, buildIdShort } from '../naming.js';
import { builderScript } from '../userdata.js';
import { EC2_ERROR } from '../error-codes.js';

export interface ResolvedBaseImage {
  imageId: string;
  name?: string;
  architecture?: string;
}

/** The base image: by id, or the newest available image matching the name filter and owner. */
export async function resolveBaseImage(ec2: EC2Client, source: BaseImageSource): Promise<ResolvedBaseImage> {
  let images: Image[];
  if (source.imageId !== undefined) {
    try {
      images = (await ec2.send(new DescribeImagesCommand({ ImageIds: [source.imageId] }))).Images ?? [];
    } catch (e) {
      if (hasErrorName(e, EC2_ERROR.imageNotFound, EC2_ERROR.imageIdMalformed)) {
        throw new SourceNotFoundError(`Base image ${source.imageId} does not exist in this region`, { cause: e });
      }
      throw e;
    }
    images = images.filter((i) => i.State === 'available');
    if (images.length === 0) throw new SourceNotFoundError(`Base image ${source.imageId} is not available`);
  } else {
    images = [];
    let NextToken: string | undefined;
    do {
      const page = await ec2.send(
        new DescribeImagesCommand({
          Owners: [source.owner ?? 'self'],
          Filters: [
            { Name: 'name', Values: [source.nameFilter ?? '*'] },
            { Name: 'state', Values: ['available'] },
          ],
          MaxResults: 1000,
          NextToken,
        }),
      );
      images.push(...(page.Images ?? []));
      NextToken = page.NextToken;
    } while (NextToken !== undefined && NextToken !== '');
    if (images.length === 0) {
      throw new SourceNotFoundError(`No available image named ${source.nameFilter} owned by ${source.owner}`);
    }
    images.sort((a, b) => (b.CreationDate ?? '').localeCompare(a.CreationDate ?? '') || (b.Name ?? '').localeCompare(a.Name ?? ''));
  }
  const image = images[0] as Image;
  if (image.ImageId === undefined) throw new UnexpectedResponseError('DescribeImages returned an image without an id');
  const out: ResolvedBaseImage = { imageId: image.ImageId };
  if (image.Name !== undefined) out.name = image.Name;
  if (image.Architecture !== undefined) out.architecture = image.Architecture;
  return out;
}

/** RunInstances' idempotency token of a build's builder: the same build never launches two. */
export function builderClientToken(buildId: string): string {
  return `amif-${createHash('sha256').update(`builder|${buildId}`).digest('hex').slice(0, 58)}`;
}

/** Launches (or finds) the build's builder instance, tagged as a factory resource. */
export async function launchBuilder(
  ec2: EC2Client,
  request: BuildRequest,
  source: BaseImageSource,
  baseImageId: string,
): Promise<{ instanceId: string }> {
  const tags = [
    { Key: 'Name', Value: `ami-factory-builder-${request.family}-${buildIdShort(request.buildId)}` },
    { Key: TAG.role, Value: 'builder' },
    ...factoryTags({ family: request.family, buildId: request.buildId, source: baseImageId, createdAt: request.requestedAt }),
  ];
  const userData = builderScript({
    userData: source.userData,
    sanitize: source.sanitize,
    doneSignal: source.doneSignal,
    ...(source.sanitizeScript !== undefined ? { sanitizeScript: source.sanitizeScript } : {}),
  });
  const r = await ec2.send(
    new RunInstancesCommand({
      ImageId: baseImageId,
      InstanceType: source.instanceType as _InstanceType,
      MinCount: 1,
      MaxCount: 1,
      ClientToken: builderClientToken(request.buildId),
      UserData: Buffer.from(userData, 'utf8').toString('base64'),
      InstanceInitiatedShutdownBehavior: 'stop',
      MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled' },
      ...(source.subnetId !== undefined ? { SubnetId: source.subnetId } : {}),
      ...(source.securityGroupIds !== undefined ? { SecurityGroupIds: source.securityGroupIds } : {}),
      ...(source.instanceProfileArn !== undefined ? { IamInstanceProfile: { Arn: source.instanceProfileArn } } : {}),
      TagSpecifications: [
        { ResourceType: 'instance', Tags: tags },
        { ResourceType: 'volume', Tags: tags },
      ],
    }),
  );
  const instanceId = r.Instances?.[0]?.InstanceId;
  if (instanceId === undefined) throw new UnexpectedResponseError('RunInstances returned no instance');
  return { instanceId };
}

export type BuilderState = 'building' | 'done' | 'failed';

/** Whether the builder has signalled the end of its build (stopped, or tagged done/failed). */
export function builderState(instance: Instance | undefined, signal: 'stopped' | 'tag'): { state: BuilderState; reason?: string } {
  if (instance === undefined) return { state: 'failed', reason: 'the builder instance no longer exists' };
  const s = instance.State?.Name;
  if (s === 'terminated' || s === 'shutting-down') return { state: 'failed', reason: `the builder instance is ${s}` };
  const tag = instance.Tags?.find((t) => t.Key === TAG.buildStatus)?.Value;
  if (tag === 'failed') return { state: 'failed', reason: 'the build script reported failure (ami-factory:build-status=failed)' };
  if (signal === 'tag') return tag === 'done' ? { state: 'done' } : { state: 'building' };
  return s === 'stopped' ? { state: 'done' } : { state: 'building' };
}

export async function describeInstance(ec2: EC2Client, instanceId: string): Promise<Instance | undefined> {
  try {
    const r = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    return r.Reservations?.[0]?.Instances?.[0];
  } catch (e) {
    if (hasErrorName(e, EC2_ERROR.instanceNotFound)) return undefined;
    throw e;
  }
}

/**
 * Terminates every builder instance of the build that is not terminated yet (found by
 * tags, so a builder launched by an earlier attempt is not forgotten). Idempotent.
 */
export async function terminateBuilders(ec2: EC2Client, buildId: string): Promise<string[]> {
  const r = await ec2.send(
    new DescribeInstancesCommand({
      Filters: [
        { Name: `tag:${TAG.buildId}`, Values: [buildId] },
        { Name: `tag:${TAG.role}`, Values: ['builder'] },
        { Name: `tag:${TAG.managed}`, Values: ['true'] },
        { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
      ],
    }),
  );
  const ids = (r.Reservations ?? []).flatMap((res) => (res.Instances ?? []).flatMap((i) => (i.InstanceId ? [i.InstanceId] : [])));
  if (ids.length > 0) await ec2.send(new TerminateInstancesCommand({ InstanceIds: ids }));
  return ids;
}
