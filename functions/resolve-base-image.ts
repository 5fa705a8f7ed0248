import { buildRequestWithSource } from './lib/build-request.js';
import { ec2Client } from './lib/clients.js';
import { resolveBaseImage } from './lib/ec2/builder.js';
import { taskHandler } from './lib/task-handler.js';

/** The base image of a fresh build: an id, or the newest image matching a name filter and owner. */
export const handler = taskHandler('resolve-base-image', buildRequestWithSource('base-image'), async (request, logger) => {
  const base = await resolveBaseImage(ec2Client(request.region), request.source);
  logger.info('base image resolved', { baseImageId: base.imageId, baseImageName: base.name });
  return base;
});
