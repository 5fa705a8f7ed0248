import { ApprovalTaskInputSchema, requestApproval, unpostedApprovals } from './lib/approvals/request.js';
import { ApprovalStore } from './lib/approvals/store.js';
import { s3Client, sfnClient } from './lib/clients.js';
import { now } from './lib/clock.js';
import { requireEnv } from './lib/env.js';
import { factoryConfig } from './lib/factory-config.js';
import { taskHandler } from './lib/task-handler.js';

const { AMI_FACTORY_STATE_BUCKET: bucket } = requireEnv('AMI_FACTORY_STATE_BUCKET');

/**
 * The `.waitForTaskToken` worker of an approval gate: records the request with the task's token
 * (approvals/<id>.json) and posts it to the gate's Slack channel. The decision resumes the task
 * later (a click through the Slack endpoint, or the sweeper's expiry).
 *
 * Posting needs the Slack Web API client and the bot token; until they are wired here
 * (`poster`), the request is recorded but not posted, and `ami-factory chat` decides it.
 */
export const handler = taskHandler('request-approval', ApprovalTaskInputSchema, async (input, logger) => {
  const subjectFamily = input.subject.kind === 'promote' ? input.subject.operation.family : input.subject.request.family;
  // A retention run's plans are in this bucket: the message links them.
  const withPlans =
    input.subject.kind === 'retention' ? { ...input, subject: { ...input.subject, bucket: input.subject.bucket ?? bucket } } : input;
  return requestApproval(
    { store: new ApprovalStore(s3Client(), bucket), sfn: sfnClient(), poster: unpostedApprovals, now, logger },
    withPlans,
    factoryConfig().families[subjectFamily],
  );
});
