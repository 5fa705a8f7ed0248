import * as z from 'zod';
import { BuildRequestSchema, ImageIdSchema, RegionSchema, type BuildRequest } from '../build-request.js';
import type { FactoryConfig } from '../config.js';
import { familyOf } from '../request-policy.js';
import type { PublishInput } from './publish.js';

/**
 * A build's publication of one region's image: to the family's first channel, with the
 * launch templates the family lists in that region, by the build's trigger.
 */
export const PublishImageInputSchema = z
  .object({
    request: BuildRequestSchema,
    region: RegionSchema,
    imageId: ImageIdSchema,
  })
  .strict();
export type PublishImageInput = z.infer<typeof PublishImageInputSchema>;

/** Where and how a build publishes the image of `region` (the family's config decides the channel and the launch templates). */
export function buildPublication(config: FactoryConfig, request: BuildRequest, region: string, imageId: string): PublishInput {
  const f = familyOf(config, request.family);
  const channel = f.channels[0] ?? 'latest';
  return {
    family: request.family,
    region,
    channel,
    imageId,
    buildId: request.buildId,
    by: request.trigger,
    action: 'publish',
    channels: f.channels,
    launchTemplates: f.launchTemplates[region] ?? [],
  };
}
