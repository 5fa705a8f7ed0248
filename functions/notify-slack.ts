import { requiredEnv, s3Client } from './lib/clients.js';
import { FactoryEventSchema, notifySlack, postJson } from './lib/chatops/notify.js';
import { ChatOpsStore } from './lib/chatops/store.js';
import { taskHandler } from './lib/task-handler.js';

const store = new ChatOpsStore(s3Client(), requiredEnv('AMI_FACTORY_STATE_BUCKET'));

/**
 * EventBridge target for the factory's build events: posts the result (and, while Slack's
 * five posts allow, progress) of a build started from Slack to its response_url. Builds
 * started otherwise have no ChatOps record and are skipped.
 */
export const handler = taskHandler('notify-slack', FactoryEventSchema, async (event, logger) => ({
  outcome: await notifySlack({ store, post: postJson, logger }, event),
}));
