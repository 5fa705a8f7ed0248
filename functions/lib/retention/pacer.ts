import { EC2Client } from '@aws-sdk/client-ec2';
import { clientSettings } from '../clients.js';
import { clock as currentClock, type Clock } from '../clock.js';
import { hasErrorName } from '../errors.js';
import { THROTTLE_BUCKETS, throttleClass, type ThrottleClass } from '../ec2/throttling.js';
import { EC2_ERROR } from '../error-codes.js';

export type { Clock } from '../clock.js';

/**
 * Client-side token buckets mirroring EC2's per-region buckets (functions/lib/ec2/throttling.ts), so a retention run spends tokens at the refill rate instead of
 * tripping RequestLimitExceeded. A bucket's state is plain data: a run that spans several
 * Lambda invocations (batches) carries it from one to the next through the state machine.
 */
export interface BucketState {
  tokens: number;
  /** Clock time (epoch ms) the token count was computed at. */
  at: number;
}

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly capacity: number,
    readonly refillPerSecond: number,
    private readonly clock: Clock = currentClock(),
    /** Start with this many tokens (default full, as an idle account has), or a saved state. */
    initial: number | BucketState = capacity,
  ) {
    if (!(capacity > 0) || !(refillPerSecond > 0)) throw new RangeError('capacity and refill must be positive');
    if (typeof initial === 'number') {
      this.tokens = Math.min(initial, capacity);
      this.last = clock.now();
    } else {
      this.tokens = Math.min(initial.tokens, capacity);
      this.last = Math.min(initial.at, clock.now());
    }
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.capacity, this.tokens + (Math.max(0, now - this.last) / 1000) * this.refillPerSecond);
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

  state(): BucketState {
    this.refill();
    return { tokens: this.tokens, at: this.last };
  }
}

/**
 * Lower bound of the wall time for `n` calls against a bucket that starts full: the first
 * `capacity` are free, the rest come at the refill rate.
 */
export function tokenBucketLowerBoundSeconds(n: number, bucket: { capacity: number; refillPerSecond: number }): number {
  return Math.max(0, n - bucket.capacity) / bucket.refillPerSecond;
}

export type PacerState = Partial<Record<ThrottleClass, BucketState>>;

export interface PacerStats {
  /** Calls sent, by EC2 action. */
  calls: Record<string, number>;
  /** RequestLimitExceeded answers received (each was backed off and retried). */
  throttled: number;
}

/** Backoff after a throttle: full jitter over an exponential ceiling (AWS's recommendation). */
const BACKOFF_BASE_MS = 250;
const BACKOFF_MAX_MS = 20_000;
export const MAX_THROTTLE_RETRIES = 8;

/**
 * The buckets of one region. `run` paces one call: take a token of the action's class, send,
 * and on RequestLimitExceeded drain that bucket, back off (exponential, full jitter) and
 * try again, up to MAX_THROTTLE_RETRIES times. Other errors pass through untouched.
 */
export class Ec2Pacer {
  private readonly buckets = new Map<ThrottleClass, TokenBucket>();
  readonly stats: PacerStats = { calls: {}, throttled: 0 };

  constructor(
    private readonly clock: Clock = currentClock(),
    private readonly saved: PacerState = {},
    private readonly random: () => number = Math.random,
  ) {}

  bucket(cls: ThrottleClass): TokenBucket {
    let b = this.buckets.get(cls);
    if (b === undefined) {
      const spec = THROTTLE_BUCKETS[cls];
      b = new TokenBucket(spec.capacity, spec.refillPerSecond, this.clock, this.saved[cls] ?? spec.capacity);
      this.buckets.set(cls, b);
    }
    return b;
  }

  async run<T>(action: string, call: () => Promise<T>): Promise<T> {
    // The factory's Describe calls are always filtered or paginated (never the 50/10 bucket).
    const bucket = this.bucket(throttleClass(action, false));
    for (let attempt = 0; ; attempt++) {
      await bucket.take();
      this.stats.calls[action] = (this.stats.calls[action] ?? 0) + 1;
      try {
        return await call();
      } catch (e) {
        if (!hasErrorName(e, EC2_ERROR.requestLimitExceeded) || attempt >= MAX_THROTTLE_RETRIES) throw e;
        this.stats.throttled++;
        bucket.drain();
        const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
        await this.clock.sleep(Math.floor(this.random() * ceiling));
      }
    }
  }

  /** The buckets' state, to resume pacing in the next invocation. */
  state(): PacerState {
    const out: PacerState = { ...this.saved };
    for (const [cls, b] of this.buckets) out[cls] = b.state();
    return out;
  }
}

/**
 * An EC2 client whose every call goes through the pacer. The SDK's own retries are off
 * (maxAttempts 1) so throttling is handled once, here, and every call sent is counted;
 * Step Functions retries the step on other transient errors.
 */
export function pacedEc2Client(region: string, pacer: Ec2Pacer): EC2Client {
  const client = new EC2Client({ ...clientSettings(region), maxAttempts: 1 });
  client.middlewareStack.add(
    (next, context) => (args) => pacer.run(context.commandName?.replace(/Command$/, '') ?? 'Unknown', () => next(args)),
    { step: 'initialize', name: 'amiFactoryEc2Pacer', priority: 'high' },
  );
  return client;
}
