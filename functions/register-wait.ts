import { ec2Client, s3Client, sfnClient } from './lib/clients.js';
import { homeRegion, requireEnv } from './lib/env.js';
import { taskHandler } from './lib/task-handler.js';
import { newWaitRecord, registerWait, WaitRequestSchema } from './lib/wait-service.js';
import { WaitStore } from './lib/waits.js';

const { AMI_FACTORY_STATE_BUCKET: stateBucket } = requireEnv('AMI_FACTORY_STATE_BUCKET');

/**
 * The `.waitForTaskToken` worker: records the token keyed by (kind, region, resource) and
 * checks once. The EC2 state-change events (complete-waits) and the sweeper complete it later.
 */
export const handler = taskHandler('register-wait', WaitRequestSchema, async (input, logger) => {
  const deps = { store: new WaitStore(s3Client(), stateBucket), sfn: sfnClient(), ec2: ec2Client };
  const result = await registerWait(deps, newWaitRecord(input, homeRegion()));
  logger.info('wait registered', { kind: input.kind, resourceId: input.resourceId, result });
  return { result };
});
