import { ApprovalTaskInputSchema, requestApproval, unpostedApprovals, type ApprovalPoster } from './lib/approvals/request.js';
import { ApprovalStore } from './lib/approvals/store.js';
import { postApprovalRequest, slackWebApiFromEnv } from './lib/chatops/web-api.js';
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
 * Posting uses the Slack Web API with the bot token (functions/lib/chatops/web-api.ts). Without
 * a bot token, or when Slack does not take the post, the request is recorded all the same and
 * can be decided (`ami-factory chat --click`, a retried post): a Slack outage never decides a gate.
 */
export const handler = taskHandler('request-approval', ApprovalTaskInputSchema, async (input, logger) => {
  const subjectFamily = input.subject.kind === 'promote' ? input.subject.operation.family : input.subject.request.family;
  const slack = await slackWebApiFromEnv();
  const poster: ApprovalPoster =
    slack === undefined
      ? unpostedApprovals
      : {
          postApprovalRequest: async (record) => {
            try {
              return await postApprovalRequest(record, slack);
            } catch (e) {
              logger.error('approval request not posted to Slack; it is recorded and can be decided', {
                approvalId: record.id,
                errorName: e instanceof Error ? e.name : typeof e,
              });
              return undefined;
            }
          },
        };
  // A retention run's plans are in this bucket: the message links them.
  const withPlans =
    input.subject.kind === 'retention' ? { ...input, subject: { ...input.subject, bucket: input.subject.bucket ?? bucket } } : input;
  return requestApproval(
    { store: new ApprovalStore(s3Client(), bucket), sfn: sfnClient(), poster, now, logger },
    withPlans,
    factoryConfig().families[subjectFamily],
  );
});
