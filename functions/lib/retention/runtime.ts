import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { RegionSchema } from '../build-request.js';
import { autoScalingClient, eventsClient, s3Client, sfnClient } from '../clients.js';
import { clock, now } from '../clock.js';
import { accountIdOf } from '../lambda-context.js';
import type { Logger } from '../logger.js';
import { THROTTLE_BUCKETS, type ThrottleClass } from '../ec2/throttling.js';
import { Ec2Pacer, pacedEc2Client, type PacerState } from './pacer.js';
import { assertOnlyApplyingRun } from './exclusive.js';
import { RetentionRequestSchema } from './request.js';
import { applyStep, planRegion, type RegionDeps, type RegionPlanSummary } from './run.js';
import { RetentionStore } from './store.js';

const BucketStateSchema = z.lazy(() => z.object({ tokens: z.number(), at: z.number() }).strict());
export const PacerStateSchema = z.lazy(() =>
  z.partialRecord(z.enum(Object.keys(THROTTLE_BUCKETS) as [ThrottleClass, ...ThrottleClass[]]), BucketStateSchema),
);

/** Where a retention run keeps its state and publishes its events (the handlers' environment). */
export interface RetentionSettings {
  stateBucket: string;
  eventBus: string;
}

/** The clients of one region for one invocation, EC2 paced from the carried bucket state. */
export function regionDeps(
  region: string,
  settings: RetentionSettings,
  context: Pick<Context, 'invokedFunctionArn'>,
  logger: Logger,
  pacerState: PacerState = {},
): { deps: RegionDeps; pacer: Ec2Pacer } {
  const pacer = new Ec2Pacer(clock(), pacerState);
  const deps: RegionDeps = {
    region,
    ec2: pacedEc2Client(region, pacer),
    autoscaling: autoScalingClient(region),
    s3: s3Client(region),
    store: new RetentionStore(s3Client(), settings.stateBucket),
    events: eventsClient(),
    bus: settings.eventBus,
    accountId: accountIdOf(context),
    logger,
  };
  return { deps, pacer };
}

type Counts = Record<string, number>;
const CountsSchema = z.lazy(() => z.record(z.string(), z.number().int().min(0)));

function add(a: Counts, b: Counts): Counts {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** The plan step's input: one region of a run. */
export const PlanStepInputSchema = z.lazy(() =>
  z
    .object({
      request: RetentionRequestSchema,
      region: RegionSchema,
      /** The execution's start time: every region of a run plans for the same instant. */
      now: z.iso.datetime({ offset: true }),
      /** This execution ($$.Execution.Id): an applying run first makes sure it is the family's only one. */
      execution: z.string().min(1),
    })
    .strict(),
);
export type PlanStepInput = z.infer<typeof PlanStepInputSchema>;

/**
 * Plans one region (planRegion): an applying run first makes sure it is the family's only one.
 * The result carries the plan's summary and the EC2 bucket state, so the apply steps continue
 * pacing where planning left off.
 */
export async function planStep(
  settings: RetentionSettings,
  context: Pick<Context, 'invokedFunctionArn'>,
  logger: Logger,
  input: PlanStepInput,
): Promise<RegionPlanSummary & { pacer: PacerState; calls: Counts; throttled: number }> {
  const { request, region, execution } = input;
  if (!request.dryRun) await assertOnlyApplyingRun(sfnClient(), execution, request.family);
  const { deps, pacer } = regionDeps(region, settings, context, logger);
  const summary = await planRegion(deps, request, new Date(input.now));
  return { ...summary, pacer: pacer.state(), calls: pacer.stats.calls, throttled: pacer.stats.throttled };
}

/** An apply step's state: its input is the previous step's output (the plan step's, first). */
export const ApplyStepStateSchema = z.lazy(() =>
  z
    .object({
      request: RetentionRequestSchema,
      region: RegionSchema,
      planNow: z.iso.datetime({ offset: true }),
      cursor: z.number().int().min(0).default(0),
      pacer: PacerStateSchema.default({}),
      outcomes: CountsSchema.default({}),
      calls: CountsSchema.default({}),
      throttled: z.number().int().min(0).default(0),
      /** The previous step's output carries it; the loop goes on only while it is false. */
      done: z.boolean().optional(),
    })
    .strict(),
);
export type ApplyStepState = z.infer<typeof ApplyStepStateSchema>;

/**
 * One apply step of a region (applyStep) and the state of the next: the cursor, the bucket
 * state, the running totals; `done` ends the region's loop. A step run twice re-checks and
 * finds its work done.
 */
export async function applyStepState(
  settings: RetentionSettings,
  context: Pick<Context, 'invokedFunctionArn'>,
  logger: Logger,
  state: ApplyStepState,
): Promise<ApplyStepState & { done: boolean }> {
  const { deps, pacer } = regionDeps(state.region, settings, context, logger, state.pacer);
  const r = await applyStep(deps, { request: state.request, cursor: state.cursor, planNow: new Date(state.planNow), now });
  return {
    request: state.request,
    region: state.region,
    planNow: state.planNow,
    cursor: r.cursor,
    done: r.done,
    pacer: pacer.state(),
    outcomes: add(state.outcomes, r.outcomes),
    calls: add(state.calls, pacer.stats.calls),
    throttled: state.throttled + pacer.stats.throttled,
  };
}
