import * as z from 'zod';
import { FamilySchema, RegionSchema, TagMapSchema, TriggerSchema } from '../build-request.js';
import { ValidationError } from '../errors.js';
import type { FactoryConfig, FamilyConfig } from '../config.js';
import type { RetentionPolicy } from './plan.js';

/**
 * The RetentionRequest: the input of the image-retention state machine. Self-contained like
 * a BuildRequest (the policy is copied from the config when the run is asked for), so a run
 * can be replayed from its input alone.
 */
export const RetentionPolicySchema = z.lazy(() =>
  z
    .object({
      keepNewest: z.number().int().min(1).max(1000),
      maxAgeDays: z.number().int().min(1).max(3650),
      deprecateAfterDays: z.number().int().min(1).max(3650).optional(),
      disableGraceDays: z.number().int().min(0).max(365),
      excludeTags: TagMapSchema,
      deleteBundles: z.boolean().default(true),
    })
    .strict(),
);

export const RunIdSchema = z.lazy(() => z.string().regex(/^[A-Za-z0-9][A-Za-z0-9-]{7,79}$/, 'must be 8–80 letters, digits or dashes'));

export const RetentionRequestSchema = z.lazy(() =>
  z
    .object({
      runId: RunIdSchema,
      family: FamilySchema,
      requestedAt: z.iso.datetime({ offset: true }),
      /** Every region the family has images in (its build region and copy regions), or a subset asked for. */
      regions: z.array(RegionSchema).min(1).max(31),
      policy: RetentionPolicySchema,
      /** true: compute and publish the plan, change nothing. */
      dryRun: z.boolean(),
      /** Actions per apply step (one Lambda invocation); the bucket state carries over between steps. */
      batchSize: z.number().int().min(1).max(2000).default(400),
      trigger: TriggerSchema,
    })
    .strict()
    .refine((r) => new Set(r.regions).size === r.regions.length, { message: 'regions must be unique', path: ['regions'] }),
);

export type RetentionRequest = z.infer<typeof RetentionRequestSchema>;
export type RetentionRequestInput = z.input<typeof RetentionRequestSchema>;
export type RetentionPolicyInput = z.infer<typeof RetentionPolicySchema>;

/** The plan's policy from a family's config (`retention` block, defaults filled in by the schema). */
export function policyOf(family: FamilyConfig): RetentionPolicy & { deleteBundles: boolean } {
  const r = family.retention;
  return {
    keepNewest: r.keepNewest,
    maxAgeDays: r.maxAgeDays,
    disableGraceDays: r.disableGraceDays,
    excludeTags: r.excludeTags,
    deleteBundles: r.deleteBundles,
    ...(r.deprecateAfterDays !== undefined ? { deprecateAfterDays: r.deprecateAfterDays } : {}),
  };
}

/** The regions a family's images live in: the build region, then the copy regions. */
export function familyRegions(family: FamilyConfig): string[] {
  return [family.region, ...family.copies.map((c) => c.region)];
}

export interface RetentionOverrides {
  runId: string;
  requestedAt: string;
  dryRun: boolean;
  trigger: RetentionRequest['trigger'];
  /** Restrict the run to these regions (each must be one of the family's). */
  regions?: string[];
  batchSize?: number;
}

export function retentionRequestFor(config: FactoryConfig, family: string, o: RetentionOverrides): RetentionRequest {
  const f = config.families[family];
  if (f === undefined) {
    throw new ValidationError(`Unknown family "${family}"; the config declares: ${Object.keys(config.families).join(', ')}`);
  }
  const all = familyRegions(f);
  let regions = all;
  if (o.regions !== undefined && o.regions.length > 0) {
    const unknown = o.regions.filter((r) => !all.includes(r));
    if (unknown.length > 0)
      throw new ValidationError(`Family ${family} has no images in ${unknown.join(', ')}; its regions are: ${all.join(', ')}`);
    regions = all.filter((r) => o.regions?.includes(r));
  }
  const r = RetentionRequestSchema.safeParse({
    runId: o.runId,
    family,
    requestedAt: o.requestedAt,
    regions,
    policy: policyOf(f),
    dryRun: o.dryRun,
    trigger: o.trigger,
    ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}),
  });
  if (!r.success) {
    throw new ValidationError(
      `Family ${family} does not make a valid retention request`,
      r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
    );
  }
  return r.data;
}

/** `retention-<family>-<runId>`, cut to Step Functions' 80 characters (the run id is kept whole). */
export function retentionExecutionName(family: string, runId: string): string {
  const room = 80 - runId.length - 'retention--'.length;
  return room > 0 ? `retention-${family.slice(0, room)}-${runId}` : runId.slice(0, 80);
}
