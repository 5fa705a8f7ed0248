import * as z from 'zod';
import type { FactoryConfig, FamilyConfig } from '../config.js';

/**
 * Per-family trigger settings (`families.<name>.triggers` in factory.config.yml):
 *   schedule:     an EventBridge schedule expression, e.g. `cron(0 7 ? * MON *)` or `rate(7 days)`;
 *   ssmParameter: base-image families only: rebuild when this SSM parameter changes, e.g.
 *                 `/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64`.
 */
export const ScheduleExpressionSchema = z.lazy(() =>
  z
    .string()
    .regex(
      /^(cron\([^\s()]+( [^\s()]+){5}\)|rate\((1 (minute|hour|day)|([2-9]|[1-9]\d+) (minutes|hours|days))\))$/,
      'must be an EventBridge schedule such as cron(0 7 ? * MON *) or rate(7 days)',
    ),
);

export const SsmParameterNameSchema = z.lazy(() =>
  z
    .string()
    .max(2048)
    .regex(
      /^\/?[A-Za-z0-9_.\-/]+$/,
      'must be an SSM parameter name such as /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64',
    )
    .refine(
      (n) => !/^\/?(aws|ssm)(\/|$)/i.test(n) || n.startsWith('/aws/service/'),
      'the aws and ssm prefixes are reserved except /aws/service/...',
    ),
);

export const FamilyTriggersSchema = z.lazy(() =>
  z
    .object({
      schedule: ScheduleExpressionSchema.optional(),
      ssmParameter: SsmParameterNameSchema.optional(),
    })
    .strict(),
);
export type FamilyTriggers = z.infer<typeof FamilyTriggersSchema>;

/** A family config with the proposed `triggers` block (until FamilyConfigSchema has it). */
export type TriggerFamilyConfig = FamilyConfig & { triggers?: FamilyTriggers };
export type TriggerFactoryConfig = FactoryConfig & { families: Record<string, TriggerFamilyConfig> };

/** Config check for FamilyConfigSchema: an SSM parameter trigger needs a base-image source. */
export function ssmParameterNeedsBaseImage(f: { source: { type: string }; triggers?: FamilyTriggers }): boolean {
  return f.triggers?.ssmParameter === undefined || f.source.type === 'base-image';
}
