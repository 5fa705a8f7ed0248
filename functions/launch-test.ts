import * as z from 'zod';
import { BuildRequestSchema, ImageIdSchema, RegionSchema } from './lib/build-request.js';
import { ec2Client } from './lib/clients.js';
import { launchTestInstance } from './lib/ec2/image-test.js';
import { ValidationError } from './lib/errors.js';
import { taskHandler } from './lib/task-handler.js';

const Input = z
  .object({
    request: BuildRequestSchema,
    region: RegionSchema,
    imageId: ImageIdSchema,
    /** The execution (`$$.Execution.Id`): each run of a build tests afresh, retries within one run launch once. */
    run: z.string().min(1).max(2048),
  })
  .strict();

/** RunInstances of a region's test instance from its image (ClientToken per build, region and execution: a retry never launches two). */
export const handler = taskHandler('launch-test', Input, async ({ request, region, imageId, run }, logger) => {
  if (request.tests === undefined) throw new ValidationError(`Family ${request.family} declares no tests`, ['request.tests: missing']);
  const test = await launchTestInstance(ec2Client(region), request, request.tests, { region, imageId, run });
  logger.info('test instance launched', { region, imageId, instanceId: test.instanceId });
  return test;
});
