import type * as z from 'zod';
import { parseInput, type BuildRequest } from '../build-request.js';
import { buildRequestFor, type FactoryConfig } from '../config.js';
import { BUILD_REQUESTED, eventSchema } from '../events/schemas.js';
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
