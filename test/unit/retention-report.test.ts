import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import type { PlanEntry } from '../../functions/lib/retention/plan.js';
import { reportRetention, ReportRetentionInputSchema, runTotals, type ReportRetentionInput } from '../../functions/lib/retention/report.js';
import { RetentionRequestSchema } from '../../functions/lib/retention/request.js';
import type { ImageResult, RegionPlan } from '../../functions/lib/retention/store.js';

const events = mockClient(EventBridgeClient);
const RUN = 'run-00000001';
const EAST = 'us-east-1';
const WEST = 'us-west-2';

const entry = (imageId: string, action: PlanEntry['action']): PlanEntry => ({
  imageId,
  region: EAST,
  name: imageId,
  ageDays: 400,
  action,
  reason: action === 'keep' ? 'newest 1' : 'expired',
});
const plans: Record<string, RegionPlan> = {
  [EAST]: {
    runId: RUN,
    family: 'web',
    region: EAST,
    now: '2026-11-23T08:00:00Z',
    entries: [entry('ami-0000000000000000a', 'keep'), entry('ami-0000000000000000b', 'deregister')],
  },
};
const results: ImageResult[] = [
  {
    imageId: 'ami-0000000000000000b',
    region: EAST,
    planned: 'deregister',
    outcome: 'failed',
    reason: 'EC2 refused',
    error: 'OperationNotPermitted: protected',
  },
];

function input(dryRun: boolean, over: Partial<ReportRetentionInput> = {}): ReportRetentionInput {
  return {
    request: RetentionRequestSchema.parse({
      runId: RUN,
      family: 'web',
      requestedAt: '2026-11-23T08:00:00Z',
      regions: [EAST, WEST],
      dryRun,
      trigger: { type: 'schedule', eventId: 'e1' },
      policy: { keepNewest: 1, maxAgeDays: 90, disableGraceDays: 0, excludeTags: {} },
    }),
    plans: [
      { region: EAST, status: 'planned', calls: { DescribeImages: 2 }, throttled: 1 },
      { region: WEST, status: 'plan-failed', error: 'RequestLimitExceeded', cause: JSON.stringify({ errorMessage: 'slow down' }) },
    ],
    applied: dryRun ? [] : [{ region: EAST, status: 'applied', calls: { DeregisterImage: 1, DescribeImages: 1 } }],
    ...over,
  };
}

describe('reportRetention', () => {
  const store = {
    getPlan: async (_run: string, region: string) => plans[region] as RegionPlan,
    getResults: async () => results,
  };
  const deps = () => ({ store, events: events as unknown as EventBridgeClient, bus: 'ami-factory' });
  const published = () =>
    events.commandCalls(PutEventsCommand).flatMap((c) =>
      (c.args[0].input.Entries ?? []).map((e) => ({
        type: e.DetailType,
        detail: JSON.parse(e.Detail ?? '{}') as Record<string, unknown>,
      })),
    );
  beforeEach(() => {
    events.reset();
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [] });
  });

  it('does publish RetentionPlanned with the planned counts of a dry run and the failed plan of a region', async () => {
    const report = await reportRetention(deps(), input(true));
    expect(report.status).toBe('planned');
    expect(report.regions).toEqual([
      expect.objectContaining({
        region: EAST,
        status: 'planned',
        images: 2,
        planned: { keep: 1, deprecate: 0, disable: 0, deregister: 1 },
        failures: [],
      }),
      expect.objectContaining({ region: WEST, status: 'plan-failed', images: 0, error: 'RequestLimitExceeded: slow down' }),
    ]);
    expect(published()).toEqual([{ type: 'RetentionPlanned', detail: { ...report, trigger: { type: 'schedule', eventId: 'e1' } } }]);
  });

  it('does publish RetentionCompleted with what the apply steps did and failed', async () => {
    const report = await reportRetention(deps(), input(false));
    expect(report.status).toBe('failed');
    expect(report.regions[0]).toMatchObject({
      status: 'applied',
      outcomes: expect.objectContaining({ failed: 1 }),
      failures: [{ imageId: 'ami-0000000000000000b', planned: 'deregister', error: 'OperationNotPermitted: protected' }],
    });
    expect(report.calls).toEqual({ DescribeImages: 3, DeregisterImage: 1 });
    expect(report.throttled).toBe(1);
    expect(published()[0]?.type).toBe('RetentionCompleted');
  });

  it('does sum the calls and throttling of every step', () => {
    expect(
      runTotals({
        plans: [{ region: EAST, status: 'planned', calls: { A: 1 }, throttled: 2 }],
        applied: [{ region: EAST, status: 'applied', calls: { A: 2, B: 1 }, throttled: 3 }],
      }),
    ).toEqual({
      calls: { A: 3, B: 1 },
      throttled: 5,
    });
  });
});

describe('the report step input as the state machine gives it', () => {
  const request = input(false).request;
  const east = { region: EAST, status: 'planned' as const, calls: { DescribeImages: 2 } };
  const west = { region: WEST, status: 'plan-failed' as const, error: 'RequestLimitExceeded' };

  it('does split the Map’s per-region results into the plans and the apply results, one region or several', () => {
    const applied = { region: EAST, status: 'applied' as const, calls: { DeregisterImage: 1 } };
    expect(ReportRetentionInputSchema.parse({ request, plans: [], regions: [{ plan: east, applied }] })).toMatchObject({
      plans: [east],
      applied: [applied],
    });
    const skipped = { region: WEST, status: 'skipped' as const };
    expect(
      ReportRetentionInputSchema.parse({
        request,
        plans: [],
        regions: [
          { plan: east, applied },
          { plan: west, applied: skipped },
        ],
      }),
    ).toMatchObject({ plans: [east, west], applied: [applied, skipped] });
  });

  it('does read the plans alone when no region was applied (a dry run, a gate that did not approve)', () => {
    expect(ReportRetentionInputSchema.parse({ request, plans: [east, west], regions: [] })).toMatchObject({
      plans: [east, west],
      applied: [],
    });
  });

  it('does refuse a region result that is not a plan with its apply result', () => {
    expect(
      ReportRetentionInputSchema.safeParse({ request, plans: [], regions: [{ plan: { region: EAST, status: 'bogus' } }] }).success,
    ).toBe(false);
  });
});
