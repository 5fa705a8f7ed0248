import {
  CreateLaunchTemplateVersionCommand,
  DescribeLaunchTemplateVersionsCommand,
  DisableImageDeregistrationProtectionCommand,
  EnableImageDeregistrationProtectionCommand,
  ModifyLaunchTemplateCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { Trigger } from '../build-request.js';
import { EC2_ERROR } from '../error-codes.js';
import { ChannelUpdatePendingError, hasErrorName, UnexpectedResponseError } from '../errors.js';
import { imageArn, publishEvents } from '../events/publish.js';
import type { ChannelHistoryStore, Publication } from './history.js';
import { channelParameterName } from './names.js';
import { parameterValue } from './read.js';

/**
 * Publishing an image to a channel in one region (README, "Channels"):
 *
 * 1. the SSM parameter `/ami-factory/<family>/<channel>` (String, DataType aws:ec2:image, what
 *    `resolve:ssm:` in launch templates and CloudFormation resolve) is set to the image with
 *    Overwrite — unless it already holds it. Parameter Store validates an aws:ec2:image value
 *    asynchronously (PutParameter answers before the write), so the parameter is read back; a
 *    value not there yet is ChannelUpdatePendingError, which the state machine retries;
 * 2. the image gets deregistration protection (EnableImageDeregistrationProtection, without
 *    cooldown: the factory lifts it itself once the image is in no channel);
 * 3. for the family's first channel, each launch template the family lists in the region gets a
 *    new version from its default (`SourceVersion`) with the image, made the default — nothing
 *    when the default already has the image (a version made by an earlier attempt is reused);
 * 4. the publication is recorded in the channel history (history.ts);
 * 5. the image it replaced loses its protection when no channel of the family holds it any more;
 * 6. `ImagePublished` is published on the factory bus.
 * Every step is idempotent: the whole operation may run again after a failure at any point.
 */

export { ChannelUpdatePendingError };

export { channelParameterName, parameterValue };

export interface PublishDeps {
  /** EC2 and SSM in the region published in. */
  ec2: EC2Client;
  ssm: SSMClient;
  store: ChannelHistoryStore;
  events: EventBridgeClient;
  bus: string;
  now: () => Date;
}

export interface PublishInput {
  family: string;
  region: string;
  channel: string;
  imageId: string;
  buildId: string | null;
  by: Trigger;
  action: Publication['action'];
  /** Every channel of the family (the first one moves the launch templates). */
  channels: readonly string[];
  /** The launch templates the family lists in this region. */
  launchTemplates: readonly string[];
  /** The promote or rollback publishing (recorded in the entry; absent for a build's publication). */
  operationId?: string;
}

export interface LaunchTemplateUpdate {
  launchTemplateId: string;
  /** The default version, which has the image. */
  version: number;
  changed: boolean;
}

export interface PublishResult {
  region: string;
  channel: string;
  parameter: string;
  imageId: string;
  previousImageId: string | null;
  /** false when the channel already held the image (nothing was changed). */
  changed: boolean;
  launchTemplates: LaunchTemplateUpdate[];
  /** The previous image, when it left its last channel and lost its protection. */
  unprotected: string | null;
}

async function setChannel(ssm: SSMClient, name: string, imageId: string, description: string): Promise<void> {
  await ssm.send(
    new PutParameterCommand({
      Name: name,
      Value: imageId,
      Type: 'String',
      DataType: 'aws:ec2:image',
      Overwrite: true,
      Description: description,
    }),
  );
  const value = await parameterValue(ssm, name);
  if (value !== imageId) {
    throw new ChannelUpdatePendingError(
      `${name} does not hold ${imageId} yet (Parameter Store validates aws:ec2:image values asynchronously; it answers ${value ?? 'nothing'})`,
    );
  }
}

/** The launch template's default version has the image, or gets a new version (from the default) that has it. */
async function moveLaunchTemplate(ec2: EC2Client, launchTemplateId: string, imageId: string): Promise<LaunchTemplateUpdate> {
  const r = await ec2.send(
    new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: launchTemplateId, Versions: ['$Default', '$Latest'] }),
  );
  const versions = r.LaunchTemplateVersions ?? [];
  const current = versions.find((v) => v.DefaultVersion === true);
  if (current?.VersionNumber === undefined) throw new UnexpectedResponseError(`Launch template ${launchTemplateId} has no default version`);
  if (current.LaunchTemplateData?.ImageId === imageId) return { launchTemplateId, version: current.VersionNumber, changed: false };
  const latest = versions.find((v) => v.DefaultVersion !== true);
  let version: number | undefined;
  if (latest?.LaunchTemplateData?.ImageId === imageId) {
    version = latest.VersionNumber; // an earlier attempt made it and did not make it the default
  } else {
    const created = await ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateId: launchTemplateId,
        SourceVersion: String(current.VersionNumber),
        VersionDescription: `ami-factory: ${imageId}`,
        LaunchTemplateData: { ImageId: imageId },
      }),
    );
    version = created.LaunchTemplateVersion?.VersionNumber;
  }
  if (version === undefined) throw new UnexpectedResponseError(`CreateLaunchTemplateVersion of ${launchTemplateId} returned no version`);
  await ec2.send(new ModifyLaunchTemplateCommand({ LaunchTemplateId: launchTemplateId, DefaultVersion: String(version) }));
  return { launchTemplateId, version, changed: true };
}

