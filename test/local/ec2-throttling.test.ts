import {
  CopyImageCommand,
  CreateImageCommand,
  CreateTagsCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { VirtualClock } from '../../local/clock.js';
import { THROTTLE_BUCKETS } from '../../local/ec2/limits.js';
import { errorName, startEc2, type Ec2Harness } from './ec2-harness.js';

/** Simulated time that moves only when the test says so: bursts happen at one instant. */
class ManualClock extends VirtualClock {
  private at = Date.now();
  override nowMs(): number {
    return this.at;
  }
  override advance(ms: number): void {
    this.at += ms;
  }
}

/** Sends `n` calls one after another; returns how many succeeded and the error names of the others. */
async function burst(n: number, call: (i: number) => Promise<unknown>): Promise<{ ok: number; errors: string[] }> {
  let ok = 0;
  const errors: string[] = [];
  for (let i = 0; i < n; i++) {
    try {
      await call(i);
      ok++;
    } catch (e) {
      errors.push(e instanceof Error ? e.name : String(e));
    }
  }
  return { ok, errors };
}

describe('local EC2 throttling (token buckets of aws-facts.md) and faults', () => {
  let h: Ec2Harness;
  let c: EC2Client;
  let clock: ManualClock;
  let golden: string;
  beforeEach(async () => {
    clock = new ManualClock(1);
    h = await startEc2({ clock, throttleClock: 'simulated' });
    c = h.client();
    const r = await c.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Golden', Values: ['true'] }] }));
    golden = r.Reservations?.[0]?.Instances?.[0]?.InstanceId ?? '';
  });
  afterEach(async () => {
    await h.close();
  });

  it('keeps the numbers of the spec in one constants module', () => {
    expect(THROTTLE_BUCKETS.describe).toEqual({ capacity: 100, refillPerSecond: 20 });
    expect(THROTTLE_BUCKETS.describeUnfiltered).toEqual({ capacity: 50, refillPerSecond: 10 });
    expect(THROTTLE_BUCKETS.mutating).toEqual({ capacity: 50, refillPerSecond: 5 });
    expect(THROTTLE_BUCKETS.copyImage).toEqual({ capacity: 100, refillPerSecond: 1 });
    expect(THROTTLE_BUCKETS.createTags).toEqual({ capacity: 100, refillPerSecond: 10 });
  });

  it('throttles the 51st CreateImage of a burst with 503 RequestLimitExceeded, refills 5 per simulated second', async () => {
    const create = (i: number): Promise<unknown> =>
      c.send(new CreateImageCommand({ InstanceId: golden, Name: `burst-${i}`, NoReboot: true }));
    const first = await burst(50, create);
    expect(first).toEqual({ ok: 50, errors: [] });
    const e = await create(50).catch((err: unknown) => err);
    expect(e).toMatchObject({ name: 'RequestLimitExceeded', $metadata: { httpStatusCode: 503 } });
    expect(h.service.stats().throttled['us-east-1:CreateImage']).toBe(1);
    expect(h.service.stats().calls['us-east-1:CreateImage']).toBe(50);

    clock.advance(1000);
    const refilled = await burst(6, (i) => create(100 + i));
    expect(refilled).toEqual({ ok: 5, errors: ['RequestLimitExceeded'] });
    // Other buckets and other regions are untouched.
    expect((await c.send(new DescribeImagesCommand({ Owners: ['self'] }))).Images?.length).toBe(55);
    expect(await errorName(h.client('us-west-2').send(new CreateImageCommand({ InstanceId: golden, Name: 'west' })))).toBe(
      'InvalidInstanceID.NotFound',
    );
  });

  it('logs every call in order with its simulated time, region and whether it was throttled, until resetStats', async () => {
    h.service.resetStats();
    const create = (i: number): Promise<unknown> =>
      c.send(new CreateImageCommand({ InstanceId: golden, Name: `log-${i}`, NoReboot: true }));
    const t0 = clock.nowMs();
    await burst(51, create);
    clock.advance(2000);
    await c.send(new DescribeImagesCommand({ Owners: ['self'] }));
    const log = h.service.callLog();
    expect(log).toHaveLength(52);
    expect(log.slice(0, 50).every((e) => e.action === 'CreateImage' && !e.throttled && e.atMs === t0 && e.region === 'us-east-1')).toBe(
      true,
    );
    expect(log[50]).toEqual({ atMs: t0, region: 'us-east-1', action: 'CreateImage', throttled: true });
    expect(log[51]).toEqual({ atMs: t0 + 2000, region: 'us-east-1', action: 'DescribeImages', throttled: false });
    h.service.resetStats();
    expect(h.service.callLog()).toEqual([]);
  });

  it('gives Describe* 100 / 20, and unfiltered DescribeInstances/DescribeSnapshots their own 50 / 10', async () => {
    h.service.resetThrottling(); // the golden lookup took a Describe token
    const filtered = await burst(101, () => c.send(new DescribeImagesCommand({ Owners: ['self'] })));
    expect(filtered.ok).toBe(100);
    expect(filtered.errors).toEqual(['RequestLimitExceeded']);
    const unfiltered = await burst(51, () => c.send(new DescribeInstancesCommand({})));
    expect(unfiltered.ok).toBe(50);
    const snaps = await burst(1, () => c.send(new DescribeSnapshotsCommand({})));
    expect(snaps.errors).toEqual(['RequestLimitExceeded']);
    clock.advance(1000);
    expect((await burst(21, () => c.send(new DescribeImagesCommand({ Owners: ['self'] })))).ok).toBe(20);
    expect((await burst(11, () => c.send(new DescribeInstancesCommand({})))).ok).toBe(10);
  });

  it('gives CopyImage 100 / 1 and CreateTags 100 / 10', async () => {
    await h.close();
    clock = new ManualClock(1);
    h = await startEc2({ clock, imageAvailableAfterMs: 0, throttleClock: 'simulated' });
    c = h.client();
    const base = (await c.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images?.[0]?.ImageId ?? '';
    const west = h.client('us-west-2');
    const copies = await burst(101, (i) =>
      west.send(new CopyImageCommand({ SourceImageId: base, SourceRegion: 'us-east-1', Name: `copy-${i}` })),
    );
    expect(copies).toEqual({ ok: 100, errors: ['RequestLimitExceeded'] });
    clock.advance(1000);
    expect(
      (await burst(2, (i) => west.send(new CopyImageCommand({ SourceImageId: base, SourceRegion: 'us-east-1', Name: `again-${i}` })))).ok,
    ).toBe(1);
    const tags = await burst(101, () => c.send(new CreateTagsCommand({ Resources: [base], Tags: [{ Key: 'k', Value: 'v' }] })));
    expect(tags.ok).toBe(100);
    clock.advance(1000);
    expect((await burst(11, () => c.send(new CreateTagsCommand({ Resources: [base], Tags: [{ Key: 'k', Value: 'v' }] })))).ok).toBe(10);
  });

  it('lets the SDK retry a throttled call once the bucket refills', async () => {
    await burst(50, (i) => c.send(new CreateImageCommand({ InstanceId: golden, Name: `fill-${i}`, NoReboot: true })));
    const retrying = h.client('us-east-1', 3);
    const pending = retrying.send(new CreateImageCommand({ InstanceId: golden, Name: 'after-retry', NoReboot: true }));
    clock.advance(1000);
    await expect(pending).resolves.toMatchObject({ ImageId: expect.stringMatching(/^ami-/) });
  });

  it('throttles everything with throttleAll, and makes a region unreachable with 503 Unavailable', async () => {
    h.service.faults.throttleAll = true;
    expect(await errorName(c.send(new DescribeImagesCommand({ Owners: ['self'] })))).toBe('RequestLimitExceeded');
    h.service.faults.throttleAll = false;
    h.service.faults.unreachableRegions = ['us-west-2'];
    const e = await h
      .client('us-west-2')
      .send(new DescribeImagesCommand({ Owners: ['self'] }))
      .catch((err: unknown) => err);
    expect(e).toMatchObject({ name: 'Unavailable', $metadata: { httpStatusCode: 503 } });
    expect((await c.send(new DescribeImagesCommand({ Owners: ['self'] }))).Images).toEqual([]);
  });

  it('refills on the real clock by default, whatever the time scale: a burst of 300 DescribeInstances at ×600 is throttled', async () => {
    // Prepare: simulated time runs 600× faster; EC2's buckets still refill in real time.
    await h.close();
    h = await startEc2({ clock: new VirtualClock(600) });
    c = h.client();
    // Act
    const r = await burst(300, () => c.send(new DescribeInstancesCommand({})));
    // Assess: 50 tokens, then at most a few refilled in the burst's real duration (10 per real second).
    expect(r.ok).toBeGreaterThanOrEqual(50);
    expect(r.ok).toBeLessThan(150);
    expect(r.errors.every((e) => e === 'RequestLimitExceeded')).toBe(true);
  });

  it('does not throttle when throttling is off', async () => {
    await h.close();
    h = await startEc2({ clock, throttling: false });
    c = h.client();
    const r = await burst(120, () => c.send(new DescribeInstancesCommand({})));
    expect(r.ok).toBe(120);
    h.service.resetStats();
    expect(h.service.stats()).toEqual({ calls: {}, throttled: {} });
  });
});
