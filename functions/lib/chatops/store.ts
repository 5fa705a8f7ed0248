import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { hasErrorName } from '../errors.js';
import { S3_ERROR } from '../error-codes.js';

/**
 * What a Slack-started build (`bake`) or retention run (`expire`) leaves for the notifier: the
 * response_url to post results to (valid 30 minutes, at most 5 posts), who asked and where.
 * One object per build or run, `chatops/<buildId or runId>.json` in the state bucket (both are
 * fresh UUIDs, so they never collide).
 */
export interface ChatOpsRecord {
  /** The build id, or the retention run id when `kind` is `retention`. */
  buildId: string;
  /** What was started; absent: a build (records written before retention runs existed). */
  kind?: 'build' | 'retention';
  family: string;
  responseUrl: string;
  /** The slash command as Slack sent it (e.g. `/ami`), for replies that suggest a next command. */
  command?: string;
  userId: string;
  channelId: string;
  teamId: string;
  createdAt: string;
  /** Posts made to the response_url so far. */
  posts: number;
  /** Keys (`<detail-type>:<region>`) of the events already posted: duplicates are skipped. */
  posted: string[];
}

/** Slack accepts at most 5 posts to one response_url (aws-facts.md, "Slack slash commands"). */
export const RESPONSE_URL_MAX_POSTS = 5;

export class ChatOpsStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  /** The record's key: `chatops/<id>.json`, the id being a build id or a retention run id. */
  static key(buildId: string): string {
    return `chatops/${buildId}.json`;
  }

  /** The replay marker of a verified request: `chatops/replay/<digest>`. */
  static replayKey(digest: string): string {
    return `chatops/replay/${digest}`;
  }

  /**
   * Accepts a verified request once: a conditional write (`If-None-Match: *`) of its digest.
   * True for the first delivery; false when the marker exists (S3 answers 412
   * PreconditionFailed) or a concurrent delivery is writing it (409 ConditionalRequestConflict).
   * The markers are only needed for Slack's 5-minute window; the bucket's lifecycle expires `chatops/`.
   */
  async claimRequest(digest: string, at: Date): Promise<boolean> {
    try {
      await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: ChatOpsStore.replayKey(digest),
          Body: JSON.stringify({ acceptedAt: at.toISOString() }),
          ContentType: 'application/json',
          IfNoneMatch: '*',
        }),
      );
      return true;
    } catch (e) {
      if (hasErrorName(e, S3_ERROR.preconditionFailed, S3_ERROR.conditionalRequestConflict)) return false;
      throw e;
    }
  }

  async put(record: ChatOpsRecord): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: ChatOpsStore.key(record.buildId),
        Body: JSON.stringify(record),
        ContentType: 'application/json',
      }),
    );
  }

  async get(buildId: string): Promise<ChatOpsRecord | undefined> {
    try {
      const r = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: ChatOpsStore.key(buildId) }));
      const text = (await r.Body?.transformToString('utf8')) ?? '';
      return JSON.parse(text) as ChatOpsRecord;
    } catch (e) {
      if (hasErrorName(e, S3_ERROR.noSuchKey, S3_ERROR.notFound)) return undefined;
      throw e;
    }
  }
}
