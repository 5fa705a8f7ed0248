import type { Logger } from '../logger.js';
import type { PlanEntry } from '../retention/plan.js';
import type { RetentionReport } from '../retention/report.js';
import type { RetentionStore } from '../retention/store.js';
import {
  buildReportReply,
  imagePublishedReply,
  retentionReportReply,
  type BuildReport,
  type RegionReport,
  type SlackMessage,
} from './replies.js';
import { checkResponseUrl } from './response-url.js';
import { RESPONSE_URL_MAX_POSTS, type ChatOpsRecord, type ChatOpsStore } from './store.js';
import { FactoryError, UnexpectedResponseError } from '../errors.js';
import { BUILD_OUTCOMES, eventsSchema, type BuildOutcome, type EventDetail, type EventOf } from '../events/schemas.js';

/**
 * The notifier: factory events about a build or retention run started from Slack → a post to
 * the request's response_url. Final results (BuildSucceeded | BuildPartiallySucceeded |
 * BuildFailed, RetentionPlanned | RetentionCompleted) always get a post while Slack allows
 * one; progress (ImageAvailable, ImageCopied) only while a post stays free for the final
 * result. Duplicate events (at-least-once) are posted once. ImagePublished is progress too: a
 * build's (or distribution's) publication of a region, posted as a short line; promotions and
 * rollbacks are not a build's and have no response_url of their own here.
 */
export const FINAL_EVENTS = BUILD_OUTCOMES;
export const PROGRESS_EVENTS = ['ImageAvailable', 'ImageCopied'] as const;
/** A region's image published to a channel (publish-image, promote-image). */
export const PUBLICATION_EVENTS = ['ImagePublished'] as const;
/** The end of a retention run (report-retention): the plan of a dry run, or the result of an apply. */
export const RETENTION_EVENTS = ['RetentionPlanned', 'RetentionCompleted'] as const;

/** The events notify-slack's rule delivers, parsed with the schemas their producers publish with (events/schemas.ts). */
export const NotifiedEventSchema = eventsSchema(...FINAL_EVENTS, ...PROGRESS_EVENTS, ...PUBLICATION_EVENTS, ...RETENTION_EVENTS);
export type NotifiedEvent = EventOf<
  (typeof FINAL_EVENTS)[number] | (typeof PROGRESS_EVENTS)[number] | (typeof PUBLICATION_EVENTS)[number] | (typeof RETENTION_EVENTS)[number]
>;

/** A response_url answered with a server error or could not be reached; EventBridge retries. */
export class SlackPostError extends FactoryError {
  override name = 'SlackPostError';
}

export interface NotifyDeps {
  store: ChatOpsStore;
  /** Where a retention run's plans are (the table of a retention post); without it the post has the counts only. */
  retention?: Pick<RetentionStore, 'getPlan'>;
  /** `fetch`, injectable for tests. */
  post: (url: string, body: string) => Promise<{ status: number }>;
  logger: Logger;
  /** Accept loopback response URLs (the local cloud's Slack stand-in; chatops/response-url.ts). */
  allowLoopbackResponseUrls?: boolean;
}

export type NotifyOutcome = 'posted' | 'no-record' | 'duplicate' | 'limit' | 'rejected';

function finalReport(outcome: BuildOutcome, d: EventDetail<BuildOutcome>): BuildReport {
  const regions = d.regions.map((r) => {
    const out: RegionReport = { region: r.region, status: r.status };
    if (r.imageId !== undefined) out.imageId = r.imageId;
    if (r.error !== undefined) out.error = r.error;
    if (r.cause !== undefined) out.cause = r.cause;
    if (r.action !== undefined) out.action = r.action;
    return out;
  });
  return {
    outcome,
    buildId: d.buildId,
    family: d.family,
    imageName: d.imageName,
    regions,
    ...(d.distribution !== undefined ? { distributedImageId: d.distribution.imageId } : {}),
  };
}

function progressReport(d: EventDetail<'ImageAvailable' | 'ImageCopied'>): BuildReport {
  return {
    outcome: 'InProgress',
    buildId: d.buildId,
    family: d.family,
    regions: [{ region: d.region, status: 'succeeded', imageId: d.imageId }],
  };
}

