import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { FactoryError, hasErrorName } from '../errors.js';
import { S3_ERROR } from '../error-codes.js';
import { compareAndSwap, lostRace } from '../s3-cas.js';
import { applyClick, expireIfDue, type ApprovalRecord, type Click, type ClickResult } from './decide.js';

/**
 * Approval records in the state bucket, `approvals/<id>.json`. Slack may deliver two clicks at
 * once (two approvers, or a retry racing the original), and the sweeper may expire a record
 * while a click lands, so every change is a compare-and-swap: the record is read with its ETag,
 * the rules applied (decide.ts), and written back with `If-Match: <etag>`; a 412 or 409 means
 * someone else wrote first, and the change is re-read and re-applied. A record is created with
 * `If-None-Match: *`, so a retried gate step does not reset a record that already has decisions.
 */
export class ApprovalNotFoundError extends FactoryError {
  override name = 'ApprovalNotFoundError';
}
/** The record kept changing under us: more than MAX_ATTEMPTS writes lost their race. */
export class ApprovalContentionError extends FactoryError {
  override name = 'ApprovalContentionError';
}
/** An object under approvals/ is not an approval record. */
export class ApprovalRecordError extends FactoryError {
  override name = 'ApprovalRecordError';
}

const MAX_ATTEMPTS = 5;

function isRecord(v: unknown): v is ApprovalRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return typeof r.id === 'string' && typeof r.status === 'string' && Array.isArray(r.decisions) && typeof r.expiresAt === 'string';
}

export class ApprovalStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  static key(id: string): string {
    return `approvals/${id}.json`;
  }

  /** Creates the record unless one with its id exists; returns the stored one either way. */
  async create(record: ApprovalRecord): Promise<ApprovalRecord> {
    try {
      await this.write(record, { IfNoneMatch: '*' });
      return record;
    } catch (e) {
      if (!lostRace(e)) throw e;
      const existing = await this.read(record.id);
      if (existing === undefined) throw new ApprovalContentionError(`approval ${record.id} was being created concurrently`, { cause: e });
      return existing.record;
    }
  }

  async get(id: string): Promise<ApprovalRecord | undefined> {
    return (await this.read(id))?.record;
  }

  /** Applies a click with compare-and-swap; the result says what to answer and what is stored. */
  async click(id: string, click: Click): Promise<ClickResult> {
    let result: ClickResult | undefined;
    await this.update(id, (r) => {
      result = applyClick(r, click);
      return result.changed ? result.record : r;
    });
    if (result === undefined) throw new ApprovalNotFoundError(`no approval request ${id}`);
    return result;
  }

  /** Expires the record if its deadline passed (the sweeper); returns the stored record. */
  async expire(id: string, now: Date): Promise<ApprovalRecord> {
    return this.update(id, (r) => expireIfDue(r, now));
  }

  /** Records where the request was posted (its channel and ts), to update it in place later. */
  async setMessage(id: string, message: { channel: string; ts: string }): Promise<ApprovalRecord> {
    return this.update(id, (r) => ({ ...r, message }));
  }

  /**
   * Gives a pending record the token of a retried task (Step Functions makes a new token for each
   * attempt of a `.waitForTaskToken` state), so its decision resumes the attempt that waits. A
   * decided record keeps its token: the caller resumes the new one with the decision.
   */
  async setTaskToken(id: string, taskToken: string): Promise<ApprovalRecord> {
    return this.update(id, (r) => (r.status === 'pending' && r.taskToken !== taskToken ? { ...r, taskToken } : r));
  }

  /**
   * Read, change, write with If-Match; re-read and re-apply when another writer won. `change`
   * returns its argument itself when there is nothing to write.
   */
  private async update(id: string, change: (r: ApprovalRecord) => ApprovalRecord): Promise<ApprovalRecord> {
    const stored = await compareAndSwap({
      read: async () => {
        const r = await this.read(id);
        return r === undefined ? undefined : { value: r.record, etag: r.etag };
      },
      write: (next, etag) => this.write(next, { IfMatch: etag }),
      change,
      attempts: MAX_ATTEMPTS,
      contention: () => new ApprovalContentionError(`approval ${id} changed under ${MAX_ATTEMPTS} consecutive writes`),
    });
    if (stored === undefined) throw new ApprovalNotFoundError(`no approval request ${id}`);
    return stored;
  }

  private async read(id: string): Promise<{ record: ApprovalRecord; etag: string } | undefined> {
    try {
      const r = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: ApprovalStore.key(id) }));
      const text = (await r.Body?.transformToString('utf8')) ?? '';
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (e) {
        throw new ApprovalRecordError(`${ApprovalStore.key(id)} is not JSON`, { cause: e });
      }
      if (!isRecord(parsed) || parsed.id !== id) throw new ApprovalRecordError(`${ApprovalStore.key(id)} is not an approval record`);
      if (r.ETag === undefined) throw new ApprovalRecordError(`${ApprovalStore.key(id)} came back without an ETag`);
      return { record: parsed, etag: r.ETag };
    } catch (e) {
      if (hasErrorName(e, S3_ERROR.noSuchKey, S3_ERROR.notFound)) return undefined;
      throw e;
    }
  }

  private async write(record: ApprovalRecord, condition: { IfNoneMatch?: string; IfMatch?: string }): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: ApprovalStore.key(record.id),
        Body: JSON.stringify(record),
        ContentType: 'application/json',
        ...condition,
      }),
    );
  }
}
