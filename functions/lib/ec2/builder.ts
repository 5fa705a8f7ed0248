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

/** The factory's instances: a fresh build's builder, an image test's test instance. */
export type FactoryInstanceRole = 'builder' | 'test';

/**
 * RunInstances' idempotency token of a build's instance of a role (and region and run: a test
 * runs in every region of the build, and again in each execution of the same build — a
 * re-driven build re-tests its images rather than finding the terminated test instance of the
 * earlier run): a retry never launches two.
 */
export function instanceClientToken(role: FactoryInstanceRole, buildId: string, region?: string, run?: string): string {
  const key = role === 'builder' ? `builder|${buildId}` : `${role}|${buildId}|${region ?? ''}|${run ?? ''}`;
  return `amif-${createHash('sha256').update(key).digest('hex').slice(0, 58)}`;
}

/** RunInstances' idempotency token of a build's builder: the same build never launches two. */
export function builderClientToken(buildId: string): string {
  return instanceClientToken('builder', buildId);
}

export interface FactoryInstanceLaunch {
  role: FactoryInstanceRole;
  request: BuildRequest;
  imageId: string;
  instanceType: string;
  /** The shell script run at first boot (plain text; sent base64). */
  userData: string;
  clientToken: string;
  /** The `ami-factory:source` tag (the image the instance runs). */
  source: string;
  subnetId?: string | undefined;
  securityGroupIds?: string[] | undefined;
  instanceProfileArn?: string | undefined;
}

/**
 * Launches (or finds, by its ClientToken) one factory instance, tagged as the factory's (role,
 * build id) at launch with its volumes; shutting down stops it (the done signal is "stopped").
 */
export async function launchFactoryInstance(ec2: EC2Client, l: FactoryInstanceLaunch): Promise<{ instanceId: string }> {
  const tags = [
    { Key: 'Name', Value: `ami-factory-${l.role}-${l.request.family}-${buildIdShort(l.request.buildId)}` },
    { Key: TAG.role, Value: l.role },
    ...factoryTags({ family: l.request.family, buildId: l.request.buildId, source: l.source, createdAt: l.request.requestedAt }),
  ];
  const r = await ec2.send(
    new RunInstancesCommand({
      ImageId: l.imageId,
      InstanceType: l.instanceType as _InstanceType,
      MinCount: 1,
      MaxCount: 1,
      ClientToken: l.clientToken,
      UserData: Buffer.from(l.userData, 'utf8').toString('base64'),
      InstanceInitiatedShutdownBehavior: 'stop',
      MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled' },
      ...(l.subnetId !== undefined ? { SubnetId: l.subnetId } : {}),
      ...(l.securityGroupIds !== undefined ? { SecurityGroupIds: l.securityGroupIds } : {}),
      ...(l.instanceProfileArn !== undefined ? { IamInstanceProfile: { Arn: l.instanceProfileArn } } : {}),
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

/** Launches (or finds) the build's builder instance, tagged as a factory resource. */
export async function launchBuilder(
  ec2: EC2Client,
  request: BuildRequest,
  source: BaseImageSource,
  baseImageId: string,
): Promise<{ instanceId: string }> {
  const userData = builderScript({
    userData: source.userData,
    sanitize: source.sanitize,
    doneSignal: source.doneSignal,
    ...(source.sanitizeScript !== undefined ? { sanitizeScript: source.sanitizeScript } : {}),
  });
  return launchFactoryInstance(ec2, {
    role: 'builder',
    request,
    imageId: baseImageId,
    instanceType: source.instanceType,
    userData,
    clientToken: builderClientToken(request.buildId),
    source: baseImageId,
    subnetId: source.subnetId,
    securityGroupIds: source.securityGroupIds,
    instanceProfileArn: source.instanceProfileArn,
  });
}

export type BuilderState = 'building' | 'done' | 'failed';

/** How an instance says it is done: the tag it sets and its done value (the other value it sets is `failed`). */
export interface DoneTag {
  key: string;
  done: string;
  /** How the instance is named in reasons: `builder`, `test instance`. */
  what: string;
  /** How its script is named in reasons: `build script`, `test script`. */
  script: string;
}

const BUILDER_DONE_TAG: DoneTag = { key: TAG.buildStatus, done: 'done', what: 'builder', script: 'build script' };

/**
 * Whether an instance has signalled the end of its work (stopped, or tagged done/failed):
 * a builder's build (ami-factory:build-status), a test instance's test (ami-factory:test-status).
 */
export function builderState(
  instance: Instance | undefined,
  signal: 'stopped' | 'tag',
  doneTag: DoneTag = BUILDER_DONE_TAG,
): { state: BuilderState; reason?: string } {
  if (instance === undefined) return { state: 'failed', reason: `the ${doneTag.what} instance no longer exists` };
  const s = instance.State?.Name;
  if (s === 'terminated' || s === 'shutting-down') return { state: 'failed', reason: `the ${doneTag.what} instance is ${s}` };
  const tag = instance.Tags?.find((t) => t.Key === doneTag.key)?.Value;
  if (tag === 'failed') return { state: 'failed', reason: `the ${doneTag.script} reported failure (${doneTag.key}=failed)` };
  if (signal === 'tag') return tag === doneTag.done ? { state: 'done' } : { state: 'building' };
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
  return terminateFactoryInstances(ec2, buildId, 'builder');
}

/** Terminates the build's not yet terminated instances of a role in the client's region (found by tags). Idempotent. */
export async function terminateFactoryInstances(ec2: EC2Client, buildId: string, role: FactoryInstanceRole): Promise<string[]> {
  const r = await ec2.send(
    new DescribeInstancesCommand({
      Filters: [
        { Name: `tag:${TAG.buildId}`, Values: [buildId] },
        { Name: `tag:${TAG.role}`, Values: [role] },
        { Name: `tag:${TAG.managed}`, Values: ['true'] },
        { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
      ],
    }),
  );
  const ids = (r.Reservations ?? []).flatMap((res) => (res.Instances ?? []).flatMap((i) => (i.InstanceId ? [i.InstanceId] : [])));
  if (ids.length > 0) await ec2.send(new TerminateInstancesCommand({ InstanceIds: ids }));
  return ids;
}
