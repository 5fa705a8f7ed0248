import * as z from 'zod';
import { ec2Client, eventsClient, sfnClient } from './lib/clients.js';
import { describeOwnImage } from './lib/distribution.js';
import { requireEnv } from './lib/env.js';
import { taskHandler } from './lib/task-handler.js';
import { factoryConfig } from './lib/factory-config.js';
import { triggerBuilds } from './lib/triggers/runtime.js';

/** Read at cold start: a function without its state machine fails at once, not midway. */
const settings = requireEnv('AMI_FACTORY_STATE_MACHINE_ARN', 'AMI_FACTORY_RETENTION_STATE_MACHINE_ARN', 'AMI_FACTORY_EVENT_BUS');

/**
 * EventBridge targets: `Build Requested` and `Distribute Requested` (source ami-factory), `Parameter Store Change`
 * (aws.ssm) and the per-family schedules (`{family, id, time}` from the rule's input
 * transformer) → BuildRequest(s) → StartExecution under the deterministic execution name.
 * A duplicate delivery finds its execution and succeeds; a refused request publishes
 * `BuildRequestRejected` and starts nothing.
 */
export const handler = taskHandler('trigger-build', z.unknown(), async (event, logger) =>
  triggerBuilds(
    {
      config: factoryConfig(),
      sfn: sfnClient(),
      events: eventsClient(),
      stateMachineArn: settings.AMI_FACTORY_STATE_MACHINE_ARN,
      retentionStateMachineArn: settings.AMI_FACTORY_RETENTION_STATE_MACHINE_ARN,
      bus: settings.AMI_FACTORY_EVENT_BUS,
      describeImage: (region, imageId) => describeOwnImage(ec2Client(region), imageId),
      logger,
    },
    event,
  ),
);
