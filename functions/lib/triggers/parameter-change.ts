import type * as z from 'zod';
import { parseInput } from '../build-request.js';
import { buildRequestFor } from '../config.js';
import { eventSchema } from '../events/schemas.js';
import type { TriggeredBuild } from './build-requested.js';
import type { TriggerFactoryConfig } from './config.js';
import { buildIdFromEvent, executionNameFor } from './ids.js';

/** `{source: aws.ssm, detail-type: Parameter Store Change, detail: {name, type, operation}}` */
export const ParameterStoreChangeEventSchema = eventSchema('Parameter Store Change');
export type ParameterStoreChangeEvent = z.infer<typeof ParameterStoreChangeEventSchema>;

/** Operations that point the parameter at (possibly) a new image. Delete/label changes build nothing. */
export const REBUILD_OPERATIONS: readonly string[] = ['Create', 'Update'];

/** SSM names with and without the leading slash denote the same parameter. */
function sameParameter(a: string, b: string): boolean {
  return a.replace(/^\//, '') === b.replace(/^\//, '');
}

/**
 * One build per base-image family whose `triggers.ssmParameter` is the changed parameter,
 * in config order; build ids derive from (event id, family), so a duplicate event makes
 * the same executions.
 */
export function buildsFromParameterChange(event: unknown, config: TriggerFactoryConfig): TriggeredBuild[] {
  const e = parseInput(ParameterStoreChangeEventSchema, event, 'Parameter Store Change event');
  if (!REBUILD_OPERATIONS.includes(e.detail.operation)) return [];
  const builds: TriggeredBuild[] = [];
  for (const [family, f] of Object.entries(config.families)) {
    const parameter = f.triggers?.ssmParameter;
    if (parameter === undefined || f.source.type !== 'base-image' || !sameParameter(parameter, e.detail.name)) continue;
    const buildId = buildIdFromEvent('parameter', e.id, family);
    const request = buildRequestFor(config, family, {
      buildId,
      requestedAt: e.time,
      trigger: { type: 'event', eventId: e.id, actor: `ssm:${e.detail.name}`.slice(0, 256) },
    });
    builds.push({ request, executionName: executionNameFor(family, buildId) });
  }
  return builds;
}
