import * as z from 'zod';
import { FamilySchema, parseInput } from '../build-request.js';
import { buildRequestFor, type FactoryConfig } from '../config.js';
import { ValidationError } from '../errors.js';
import { retentionExecutionName, retentionRequestFor, type RetentionRequest } from '../retention/request.js';
import type { TriggeredBuild } from './build-requested.js';
import { buildIdFromEvent, executionNameFor } from './ids.js';

/**
 * The scheduled triggers. A schedule rule's target gets the `Scheduled Event` through an
 * input transformer that adds the family (deploy/schedules.cjs writes it), so the handler
 * receives `{family, id, time}` for a build (`triggers.schedule`) and
 * `{family, kind: "retention", id, time}` for a retention run (`retention.schedule`): the
 * event id keeps duplicates to one run, the event time is the run's requestedAt.
 */
export const SCHEDULE_KINDS = ['build', 'retention'] as const;
export type ScheduleKind = (typeof SCHEDULE_KINDS)[number];

export const ScheduledBuildInputSchema = z.lazy(() =>
  z
    .object({
      family: FamilySchema,
      /** What the schedule starts; absent: a build (the rules made before retention schedules). */
      kind: z.enum(SCHEDULE_KINDS).optional(),
      /** The Scheduled Event's id. */
      id: z.string().min(1).max(256),
      /** The Scheduled Event's time (the scheduled minute). */
      time: z.iso.datetime({ offset: true }),
    })
    .strict(),
);
export type ScheduledBuildInput = z.infer<typeof ScheduledBuildInputSchema>;

/** true when a scheduled input asks for a retention run (the handler then starts the retention machine). */
export function isScheduledRetention(input: unknown): boolean {
  return typeof input === 'object' && input !== null && (input as { kind?: unknown }).kind === 'retention';
}

export function buildFromSchedule(input: unknown, config: FactoryConfig): TriggeredBuild {
  const s = parseInput(ScheduledBuildInputSchema, input, 'scheduled build input');
  if ((s.kind ?? 'build') !== 'build')
    throw new ValidationError(`The scheduled input of ${s.family} asks for a ${s.kind} run, not a build`);
  const buildId = buildIdFromEvent('schedule', s.id, s.family);
  const request = buildRequestFor(config, s.family, {
    buildId,
    requestedAt: s.time,
    trigger: { type: 'schedule', eventId: s.id },
  });
  return { request, executionName: executionNameFor(s.family, buildId) };
}

/** A retention run asked for by a trigger, with its deterministic execution name. */
export interface TriggeredRetention {
  request: RetentionRequest;
  executionName: string;
}

/**
 * A family's `retention.schedule` fired: a RetentionRequest that applies the family's policy
 * in every region of the family. The run id is derived from the event id, so a duplicate
 * delivery names the same execution and starts nothing new.
 */
export function retentionFromSchedule(input: unknown, config: FactoryConfig): TriggeredRetention {
  const s = parseInput(ScheduledBuildInputSchema, input, 'scheduled retention input');
  if (s.kind !== 'retention') throw new ValidationError(`The scheduled input of ${s.family} asks for a build, not a retention run`);
  const runId = buildIdFromEvent('schedule', s.id, s.family);
  const request = retentionRequestFor(config, s.family, {
    runId,
    requestedAt: s.time,
    dryRun: false,
    trigger: { type: 'schedule', eventId: s.id },
  });
  return { request, executionName: retentionExecutionName(s.family, runId) };
}
