import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { publishEvents, type FactoryEventEntry } from '../../functions/lib/events/publish.js';
import {
  EVENT_TYPES,
  FACTORY_EVENT_TYPES,
  eventEntrySchema,
  eventSchema,
  eventsSchema,
  type DetailType,
} from '../../functions/lib/events/schemas.js';
import { BUILD_ID, IMAGE_ID } from '../fixtures.js';

const events = mockClient(EventBridgeClient);
const client = (): EventBridgeClient => events as unknown as EventBridgeClient;

function sent(): { source?: string; type?: string; detail: unknown }[] {
  return events
    .commandCalls(PutEventsCommand)
    .flatMap((c) => c.args[0].input.Entries ?? [])
    .map((e) => ({ source: e.Source, type: e.DetailType, detail: JSON.parse(e.Detail ?? 'null') as unknown }));
}

const available = (n = 0): FactoryEventEntry => ({
  type: 'ImageAvailable',
  detail: { buildId: BUILD_ID, family: 'web', region: 'us-east-1', imageId: `ami-${String(n).padStart(17, '0')}`, deprecateAt: null },
});

const delivered = (type: string, source: string, detail: unknown): Record<string, unknown> => ({
  version: '0',
  id: 'evt-1',
  'detail-type': type,
  source,
  account: '111122223333',
  time: '2026-11-23T08:00:00Z',
  region: 'us-east-1',
  resources: [],
  detail,
});

describe('event schemas', () => {
  it('does validate every sample event in examples/events against its detail-type', () => {
    const files = readdirSync('examples/events').filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const f of files) {
      const sample = JSON.parse(readFileSync(join('examples/events', f), 'utf8')) as { 'detail-type': string };
      expect(Object.keys(EVENT_TYPES)).toContain(sample['detail-type']);
      const r = eventEntrySchema(sample['detail-type'] as DetailType).safeParse(sample);
      expect({ file: f, issues: r.error?.issues ?? [] }).toEqual({ file: f, issues: [] });
    }
  });

  it('does tell the events of one target apart by detail-type and refuse the others', () => {
    const schema = eventsSchema('EC2 AMI State Change', 'EC2 Instance State-change Notification');
    const ami = schema.parse(delivered('EC2 AMI State Change', 'aws.ec2', { ImageId: IMAGE_ID, State: 'available' }));
    expect(ami['detail-type'] === 'EC2 AMI State Change' && ami.detail.ImageId).toBe(IMAGE_ID);
    expect(schema.safeParse(delivered('Parameter Store Change', 'aws.ssm', { name: '/x', operation: 'Update' })).success).toBe(false);
    expect(schema.safeParse(delivered('EC2 AMI State Change', 'aws.ssm', { ImageId: IMAGE_ID, State: 'available' })).success).toBe(false);
    expect(schema.safeParse(delivered('EC2 AMI State Change', 'aws.ec2', { State: 'available' })).success).toBe(false);
  });

  it('does need the envelope EventBridge delivers', () => {
    const { id: _id, ...noId } = delivered('Build Requested', 'ami-factory', { family: 'web' });
    expect(eventSchema('Build Requested').safeParse(noId).success).toBe(false);
    expect(eventSchema('Build Requested').safeParse(delivered('Build Requested', 'ami-factory', { family: 'web' })).success).toBe(true);
  });

  it('does document every event the factory publishes in the README', () => {
    const readme = readFileSync('README.md', 'utf8');
    for (const type of FACTORY_EVENT_TYPES) expect(readme).toContain(`| \`${type}\` |`);
  });
});

describe('publishEvents', () => {
  beforeEach(() => {
    events.reset();
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [] });
  });

  it('does publish what the schema parsed, with the source of the detail-type', async () => {
    const detail = { buildId: BUILD_ID, family: 'web', region: 'us-east-1', imageId: IMAGE_ID, deprecateAt: null };
    const stray = { type: 'ImageAvailable', detail: { ...detail, stray: 'field' } } as unknown as FactoryEventEntry;
    await publishEvents(client(), 'bus', [stray]);
    expect(sent()).toEqual([{ source: 'ami-factory', type: 'ImageAvailable', detail }]);
    expect(events).toHaveReceivedCommandWith(PutEventsCommand, { Entries: [expect.objectContaining({ EventBusName: 'bus' })] });
  });

  it('does refuse a detail off its schema and send nothing of the batch', async () => {
    const bad = { type: 'ImageCopied', detail: available().detail } as FactoryEventEntry; // no sourceRegion
    await expect(publishEvents(client(), 'bus', [available(), bad])).rejects.toMatchObject({
      name: 'ValidationError',
      message: expect.stringContaining('sourceRegion'),
    });
    expect(events).toHaveReceivedCommandTimes(PutEventsCommand, 0);
  });

  it('does put at most ten entries per call', async () => {
    await publishEvents(
      client(),
      'bus',
      Array.from({ length: 23 }, (_, i) => available(i)),
    );
    expect(events.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries?.length)).toEqual([10, 10, 3]);
  });

  it('does fail with EventPublishError when EventBridge refuses an entry', async () => {
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'boom' }] });
    await expect(publishEvents(client(), 'bus', [available()])).rejects.toMatchObject({ name: 'EventPublishError' });
  });
});
