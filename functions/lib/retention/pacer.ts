/**
 * A client-side token bucket mirroring EC2's per-region buckets (shared/specs/aws-facts.md:
 * DeregisterImage 100 / 5 per s, mutating actions 50 / 5, Describe* 100 / 20), so a retention
 * run spends its tokens at the refill rate instead of tripping RequestLimitExceeded.
 * `now` and `sleep` are injectable: the local cloud's simulated clock, or tests.
 */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly capacity: number,
    readonly refillPerSecond: number,
    private readonly clock: Clock = realClock,
    /** Start with this many tokens (default full, as an idle account has). */
    initial = capacity,
  ) {
    if (!(capacity > 0) || !(refillPerSecond > 0)) throw new RangeError('capacity and refill must be positive');
    this.tokens = Math.min(initial, capacity);
    this.last = clock.now();
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.refillPerSecond);
    this.last = now;
  }

  /** Waits until a token is available, then takes it. */
  async take(): Promise<void> {
    for (;;) {
      this.refill();
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await this.clock.sleep(Math.ceil(((1 - this.tokens) / this.refillPerSecond) * 1000));
    }
  }

  /** After a RequestLimitExceeded: the server's bucket is emptier than ours thought. */
  drain(): void {
    this.refill();
    this.tokens = Math.min(this.tokens, 0);
  }
}

/** EC2's bucket sizes for the actions retention calls (aws-facts.md, "Request throttling"). */
export const EC2_BUCKETS = {
  describe: { capacity: 100, refillPerSecond: 20 },
  mutating: { capacity: 50, refillPerSecond: 5 },
  deregister: { capacity: 100, refillPerSecond: 5 },
} as const;

/**
 * Lower bound of the wall time for `n` calls against a bucket that starts full: the first
 * `capacity` are free, the rest come at the refill rate.
 */
export function tokenBucketLowerBoundSeconds(n: number, bucket: { capacity: number; refillPerSecond: number }): number {
  return Math.max(0, n - bucket.capacity) / bucket.refillPerSecond;
}
