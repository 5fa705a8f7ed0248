import { PutEventsCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { FactoryError, ValidationError } from '../errors.js';
import { EVENT_TYPES, type EventDetailInput, type FactoryEventType } from './schemas.js';

export class EventPublishError extends FactoryError {
  override name = 'EventPublishError';
}

/** One event to publish: its detail-type and a detail of that type's schema (schemas.ts). */
export type FactoryEventEntry = {
  [T in FactoryEventType]: { type: T; detail: EventDetailInput<T>; resources?: string[] };
}[FactoryEventType];

/** PutEvents takes at most 10 entries per call. */
const PUT_EVENTS_BATCH = 10;

/**
 * Publishes the factory's events on its bus (source ami-factory). Each detail is parsed with
 * its type's schema and what the schema parsed is published, so no event leaves the factory
 * off its contract; a detail that does not match is a ValidationError (a bug: nothing of the
 * batch is sent). A refused entry is EventPublishError, which the state machine retries.
 */
export async function publishEvents(events: EventBridgeClient, bus: string, items: readonly FactoryEventEntry[]): Promise<void> {
  const entries = items.map((e) => {
    const { source, detail } = EVENT_TYPES[e.type];
    const parsed = detail.safeParse(e.detail);
    if (!parsed.success) {
      throw new ValidationError(
        `${e.type} detail does not match its schema`,
        parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
      );
    }
    return {
      EventBusName: bus,
      Source: source,
      DetailType: e.type,
      Detail: JSON.stringify(parsed.data),
      ...(e.resources !== undefined ? { Resources: e.resources } : {}),
    };
  });
  for (let i = 0; i < entries.length; i += PUT_EVENTS_BATCH) {
    const batch = entries.slice(i, i + PUT_EVENTS_BATCH);
    const r = await events.send(new PutEventsCommand({ Entries: batch }));
    if ((r.FailedEntryCount ?? 0) > 0) {
      const first = r.Entries?.find((x) => x.ErrorCode !== undefined);
      throw new EventPublishError(
        `${r.FailedEntryCount} of ${batch.length} events were refused: ${first?.ErrorCode}: ${first?.ErrorMessage}`,
      );
    }
  }
}

/** The ARN of an image, for an event's `resources`. */
export function imageArn(region: string, imageId: string): string {
  return `arn:aws:ec2:${region}::image/${imageId}`;
}
