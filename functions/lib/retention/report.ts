import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import * as z from 'zod';
import { gateOutcomes } from '../build-report.js';
import { failureCauseMessage } from '../errors.js';
import { publishEvents, type FactoryEventEntry } from '../events/publish.js';
import type { RetentionRegionReportSchema, RetentionReportSchema } from '../events/schemas.js';
import { countActions } from './plan.js';
import { RetentionRequestSchema, type RetentionRequest } from './request.js';
import { countOutcomes, type ImageResult, type RegionPlan, type RetentionStore } from './store.js';

/**
 * The end of a retention run: per region, what was planned, what happened, and every image
 * that failed or was kept at action time, with the reason (the first MAX_LISTED of each).
 * Published as RetentionPlanned (dry run) or RetentionCompleted, whose schema
 * (events/schemas.ts) is the report's; the CLI and ChatOps print it.
 */
export type RegionReport = z.infer<typeof RetentionRegionReportSchema>;
export type RetentionReport = z.infer<typeof RetentionReportSchema>;

export const MAX_LISTED = 25;

export interface RegionRun {
  region: string;
  status: RegionReport['status'];
  error?: string;
  plan?: RegionPlan;
  results: ImageResult[];
}

export function retentionReport(
  runId: string,
  family: string,
  dryRun: boolean,
  runs: RegionRun[],
  calls: Record<string, number>,
  throttled: number,
): RetentionReport {
  const regions = runs.map((r): RegionReport => {
    const planned = countActions(r.plan?.entries ?? []);
    const outcomes = countOutcomes(r.results);
    const failures = r.results
      .filter((x) => x.outcome === 'failed' || x.error !== undefined)
      .slice(0, MAX_LISTED)
      .map((x) => ({ imageId: x.imageId, planned: x.planned, error: x.error ?? x.reason }));
    const keptAtActionTime = r.results
      .filter((x) => x.outcome === 'kept')
      .slice(0, MAX_LISTED)
      .map((x) => ({ imageId: x.imageId, planned: x.planned, reason: x.reason }));
    const report: RegionReport = {
      region: r.region,
      status: r.status,
      images: r.plan?.entries.length ?? 0,
      planned,
      outcomes,
      failures,
      keptAtActionTime,
    };
    if (r.error !== undefined) report.error = r.error;
    return report;
  });
  const broken = regions.filter((r) => r.status === 'plan-failed' || r.status === 'apply-failed' || r.failures.length > 0).length;
  const status: RetentionReport['status'] = dryRun
    ? broken === regions.length
      ? 'failed'
      : 'planned'
    : broken === 0
      ? 'succeeded'
      : broken === regions.length
        ? 'failed'
        : 'partially-succeeded';
  return { runId, family, dryRun, status, regions, calls, throttled };
}

const Counts = z.record(z.string(), z.number());
const StepFailure = {
  error: z.string().optional(),
  cause: z.string().optional(),
  calls: Counts.optional(),
  throttled: z.number().optional(),
};

/**
 * The state machine's Map gives each region's plan and apply results together (`regions`, when
 * the regions were applied), or only the plans (`plans`: a dry run, a gate that did not
 * approve). The state machine does not project them with a wildcard path (`$.regions[*].plan`:
 * AWS returns a list, the local engine unwraps a single region's), so the report splits
 * `regions` into the plans and the apply results here.
 */
function plansAndApplied(input: unknown): unknown {
  if (typeof input !== 'object' || input === null || !('regions' in input)) return input;
  const { regions, ...rest } = input as { regions: unknown; plans?: unknown };
  if (!Array.isArray(regions)) return input;
  if (regions.length === 0) return { ...rest, applied: [] };
  const part = (r: unknown, key: 'plan' | 'applied'): unknown[] =>
    typeof r === 'object' && r !== null && key in r ? [(r as Record<string, unknown>)[key]] : [];
  return { ...rest, plans: regions.flatMap((r) => part(r, 'plan')), applied: regions.flatMap((r) => part(r, 'applied')) };
}

