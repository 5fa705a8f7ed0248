import { z } from 'zod';
import { RegionSchema } from './lib/build-request.js';
import { now } from './lib/clock.js';
import { applyStep } from './lib/retention/run.js';
import { RetentionRequestSchema } from './lib/retention/request.js';
import { PacerStateSchema, regionDeps } from './lib/retention/runtime.js';
import { taskHandler } from './lib/task-handler.js';
import { requireEnv } from './lib/env.js';

const settings = requireEnv('AMI_FACTORY_STATE_BUCKET', 'AMI_FACTORY_EVENT_BUS');

const Counts = z.record(z.string(), z.number().int().min(0));

const Input = z
  .object({
    request: RetentionRequestSchema,
    region: RegionSchema,
    planNow: z.iso.datetime({ offset: true }),
    cursor: z.number().int().min(0).default(0),
    pacer: PacerStateSchema.default({}),
    outcomes: Counts.default({}),
    calls: Counts.default({}),
    throttled: z.number().int().min(0).default(0),
    /** The previous step's output carries it; the loop goes on only while it is false. */
    done: z.boolean().optional(),
  })
  .strict();

function add(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/**
 * One apply step of a region: the next batch of the plan, re-checked and acted on at the
 * pace of EC2's buckets. Its output is the next step's input (cursor, bucket state, running
 * totals); `done` ends the region's loop. A step run twice re-checks and finds its work done.
 */
export const handler = taskHandler('apply-retention', Input, async (input, logger, context) => {
  const { deps, pacer } = regionDeps(
    input.region,
    { stateBucket: settings.AMI_FACTORY_STATE_BUCKET, eventBus: settings.AMI_FACTORY_EVENT_BUS },
    context,
    logger,
    input.pacer,
  );
  const r = await applyStep(deps, { request: input.request, cursor: input.cursor, planNow: new Date(input.planNow), now });
  return {
    request: input.request,
    region: input.region,
    planNow: input.planNow,
    cursor: r.cursor,
    done: r.done,
    pacer: pacer.state(),
    outcomes: add(input.outcomes, r.outcomes),
    calls: add(input.calls, pacer.stats.calls),
    throttled: input.throttled + pacer.stats.throttled,
  };
});
