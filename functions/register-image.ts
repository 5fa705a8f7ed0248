import * as z from 'zod';
import { buildRequestWithSource } from './lib/build-request.js';
import { ec2Client } from './lib/clients.js';
import { registerImageFromSnapshots } from './lib/ec2/images.js';
import { taskHandler } from './lib/task-handler.js';

/** RegisterImage of an EBS-backed image from the request's snapshots (idempotent by name). */
export const handler = taskHandler(
  'register-image',
  z.object({ request: buildRequestWithSource('snapshots') }).strict(),
  async ({ request }, logger) => {
    const image = await registerImageFromSnapshots(ec2Client(request.region), request, request.source);
    logger.info(image.created ? 'image registered' : 'image already existed', { imageId: image.imageId });
    return { ...image, region: request.region };
  },
);
