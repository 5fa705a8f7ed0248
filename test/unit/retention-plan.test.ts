import fc from 'fast-check';
import { planRetention, type InventoryImage, type RetentionPolicy } from '../../functions/lib/retention/plan.js';

const ACCOUNT = '111122223333';
const NOW = new Date('2026-11-23T00:00:00Z');
const DAY = 86_400_000;

const imageArb = fc.record({
  n: fc.integer({ min: 0, max: 1_000_000 }),
  region: fc.constantFrom('us-east-1', 'eu-west-1', 'us-west-2'),
  ageDays: fc.integer({ min: 0, max: 400 }),
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
  maxAgeDays: fc.integer({ min: 1, max: 365 }),
  deprecateAfterDays: fc.option(fc.integer({ min: 1, max: 365 }), { nil: undefined }),
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

  it('acts on every expired, unused, unexcluded managed image beyond the newest N', () => {
    fc.assert(
      fc.property(fc.array(imageArb, { maxLength: 60 }), policyArb, (specs, policy) => {
        const { images, inUse, spec } = build(specs);
        const plan = planRetention('web', images, inUse, policy, ACCOUNT, NOW);
        const kept = new Set(plan.filter((e) => e.reason.startsWith('newest')).map((e) => e.imageId));
        for (const e of plan) {
          const s = spec.get(e.imageId) as Spec;
          const eligible = s.owner === ACCOUNT && s.managed && s.family === 'web' && !s.keep && !s.inUse && !kept.has(e.imageId);
          const expired = s.ageDays >= policy.maxAgeDays || s.state === 'failed';
          if (!eligible || !expired) continue;
          if (s.state === 'pending') {
            expect(e.action).toBe('keep');
          } else if (s.protected) {
            expect(e.action).toBe(s.state === 'available' ? 'disable' : 'keep');
          } else if (s.state === 'failed' || policy.disableGraceDays === 0) {
            expect(e.action).toBe('deregister');
          } else if (s.state === 'disabled') {
            // Disabled outside the factory (no ledger entry): recorded now, grace starts.
            if (s.disabledDaysAgo === null) expect(e.action).toBe('disable');
            else expect(e.action).toBe(s.disabledDaysAgo >= policy.disableGraceDays ? 'deregister' : 'keep');
          } else {
            expect(e.action).toBe('disable');
          }
        }
      }),
      { numRuns: 300 },
    );
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
