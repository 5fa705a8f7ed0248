import * as z from 'zod';
import { ec2Client, s3Client, sfnClient } from './lib/clients.js';
import { requireEnv } from './lib/env.js';
import { taskHandler } from './lib/task-handler.js';
import { sweepWaits } from './lib/wait-service.js';
import { WaitStore } from './lib/waits.js';

const { AMI_FACTORY_STATE_BUCKET: stateBucket } = requireEnv('AMI_FACTORY_STATE_BUCKET');

/** Scheduled poll fallback for lost events: completes finished waits, heartbeats the rest. */
export const handler = taskHandler('sweep-waits', z.object({}).passthrough(), async (_event, logger) => {
  const store = new WaitStore(s3Client(), stateBucket);
  const result = await sweepWaits({ store, sfn: sfnClient(), ec2: ec2Client });
  logger.info('sweep done', { ...result });
  return result;
});
