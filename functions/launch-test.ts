import * as z from 'zod';
import { BuildRequestSchema, ImageIdSchema, RegionSchema } from './lib/build-request.js';
import { ec2Client } from './lib/clients.js';
import { launchTestInstance } from './lib/ec2/image-test.js';
import { ValidationError } from './lib/errors.js';
import { taskHandler } from './lib/task-handler.js';

const Input = z.object({ request: BuildRequestSchema, region: RegionSchema, imageId: ImageIdSchema }).strict();

/** RunInstances of a region's test instance from its image (ClientToken per build and region: a retry never launches two). */
export const handler = taskHandler('launch-test', Input, async ({ request, region, imageId }, logger) => {
  if (request.tests === undefined) throw new ValidationError(`Family ${request.family} declares no tests`, ['request.tests: missing']);
  const test = await launchTestInstance(ec2Client(region), request, request.tests, region, imageId);
  logger.info('test instance launched', { region, imageId, instanceId: test.instanceId });
  return test;
});
