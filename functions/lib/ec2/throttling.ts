/**
 * EC2's request throttling (shared/specs/aws-facts.md, "Request throttling"): the token
 * buckets and which bucket an action draws from. One table for both sides: the local EC2
 * endpoint throttles with it (local/ec2/throttle.ts), the retention pacer spends tokens by it
 * (functions/lib/retention/pacer.ts).
 */

/** A token bucket: `capacity` tokens, refilled at `refillPerSecond` (simulated seconds). */
export interface BucketSpec {
  capacity: number;
  refillPerSecond: number;
}

/**
 * Request throttling: one token bucket per account, per region, per action class
 * (aws-facts.md, "Request throttling (token bucket per account per region: capacity / refill per second)").
 */
export const THROTTLE_BUCKETS = {
  /** "Non-mutating actions (Describe*): 100 / 20." (also Get*) */
  describe: { capacity: 100, refillPerSecond: 20 },
  /** "Unfiltered, unpaginated Describe of instances/snapshots: 50 / 10." */
  describeUnfiltered: { capacity: 50, refillPerSecond: 10 },
  /** "Mutating actions (CreateImage, RegisterImage, deprecation calls, ...): 50 / 5." */
  mutating: { capacity: 50, refillPerSecond: 5 },
  /** "CopyImage: 100 / 1 — sustained copying is about one call per second per region." */
  copyImage: { capacity: 100, refillPerSecond: 1 },
  /** "DeregisterImage, ModifyImageAttribute, ModifySnapshotAttribute, DeleteSnapshot: 100 / 5 each." */
  deregisterImage: { capacity: 100, refillPerSecond: 5 },
  modifyImageAttribute: { capacity: 100, refillPerSecond: 5 },
  modifySnapshotAttribute: { capacity: 100, refillPerSecond: 5 },
  deleteSnapshot: { capacity: 100, refillPerSecond: 5 },
  /** "CreateTags, DeleteTags: 100 / 10." (one bucket each, as AWS lists them as separate actions) */
  createTags: { capacity: 100, refillPerSecond: 10 },
  deleteTags: { capacity: 100, refillPerSecond: 10 },
} as const satisfies Record<string, BucketSpec>;

export type ThrottleClass = keyof typeof THROTTLE_BUCKETS;

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