export async function notifySlack(deps: NotifyDeps, event: NotifiedEvent): Promise<NotifyOutcome> {
  switch (event['detail-type']) {
    case 'RetentionPlanned':
    case 'RetentionCompleted':
      return notifyRetention(deps, event['detail-type'], event.detail);
    case 'ImageAvailable':
    case 'ImageCopied':
      // Progress leaves the last post free for the result.
      return notifyBuild(deps, event['detail-type'], event.detail.buildId, `${event['detail-type']}:${event.detail.region}`, () =>
        progressReport(event.detail),
      );
    case 'ImagePublished': {
      const d = event.detail;
      if (d.buildId === null || d.action !== 'publish') return 'no-record';
      return notifyProgress(deps, 'ImagePublished', d.buildId, `ImagePublished:${d.channel}:${d.region}`, () =>
        imagePublishedReply({
          family: d.family,
          region: d.region,
          channel: d.channel,
          imageId: d.imageId,
          previousImageId: d.previousImageId,
          action: d.action,
          launchTemplates: d.launchTemplates.length,
        }),
      );
    }
    default:
      return notifyBuild(deps, event['detail-type'], event.detail.buildId, 'final', () => finalReport(event['detail-type'], event.detail));
  }
}

/** A post about a build started from Slack: once per key, the final result always while Slack allows one. */
async function notifyBuild(
  deps: NotifyDeps,
  type: string,
  buildId: string,
  key: string,
  report: () => BuildReport,
): Promise<NotifyOutcome> {
  return notifyProgress(deps, type, buildId, key, () => buildReportReply(report()));
}

/** A post about a build started from Slack, any message: once per key; only `final` may use the last post. */
async function notifyProgress(
  deps: NotifyDeps,
  type: string,
  buildId: string,
  key: string,
  compose: () => SlackMessage,
): Promise<NotifyOutcome> {
  const limit = key === 'final' ? RESPONSE_URL_MAX_POSTS : RESPONSE_URL_MAX_POSTS - 1;
  return postOnce(deps, { id: buildId, what: 'build', type, key, limit }, compose);
}

/** A retention run started from Slack (`expire`): its plan or result, once, to the response_url. */
async function notifyRetention(
  deps: NotifyDeps,
  type: (typeof RETENTION_EVENTS)[number],
  detail: EventDetail<(typeof RETENTION_EVENTS)[number]>,
): Promise<NotifyOutcome> {
  const { trigger, ...report } = detail;
  // Scheduled and CLI runs have no ChatOps record: no need to look.
  if (trigger.type !== 'chatops') return 'no-record';
  return postOnce(deps, { id: report.runId, what: 'retention run', type, key: 'final', limit: RESPONSE_URL_MAX_POSTS }, async (record) => {
    const rows = await planRows(deps, report);
    return retentionReportReply({
      report,
      ...(rows !== undefined ? { rows } : {}),
      ...(record.command !== undefined ? { slashCommand: record.command } : {}),
    });
  });
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

/**
 * One post for `p.key`, reserved first (ChatOpsStore.reservePost: concurrent events cannot
 * together pass Slack's limit) and given back when it fails in a way a retry can mend.
 */
async function postOnce(
  deps: NotifyDeps,
  p: PostSpec,
  compose: (record: ChatOpsRecord) => SlackMessage | Promise<SlackMessage>,
): Promise<NotifyOutcome> {
  const reservation = await deps.store.reservePost(p.id, p.key, p.limit);
  if (reservation.kind === 'limit') deps.logger.info('response_url post limit reached; not posted', { ...logId(p), detailType: p.type });
  if (reservation.kind !== 'reserved') return reservation.kind;
  const { record } = reservation;
  let status: number;
  try {
    // The endpoint refuses other URLs; a record that names one anyway is not posted to (ResponseUrlNotAllowedError).
    checkResponseUrl(record.responseUrl, { allowLoopback: deps.allowLoopbackResponseUrls === true });
    const message = await compose(record);
    try {
      ({ status } = await deps.post(record.responseUrl, JSON.stringify({ ...message, replace_original: false })));
    } catch (e) {
      throw new SlackPostError(`Posting to the response_url of ${p.what} ${p.id} failed`, { cause: e });
    }
    if (status >= 500 || status === 429) throw new SlackPostError(`The response_url of ${p.what} ${p.id} answered ${status}`);
  } catch (e) {
    await deps.store.settlePost(p.id, p.key, 'failed');
    throw e;
  }
  // 4xx: expired (30 minutes) or used up; retrying cannot help. Kept as used so it is not tried again.
  await deps.store.settlePost(p.id, p.key, 'made');
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
