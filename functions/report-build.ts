import { z } from 'zod';
import { BuildRequestSchema } from './lib/build-request.js';
import { eventsClient } from './lib/clients.js';
import { requireEnv } from './lib/env.js';
import { failureCauseMessage } from './lib/errors.js';
import { publishEvents } from './lib/events/publish.js';
import { taskHandler } from './lib/task-handler.js';

const { AMI_FACTORY_EVENT_BUS: bus } = requireEnv('AMI_FACTORY_EVENT_BUS');

const RegionResult = z
  .object({
    region: z.string(),
    status: z.enum(['succeeded', 'failed']),
    imageId: z.string().nullable().optional(),
    error: z.string().optional(),
    cause: z.string().optional(),
  })
  .passthrough();

const Input = z
  .object({
    request: BuildRequestSchema,
    home: z.object({ imageId: z.string(), imageName: z.string() }).passthrough().nullable(),
    copies: z.array(RegionResult).default([]),
    error: z.object({ Error: z.string(), Cause: z.string().optional() }).passthrough().nullable().default(null),
  })
  .strict();

/** The message of a failure's cause ('' when there is none). */
function causeText(cause: string | undefined): string {
  return cause === undefined ? '' : failureCauseMessage(cause);
}

/**
 * The end of every build: the per-region result and outcome (succeeded, partially
 * succeeded, failed), published as BuildSucceeded / BuildPartiallySucceeded / BuildFailed.
 */
export const handler = taskHandler('report-build', Input, async ({ request, home, copies, error }, logger) => {
  const regions = [
    home !== null && error === null
      ? { region: request.region, status: 'succeeded' as const, imageId: home.imageId }
      : {
          region: request.region,
          status: 'failed' as const,
          imageId: home?.imageId ?? null,
          error: error?.Error ?? 'Unknown',
          cause: causeText(error?.Cause),
        },
    ...copies.map((c) => ({ ...c, cause: causeText(c.cause) })),
  ];
  const failed = regions.filter((r) => r.status === 'failed').length;
  const outcome = regions[0]?.status === 'failed' ? 'BuildFailed' : failed > 0 ? 'BuildPartiallySucceeded' : 'BuildSucceeded';
  await publishEvents(eventsClient(), bus, [
    {
      type: outcome,
      detail: {
        buildId: request.buildId,
        family: request.family,
        region: request.region,
        imageName: home?.imageName ?? null,
        trigger: request.trigger,
        regions,
      },
    },
  ]);
  logger.info('build reported', { outcome, failedRegions: failed });
  return { outcome, buildId: request.buildId, family: request.family, imageName: home?.imageName ?? null, regions };
});
