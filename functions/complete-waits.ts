import { ec2Client, s3Client, sfnClient } from './lib/clients.js';
import { requireEnv } from './lib/env.js';
import { taskHandler } from './lib/task-handler.js';
import { completeWaitsForEvent, Ec2StateChangeEventSchema } from './lib/wait-service.js';
import { WaitStore } from './lib/waits.js';

const { AMI_FACTORY_STATE_BUCKET: stateBucket } = requireEnv('AMI_FACTORY_STATE_BUCKET');

/** Completes the waits recorded for the image or instance an EC2 state-change event is about. */
export const handler = taskHandler('complete-waits', Ec2StateChangeEventSchema, async (event, logger) => {
  const completed = await completeWaitsForEvent({ store: new WaitStore(s3Client(), stateBucket), sfn: sfnClient(), ec2: ec2Client }, event);
  logger.info('event handled', { detailType: event['detail-type'], completed });
  return { completed };
});