/** Publishes one image to one channel in one region (see the module comment). */
export async function publishToChannel(deps: PublishDeps, input: PublishInput): Promise<PublishResult> {
  const { family, region, channel, imageId } = input;
  const parameter = channelParameterName(family, channel);
  const before = await parameterValue(deps.ssm, parameter);
  const changed = before !== imageId;
  // What this publication replaces: the parameter's value, or — when a retried step finds the
  // parameter already set (an earlier attempt wrote it and failed reading it back) — what the
  // history holds: its current image, or (already recorded) that one's predecessor.
  const prior = changed ? null : (await deps.store.get(family, region, channel)).current;
  const replaced = changed ? before : prior === null ? null : prior.imageId !== imageId ? prior.imageId : prior.previousImageId;
  if (changed) await setChannel(deps.ssm, parameter, imageId, `ami-factory ${family}: the ${channel} image`);
  // Protected once it is in the channel (an image the channel refused can still be cleaned up).
  await deps.ec2.send(new EnableImageDeregistrationProtectionCommand({ ImageId: imageId, WithCooldown: false }));

  const launchTemplates: LaunchTemplateUpdate[] = [];
  if (channel === input.channels[0]) {
    for (const id of input.launchTemplates) launchTemplates.push(await moveLaunchTemplate(deps.ec2, id, imageId));
  }

  const recorded = await deps.store.record(family, region, channel, {
    imageId,
    buildId: input.buildId,
    publishedAt: deps.now().toISOString(),
    by: input.by,
    previousImageId: replaced,
    action: input.action,
    ...(input.operationId !== undefined ? { operationId: input.operationId } : {}),
  });
  const previousImageId = recorded.current?.imageId === imageId ? recorded.current.previousImageId : replaced;

  let unprotected: string | null = null;
  if (previousImageId !== null && previousImageId !== imageId) {
    const holders = await Promise.all(input.channels.map((c) => parameterValue(deps.ssm, channelParameterName(family, c))));
    if (!holders.includes(previousImageId)) {
      try {
        await deps.ec2.send(new DisableImageDeregistrationProtectionCommand({ ImageId: previousImageId }));
        unprotected = previousImageId;
      } catch (e) {
        // An image deregistered by hand (it could not have been protected) needs nothing.
        if (!hasErrorName(e, EC2_ERROR.imageNotFound, EC2_ERROR.imageUnavailable)) throw e;
      }
    }
  }

  await publishEvents(deps.events, deps.bus, [
    {
      type: 'ImagePublished',
      detail: {
        family,
        region,
        channel,
        parameter,
        imageId,
        previousImageId,
        buildId: input.buildId,
        action: input.action,
        by: input.by,
        launchTemplates: launchTemplates.map((t) => ({ launchTemplateId: t.launchTemplateId, version: t.version })),
      },
      resources: [imageArn(region, imageId)],
    },
  ]);
  return { region, channel, parameter, imageId, previousImageId, changed, launchTemplates, unprotected };
}
