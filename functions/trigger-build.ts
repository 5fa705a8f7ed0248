import { z } from 'zod';
import { eventBusName, eventsClient, requiredEnv, sfnClient } from './lib/clients.js';
import { taskHandler } from './lib/task-handler.js';
import { factoryConfig, triggerBuilds } from './lib/triggers/runtime.js';

/** Read at cold start: a function without its state machine fails at once, not midway. */
const stateMachineArn = requiredEnv('AMI_FACTORY_STATE_MACHINE_ARN');

/**
 * EventBridge targets: `Build Requested` (source ami-factory), `Parameter Store Change`
 * (aws.ssm) and the per-family schedules (`{family, id, time}` from the rule's input
 * transformer) → BuildRequest(s) → StartExecution under the deterministic execution name.
 * A duplicate delivery finds its execution and succeeds; a refused request publishes
 * `BuildRequestRejected` and starts nothing.
 */
export const handler = taskHandler('trigger-build', z.unknown(), async (event, logger) =>
  triggerBuilds({ config: factoryConfig(), sfn: sfnClient(), events: eventsClient(), stateMachineArn, bus: eventBusName(), logger }, event),
);
