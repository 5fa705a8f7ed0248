import * as z from 'zod';
import { BuildRequestSchema, ImageIdSchema, RegionSchema } from './lib/build-request.js';
import { ec2Client } from './lib/clients.js';
import { rejectTestedImage } from './lib/ec2/image-test.js';
import { ImageTestFailedError, ImageTestTimeoutError, errorNameOf } from './lib/errors.js';
import { taskHandler } from './lib/task-handler.js';

const Input = z
  .object({
    request: BuildRequestSchema,
    region: RegionSchema,
    imageId: ImageIdSchema,
    /** judge-test's verdict. */
    test: z
      .object({ status: z.enum(['failed', 'timed-out']), reason: z.string().nullable(), consoleTail: z.string().nullable() })
      .passthrough(),
  })
  .strict();

/**
 * A region whose test did not pass: its image is deregistered (snapshots deleted) or disabled,
 * per the family's `tests.onFailure` (only this build's managed images). Returns the region's
 * failure as `{error, cause}` for the report.
 */
export const handler = taskHandler('reject-test', Input, async ({ request, region, imageId, test }, logger) => {
  const result = await rejectTestedImage(ec2Client(region), request, imageId, request.tests?.onFailure ?? 'deregister');
  logger.info('tested image rejected', { region, imageId, status: test.status, ...result });
  const tail = test.consoleTail !== null ? `; console output:\n${test.consoleTail}` : '';
  return {
    error: test.status === 'timed-out' ? errorNameOf(ImageTestTimeoutError) : errorNameOf(ImageTestFailedError),
    cause: `Image ${imageId} in ${region}: ${test.reason ?? 'the test did not pass'}${tail}`,
    ...result,
  };
});
