import type { Image } from '@aws-sdk/client-ec2';
import type * as z from 'zod';
import { parseInput, type BuildRequest } from '../build-request.js';
import { buildRequestFor, type FactoryConfig } from '../config.js';
import { distributableImage, distributionExecutionName, distributionRequestFor } from '../distribution.js';
import { BUILD_REQUESTED, DISTRIBUTE_REQUESTED, eventSchema } from '../events/schemas.js';
import { familyOf } from '../request-policy.js';
import { buildIdFromEvent, executionNameFor } from './ids.js';

/** A build request and the execution name that makes duplicate deliveries start it once. */
export interface TriggeredBuild {
  request: BuildRequest;
  executionName: string;
}

/** `{source: ami-factory, detail-type: Build Requested, detail: {family, regions?, reboot?, requestedBy?}}` */
export const BuildRequestedEventSchema = eventSchema(BUILD_REQUESTED);
export type BuildRequestedEvent = z.infer<typeof BuildRequestedEventSchema>;

/**
 * The BuildRequest for a `Build Requested` event. Overrides must stay within what the
 * family allows (regions among its copies, reboot only for instance sources); otherwise a
 * ValidationError. The build id, requestedAt and so the image name and execution name
 * derive from the event alone, so a duplicate delivery makes the same execution.
 */
export function buildFromBuildRequestedEvent(event: unknown, config: FactoryConfig): TriggeredBuild {
  const e = parseInput(BuildRequestedEventSchema, event, `${BUILD_REQUESTED} event`);
  const { family, regions, reboot, requestedBy } = e.detail;
  const buildId = buildIdFromEvent('event', e.id, family);
  const request = buildRequestFor(config, family, {
    buildId,
    requestedAt: e.time,
    trigger: { type: 'event', eventId: e.id, ...(requestedBy !== undefined ? { actor: requestedBy } : {}) },
    ...(regions !== undefined ? { regions } : {}),
    ...(reboot !== undefined ? { noReboot: !reboot } : {}),
  });
  return { request, executionName: executionNameFor(family, buildId) };
}

/** `{source: ami-factory, detail-type: Distribute Requested, detail: {family, imageId, regions?, requestedBy?}}` */
export const DistributeRequestedEventSchema = eventSchema(DISTRIBUTE_REQUESTED);

/** The family's image of that id in its build region, if the account has one (DescribeImages). */
export type DescribeImage = (region: string, imageId: string) => Promise<Image | undefined>;

/**
 * The distribution request for a `Distribute Requested` event: the image must be an available
 * image of the family in its region (ImageNotDistributableError), the regions among the family's
 * copies (RequestNotAllowedError). The run id and so the execution name derive from the event
 * alone, so a duplicate delivery makes the same execution.
 */
export async function distributionFromEvent(event: unknown, config: FactoryConfig, describe: DescribeImage): Promise<TriggeredBuild> {
  const e = parseInput(DistributeRequestedEventSchema, event, `${DISTRIBUTE_REQUESTED} event`);
  const { family, imageId, regions, requestedBy } = e.detail;
  const region = familyOf(config, family).region;
  const image = distributableImage(await describe(region, imageId), family, region, imageId);
  const runId = buildIdFromEvent('distribute', e.id, family);
  const request = distributionRequestFor(config, family, image, {
    runId,
    trigger: { type: 'event', eventId: e.id, ...(requestedBy !== undefined ? { actor: requestedBy } : {}) },
    ...(regions !== undefined ? { regions } : {}),
  });
  return { request, executionName: distributionExecutionName(family, runId) };
}
