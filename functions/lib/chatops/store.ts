import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { FactoryError, hasErrorName, UnexpectedResponseError } from '../errors.js';
import { S3_ERROR } from '../error-codes.js';
import { compareAndSwap, lostRace } from '../s3-cas.js';

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
  /**
   * Keys of `posted` whose post is taken but not yet made (reservePost): an attempt that stopped
   * between the two makes it on its retry.
   */
  pending?: string[];
}

/** The record kept changing under the notifier: every compare-and-swap lost its race. */
export class ChatOpsContentionError extends FactoryError {
  override name = 'ChatOpsContentionError';
}

/** What reservePost found: the post is this caller's to make, was made already, or none is left. */
export type PostReservation = { kind: 'reserved'; record: ChatOpsRecord } | { kind: 'duplicate' | 'limit' | 'no-record' };

const MAX_ATTEMPTS = 8;

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
      if (lostRace(e)) return false;
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
    return (await this.read(buildId))?.record;
  }

  /**
   * Takes one of the response_url's posts for `key` (compare-and-swap, so two events delivered
   * at once cannot both take the last one): `posts` counts it, `posted` and `pending` name it.
   * A key already posted is a duplicate, unless its post is still pending (an earlier attempt
   * stopped before making it: the post is this attempt's to make). No post left under `limit`:
   * `limit`. Follow with settlePost.
   */
  async reservePost(buildId: string, key: string, limit: number): Promise<PostReservation> {
    let kind = 'no-record' as PostReservation['kind'];
    const record = await this.update(buildId, (r) => {
      const pending = r.pending ?? [];
      if (r.posted.includes(key)) {
        kind = pending.includes(key) ? 'reserved' : 'duplicate';
        return r;
      }
      if (r.posts >= limit) {
        kind = 'limit';
        return r;
      }
      kind = 'reserved';
      return { ...r, posts: r.posts + 1, posted: [...r.posted, key], pending: [...pending, key] };
    });
    if (record === undefined) return { kind: 'no-record' };
    return kind === 'reserved' ? { kind, record } : { kind };
  }

  /**
   * After the post: `made` (Slack answered, even with a refusal: retrying cannot help) clears
   * the key from `pending`; `failed` (a server error or no answer: the event is retried) gives
   * the post back.
   */
  async settlePost(buildId: string, key: string, outcome: 'made' | 'failed'): Promise<void> {
    await this.update(buildId, (r) => {
      if (!(r.pending ?? []).includes(key)) return r;
      const pending = (r.pending ?? []).filter((k) => k !== key);
      return outcome === 'made'
        ? { ...r, pending }
        : { ...r, pending, posts: Math.max(0, r.posts - 1), posted: r.posted.filter((k) => k !== key) };
    });
  }

  private update(buildId: string, change: (r: ChatOpsRecord) => ChatOpsRecord): Promise<ChatOpsRecord | undefined> {
    return compareAndSwap({
      read: async () => {
        const r = await this.read(buildId);
        return r === undefined ? undefined : { value: r.record, etag: r.etag };
      },
      write: async (next, etag) => {
        await this.s3.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: ChatOpsStore.key(buildId),
            Body: JSON.stringify(next),
            ContentType: 'application/json',
            IfMatch: etag,
          }),
        );
      },
      change,
      attempts: MAX_ATTEMPTS,
      contention: () => new ChatOpsContentionError(`${ChatOpsStore.key(buildId)} changed under ${MAX_ATTEMPTS} consecutive writes`),
    });
  }

  private async read(buildId: string): Promise<{ record: ChatOpsRecord; etag: string } | undefined> {
    try {
      const r = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: ChatOpsStore.key(buildId) }));
      const text = (await r.Body?.transformToString('utf8')) ?? '';
      if (r.ETag === undefined) throw new UnexpectedResponseError(`${ChatOpsStore.key(buildId)} came back without an ETag`);
      let record: ChatOpsRecord;
      try {
        record = JSON.parse(text) as ChatOpsRecord;
      } catch (e) {
        throw new UnexpectedResponseError(`${ChatOpsStore.key(buildId)} is not JSON`, { cause: e });
      }
      return { record, etag: r.ETag };
    } catch (e) {
      if (hasErrorName(e, S3_ERROR.noSuchKey, S3_ERROR.notFound)) return undefined;
      throw e;
    }
  }
}
