import { BuildRequestSchema } from './lib/build-request.js';
import { ec2Client } from './lib/clients.js';
import { resolveBaseImage } from './lib/ec2/builder.js';
import { ValidationError } from './lib/errors.js';
import { taskHandler } from './lib/task-handler.js';

/** The base image of a fresh build: an id, or the newest image matching a name filter and owner. */
export const handler = taskHandler('resolve-base-image', BuildRequestSchema, async (request, logger) => {
  if (request.source.type !== 'base-image')
    throw new ValidationError(`resolve-base-image handles base-image sources, not ${request.source.type}`);
  const base = await resolveBaseImage(ec2Client(request.region), request.source);
  logger.info('base image resolved', { baseImageId: base.imageId, baseImageName: base.name });
  return base;
});
