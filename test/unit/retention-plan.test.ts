import fc from 'fast-check';
import { planRetention, type Action, type InventoryImage, type RetentionPolicy } from '../../functions/lib/retention/plan.js';

const ACCOUNT = '111122223333';
const NOW = new Date('2026-11-23T00:00:00Z');
const DAY = 86_400_000;

const imageArb = fc.record({
  n: fc.integer({ min: 0, max: 1_000_000 }),
  region: fc.constantFrom('us-east-1', 'eu-west-1', 'us-west-2'),
  // Ages on the policy's boundaries (the constants policyArb also draws) as often as elsewhere.
  ageDays: fc.oneof(fc.integer({ min: 0, max: 400 }), fc.constantFrom(29, 30, 31, 89, 90, 91)),
  owner: fc.constantFrom(ACCOUNT, ACCOUNT, ACCOUNT, '999988887777'),
  managed: fc.constantFrom(true, true, true, false),
  family: fc.constantFrom('web', 'web', 'db'),
  state: fc.constantFrom('available', 'available', 'disabled', 'failed', 'pending'),
  keep: fc.boolean(),
  disabledDaysAgo: fc.option(fc.integer({ min: 0, max: 60 })),
  protected: fc.boolean(),
  inUse: fc.constantFrom(false, false, true),
});

const policyArb: fc.Arbitrary<RetentionPolicy> = fc.record({
  keepNewest: fc.integer({ min: 0, max: 5 }),
  maxAgeDays: fc.oneof(fc.integer({ min: 1, max: 365 }), fc.constantFrom(30, 90)),
  deprecateAfterDays: fc.option(fc.oneof(fc.integer({ min: 1, max: 365 }), fc.constantFrom(30, 90)), { nil: undefined }),
  disableGraceDays: fc.integer({ min: 0, max: 30 }),
  excludeTags: fc.constant({ 'ami-factory:keep': 'true' }),
});

type Spec = {
  n: number;
  region: string;
  ageDays: number;
  owner: string;
  managed: boolean;
  family: string;
  state: string;
  keep: boolean;
  disabledDaysAgo: number | null;
  protected: boolean;
  inUse: boolean;
};

function build(specs: Spec[]): { images: InventoryImage[]; inUse: Map<string, string[]>; spec: Map<string, Spec> } {
  const images: InventoryImage[] = [];
  const inUse = new Map<string, string[]>();
  const spec = new Map<string, Spec>();
  specs.forEach((s, i) => {
    const id = `ami-${String(i).padStart(17, '0')}`;
    const tags: Record<string, string> = {};
    if (s.managed) tags['ami-factory:managed'] = 'true';
    tags['ami-factory:family'] = s.family;
    if (s.keep) tags['ami-factory:keep'] = 'true';
    images.push({
      imageId: id,
      region: s.region,
      name: `${s.family}-${s.n}`,
      ownerId: s.owner,
      creationDate: new Date(NOW.getTime() - s.ageDays * DAY - (s.n % 1000)).toISOString(),
      state: s.state,
      tags,
      deregistrationProtection: s.protected,
      ...(s.state === 'disabled' && s.disabledDaysAgo !== null
        ? { disabledAt: new Date(NOW.getTime() - s.disabledDaysAgo * DAY).toISOString() }
        : {}),
    });
    if (s.inUse) inUse.set(id, ['instance i-0']);
    spec.set(id, s);
  });
  return { images, inUse, spec };
}

/**
 * The policy, written out once more from the README's rules as an oracle: what each image of
 * the specs should get. Kept independent of plan.ts (no shared helper), so a plan that keeps
 * everything, retires too early or lets newest-N swallow every image disagrees with it.
 */
function newestIds(images: InventoryImage[], spec: Map<string, Spec>, keepNewest: number): Set<string> {
  const out = new Set<string>();
  for (const region of new Set(images.map((i) => i.region))) {
    const candidates = images.filter((i) => {
      const s = spec.get(i.imageId) as Spec;
      return i.region === region && s.owner === ACCOUNT && s.managed && s.family === 'web' && s.state !== 'failed';
    });
    candidates.sort(
      (a, b) =>
        Date.parse(b.creationDate) - Date.parse(a.creationDate) || b.name.localeCompare(a.name) || b.imageId.localeCompare(a.imageId),
    );
    for (const i of candidates.slice(0, keepNewest)) out.add(i.imageId);
  }
  return out;
}

