import { TokenBucket, tokenBucketLowerBoundSeconds, type Clock } from '../../functions/lib/retention/pacer.js';

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
