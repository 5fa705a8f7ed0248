import { createHash } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { SendTaskFailureCommand, SendTaskHeartbeatCommand, SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import * as z from 'zod';
import { hasErrorName } from './errors.js';
import { S3_ERROR, SFN_ERROR } from './error-codes.js';

/**
 * The callback token store. A `.waitForTaskToken` state hands its token to `register-wait`,
 * which records it here keyed by (kind, region, resource id) and checks once whether the
 * resource is already done. The `EC2 AMI State Change` / instance state events complete the
 * tokens of their resource; because those events are best effort, the `sweep-waits`
 * schedule re-checks every recorded wait, completes what is done and heartbeats the rest.
 *
 * Records are small JSON objects in the factory's state bucket under `waits/`:
 * `waits/<kind>/<region>/<resourceId>/<sha256(token)[0..32]>.json`.
 */
export const WaitRecordSchema = z.lazy(() =>
  z
    .object({
      /** `builder`: a fresh build's builder; `test`: an image test's instance (ami-factory:test-status). */
      kind: z.enum(['image', 'builder', 'test']),
      region: z.string(),
      resourceId: z.string(),
      token: z.string().min(1).max(4096),
      buildId: z.string(),
      /** The region of the state machine that owns the token (where SendTask* must go). */
      sfnRegion: z.string(),
      /** For builders and test instances: how they say they are done. */
      signal: z.enum(['stopped', 'tag']).optional(),
      registeredAt: z.string(),
      /** After this instant (ISO-8601) a still-pending wait fails with a timeout error. */
      deadline: z.string(),
    })
    .strict(),
);
export type WaitRecord = z.infer<typeof WaitRecordSchema>;

const PREFIX = 'waits/';

export function waitKey(rec: Pick<WaitRecord, 'kind' | 'region' | 'resourceId' | 'token'>): string {
  const h = createHash('sha256').update(rec.token).digest('hex').slice(0, 32);
  return `${PREFIX}${rec.kind}/${rec.region}/${rec.resourceId}/${h}.json`;
}

/** Where wait records live (S3 in the factory; tests may pass an in-memory one). */
export interface WaitRecords {
  put(rec: WaitRecord): Promise<void>;
  delete(rec: WaitRecord): Promise<void>;
  list(scope?: { kind?: WaitRecord['kind']; region?: string; resourceId?: string }): Promise<WaitRecord[]>;
}

export class WaitStore implements WaitRecords {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async put(rec: WaitRecord): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: waitKey(rec),
        Body: JSON.stringify(rec),
        ContentType: 'application/json',
      }),
    );
  }

  async delete(rec: WaitRecord): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: waitKey(rec) }));
  }

  /** Records under a prefix: all waits, one kind, one region of a kind, or one resource. */
  async list(scope: { kind?: WaitRecord['kind']; region?: string; resourceId?: string } = {}): Promise<WaitRecord[]> {
    let prefix = PREFIX;
    if (scope.kind !== undefined) {
      prefix += `${scope.kind}/`;
      if (scope.region !== undefined) {
        prefix += `${scope.region}/`;
        if (scope.resourceId !== undefined) prefix += `${scope.resourceId}/`;
      }
    }
    const keys: string[] = [];
    let ContinuationToken: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken }));
      for (const o of page.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key);
      ContinuationToken = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (ContinuationToken !== undefined);
    const out: WaitRecord[] = [];
    for (const Key of keys) {
      try {
        const obj = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
        const text = (await obj.Body?.transformToString('utf8')) ?? '';
        const parsed = WaitRecordSchema.safeParse(JSON.parse(text));
        if (parsed.success) out.push(parsed.data);
      } catch (e) {
        // Completed (deleted) between the listing and the read: nothing to do.
        if (!hasErrorName(e, S3_ERROR.noSuchKey)) throw e;
      }
    }
    return out;
  }
}

/** What Step Functions answers for a token it no longer waits on (the wait timed out, the execution ended). */
const STALE_TOKEN = [SFN_ERROR.taskDoesNotExist, SFN_ERROR.taskTimedOut, SFN_ERROR.invalidToken] as const;

export type WaitOutcome =
  | { done: false }
  | { done: true; success: true; output: Record<string, unknown> }
  | { done: true; success: false; error: string; cause: string };

/**
 * Sends the outcome to Step Functions and forgets the record. A token Step Functions no
 * longer knows (the wait timed out, the execution ended) is simply forgotten too.
 */
export async function completeWait(
  sfn: SFNClient,
  store: WaitRecords,
  rec: WaitRecord,
  outcome: WaitOutcome,
): Promise<'sent' | 'stale' | 'pending'> {
  if (!outcome.done) return 'pending';
  try {
    if (outcome.success) {
      await sfn.send(new SendTaskSuccessCommand({ taskToken: rec.token, output: JSON.stringify(outcome.output) }));
    } else {
      await sfn.send(new SendTaskFailureCommand({ taskToken: rec.token, error: outcome.error, cause: outcome.cause }));
    }
  } catch (e) {
    if (!hasErrorName(e, ...STALE_TOKEN)) throw e;
    await store.delete(rec);
    return 'stale';
  }
  await store.delete(rec);
  return 'sent';
}

/** Keeps a pending wait alive (HeartbeatSeconds); a stale token's record is dropped. */
export async function heartbeatWait(sfn: SFNClient, store: WaitRecords, rec: WaitRecord): Promise<'alive' | 'stale'> {
  try {
    await sfn.send(new SendTaskHeartbeatCommand({ taskToken: rec.token }));
    return 'alive';
  } catch (e) {
    if (!hasErrorName(e, ...STALE_TOKEN)) throw e;
    await store.delete(rec);
    return 'stale';
  }
}
