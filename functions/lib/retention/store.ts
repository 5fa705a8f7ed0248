import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import * as z from 'zod';
import { hasErrorName, UnexpectedResponseError } from '../errors.js';
import type { Action, PlanEntry } from './plan.js';
import { S3_ERROR } from '../error-codes.js';

/**
 * Where a retention run keeps what does not fit in a state machine payload (256 KB), in the
 * factory's state bucket:
 *   retention/runs/<runId>/<region>/plan.json             the plan of one region (every image)
 *   retention/runs/<runId>/<region>/targets.json          the images to act on, in order (each
 *                                                         apply step reads this, not the plan)
 *   retention/runs/<runId>/<region>/results/<cursor>.json  the outcome of one apply step
 *   retention/ledger/<family>/<region>.json               when the factory disabled each image
 * Results are keyed by the step's cursor, so a step run twice writes the same object.
 * The ledger is kept in S3, not as an image tag, so disabling costs one EC2 call, not two.
 */
export interface Target {
  imageId: string;
  action: Exclude<Action, 'keep'>;
  reason: string;
  name: string;
  state: string;
  creationDate: string;
  rootDeviceType?: 'ebs' | 'instance-store';
  imageLocation?: string;
}

export interface RegionPlan {
  runId: string;
  family: string;
  region: string;
  /** The instant the plan was computed for (the execution's start). */
  now: string;
  entries: PlanEntry[];
}

export type Outcome = 'deprecated' | 'disabled' | 'deregistered' | 'already-done' | 'kept' | 'failed';

export interface ImageResult {
  imageId: string;
  region: string;
  planned: Exclude<Action, 'keep'>;
  outcome: Outcome;
  reason: string;
  deletedSnapshots?: string[];
  keptSnapshots?: { snapshotId: string; reason: string }[];
  bundleKeysDeleted?: number;
  error?: string;
}

/** How many results have each outcome. */
export function countOutcomes(results: readonly ImageResult[]): Record<Outcome, number> {
  const counts: Record<Outcome, number> = { deprecated: 0, disabled: 0, deregistered: 0, 'already-done': 0, kept: 0, failed: 0 };
  for (const r of results) counts[r.outcome]++;
  return counts;
}

const LedgerSchema = z.lazy(() => z.object({ disabledAt: z.record(z.string(), z.string()) }).strict());
export type Ledger = z.infer<typeof LedgerSchema>;

export const planKey = (runId: string, region: string): string => `retention/runs/${runId}/${region}/plan.json`;
export const targetsKey = (runId: string, region: string): string => `retention/runs/${runId}/${region}/targets.json`;
export const resultsPrefix = (runId: string, region: string): string => `retention/runs/${runId}/${region}/results/`;
export const resultKey = (runId: string, region: string, cursor: number): string =>
  `${resultsPrefix(runId, region)}${String(cursor).padStart(7, '0')}.json`;
export const ledgerKey = (family: string, region: string): string => `retention/ledger/${family}/${region}.json`;

export class RetentionStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  private async put(key: string, value: unknown): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: JSON.stringify(value), ContentType: 'application/json' }),
    );
  }

  private async get(key: string): Promise<unknown> {
    try {
      const r = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const text = (await r.Body?.transformToString()) ?? '';
      return JSON.parse(text) as unknown;
    } catch (e) {
      if (hasErrorName(e, S3_ERROR.noSuchKey, S3_ERROR.notFound)) return undefined;
      throw e;
    }
  }

  /** Stores the plan and, apart, its targets (the entries to act on, in the order they are acted on). */
  async putPlan(plan: RegionPlan, targets: Target[]): Promise<string> {
    const key = planKey(plan.runId, plan.region);
    await this.put(targetsKey(plan.runId, plan.region), targets);
    await this.put(key, plan);
    return key;
  }

  async getPlan(runId: string, region: string): Promise<RegionPlan> {
    const v = await this.get(planKey(runId, region));
    if (v === undefined || typeof v !== 'object' || v === null || !Array.isArray((v as RegionPlan).entries)) {
      throw new UnexpectedResponseError(`The retention plan ${planKey(runId, region)} is missing or unreadable`);
    }
    return v as RegionPlan;
  }

  async getTargets(runId: string, region: string): Promise<Target[]> {
    const v = await this.get(targetsKey(runId, region));
    if (!Array.isArray(v))
      throw new UnexpectedResponseError(`The retention targets ${targetsKey(runId, region)} are missing or unreadable`);
    return v as Target[];
  }

  async putResults(runId: string, region: string, cursor: number, results: ImageResult[]): Promise<void> {
    await this.put(resultKey(runId, region, cursor), results);
  }

  async getResults(runId: string, region: string): Promise<ImageResult[]> {
    const keys: string[] = [];
    let ContinuationToken: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: resultsPrefix(runId, region), ContinuationToken }),
      );
      for (const o of page.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key);
      ContinuationToken = page.NextContinuationToken;
    } while (ContinuationToken);
    const out: ImageResult[] = [];
    for (const key of keys.sort()) {
      const v = await this.get(key);
      if (Array.isArray(v)) out.push(...(v as ImageResult[]));
    }
    return out;
  }

  async getLedger(family: string, region: string): Promise<Ledger> {
    const v = await this.get(ledgerKey(family, region));
    if (v === undefined) return { disabledAt: {} };
    const r = LedgerSchema.safeParse(v);
    if (!r.success) throw new UnexpectedResponseError(`The retention ledger ${ledgerKey(family, region)} is not valid`);
    return r.data;
  }

  async putLedger(family: string, region: string, ledger: Ledger): Promise<void> {
    await this.put(ledgerKey(family, region), ledger);
  }
}
