import * as z from 'zod';
import { BuildRequestSchema } from './lib/build-request.js';
import { ec2Client } from './lib/clients.js';
import { terminateBuilders } from './lib/ec2/builder.js';
import { taskHandler } from './lib/task-handler.js';

/** Terminates the build's builder instances, whatever the outcome of the build (idempotent). */
export const handler = taskHandler('terminate-builder', z.object({ request: BuildRequestSchema }).strict(), async ({ request }, logger) => {
  const terminated = await terminateBuilders(ec2Client(request.region), request.buildId);
  logger.info('builders terminated', { terminated });
  return { terminated };
});
