import { z } from 'zod';
import { ec2Client, s3Client, sfnClient } from './lib/clients.js';
import { requireEnv } from './lib/env.js';
import { taskHandler } from './lib/task-handler.js';
import { completeWaitsFor } from './lib/wait-service.js';
import { WaitStore } from './lib/waits.js';

/** `EC2 AMI State Change` and `EC2 Instance State-change Notification` events (aws-facts.md). */
const Ec2Event = z.discriminatedUnion('detail-type', [
  z
    .object({
      'detail-type': z.literal('EC2 AMI State Change'),
      source: z.literal('aws.ec2'),
      region: z.string(),
      detail: z.object({ ImageId: z.string(), State: z.string() }).passthrough(),
    })
    .passthrough(),
  z
    .object({
      'detail-type': z.literal('EC2 Instance State-change Notification'),
      source: z.literal('aws.ec2'),
      region: z.string(),
      detail: z.object({ 'instance-id': z.string(), state: z.string() }).passthrough(),
    })
    .passthrough(),
]);

const { AMI_FACTORY_STATE_BUCKET: stateBucket } = requireEnv('AMI_FACTORY_STATE_BUCKET');

/** Completes the waits recorded for the image or instance an EC2 event is about. */
export const handler = taskHandler('complete-waits', Ec2Event, async (event, logger) => {
  const store = new WaitStore(s3Client(), stateBucket);
  const deps = { store, sfn: sfnClient(), ec2: ec2Client };
  const completed =
    event['detail-type'] === 'EC2 AMI State Change'
      ? await completeWaitsFor(deps, 'image', event.region, event.detail.ImageId)
      : await completeWaitsFor(deps, 'builder', event.region, event.detail['instance-id']);
  logger.info('event handled', { detailType: event['detail-type'], completed });
  return { completed };
});
