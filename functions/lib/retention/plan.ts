import { TAG } from '../constants.js';

/**
 * The retention plan: a pure function from an inventory, the references found, a policy and
 * the clock to one decision per image. Nothing here calls AWS, so the safety rules are
 * property-tested (test/unit/retention-plan.test.ts):
 *   - only images owned by the account AND tagged ami-factory:managed=true are ever acted on;
 *   - the newest N of a family per region, excluded images and images in use are kept;
 *   - expired images are disabled first (reversible) and deregistered only after the grace.
 */
export interface RetentionPolicy {
  /** The newest N images per region are kept whatever their age. */
  keepNewest: number;
  /** Images older than this many days expire. */
  maxAgeDays: number;
  /** Deprecate images this many days after creation (if they have no deprecation time yet). */
  deprecateAfterDays?: number;
  /** Days an expired image stays disabled before it is deregistered (0: deregister at once). */
  disableGraceDays: number;
  /** Images with any of these tag values are never touched (e.g. ami-factory:keep=true). */
  excludeTags: Record<string, string>;
}

export interface InventoryImage {
  imageId: string;
  region: string;
  name: string;
  ownerId: string;
  creationDate: string;
  state: string;
  tags: Record<string, string>;
  deprecationTime?: string;
  deregistrationProtection?: boolean;
  /** instance-store images: the S3 location of their bundle manifest. */
  imageLocation?: string;
  rootDeviceType?: 'ebs' | 'instance-store';
  /** When the factory disabled it (the retention ledger); starts the grace period. */
  disabledAt?: string;
}

export type Action = 'keep' | 'deprecate' | 'disable' | 'deregister';

/** How many entries have each action. */
export function countActions(entries: readonly { action: Action }[]): Record<Action, number> {
  const counts: Record<Action, number> = { keep: 0, deprecate: 0, disable: 0, deregister: 0 };
  for (const e of entries) counts[e.action]++;
  return counts;
}

export interface PlanEntry {
  imageId: string;
  region: string;
  name: string;
  ageDays: number;
  action: Action;
  reason: string;
}

export function planRetention(
  family: string,
  images: InventoryImage[],
  inUse: Map<string, string[]>,
  policy: RetentionPolicy,
  accountId: string,
  now: Date,
): PlanEntry[] {
  const day = 86_400_000;
  const entries: PlanEntry[] = [];
  const byRegion = new Map<string, InventoryImage[]>();
  for (const img of images) byRegion.set(img.region, [...(byRegion.get(img.region) ?? []), img]);

  for (const [, regionImages] of [...byRegion].sort(([a], [b]) => a.localeCompare(b))) {
    const managed = (i: InventoryImage): boolean =>
      i.ownerId === accountId && i.tags[TAG.managed] === 'true' && i.tags[TAG.family] === family && i.state !== 'deregistered';
    // Newest first: creation time, then name (deterministic names sort by time), then id.
    const ordered = [...regionImages].sort(
      (a, b) =>
        Date.parse(b.creationDate) - Date.parse(a.creationDate) || b.name.localeCompare(a.name) || b.imageId.localeCompare(a.imageId),
    );
    const newest = new Set(
      ordered
        .filter(managed)
        .filter((i) => i.state !== 'failed')
        .slice(0, policy.keepNewest)
        .map((i) => i.imageId),
    );
    for (const img of ordered) {
      const ageDays = Math.max(0, Math.floor((now.getTime() - Date.parse(img.creationDate)) / day));
      const entry = (action: Action, reason: string): PlanEntry => ({
        imageId: img.imageId,
        region: img.region,
        name: img.name,
        ageDays,
        action,
        reason,
      });
      if (img.ownerId !== accountId) {
        entries.push(entry('keep', `not owned by this account (${img.ownerId})`));
        continue;
      }
      if (!managed(img)) {
        entries.push(entry('keep', img.tags[TAG.managed] === 'true' ? 'another family' : 'not managed'));
        continue;
      }
      const excluded = Object.entries(policy.excludeTags).find(([k, v]) => img.tags[k] === v);
      if (excluded !== undefined) {
        entries.push(entry('keep', `excluded (${excluded[0]}=${excluded[1]})`));
        continue;
      }
      if (newest.has(img.imageId)) {
        entries.push(entry('keep', `newest ${policy.keepNewest}`));
        continue;
      }
      const expired = ageDays >= policy.maxAgeDays || img.state === 'failed';
      if (!expired) {
        const needsDeprecation =
          policy.deprecateAfterDays !== undefined && img.deprecationTime === undefined && ageDays >= policy.deprecateAfterDays;
        entries.push(
          needsDeprecation
            ? entry('deprecate', `older than ${policy.deprecateAfterDays} days`)
            : entry('keep', `not expired (max age ${policy.maxAgeDays} days)`),
        );
        continue;
      }
      const uses = inUse.get(img.imageId) ?? [];
      if (uses.length > 0) {
        entries.push(entry('keep', `in use by ${uses.join(', ')}`));
        continue;
      }
      if (img.state === 'failed') {
        entries.push(
          img.deregistrationProtection === true
            ? entry('keep', 'failed image; deregistration protection is on')
            : entry('deregister', 'failed image (never usable)'),
        );
        continue;
      }
      if (img.state !== 'available' && img.state !== 'disabled') {
        entries.push(entry('keep', `state ${img.state}`));
        continue;
      }
      if (img.deregistrationProtection === true) {
        entries.push(
          img.state === 'available'
            ? entry('disable', 'expired; deregistration protection is on')
            : entry('keep', 'disabled; deregistration protection is on'),
        );
        continue;
      }
      const expiredFor = `expired (${ageDays} days, max ${policy.maxAgeDays})`;
      if (policy.disableGraceDays === 0) {
        entries.push(entry('deregister', expiredFor));
        continue;
      }
      if (img.state === 'available') {
        entries.push(entry('disable', `${expiredFor}; deregistered after ${policy.disableGraceDays} days disabled`));
        continue;
      }
      const disabledAt = Date.parse(img.disabledAt ?? '');
      if (Number.isNaN(disabledAt)) {
        // Disabled by someone else: the factory records it now and the grace period starts.
        entries.push(entry('disable', `${expiredFor}; disabled outside the factory, ${policy.disableGraceDays} grace days start now`));
        continue;
      }
      const disabledDays = Math.floor((now.getTime() - disabledAt) / day);
      entries.push(
        disabledDays >= policy.disableGraceDays
          ? entry('deregister', `disabled for ${disabledDays} days`)
          : entry('keep', `disabled ${disabledDays} of ${policy.disableGraceDays} grace days`),
      );
    }
  }
  return entries;
}
