import { s3Client } from './lib/clients.js';
import { env, requireEnv } from './lib/env.js';
import { NotifiedEventSchema, notifySlack, postJson } from './lib/chatops/notify.js';
import { ChatOpsStore } from './lib/chatops/store.js';
import { RetentionStore } from './lib/retention/store.js';
import { taskHandler } from './lib/task-handler.js';

const { AMI_FACTORY_STATE_BUCKET: bucket } = requireEnv('AMI_FACTORY_STATE_BUCKET');

/**
 * EventBridge target for the factory's build and retention events: posts the result (and,
 * while Slack's five posts allow, progress) of a build started from Slack, and the plan or
 * result of a retention run started from Slack (`expire`), to the command's response_url.
 * Builds and runs started otherwise have no ChatOps record and are skipped.
 */
export const handler = taskHandler('notify-slack', NotifiedEventSchema, async (event, logger) => ({
  outcome: await notifySlack(
    {
      store: new ChatOpsStore(s3Client(), bucket),
      retention: new RetentionStore(s3Client(), bucket),
      post: postJson,
      logger,
      allowLoopbackResponseUrls: env().AMI_FACTORY_SLACK_LOOPBACK_RESPONSE_URLS,
    },
    event,
  ),
}));
