import { z } from 'zod';
import { BuildRequestSchema } from './lib/build-request.js';
import { ec2Client } from './lib/clients.js';
import { registerImageFromSnapshots } from './lib/ec2/images.js';
import { ValidationError } from './lib/errors.js';
import { taskHandler } from './lib/task-handler.js';

/** RegisterImage of an EBS-backed image from the request's snapshots (idempotent by name). */
export const handler = taskHandler('register-image', z.object({ request: BuildRequestSchema }).strict(), async ({ request }, logger) => {
  if (request.source.type !== 'snapshots') throw new ValidationError(`register-image handles snapshot sources, not ${request.source.type}`);
  const image = await registerImageFromSnapshots(ec2Client(request.region), request, request.source);
  logger.info(image.created ? 'image registered' : 'image already existed', { imageId: image.imageId });
  return { ...image, region: request.region };
});
