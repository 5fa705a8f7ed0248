import * as z from 'zod';
import { buildRequestWithSource, ImageIdSchema } from './lib/build-request.js';
import { ec2Client } from './lib/clients.js';
import { launchBuilder } from './lib/ec2/builder.js';
import { taskHandler } from './lib/task-handler.js';

/** RunInstances of the build's builder (ClientToken per build: a retry never launches two). */
export const handler = taskHandler(
  'launch-builder',
  z.object({ request: buildRequestWithSource('base-image'), baseImageId: ImageIdSchema }).strict(),
  async ({ request, baseImageId }, logger) => {
    const builder = await launchBuilder(ec2Client(request.region), request, request.source, baseImageId);
    logger.info('builder launched', { instanceId: builder.instanceId, baseImageId });
    return builder;
  },
);