function expectedAction(s: Spec, newest: boolean, policy: RetentionPolicy): Action {
  if (s.owner !== ACCOUNT || !s.managed || s.family !== 'web' || s.keep || newest) return 'keep';
  if (s.ageDays < policy.maxAgeDays && s.state !== 'failed') {
    return policy.deprecateAfterDays !== undefined && s.ageDays >= policy.deprecateAfterDays ? 'deprecate' : 'keep';
  }
  if (s.inUse) return 'keep';
  if (s.state === 'failed') return s.protected ? 'keep' : 'deregister';
  if (s.state !== 'available' && s.state !== 'disabled') return 'keep';
  if (s.protected) return s.state === 'available' ? 'disable' : 'keep';
  if (policy.disableGraceDays === 0) return 'deregister';
  if (s.state === 'available') return 'disable';
  if (s.disabledDaysAgo === null) return 'disable';
  return s.disabledDaysAgo >= policy.disableGraceDays ? 'deregister' : 'keep';
}

describe('planRetention (property-based)', () => {
  it('never disables or deregisters an image that is in use, newest-N, excluded, unmanaged or not owned', () => {
    fc.assert(
      fc.property(fc.array(imageArb, { maxLength: 60 }), policyArb, (specs, policy) => {
        const { images, inUse, spec } = build(specs);
        const plan = planRetention('web', images, inUse, policy, ACCOUNT, NOW);
        expect(plan).toHaveLength(images.length);
        for (const e of plan) {
          if (e.action !== 'disable' && e.action !== 'deregister') continue;
          const s = spec.get(e.imageId) as Spec;
          expect(s.owner).toBe(ACCOUNT);
          expect(s.managed).toBe(true);
          expect(s.family).toBe('web');
          expect(s.keep).toBe(false);
          expect(s.inUse).toBe(false);
          if (e.action === 'deregister') expect(s.protected).toBe(false);
          // Only images EC2 can move: available ones are disabled, disabled or failed ones deregistered.
          if (e.action === 'disable') expect(['available', 'disabled']).toContain(s.state);
          if (e.action === 'deregister') expect(['available', 'disabled', 'failed']).toContain(s.state);
          // Not among the newest N of its region (the newest N usable managed images of the family).
          const img = images.find((i) => i.imageId === e.imageId) as InventoryImage;
          const newer = images.filter(
            (i) =>
              i.region === img.region &&
              spec.get(i.imageId)?.managed === true &&
              spec.get(i.imageId)?.owner === ACCOUNT &&
              spec.get(i.imageId)?.family === 'web' &&
              i.state !== 'failed' &&
              Date.parse(i.creationDate) > Date.parse(img.creationDate),
          );
          if (img.state !== 'failed') expect(newer.length).toBeGreaterThanOrEqual(policy.keepNewest);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('decides every image as the policy says: keeps the newest N, retires the expired, deprecates the old', () => {
    fc.assert(
      fc.property(fc.array(imageArb, { maxLength: 60 }), policyArb, (specs, policy) => {
        // Prepare
        const { images, inUse, spec } = build(specs);
        const newest = newestIds(images, spec, policy.keepNewest);
        // Act
        const plan = planRetention('web', images, inUse, policy, ACCOUNT, NOW);
        // Assess: one entry per image, each with the action the rules give it.
        const actual = new Map(plan.map((e) => [e.imageId, e.action]));
        const expected = new Map(
          images.map((i) => [i.imageId, expectedAction(spec.get(i.imageId) as Spec, newest.has(i.imageId), policy)]),
        );
        expect(actual).toEqual(expected);
        // Newest-N: exactly min(N, usable managed images) per region say so.
        for (const e of plan.filter((x) => x.reason.startsWith('newest'))) expect(newest.has(e.imageId)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('retires something in a world with expired images beyond the newest N', () => {
    // Prepare: the property above would hold vacuously if the generator never made targets.
    const old = (n: number, state: string): Spec => ({
      n,
      region: 'us-east-1',
      ageDays: 200 + n,
      owner: ACCOUNT,
      managed: true,
      family: 'web',
      state,
      keep: false,
      disabledDaysAgo: 30,
      protected: false,
      inUse: false,
    });
    const { images, inUse } = build([old(0, 'available'), old(1, 'available'), old(2, 'disabled'), old(3, 'failed')]);
    // Act
    const plan = planRetention('web', images, inUse, { keepNewest: 1, maxAgeDays: 90, disableGraceDays: 7, excludeTags: {} }, ACCOUNT, NOW);
    // Assess
    expect(plan.map((e) => [e.name, e.action])).toEqual([
      ['web-0', 'keep'],
      ['web-1', 'disable'],
      ['web-2', 'deregister'],
      ['web-3', 'deregister'],
    ]);
  });

  it('expires an image on the day it reaches maxAgeDays and deregisters on the day the grace ends', () => {
    // Prepare: ages and disabled days exactly on the policy's limits, and one day short of them.
    const at = (n: number, ageDays: number, state: string, disabledDaysAgo: number | null): Spec => ({
      n,
      region: 'us-east-1',
      ageDays,
      owner: ACCOUNT,
      managed: true,
      family: 'web',
      state,
      keep: false,
      disabledDaysAgo,
      protected: false,
      inUse: false,
    });
    const { images, inUse } = build([
      at(1, 30, 'available', null),
      at(2, 29, 'available', null),
      at(3, 100, 'disabled', 7),
      at(4, 101, 'disabled', 6),
    ]);
    // Act
    const plan = planRetention('web', images, inUse, { keepNewest: 0, maxAgeDays: 30, disableGraceDays: 7, excludeTags: {} }, ACCOUNT, NOW);
    // Assess
    expect(Object.fromEntries(plan.map((e) => [e.name, e.action]))).toEqual({
      'web-1': 'disable',
      'web-2': 'keep',
      'web-3': 'deregister',
      'web-4': 'keep',
    });
  });

  it('gives a reason for every decision', () => {
    fc.assert(
      fc.property(fc.array(imageArb, { maxLength: 30 }), policyArb, (specs, policy) => {
        const { images, inUse } = build(specs);
        for (const e of planRetention('web', images, inUse, policy, ACCOUNT, NOW)) expect(e.reason.length).toBeGreaterThan(0);
      }),
    );
  });
});

describe('planRetention (examples)', () => {
  const policy: RetentionPolicy = { keepNewest: 1, maxAgeDays: 30, disableGraceDays: 7, excludeTags: { 'ami-factory:keep': 'true' } };
  it('keeps the newest, disables the expired, reports what uses an image', () => {
    const { images, inUse } = build([
      {
        n: 3,
        region: 'us-east-1',
        ageDays: 100,
        owner: ACCOUNT,
        managed: true,
        family: 'web',
        state: 'available',
        keep: false,
        disabledDaysAgo: null,
        protected: false,
        inUse: false,
      },
      {
        n: 2,
        region: 'us-east-1',
        ageDays: 90,
        owner: ACCOUNT,
        managed: true,
        family: 'web',
        state: 'available',
        keep: false,
        disabledDaysAgo: null,
        protected: false,
        inUse: true,
      },
      {
        n: 1,
        region: 'us-east-1',
        ageDays: 2,
        owner: ACCOUNT,
        managed: true,
        family: 'web',
        state: 'available',
        keep: false,
        disabledDaysAgo: null,
        protected: false,
        inUse: false,
      },
    ]);
    const plan = planRetention('web', images, inUse, policy, ACCOUNT, NOW);
    expect(plan.map((e) => [e.name, e.action, e.reason])).toEqual([
      ['web-1', 'keep', 'newest 1'],
      ['web-2', 'keep', 'in use by instance i-0'],
      ['web-3', 'disable', 'expired (100 days, max 30); deregistered after 7 days disabled'],
    ]);
  });
});
