import { THROTTLE_BUCKETS, type ThrottleClass } from './limits.js';

/**
 * EC2 request throttling: a token bucket per account, per region, per action class, with
 * the capacities and refill rates of aws-facts.md (limits.ts). Buckets start full and refill
 * continuously in simulated time; a request takes one token or is throttled.
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

const MUTATING: ReadonlySet<string> = new Set([
  'CreateImage',
  'RegisterImage',
  'RunInstances',
  'StartInstances',
  'StopInstances',
  'TerminateInstances',
  'ResetImageAttribute',
  'ResetSnapshotAttribute',
  'EnableImageDeprecation',
  'DisableImageDeprecation',
  'EnableImage',
  'DisableImage',
  'EnableImageBlockPublicAccess',
  'DisableImageBlockPublicAccess',
  'EnableImageDeregistrationProtection',
  'DisableImageDeregistrationProtection',
  'CreateLaunchTemplate',
  'CreateLaunchTemplateVersion',
  'ModifyLaunchTemplate',
  'DeleteLaunchTemplate',
  'DeleteLaunchTemplateVersions',
]);

const OWN_BUCKET: Record<string, ThrottleClass> = {
  CopyImage: 'copyImage',
  DeregisterImage: 'deregisterImage',
  ModifyImageAttribute: 'modifyImageAttribute',
  ModifySnapshotAttribute: 'modifySnapshotAttribute',
  DeleteSnapshot: 'deleteSnapshot',
  CreateTags: 'createTags',
  DeleteTags: 'deleteTags',
};

/** Describe of instances/snapshots without ids, filters or MaxResults ("unfiltered, unpaginated"). */
const UNFILTERABLE = new Set(['DescribeInstances', 'DescribeSnapshots']);

export function throttleClass(action: string, unfiltered: boolean): ThrottleClass {
  const own = OWN_BUCKET[action];
  if (own !== undefined) return own;
  if (MUTATING.has(action)) return 'mutating';
  if (UNFILTERABLE.has(action) && unfiltered) return 'describeUnfiltered';
  if (action.startsWith('Describe') || action.startsWith('Get')) return 'describe';
  return 'mutating';
}
