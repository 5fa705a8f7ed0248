import * as z from 'zod';
import { ApprovalStore } from './lib/approvals/store.js';
import { announceExpiry, listApprovalIds, sweepApprovals } from './lib/approvals/sweep.js';
import { slackWebApiFromEnv } from './lib/chatops/web-api.js';
import { ec2Client, eventsClient, s3Client, sfnClient } from './lib/clients.js';
import { now } from './lib/clock.js';
import { requireEnv } from './lib/env.js';
import { taskHandler } from './lib/task-handler.js';
import { sweepWaits } from './lib/wait-service.js';
import { WaitStore } from './lib/waits.js';

const { AMI_FACTORY_STATE_BUCKET: stateBucket, AMI_FACTORY_EVENT_BUS: eventBus } = requireEnv(
  'AMI_FACTORY_STATE_BUCKET',
  'AMI_FACTORY_EVENT_BUS',
);

/**
 * Scheduled poll fallback for lost events: completes finished waits, heartbeats the rest; and
 * enforces the approval gates' timeouts (an expired request resumes its execution as rejected).
 */
export const handler = taskHandler('sweep-waits', z.object({}).passthrough(), async (_event, logger) => {
  const store = new WaitStore(s3Client(), stateBucket);
  const result = await sweepWaits({ store, sfn: sfnClient(), ec2: ec2Client });
  const approvals = await sweepApprovals({
    ids: () => listApprovalIds(s3Client(), stateBucket),
    store: new ApprovalStore(s3Client(), stateBucket),
    sfn: sfnClient(),
    now,
    onDecided: (record) => announceExpiry({ events: eventsClient(), eventBus, slack: slackWebApiFromEnv, logger }, record),
  });
  logger.info('sweep done', { ...result, approvals });
  return { ...result, approvals };
});
