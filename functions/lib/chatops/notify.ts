import { z } from 'zod';
import type { Logger } from '../logger.js';
import type { PlanEntry } from '../retention/plan.js';
import type { RetentionReport } from '../retention/report.js';
import type { RetentionStore } from '../retention/store.js';
import { buildReportReply, retentionReportReply, type BuildReport, type RegionReport, type SlackMessage } from './replies.js';
import { RESPONSE_URL_MAX_POSTS, type ChatOpsRecord, type ChatOpsStore } from './store.js';
import { FactoryError, UnexpectedResponseError } from '../errors.js';

/**
 * The notifier: factory events about a build or retention run started from Slack → a post to
 * the request's response_url. Final results (BuildSucceeded | BuildPartiallySucceeded |
 * BuildFailed, RetentionPlanned | RetentionCompleted) always get a post while Slack allows
 * one; progress (ImageAvailable, ImageCopied) only while a post stays free for the final
 * result. Duplicate events (at-least-once) are posted once.
 */
export const FINAL_EVENTS = ['BuildSucceeded', 'BuildPartiallySucceeded', 'BuildFailed'] as const;
export const PROGRESS_EVENTS = ['ImageAvailable', 'ImageCopied'] as const;
/** The end of a retention run (report-retention): the plan of a dry run, or the result of an apply. */
export const RETENTION_EVENTS = ['RetentionPlanned', 'RetentionCompleted'] as const;

const RegionSchema = z
  .object({
    region: z.string(),
    status: z.enum(['succeeded', 'failed', 'pending', 'running']),
    imageId: z.string().nullable().optional(),
    error: z.string().optional(),
    cause: z.string().optional(),
  })
  .passthrough();

export const BuildEventSchema = z
  .object({
    id: z.string().optional(),
    source: z.literal('ami-factory'),
    'detail-type': z.enum([...FINAL_EVENTS, ...PROGRESS_EVENTS]),
    detail: z
      .object({
        buildId: z.string().optional(),
        family: z.string(),
        region: z.string().optional(),
        imageId: z.string().optional(),
        imageName: z.string().nullable().optional(),
        regions: z.array(RegionSchema).optional(),
      })
      .passthrough(),
  })
  .passthrough();
export type BuildEvent = z.infer<typeof BuildEventSchema>;

const Count = z.number().int().min(0);
const RetentionRegionSchema = z
  .object({
    region: z.string(),
    status: z.enum(['planned', 'applied', 'plan-failed', 'apply-failed', 'skipped']),
    images: Count,
    planned: z.object({ keep: Count, deprecate: Count, disable: Count, deregister: Count }),
    outcomes: z.object({ deprecated: Count, disabled: Count, deregistered: Count, 'already-done': Count, kept: Count, failed: Count }),
    failures: z.array(z.object({ imageId: z.string(), planned: z.string(), error: z.string() })).default([]),
    keptAtActionTime: z.array(z.object({ imageId: z.string(), planned: z.string(), reason: z.string() })).default([]),
    error: z.string().optional(),
  })
  .passthrough();

/** RetentionPlanned / RetentionCompleted: a RetentionReport plus the run's trigger. */
export const RetentionEventSchema = z
  .object({
    id: z.string().optional(),
    source: z.literal('ami-factory'),
    'detail-type': z.enum(RETENTION_EVENTS),
    detail: z
      .object({
        runId: z.string(),
        family: z.string(),
        dryRun: z.boolean(),
        status: z.enum(['planned', 'succeeded', 'partially-succeeded', 'failed']),
        regions: z.array(RetentionRegionSchema),
        calls: z.record(z.string(), z.number()).default({}),
        throttled: z.number().default(0),
        trigger: z.object({ type: z.string() }).passthrough().optional(),
      })
      .passthrough(),
  })
  .passthrough();
export type RetentionEvent = z.infer<typeof RetentionEventSchema>;

export const FactoryEventSchema = z.union([BuildEventSchema, RetentionEventSchema]);
export type FactoryEvent = z.infer<typeof FactoryEventSchema>;

function isRetentionEvent(event: FactoryEvent): event is RetentionEvent {
  return (RETENTION_EVENTS as readonly string[]).includes(event['detail-type']);
}

/** A response_url answered with a server error or could not be reached; EventBridge retries. */
export class SlackPostError extends FactoryError {}

export interface NotifyDeps {
  store: ChatOpsStore;
  /** Where a retention run's plans are (the table of a retention post); without it the post has the counts only. */
  retention?: Pick<RetentionStore, 'getPlan'>;
  /** `fetch`, injectable for tests. */
  post: (url: string, body: string) => Promise<{ status: number }>;
  logger: Logger;
}

export type NotifyOutcome = 'posted' | 'no-record' | 'duplicate' | 'limit' | 'rejected';

function reportOf(event: BuildEvent): BuildReport {
  const d = event.detail;
  const final = (FINAL_EVENTS as readonly string[]).includes(event['detail-type']);
  const regions: RegionReport[] = final
    ? (d.regions ?? []).map((r) => {
        const out: RegionReport = { region: r.region, status: r.status };
        if (r.imageId !== undefined) out.imageId = r.imageId;
        if (r.error !== undefined) out.error = r.error;
        if (r.cause !== undefined) out.cause = r.cause;
        return out;
      })
    : [{ region: d.region ?? '?', status: 'succeeded', imageId: d.imageId ?? null }];
  return {
    outcome: final ? event['detail-type'] : 'InProgress',
    buildId: d.buildId ?? '',
    family: d.family,
    ...(d.imageName !== undefined ? { imageName: d.imageName } : {}),
    regions,
  };
}

