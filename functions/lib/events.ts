import { PutEventsCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { FACTORY_EVENT_SOURCE } from './constants.js';
import { FactoryError } from './errors.js';

/**
 * The factory's own events, published on its bus (source `ami-factory`). They are the
 * contract other systems subscribe to (README, "Events"). Steps run at least once, so an
 * event can be published twice: consumers deduplicate on (detail-type, buildId, region).
 */
export type FactoryEventType =
  | 'ImageAvailable'
  | 'ImageCopied'
  | 'ImageShared'
  | 'BuildSucceeded'
  | 'BuildPartiallySucceeded'
  | 'BuildFailed'
  | 'ImageExpired'
  | 'ImageDisabled'
  | 'RetentionPlanned'
  | 'RetentionCompleted';

export interface FactoryEventDetail {
  buildId?: string;
  family: string;
  region?: string;
  imageId?: string;
  [key: string]: unknown;
}

export class EventPublishError extends FactoryError {}

export async function publishEvents(
  events: EventBridgeClient,
  bus: string,
  items: { type: FactoryEventType; detail: FactoryEventDetail; resources?: string[] }[],
): Promise<void> {
  for (let i = 0; i < items.length; i += 10) {
    const batch = items.slice(i, i + 10);
    const r = await events.send(
      new PutEventsCommand({
        Entries: batch.map((e) => ({
          EventBusName: bus,
          Source: FACTORY_EVENT_SOURCE,
          DetailType: e.type,
          Detail: JSON.stringify(e.detail),
          ...(e.resources !== undefined ? { Resources: e.resources } : {}),
        })),
      }),
    );
    if ((r.FailedEntryCount ?? 0) > 0) {
      const first = r.Entries?.find((x) => x.ErrorCode !== undefined);
      throw new EventPublishError(
        `${r.FailedEntryCount} of ${batch.length} events were refused: ${first?.ErrorCode}: ${first?.ErrorMessage}`,
      );
    }
  }
}

export function imageArn(region: string, imageId: string): string {
  return `arn:aws:ec2:${region}::image/${imageId}`;
}
