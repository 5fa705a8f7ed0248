import { z } from 'zod';
import type { Logger } from '../logger.js';
import { buildReportReply, type BuildReport, type RegionReport } from './replies.js';
import { RESPONSE_URL_MAX_POSTS, type ChatOpsStore } from './store.js';
import { FactoryError } from '../errors.js';

/**
 * The notifier: factory events about a build started from Slack → a post to the request's
 * response_url. Final results (BuildSucceeded | BuildPartiallySucceeded | BuildFailed) always
 * get a post while Slack allows one; progress (ImageAvailable, ImageCopied) only while a post
 * stays free for the final result. Duplicate events (at-least-once) are posted once.
 */
export const FINAL_EVENTS = ['BuildSucceeded', 'BuildPartiallySucceeded', 'BuildFailed'] as const;
export const PROGRESS_EVENTS = ['ImageAvailable', 'ImageCopied'] as const;

const RegionSchema = z
  .object({
    region: z.string(),
    status: z.enum(['succeeded', 'failed', 'pending', 'running']),
    imageId: z.string().nullable().optional(),
    error: z.string().optional(),
    cause: z.string().optional(),
  })
  .passthrough();

export const FactoryEventSchema = z
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
export type FactoryEvent = z.infer<typeof FactoryEventSchema>;

/** A response_url answered with a server error or could not be reached; EventBridge retries. */
export class SlackPostError extends FactoryError {}

export interface NotifyDeps {
  store: ChatOpsStore;
  /** `fetch`, injectable for tests. */
  post: (url: string, body: string) => Promise<{ status: number }>;
  logger: Logger;
}

export type NotifyOutcome = 'posted' | 'no-record' | 'duplicate' | 'limit' | 'rejected';

function reportOf(event: FactoryEvent): BuildReport {
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
  const buildId = event.detail.buildId;
  if (buildId === undefined) return 'no-record';
  const record = await deps.store.get(buildId);
  if (record === undefined) return 'no-record';
  const type = event['detail-type'];
  const final = (FINAL_EVENTS as readonly string[]).includes(type);
  const key = final ? 'final' : `${type}:${event.detail.region ?? ''}`;
  if (record.posted.includes(key)) return 'duplicate';
  // Progress leaves the last post free for the result.
  const limit = final ? RESPONSE_URL_MAX_POSTS : RESPONSE_URL_MAX_POSTS - 1;
  if (record.posts >= limit) {
    deps.logger.info('response_url post limit reached; not posted', { buildId, detailType: type });
    return 'limit';
  }
  const message = buildReportReply(reportOf(event));
  let status: number;
  try {
    ({ status } = await deps.post(record.responseUrl, JSON.stringify({ ...message, replace_original: false })));
  } catch (e) {
    throw new SlackPostError(`Posting to the response_url of build ${buildId} failed`, { cause: e });
  }
  if (status >= 500 || status === 429) throw new SlackPostError(`The response_url of build ${buildId} answered ${status}`);
  // 4xx: expired (30 minutes) or used up; retrying cannot help. Recorded so it is not tried again.
  await deps.store.put({ ...record, posts: record.posts + 1, posted: [...record.posted, key] });
  if (status >= 400) {
    deps.logger.warn('response_url refused the post', { buildId, detailType: type, status });
    return 'rejected';
  }
  deps.logger.info('posted to slack', { buildId, detailType: type });
  return 'posted';
}

/** The default poster: a JSON POST with a bounded wait. */
export async function postJson(url: string, body: string): Promise<{ status: number }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(5000) });
  await r.arrayBuffer();
  return { status: r.status };
}