export async function notifySlack(deps: NotifyDeps, event: FactoryEvent): Promise<NotifyOutcome> {
  if (isRetentionEvent(event)) return notifyRetention(deps, event);
  const buildId = event.detail.buildId;
  if (buildId === undefined) return 'no-record';
  const record = await deps.store.get(buildId);
  if (record === undefined) return 'no-record';
  const type = event['detail-type'];
  const final = (FINAL_EVENTS as readonly string[]).includes(type);
  const key = final ? 'final' : `${type}:${event.detail.region ?? ''}`;
  // Progress leaves the last post free for the result.
  const limit = final ? RESPONSE_URL_MAX_POSTS : RESPONSE_URL_MAX_POSTS - 1;
  return postOnce(deps, record, { id: buildId, what: 'build', type, key, limit }, () => buildReportReply(reportOf(event)));
}

/** A retention run started from Slack (`expire`): its plan or result, once, to the response_url. */
async function notifyRetention(deps: NotifyDeps, event: RetentionEvent): Promise<NotifyOutcome> {
  const d = event.detail;
  // Scheduled and CLI runs have no ChatOps record: no need to look.
  if (d.trigger !== undefined && d.trigger.type !== 'chatops') return 'no-record';
  const record = await deps.store.get(d.runId);
  if (record === undefined) return 'no-record';
  const report: RetentionReport = {
    runId: d.runId,
    family: d.family,
    dryRun: d.dryRun,
    status: d.status,
    regions: d.regions.map(({ region, status, images, planned, outcomes, failures, keptAtActionTime, error }) => ({
      region,
      status,
      images,
      planned,
      outcomes,
      failures,
      keptAtActionTime,
      ...(error !== undefined ? { error } : {}),
    })),
    calls: d.calls,
    throttled: d.throttled,
  };
  return postOnce(
    deps,
    record,
    { id: d.runId, what: 'retention run', type: event['detail-type'], key: 'final', limit: RESPONSE_URL_MAX_POSTS },
    async () => {
      const rows = await planRows(deps, report);
      return retentionReportReply({
        report,
        ...(rows !== undefined ? { rows } : {}),
        ...(record.command !== undefined ? { slashCommand: record.command } : {}),
      });
    },
  );
}

/** Every planned region's entries, from the run's stored plans; undefined when they cannot be read. */
async function planRows(deps: NotifyDeps, report: RetentionReport): Promise<PlanEntry[] | undefined> {
  if (deps.retention === undefined) return undefined;
  const rows: PlanEntry[] = [];
  for (const r of report.regions) {
    if (r.status === 'plan-failed' || r.images === 0) continue;
    try {
      rows.push(...(await deps.retention.getPlan(report.runId, r.region)).entries);
    } catch (e) {
      // A missing or unreadable plan: post the counts without the table. Other errors retry.
      if (!(e instanceof UnexpectedResponseError)) throw e;
      deps.logger.warn('retention plan not readable; posting the counts only', {
        runId: report.runId,
        region: r.region,
        errorMessage: e.message,
      });
      return undefined;
    }
  }
  return rows;
}

interface PostSpec {
  id: string;
  /** `build` or `retention run`: in error messages; the log key is buildId or runId. */
  what: 'build' | 'retention run';
  type: string;
  /** The key recorded in `posted` (a duplicate event finds it there). */
  key: string;
  /** Posts the record may have made before this one. */
  limit: number;
}

function logId(p: PostSpec): Record<string, string> {
  return p.what === 'build' ? { buildId: p.id } : { runId: p.id };
}

async function postOnce(
  deps: NotifyDeps,
  record: ChatOpsRecord,
  p: PostSpec,
  compose: () => SlackMessage | Promise<SlackMessage>,
): Promise<NotifyOutcome> {
  if (record.posted.includes(p.key)) return 'duplicate';
  if (record.posts >= p.limit) {
    deps.logger.info('response_url post limit reached; not posted', { ...logId(p), detailType: p.type });
    return 'limit';
  }
  const message = await compose();
  let status: number;
  try {
    ({ status } = await deps.post(record.responseUrl, JSON.stringify({ ...message, replace_original: false })));
  } catch (e) {
    throw new SlackPostError(`Posting to the response_url of ${p.what} ${p.id} failed`, { cause: e });
  }
  if (status >= 500 || status === 429) throw new SlackPostError(`The response_url of ${p.what} ${p.id} answered ${status}`);
  // 4xx: expired (30 minutes) or used up; retrying cannot help. Recorded so it is not tried again.
  await deps.store.put({ ...record, posts: record.posts + 1, posted: [...record.posted, p.key] });
  if (status >= 400) {
    deps.logger.warn('response_url refused the post', { ...logId(p), detailType: p.type, status });
    return 'rejected';
  }
  deps.logger.info('posted to slack', { ...logId(p), detailType: p.type });
  return 'posted';
}

/** The default poster: a JSON POST with a bounded wait. */
export async function postJson(url: string, body: string): Promise<{ status: number }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(5000) });
  await r.arrayBuffer();
  return { status: r.status };
}
