import { BuildRequestSchema } from './lib/build-request.js';
import { ec2Client } from './lib/clients.js';
import { findOwnImageByName } from './lib/ec2/images.js';
import { imageName } from './lib/naming.js';
import { TAG } from './lib/constants.js';
import { ImageFailedError } from './lib/errors.js';
import { taskHandler } from './lib/task-handler.js';

/**
 * First step of a build: validates the BuildRequest and looks up its deterministic image
 * name, so a re-driven build skips straight to what is missing.
 */
export const handler = taskHandler('plan-build', BuildRequestSchema, async (request, logger) => {
  const name = imageName(request.family, request.requestedAt, request.buildId);
  const existing = await findOwnImageByName(ec2Client(request.region), name);
  if (existing !== undefined && existing.Tags?.find((t) => t.Key === TAG.buildId)?.Value !== request.buildId) {
    throw new ImageFailedError(`An image named ${name} already exists (${existing.ImageId}) and belongs to another build`);
  }
  logger.info(existing ? 'image exists; resuming' : 'new build', { imageName: name, imageId: existing?.ImageId });
  return { imageName: name, imageId: existing?.ImageId ?? null, state: existing?.State ?? null };
});
