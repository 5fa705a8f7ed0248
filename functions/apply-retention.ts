import { requireEnv } from './lib/env.js';
import { applyStepState, ApplyStepStateSchema } from './lib/retention/runtime.js';
import { taskHandler } from './lib/task-handler.js';

const settings = requireEnv('AMI_FACTORY_STATE_BUCKET', 'AMI_FACTORY_EVENT_BUS');

/**
 * One apply step of a region: the next batch of the plan, re-checked and acted on at the
 * pace of EC2's buckets. Its output is the next step's input; `done` ends the region's loop.
 */
export const handler = taskHandler('apply-retention', ApplyStepStateSchema, async (state, logger, context) =>
  applyStepState({ stateBucket: settings.AMI_FACTORY_STATE_BUCKET, eventBus: settings.AMI_FACTORY_EVENT_BUS }, context, logger, state),
);
