import { createHash } from 'node:crypto';

/**
 * Deterministic ids for triggered builds. EventBridge delivers at least once; a duplicate
 * delivery carries the same event id, so it yields the same build id and the same
 * execution name, and StartExecution refuses (or returns) the execution already running:
 * one event, one build.
 */
export type TriggerKind = 'event' | 'schedule' | 'parameter' | 'distribute';

/** A UUID-shaped build id (36 characters) from the trigger, the event id and the family. */
export function buildIdFromEvent(kind: TriggerKind, eventId: string, family: string): string {
  const h = createHash('sha256').update(`${kind}\n${eventId}\n${family}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** Step Functions execution names: 1–80 characters of A–Z a–z 0–9 - _. */
export const EXECUTION_NAME_MAX = 80;

/**
 * `<family>-<buildId>` (the CLI's form), with characters outside [A-Za-z0-9-_] replaced and
 * the family shortened so the name fits in 80 characters; the build id is kept whole,
 * which keeps the name unique.
 */
export function executionNameFor(family: string, buildId: string): string {
  const safe = (s: string): string => s.replace(/[^A-Za-z0-9_-]/g, '_');
  const id = safe(buildId).slice(0, EXECUTION_NAME_MAX);
  const room = EXECUTION_NAME_MAX - id.length - 1;
  return room > 0 ? `${safe(family).slice(0, room)}-${id}` : id;
}
