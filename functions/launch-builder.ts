import { z } from 'zod';
import { BuildRequestSchema, ImageIdSchema } from './lib/build-request.js';
import { ec2Client } from './lib/clients.js';
import { launchBuilder } from './lib/ec2/builder.js';
import { ValidationError } from './lib/errors.js';
import { taskHandler } from './lib/task-handler.js';

/** RunInstances of the build's builder (ClientToken per build: a retry never launches two). */
export const handler = taskHandler(
  'launch-builder',
  z.object({ request: BuildRequestSchema, baseImageId: ImageIdSchema }).strict(),
  async ({ request, baseImageId }, logger) => {
    if (request.source.type !== 'base-image')
      throw new ValidationError(`launch-builder handles base-image sources, not ${request.source.type}`);
    const builder = await launchBuilder(ec2Client(request.region), request, request.source, baseImageId);
    logger.info('builder launched', { instanceId: builder.instanceId, baseImageId });
    return builder;
  },
);
