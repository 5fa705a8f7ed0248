import * as z from 'zod';
import { BuildRequestSchema, RegionSchema } from './lib/build-request.js';
import { ec2Client } from './lib/clients.js';
import { terminateTestInstances } from './lib/ec2/image-test.js';
import { taskHandler } from './lib/task-handler.js';

/** Terminates the build's test instances in a region, whatever the verdict (idempotent: found by tags). */
export const handler = taskHandler(
  'terminate-test',
  z.object({ request: BuildRequestSchema, region: RegionSchema }).strict(),
  async ({ request, region }, logger) => {
    const terminated = await terminateTestInstances(ec2Client(region), request.buildId);
    logger.info('test instances terminated', { region, terminated });
    return { terminated };
  },
);
