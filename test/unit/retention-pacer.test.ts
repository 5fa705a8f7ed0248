import {
  Ec2Pacer,
  MAX_THROTTLE_RETRIES,
  TokenBucket,
  tokenBucketLowerBoundSeconds,
  type Clock,
} from '../../functions/lib/retention/pacer.js';
import { awsError } from '../fixtures.js';
import { throttleClass } from '../../functions/lib/ec2/throttling.js';

function fakeClock(): Clock & { slept: number[] } {
  let t = 0;
  const slept: number[] = [];
  return {
    slept,
    now: () => t,
    sleep: async (ms) => {
      slept.push(ms);
      t += ms;
    },
  };
}

describe('TokenBucket', () => {
  it('spends the burst at once, then paces at the refill rate', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(100, 5, clock);
    for (let i = 0; i < 100; i++) await bucket.take();
    expect(clock.now()).toBe(0);
    for (let i = 0; i < 10; i++) await bucket.take();
    // 10 more tokens at 5 per second: 2 seconds.
    expect(clock.now()).toBe(2000);
  });

  it('waits after a throttle signal even when it believed it had tokens', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(50, 5, clock);
    bucket.drain();
    await bucket.take();
    expect(clock.now()).toBe(200);
  });

  it('states the lower bound of a run', () => {
    expect(tokenBucketLowerBoundSeconds(2500, { capacity: 100, refillPerSecond: 5 })).toBe(480);
    expect(tokenBucketLowerBoundSeconds(50, { capacity: 100, refillPerSecond: 5 })).toBe(0);
  });

  it('refuses a bucket that could never refill', () => {
    expect(() => new TokenBucket(0, 5)).toThrow(RangeError);
  });
});

describe('TokenBucket state', () => {
  it('resumes from a saved state, refilled for the time since', async () => {
    const clock = fakeClock();
    const a = new TokenBucket(100, 5, clock);
    for (let i = 0; i < 100; i++) await a.take();
    const saved = a.state();
    expect(saved.tokens).toBe(0);
    await clock.sleep(1000);
    const b = new TokenBucket(100, 5, clock, saved);
    expect(b.state().tokens).toBe(5);
  });
});

describe('Ec2Pacer', () => {
  it('classifies actions into EC2 buckets', () => {
    expect(throttleClass('DeregisterImage', false)).toBe('deregisterImage');
    expect(throttleClass('DescribeImages', false)).toBe('describe');
    expect(throttleClass('DisableImage', false)).toBe('mutating');
    expect(throttleClass('EnableImageDeprecation', false)).toBe('mutating');
    expect(throttleClass('CreateTags', false)).toBe('createTags');
  });

  it('backs off on RequestLimitExceeded, retries, and counts every call sent', async () => {
    const clock = fakeClock();
    const pacer = new Ec2Pacer(clock, {}, () => 0.5);
    let n = 0;
    const r = await pacer.run('DisableImage', async () => {
      n++;
      if (n < 3) throw awsError('RequestLimitExceeded');
      return 'ok';
    });
    expect(r).toBe('ok');
    expect(pacer.stats).toEqual({ calls: { DisableImage: 3 }, throttled: 2 });
    // Drained after each throttle, so the retries waited for a refill, plus the jittered backoff.
    expect(clock.now()).toBeGreaterThanOrEqual(2 * 200);
  });

  it('gives up after the retry limit and passes other errors through at once', async () => {
    const pacer = new Ec2Pacer(fakeClock(), {}, () => 0);
    await expect(pacer.run('DeregisterImage', () => Promise.reject(awsError('RequestLimitExceeded')))).rejects.toMatchObject({
      name: 'RequestLimitExceeded',
    });
    expect(pacer.stats.calls.DeregisterImage).toBe(MAX_THROTTLE_RETRIES + 1);
    let calls = 0;
    await expect(
      pacer.run('DisableImage', () => {
        calls++;
        return Promise.reject(awsError('OperationNotPermitted'));
      }),
    ).rejects.toMatchObject({ name: 'OperationNotPermitted' });
    expect(calls).toBe(1);
  });

  it('carries bucket state across invocations (batches)', async () => {
    const clock = fakeClock();
    const first = new Ec2Pacer(clock);
    for (let i = 0; i < 100; i++) await first.run('DeregisterImage', async () => undefined);
    const second = new Ec2Pacer(clock, first.state());
    await second.run('DeregisterImage', async () => undefined);
    // The bucket was empty: the 101st deregistration waits one refill interval (1/5 s).
    expect(clock.now()).toBe(200);
  });
});
