import { countOutcomes, type ImageResult, type RegionPlan } from './store.js';
import { countActions, type Action } from './plan.js';

/**
 * The end of a retention run: per region, what was planned, what happened, and every image
 * that failed or was kept at action time, with the reason. Published as RetentionPlanned (dry
 * run) or RetentionCompleted; the CLI and ChatOps print it.
 */
export interface RegionReport {
  region: string;
  status: 'planned' | 'applied' | 'plan-failed' | 'apply-failed' | 'skipped';
  images: number;
  planned: Record<Action, number>;
  outcomes: Record<ImageResult['outcome'], number>;
  /** Images that failed, or that the re-check kept (first MAX_LISTED). */
  failures: { imageId: string; planned: string; error: string }[];
  keptAtActionTime: { imageId: string; planned: string; reason: string }[];
  error?: string;
}

export interface RetentionReport {
  runId: string;
  family: string;
  dryRun: boolean;
  status: 'planned' | 'succeeded' | 'partially-succeeded' | 'failed';
  regions: RegionReport[];
  calls: Record<string, number>;
  throttled: number;
}

export const MAX_LISTED = 25;

export interface RegionRun {
  region: string;
  status: RegionReport['status'];
  error?: string;
  plan?: RegionPlan;
  results: ImageResult[];
}

export function retentionReport(
  runId: string,
  family: string,
  dryRun: boolean,
  runs: RegionRun[],
  calls: Record<string, number>,
  throttled: number,
): RetentionReport {
  const regions = runs.map((r): RegionReport => {
    const planned = countActions(r.plan?.entries ?? []);
    const outcomes = countOutcomes(r.results);
    const failures = r.results
      .filter((x) => x.outcome === 'failed' || x.error !== undefined)
      .slice(0, MAX_LISTED)
      .map((x) => ({ imageId: x.imageId, planned: x.planned, error: x.error ?? x.reason }));
    const keptAtActionTime = r.results
      .filter((x) => x.outcome === 'kept')
      .slice(0, MAX_LISTED)
      .map((x) => ({ imageId: x.imageId, planned: x.planned, reason: x.reason }));
    const report: RegionReport = {
      region: r.region,
      status: r.status,
      images: r.plan?.entries.length ?? 0,
      planned,
      outcomes,
      failures,
      keptAtActionTime,
    };
    if (r.error !== undefined) report.error = r.error;
    return report;
  });
  const broken = regions.filter((r) => r.status === 'plan-failed' || r.status === 'apply-failed' || r.failures.length > 0).length;
  const status: RetentionReport['status'] = dryRun
    ? broken === regions.length
      ? 'failed'
      : 'planned'
    : broken === 0
      ? 'succeeded'
      : broken === regions.length
        ? 'failed'
        : 'partially-succeeded';
  return { runId, family, dryRun, status, regions, calls, throttled };
}