/** The report step's input: each region's plan step and apply loop, as the state machine collected them. */
export const ReportRetentionInputSchema = z.lazy(() =>
  z.preprocess(
    plansAndApplied,
    z
      .object({
        request: RetentionRequestSchema,
        plans: z.array(z.object({ region: z.string(), status: z.enum(['planned', 'plan-failed']), ...StepFailure }).passthrough()),
        applied: z.array(
          z.object({ region: z.string(), status: z.enum(['applied', 'apply-failed', 'skipped']), ...StepFailure }).passthrough(),
        ),
        /** The retentionApply gate's approval (requestApproval's output), or null when no gate held the run. */
        approval: z
          .object({ approvalId: z.string(), status: z.literal('approved'), approvers: z.array(z.string()), decidedAt: z.string() })
          .nullish(),
        /** Why the gate did not approve (ApprovalRejected, ApprovalExpired, a failure): nothing was applied. */
        approvalError: z.object({ Error: z.string(), Cause: z.string().optional() }).passthrough().nullish(),
      })
      .strict(),
  ),
);
export type ReportRetentionInput = z.infer<typeof ReportRetentionInputSchema>;

/** `<error>: <cause's message>` of a failed step, or undefined when it did not fail. */
function causeText(error: string | undefined, cause: string | undefined): string | undefined {
  if (error === undefined) return undefined;
  const message = cause === undefined ? '' : failureCauseMessage(cause);
  return message !== '' ? `${error}: ${message}` : error;
}

/** The calls and throttling of every step of the run, summed. */
export function runTotals(input: Pick<ReportRetentionInput, 'plans' | 'applied'>): { calls: Record<string, number>; throttled: number } {
  const calls: Record<string, number> = {};
  let throttled = 0;
  for (const step of [...input.plans, ...input.applied]) {
    for (const [k, v] of Object.entries(step.calls ?? {})) calls[k] = (calls[k] ?? 0) + v;
    throttled += step.throttled ?? 0;
  }
  return { calls, throttled };
}

/**
 * Reads each region's plan and step results from the run's store and reports the run: the
 * report (retentionReport) published as RetentionPlanned (a dry run) or RetentionCompleted
 * with the run's trigger, and returned.
 */
export async function reportRetention(
  deps: { store: Pick<RetentionStore, 'getPlan' | 'getResults'>; events: EventBridgeClient; bus: string },
  input: ReportRetentionInput,
): Promise<RetentionReport> {
  const { request, plans, applied } = input;
  const runs: RegionRun[] = [];
  for (const p of plans) {
    if (p.status === 'plan-failed') {
      runs.push({ region: p.region, status: 'plan-failed', error: causeText(p.error, p.cause) ?? 'plan failed', results: [] });
      continue;
    }
    const a = applied.find((x) => x.region === p.region);
    const run: RegionRun = {
      region: p.region,
      status: request.dryRun ? 'planned' : (a?.status ?? 'skipped'),
      plan: await deps.store.getPlan(request.runId, p.region),
      results: request.dryRun ? [] : await deps.store.getResults(request.runId, p.region),
    };
    const err = causeText(a?.error, a?.cause);
    if (err !== undefined) run.error = err;
    runs.push(run);
  }
  const { calls, throttled } = runTotals(input);
  const report = retentionReport(request.runId, request.family, request.dryRun, runs, calls, throttled);
  const approval = gateOutcomes(
    input.approval === null || input.approval === undefined ? null : [input.approval],
    input.approvalError,
  )?.[0];
  if (approval !== undefined) {
    report.approval = approval;
    if (approval.status !== 'approved') report.status = 'rejected';
  }
  await publishEvents(deps.events, deps.bus, [outcomeEvent(request, report)]);
  return report;
}

/** RetentionPlanned (a dry run) or RetentionCompleted: the report and the run's trigger. */
function outcomeEvent(request: RetentionRequest, report: RetentionReport): FactoryEventEntry {
  return { type: request.dryRun ? 'RetentionPlanned' : 'RetentionCompleted', detail: { ...report, trigger: request.trigger } };
}
