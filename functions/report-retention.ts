import { z } from 'zod';
import { eventsClient, s3Client } from './lib/clients.js';
import { requireEnv } from './lib/env.js';
import { failureCauseMessage } from './lib/errors.js';
import { publishEvents } from './lib/events/publish.js';
import { retentionReport, type RegionRun } from './lib/retention/report.js';
import { RetentionRequestSchema } from './lib/retention/request.js';
import { RetentionStore } from './lib/retention/store.js';
import { taskHandler } from './lib/task-handler.js';

const settings = requireEnv('AMI_FACTORY_STATE_BUCKET', 'AMI_FACTORY_EVENT_BUS');

const Counts = z.record(z.string(), z.number());
const PlanState = z
  .object({
    region: z.string(),
    status: z.enum(['planned', 'plan-failed']),
    error: z.string().optional(),
    cause: z.string().optional(),
    calls: Counts.optional(),
    throttled: z.number().optional(),
  })
  .passthrough();
const ApplyState = z
  .object({
    region: z.string(),
    status: z.enum(['applied', 'apply-failed', 'skipped']),
    error: z.string().optional(),
    cause: z.string().optional(),
    calls: Counts.optional(),
    throttled: z.number().optional(),
  })
  .passthrough();

const Input = z
  .object({
    request: RetentionRequestSchema,
    plans: z.array(PlanState),
    applied: z.array(ApplyState),
  })
  .strict();

/** `<error>: <cause's message>` of a failed step, or undefined when it did not fail. */
function causeText(error: string | undefined, cause: string | undefined): string | undefined {
  if (error === undefined) return undefined;
  const message = cause === undefined ? '' : failureCauseMessage(cause);
  return message !== '' ? `${error}: ${message}` : error;
}

/**
 * The end of every retention run: reads each region's plan and step results from S3 and
 * publishes RetentionPlanned (dry run) or RetentionCompleted with the per-region report.
 */
export const handler = taskHandler('report-retention', Input, async ({ request, plans, applied }) => {
  const store = new RetentionStore(s3Client(), settings.AMI_FACTORY_STATE_BUCKET);
  const calls: Record<string, number> = {};
  let throttled = 0;
  const runs: RegionRun[] = [];
  for (const p of plans) {
    const a = applied.find((x) => x.region === p.region);
    for (const c of [p.calls ?? {}, a?.calls ?? {}]) for (const [k, v] of Object.entries(c)) calls[k] = (calls[k] ?? 0) + v;
    throttled += (p.throttled ?? 0) + (a?.throttled ?? 0);
    if (p.status === 'plan-failed') {
      runs.push({ region: p.region, status: 'plan-failed', error: causeText(p.error, p.cause) ?? 'plan failed', results: [] });
      continue;
    }
    const run: RegionRun = {
      region: p.region,
      status: request.dryRun ? 'planned' : (a?.status ?? 'skipped'),
      plan: await store.getPlan(request.runId, p.region),
      results: request.dryRun ? [] : await store.getResults(request.runId, p.region),
    };
    const err = causeText(a?.error, a?.cause);
    if (err !== undefined) run.error = err;
    runs.push(run);
  }
  const report = retentionReport(request.runId, request.family, request.dryRun, runs, calls, throttled);
  await publishEvents(eventsClient(), settings.AMI_FACTORY_EVENT_BUS, [
    { type: request.dryRun ? 'RetentionPlanned' : 'RetentionCompleted', detail: { ...report, trigger: request.trigger } },
  ]);
  return report;
});
