import { THROTTLE_BUCKETS, type ThrottleClass } from './limits.js';

export { throttleClass } from '../../functions/lib/ec2/throttling.js';

/**
 * EC2 request throttling: a token bucket per account, per region, per action class, with
 * the capacities and refill rates of aws-facts.md (limits.ts). Buckets start full and refill
 * continuously on the clock they are given — the real clock by default, as EC2's do, whatever
 * the time scale (so clients' pacing and retries meet throttling in every run); a benchmark that
 * compresses hours of calls may pass the simulated clock. A request takes one token or is throttled.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();

  constructor(private readonly now: () => number) {}

  /** Takes a token from the bucket of (account, region, class); false when it is empty. */
  take(account: string, region: string, cls: ThrottleClass): boolean {
    const spec = THROTTLE_BUCKETS[cls];
    const key = `${account}|${region}|${cls}`;
    const now = this.now();
    const b = this.buckets.get(key) ?? { tokens: spec.capacity, atMs: now };
    const elapsed = Math.max(0, now - b.atMs) / 1000;
    b.tokens = Math.min(spec.capacity, b.tokens + elapsed * spec.refillPerSecond);
    b.atMs = now;
    this.buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  reset(): void {
    this.buckets.clear();
  }
}
