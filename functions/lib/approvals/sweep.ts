import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { ApprovalRecord } from './decide.js';
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
 * Where an approval decided outside a click (the sweeper's expiry) is announced. The
 * `ApprovalDecided` event on the factory bus is sent by the Slack side for clicks; the merge
 * connects this point to the same publisher (and to the message's update in place). Until then
 * nothing is emitted for an expiry.
 */
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

export async function onApprovalDecided(_record: ApprovalRecord): Promise<void> {
  // Intentionally empty: connected at the merge with the Slack side (see above).
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
