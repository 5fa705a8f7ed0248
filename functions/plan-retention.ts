import { z } from 'zod';
import { RegionSchema } from './lib/build-request.js';
import { planRegion } from './lib/retention/run.js';
import { RetentionRequestSchema } from './lib/retention/request.js';
import { regionDeps } from './lib/retention/runtime.js';
import { taskHandler } from './lib/task-handler.js';
import { sfnClient } from './lib/clients.js';
import { requireEnv } from './lib/env.js';
import { assertOnlyApplyingRun } from './lib/retention/exclusive.js';

const settings = requireEnv('AMI_FACTORY_STATE_BUCKET', 'AMI_FACTORY_EVENT_BUS');

const Input = z
  .object({
    request: RetentionRequestSchema,
    region: RegionSchema,
    /** The execution's start time: every region of a run plans for the same instant. */
    now: z.iso.datetime({ offset: true }),
    /** This execution ($$.Execution.Id): an applying run first makes sure it is the family's only one. */
    execution: z.string().min(1),
  })
  .strict();

/**
 * Plans retention in one region: the family's managed images, what uses the ones the policy
 * would retire, the decision per image. The plan goes to S3; the state carries its summary,
 * and the EC2 bucket state so the apply steps continue pacing where planning left off.
 */
export const handler = taskHandler('plan-retention', Input, async ({ request, region, now, execution }, logger, context) => {
  if (!request.dryRun) await assertOnlyApplyingRun(sfnClient(), execution, request.family);
  const { deps, pacer } = regionDeps(
    region,
    { stateBucket: settings.AMI_FACTORY_STATE_BUCKET, eventBus: settings.AMI_FACTORY_EVENT_BUS },
    context,
    logger,
  );
  const summary = await planRegion(deps, request, new Date(now));
  return { ...summary, pacer: pacer.state(), calls: pacer.stats.calls, throttled: pacer.stats.throttled };
});
