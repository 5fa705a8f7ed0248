import { ec2Client, eventsClient, s3Client, sfnClient } from './lib/clients.js';
import { env, requireEnv } from './lib/env.js';
import { accountIdOf } from './lib/lambda-context.js';
import { CLICK_WEB_API_BUDGET, handleSlackInteraction, isInteractivityRequest } from './lib/approvals/endpoint.js';
import { ApprovalStore } from './lib/approvals/store.js';
import { httpHandler } from './lib/chatops/http.js';
import { signingSecret } from './lib/chatops/secret.js';
import { handleSlackRequest } from './lib/chatops/service.js';
import { ChatOpsStore } from './lib/chatops/store.js';
import { slackWebApiFromEnv } from './lib/chatops/web-api.js';
import { factoryConfig } from './lib/factory-config.js';

/** Read at cold start: a misconfigured function fails at once, not midway through a command. */
const settings = requireEnv('AMI_FACTORY_STATE_MACHINE_ARN', 'AMI_FACTORY_RETENTION_STATE_MACHINE_ARN', 'AMI_FACTORY_STATE_BUCKET');

/**
 * The Slack endpoint (Lambda function URL, or HTTP API payload 2.0). `/interactivity` receives
 * clicks on approval requests (approvals/endpoint.ts); every other path is the slash command.
 * Either way a request whose signature does not verify, or was already accepted once (a replay),
 * gets 401 and changes nothing, and Slack's retries get an empty 200. A slash command is
 * authorized against the family's `chatops` permissions and answered with a Block Kit reply; a
 * click is authorized against its gate, recorded, and answered by updating the request message.
 */
export const handler = httpHandler('slack-command', async (event, context, logger) => {
  const store = new ChatOpsStore(s3Client(), settings.AMI_FACTORY_STATE_BUCKET);
  if (isInteractivityRequest(event)) {
    return handleSlackInteraction(
      {
        signingSecret: () => signingSecret(),
        store: new ApprovalStore(s3Client(), settings.AMI_FACTORY_STATE_BUCKET),
        replay: store,
        sfn: sfnClient(),
        events: eventsClient(),
        eventBus: env().AMI_FACTORY_EVENT_BUS,
        slack: await slackWebApiFromEnv(CLICK_WEB_API_BUDGET),
        logger,
        allowLoopbackResponseUrls: env().AMI_FACTORY_SLACK_LOOPBACK_RESPONSE_URLS,
      },
      event,
    );
  }
  return handleSlackRequest(
    {
      config: factoryConfig(),
      sfn: sfnClient(),
      ec2: ec2Client,
      store,
      stateMachineArn: settings.AMI_FACTORY_STATE_MACHINE_ARN,
      retentionStateMachineArn: settings.AMI_FACTORY_RETENTION_STATE_MACHINE_ARN,
      ...(env().AMI_FACTORY_CHANNELS_STATE_MACHINE_ARN !== undefined
        ? { channelsStateMachineArn: env().AMI_FACTORY_CHANNELS_STATE_MACHINE_ARN }
        : {}),
      accountId: accountIdOf(context),
      signingSecret: () => signingSecret(),
      logger,
      allowLoopbackResponseUrls: env().AMI_FACTORY_SLACK_LOOPBACK_RESPONSE_URLS,
    },
    event,
    context.awsRequestId,
  );
});
