import { DescribeImagesCommand, DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { SendTaskFailureCommand, SendTaskHeartbeatCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { installClock } from '../../functions/lib/clock.js';
import {
  completeWaitsFor,
  completeWaitsForEvent,
  Ec2StateChangeEventSchema,
  newWaitRecord,
  registerWait,
  sweepWaits,
} from '../../functions/lib/wait-service.js';
import { waitKey, type WaitRecord, type WaitRecords } from '../../functions/lib/waits.js';
import { awsError, IMAGE_ID } from '../fixtures.js';

const ec2 = mockClient(EC2Client);
const sfn = mockClient(SFNClient);

class MemoryRecords implements WaitRecords {
  readonly items = new Map<string, WaitRecord>();
  async put(rec: WaitRecord): Promise<void> {
    this.items.set(waitKey(rec), rec);
  }
  async delete(rec: WaitRecord): Promise<void> {
    this.items.delete(waitKey(rec));
  }
  async list(scope: { kind?: string; region?: string; resourceId?: string } = {}): Promise<WaitRecord[]> {
    return [...this.items.values()].filter(
      (r) =>
        (scope.kind === undefined || r.kind === scope.kind) &&
        (scope.region === undefined || r.region === scope.region) &&
        (scope.resourceId === undefined || r.resourceId === scope.resourceId),
    );
  }
}

function record(over: Partial<WaitRecord> = {}): WaitRecord {
  return {
    kind: 'image',
    region: 'us-east-1',
    resourceId: IMAGE_ID,
    token: 'AQtoken-1',
    buildId: 'build-0001',
    sfnRegion: 'us-east-1',
    registeredAt: '2026-11-23T08:00:00Z',
    deadline: '2999-01-01T00:00:00Z',
    ...over,
  };
}

describe('callback waits', () => {
  let store: MemoryRecords;
  const deps = () => ({ store, sfn: sfn as unknown as SFNClient, ec2: () => ec2 as unknown as EC2Client });
  beforeEach(() => {
    ec2.reset();
    sfn.reset();
    store = new MemoryRecords();
  });

  it('completes at once when the image is already available, and forgets the record', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: IMAGE_ID, State: 'available' }] });
    await expect(registerWait(deps(), record())).resolves.toBe('sent');
    expect(sfn).toHaveReceivedCommandWith(SendTaskSuccessCommand, { taskToken: 'AQtoken-1' });
    expect(store.items.size).toBe(0);
  });

  it('keeps the record while the image is pending', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: IMAGE_ID, State: 'pending' }] });
    await expect(registerWait(deps(), record())).resolves.toBe('pending');
    expect(sfn.calls()).toHaveLength(0);
    expect(store.items.size).toBe(1);
  });

  it("fails the task with EC2's reason when the image failed", async () => {
    await store.put(record());
    ec2.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: IMAGE_ID, State: 'failed', StateReason: { Message: 'disk error' } }] });
    await expect(completeWaitsFor(deps(), 'image', 'us-east-1', IMAGE_ID)).resolves.toBe(1);
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, {
      error: 'ImageFailedError',
      cause: expect.stringContaining('disk error'),
    });
  });

  it('does complete the waits of the image or the builder an EC2 event names', async () => {
    // Prepare: a wait on the image and one on a builder, both done.
    await store.put(record());
    await store.put(record({ kind: 'builder', resourceId: 'i-0000000000000000d', token: 'AQbuilder' }));
    ec2.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: IMAGE_ID, State: 'available' }] });
    ec2
      .on(DescribeInstancesCommand)
      .resolves({ Reservations: [{ Instances: [{ InstanceId: 'i-0000000000000000d', State: { Name: 'stopped' } }] }] });
    const envelope = { version: '0', id: 'e1', account: '111122223333', time: '2026-11-23T08:00:00Z', region: 'us-east-1', resources: [] };
    const ami = Ec2StateChangeEventSchema.parse({
      ...envelope,
      source: 'aws.ec2',
      'detail-type': 'EC2 AMI State Change',
      detail: { ImageId: IMAGE_ID, State: 'available' },
    });
    const instance = Ec2StateChangeEventSchema.parse({
      ...envelope,
      source: 'aws.ec2',
      'detail-type': 'EC2 Instance State-change Notification',
      detail: { 'instance-id': 'i-0000000000000000d', state: 'stopped' },
    });
    // Act + Assess
    await expect(completeWaitsForEvent(deps(), ami)).resolves.toBe(1);
    expect(sfn).toHaveReceivedCommandWith(SendTaskSuccessCommand, { taskToken: 'AQtoken-1' });
    await expect(completeWaitsForEvent(deps(), instance)).resolves.toBe(1);
    expect(sfn).toHaveReceivedCommandWith(SendTaskSuccessCommand, { taskToken: 'AQbuilder' });
    expect(store.items.size).toBe(0);
  });

  it('ignores an event for an image nobody waits on', async () => {
    await expect(completeWaitsFor(deps(), 'image', 'us-east-1', 'ami-00000000000000000')).resolves.toBe(0);
    expect(ec2.calls()).toHaveLength(0);
  });

  it('drops the record of a token Step Functions no longer knows', async () => {
    await store.put(record());
    ec2.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: IMAGE_ID, State: 'available' }] });
    sfn.on(SendTaskSuccessCommand).rejects(awsError('TaskTimedOut'));
    await completeWaitsFor(deps(), 'image', 'us-east-1', IMAGE_ID);
    expect(store.items.size).toBe(0);
  });

  it('sweeps: completes done waits, heartbeats pending ones, fails those past their deadline', async () => {
    const done = record({ resourceId: 'ami-0000000000000000a', token: 'AQdone' });
    const pending = record({ resourceId: 'ami-0000000000000000b', token: 'AQpending' });
    const late = record({ resourceId: 'ami-0000000000000000c', token: 'AQlate', deadline: '2000-01-01T00:00:00Z' });
    const builder = record({ kind: 'builder', resourceId: 'i-0000000000000000d', token: 'AQbuilder', signal: 'stopped' });
    for (const r of [done, pending, late, builder]) await store.put(r);
    ec2.on(DescribeImagesCommand).resolves({
      Images: [
        { ImageId: 'ami-0000000000000000a', State: 'available' },
        { ImageId: 'ami-0000000000000000b', State: 'pending' },
        { ImageId: 'ami-0000000000000000c', State: 'pending' },
      ],
    });
    ec2
      .on(DescribeInstancesCommand)
      .resolves({ Reservations: [{ Instances: [{ InstanceId: 'i-0000000000000000d', State: { Name: 'stopped' } }] }] });

    const r = await sweepWaits(deps());

    expect(r).toEqual({ checked: 4, completed: 3, heartbeats: 1, stale: 0 });
    expect(ec2).toHaveReceivedCommandTimes(DescribeImagesCommand, 1);
    expect(sfn).toHaveReceivedCommandWith(SendTaskSuccessCommand, { taskToken: 'AQdone' });
    expect(sfn).toHaveReceivedCommandWith(SendTaskSuccessCommand, { taskToken: 'AQbuilder' });
    expect(sfn).toHaveReceivedCommandWith(SendTaskHeartbeatCommand, { taskToken: 'AQpending' });
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, { taskToken: 'AQlate', error: 'ImageWaitTimeoutError' });
    expect([...store.items.values()].map((x) => x.token)).toEqual(['AQpending']);
  });

  it('does date a new wait by the factory clock, its deadline the timeout ahead', () => {
    const restore = installClock({ now: () => Date.parse('2026-11-23T08:00:00Z'), sleep: async () => undefined });
    try {
      const rec = newWaitRecord(
        { token: 'AQt', kind: 'image', region: 'us-west-2', resourceId: IMAGE_ID, buildId: 'build-0001', timeoutSeconds: 3600 },
        'us-east-1',
      );
      expect(rec).toEqual({
        token: 'AQt',
        kind: 'image',
        region: 'us-west-2',
        resourceId: IMAGE_ID,
        buildId: 'build-0001',
        sfnRegion: 'us-east-1',
        registeredAt: '2026-11-23T08:00:00.000Z',
        deadline: '2026-11-23T09:00:00.000Z',
      });
    } finally {
      restore();
    }
  });

  it('does judge deadlines by the factory clock when sweeping', async () => {
    // Prepare: a deadline far in the real future, but behind a clock that has run ahead.
    ec2.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: IMAGE_ID, State: 'pending' }] });
    await store.put(record({ deadline: '2998-01-01T00:00:00Z' }));
    const restore = installClock({ now: () => Date.parse('2999-01-01T00:00:00Z'), sleep: async () => undefined });
    try {
      // Act
      const r = await sweepWaits(deps());
      // Assess
      expect(r).toEqual({ checked: 1, completed: 1, heartbeats: 0, stale: 0 });
      expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, { taskToken: 'AQtoken-1', error: 'ImageWaitTimeoutError' });
    } finally {
      restore();
    }
  });
  it('test waits: an instance event completes them, the sweeper fails a silent one with ImageTestTimeoutError', async () => {
    const passed = record({ kind: 'test', resourceId: 'i-0000000000000000e', token: 'AQpassed', signal: 'tag' });
    const silent = record({ kind: 'test', resourceId: 'i-0000000000000000f', token: 'AQsilent', deadline: '2000-01-01T00:00:00Z' });
    for (const r of [passed, silent]) await store.put(r);
    ec2.on(DescribeInstancesCommand, { InstanceIds: ['i-0000000000000000e'] }).resolves({
      Reservations: [
        {
          Instances: [
            { InstanceId: 'i-0000000000000000e', State: { Name: 'running' }, Tags: [{ Key: 'ami-factory:test-status', Value: 'passed' }] },
          ],
        },
      ],
    });
    ec2
      .on(DescribeInstancesCommand, { InstanceIds: ['i-0000000000000000f'] })
      .resolves({ Reservations: [{ Instances: [{ InstanceId: 'i-0000000000000000f', State: { Name: 'running' } }] }] });
    const instance = Ec2StateChangeEventSchema.parse({
      version: '0',
      id: 'e2',
      account: '111122223333',
      time: '2026-11-23T08:00:00Z',
      region: 'us-east-1',
      resources: [],
      source: 'aws.ec2',
      'detail-type': 'EC2 Instance State-change Notification',
      detail: { 'instance-id': 'i-0000000000000000e', state: 'running' },
    });
    await expect(completeWaitsForEvent(deps(), instance)).resolves.toBe(1);
    expect(sfn).toHaveReceivedCommandWith(SendTaskSuccessCommand, { taskToken: 'AQpassed' });
    await sweepWaits(deps());
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, { taskToken: 'AQsilent', error: 'ImageTestTimeoutError' });
    expect(store.items.size).toBe(0);
  });
});
