import { z } from 'zod';
import { FamilySchema, parseInput } from '../build-request.js';
import { buildRequestFor, type FactoryConfig } from '../config.js';
import type { TriggeredBuild } from './build-requested.js';
import { buildIdFromEvent, executionNameFor } from './ids.js';

/**
 * The scheduled trigger. A schedule rule's target gets the `Scheduled Event` through an
 * input transformer that adds the family (see scheduleTargetInput), so the handler
 * receives `{family, id, time}`: the event id keeps duplicates to one build, the event
 * time is the build's requestedAt.
 */
export const ScheduledBuildInputSchema = z
  .object({
    family: FamilySchema,
    /** The Scheduled Event's id. */
    id: z.string().min(1).max(256),
    /** The Scheduled Event's time (the scheduled minute). */
    time: z.iso.datetime({ offset: true }),
  })
  .strict();
export type ScheduledBuildInput = z.infer<typeof ScheduledBuildInputSchema>;

/** The EventBridge target `InputTransformer` that turns a Scheduled Event into a ScheduledBuildInput. */
export function scheduleTargetInput(family: string): { InputPathsMap: Record<string, string>; InputTemplate: string } {
  const f = FamilySchema.parse(family);
  return {
    InputPathsMap: { id: '$.id', time: '$.time' },
    InputTemplate: `{"family":"${f}","id":<id>,"time":<time>}`,
  };
}

export function buildFromSchedule(input: unknown, config: FactoryConfig): TriggeredBuild {
  const s = parseInput(ScheduledBuildInputSchema, input, 'scheduled build input');
  const buildId = buildIdFromEvent('schedule', s.id, s.family);
  const request = buildRequestFor(config, s.family, {
    buildId,
    requestedAt: s.time,
    trigger: { type: 'schedule', eventId: s.id },
  });
  return { request, executionName: executionNameFor(s.family, buildId) };
}
