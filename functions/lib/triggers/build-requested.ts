import { z } from 'zod';
import { FamilySchema, RegionSchema, parseInput, type BuildRequest } from '../build-request.js';
import { buildRequestFor, type FactoryConfig } from '../config.js';
import { FACTORY_EVENT_SOURCE } from '../constants.js';
import { buildIdFromEvent, executionNameFor } from './ids.js';

/** A build request and the execution name that makes duplicate deliveries start it once. */
export interface TriggeredBuild {
  request: BuildRequest;
  executionName: string;
}

/** The envelope fields every EventBridge event has. */
export const EventEnvelopeSchema = z.object({
  version: z.string().optional(),
  id: z.string().min(1).max(256),
  account: z.string().optional(),
  time: z.iso.datetime({ offset: true }),
  region: z.string().optional(),
  resources: z.array(z.string()).default([]),
});

export const BUILD_REQUESTED = 'Build Requested';

/** `{source: ami-factory, detail-type: Build Requested, detail: {family, regions?, reboot?, requestedBy?}}` */
export const BuildRequestedEventSchema = EventEnvelopeSchema.extend({
  source: z.literal(FACTORY_EVENT_SOURCE),
  'detail-type': z.literal(BUILD_REQUESTED),
  detail: z
    .object({
      family: FamilySchema,
      /** Copy only to these of the family's regions. */
      regions: z.array(RegionSchema).min(1).max(30).optional(),
      /** Instance sources only: override the family's reboot setting. */
      reboot: z.boolean().optional(),
      requestedBy: z.string().min(1).max(256).optional(),
    })
    .strict(),
});
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
