import { requireEnv } from './lib/env.js';
import { planStep, PlanStepInputSchema } from './lib/retention/runtime.js';
import { taskHandler } from './lib/task-handler.js';

const settings = requireEnv('AMI_FACTORY_STATE_BUCKET', 'AMI_FACTORY_EVENT_BUS');

/**
 * Plans retention in one region: the family's managed images, what uses the ones the policy
 * would retire, the decision per image. The plan goes to S3; the state carries its summary.
 */
export const handler = taskHandler('plan-retention', PlanStepInputSchema, async (input, logger, context) =>
  planStep({ stateBucket: settings.AMI_FACTORY_STATE_BUCKET, eventBus: settings.AMI_FACTORY_EVENT_BUS }, context, logger, input),
);
