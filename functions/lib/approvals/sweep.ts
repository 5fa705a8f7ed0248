import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { SlackWebApi } from '../chatops/web-api.js';
import type { Logger } from '../logger.js';
import { publishApprovalDecided } from './apply.js';
import type { ApprovalRecord } from './decide.js';
import { approvalMessage } from './message.js';
import { resumeExecution } from './resume.js';
import type { ApprovalStore } from './store.js';

/**
 * The approvals' part of the sweeper (sweep-waits, every 5 minutes): a pending request past its
 * deadline is expired (compare-and-swap, so a click landing at the same time wins or loses
 * cleanly) and its execution resumed with ApprovalExpired: the step ends as Rejected.
 * Idempotent: an expired record is no longer pending, so a second sweep leaves it alone, and a
 * token Step Functions no longer knows is not an error (resume.ts).
 */
export interface SweepApprovalsDeps {
  /** The ids of the records to look at (listApprovalIds). */
  ids: () => Promise<string[]>;
  store: Pick<ApprovalStore, 'get' | 'expire'>;
  sfn: SFNClient;
  now: () => Date;
  /** Called once per request this sweep decided (expired). */
  onDecided: (record: ApprovalRecord) => Promise<void>;
}

export interface SweepApprovalsResult {
  pending: number;
  expired: number;
  /** Expired requests whose execution this sweep woke (the others had ended already). */
  resumed: number;
}

/**
 * The ids of every record under approvals/ (kept apart from ApprovalStore, so that only the
 * sweeper's bundle, and role, lists the bucket).
 */
export async function listApprovalIds(s3: S3Client, bucket: string): Promise<string[]> {
  const ids: string[] = [];
  let ContinuationToken: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'approvals/', ContinuationToken }));
    for (const o of page.Contents ?? []) {
      const m = /^approvals\/([^/]+)\.json$/.exec(o.Key ?? '');
      if (m?.[1] !== undefined) ids.push(m[1]);
    }
    ContinuationToken = page.IsTruncated === true ? page.NextContinuationToken : undefined;
  } while (ContinuationToken !== undefined);
  return ids;
}

/**
 * What the sweeper does for a request it expired: the ApprovalDecided event (apply.ts, as for a
 * click) and, with a bot token, the request's message updated in place (expired, no buttons).
 * The message is best effort: the event is what the factory's reports and subscribers read.
 */
export async function announceExpiry(
  deps: {
    events: EventBridgeClient;
    eventBus: string;
    slack: () => Promise<SlackWebApi | undefined>;
    logger: Pick<Logger, 'warn'>;
  },
  record: ApprovalRecord,
): Promise<void> {
  await publishApprovalDecided(deps, record);
  if (record.message === undefined) return;
  try {
    const slack = await deps.slack();
    if (slack === undefined) return;
    const m = approvalMessage(record, record.message.channel);
    await slack.update({ channel: record.message.channel, ts: record.message.ts, text: m.text, blocks: m.blocks });
  } catch (e) {
    deps.logger.warn('expired approval message not updated', { approvalId: record.id, errorName: e instanceof Error ? e.name : typeof e });
  }
}

export async function sweepApprovals(deps: SweepApprovalsDeps): Promise<SweepApprovalsResult> {
  const result: SweepApprovalsResult = { pending: 0, expired: 0, resumed: 0 };
  for (const id of await deps.ids()) {
    const record = await deps.store.get(id);
    if (record?.status !== 'pending') continue;
    const now = deps.now();
    if (now.getTime() < Date.parse(record.expiresAt)) {
      result.pending++;
      continue;
    }
    const stored = await deps.store.expire(id, now);
    // A click decided it between the read and the expiry: its own handler resumes the execution.
    if (stored.status !== 'expired') continue;
    result.expired++;
    if (await resumeExecution(deps.sfn, stored)) result.resumed++;
    await deps.onDecided(stored);
  }
  return result;
}
