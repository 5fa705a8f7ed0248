import * as z from 'zod';
import { BuildRequestSchema, InstanceIdSchema, RegionSchema } from './lib/build-request.js';
import { ec2Client } from './lib/clients.js';
import { judgeTest } from './lib/ec2/image-test.js';
import { taskHandler } from './lib/task-handler.js';

const Input = z
  .object({
    request: BuildRequestSchema,
    region: RegionSchema,
    /** The test instance (null when the launch itself failed). */
    instanceId: InstanceIdSchema.nullable(),
    /** How the launch or the wait failed (a Catch's `{Error, Cause}`), or null when the wait succeeded. */
    error: z.object({ Error: z.string(), Cause: z.string().optional() }).passthrough().nullable(),
  })
  .strict();

/** A region's test verdict (passed / failed / timed-out), with the console output tail of a test that did not pass. */
export const handler = taskHandler('judge-test', Input, async ({ region, instanceId, error }, logger) => {
  const verdict = await judgeTest(ec2Client(region), instanceId, error);
  logger.info('test judged', { region, instanceId, status: verdict.status });
  return verdict;
});
