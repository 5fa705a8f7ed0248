import * as z from 'zod';
import { BuildRequestSchema, CopyTargetSchema, ImageIdSchema } from './lib/build-request.js';
import { ec2Client } from './lib/clients.js';
import { copyImageToRegion } from './lib/ec2/copy.js';
import { taskHandler } from './lib/task-handler.js';

const Input = z.object({ request: BuildRequestSchema, sourceImageId: ImageIdSchema, target: CopyTargetSchema }).strict();

/** CopyImage into one destination region (ClientToken per build and region). */
export const handler = taskHandler('copy-image', Input, async ({ request, sourceImageId, target }, logger) => {
  const copy = await copyImageToRegion(ec2Client(target.region), request, sourceImageId, target);
  logger.info(copy.created ? 'copy started' : 'copy already existed', { region: target.region, imageId: copy.imageId });
  return copy;
});
