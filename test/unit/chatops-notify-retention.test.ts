import { Logger } from '../../functions/lib/logger.js';
import { NotifiedEventSchema, notifySlack, type NotifyDeps } from '../../functions/lib/chatops/notify.js';
import { RETENTION_MAX_ROWS, SLACK_LIMITS, type SlackMessage } from '../../functions/lib/chatops/replies.js';
import type { ChatOpsRecord, ChatOpsStore } from '../../functions/lib/chatops/store.js';
import { memoryChatOpsStore } from './chatops-store-fake.js';
import { UnexpectedResponseError } from '../../functions/lib/errors.js';
import type { Action, PlanEntry } from '../../functions/lib/retention/plan.js';
import { retentionReport, type RegionRun } from '../../functions/lib/retention/report.js';
import type { ImageResult, RegionPlan } from '../../functions/lib/retention/store.js';

/**
 * The notifier's retention posts: RetentionPlanned / RetentionCompleted of a run started by
 * `expire` → the plan (counts per region, a bounded table) or the result (outcomes and
 * failures per region) on the command's response_url.
 */
const RUN_ID = '0b5e55ed-0000-4000-8000-0000000000e1';
const EAST = 'us-east-1';
const WEST = 'us-west-2';

function fakeStore(record?: Partial<ChatOpsRecord>): ReturnType<typeof memoryChatOpsStore> {
  return memoryChatOpsStore(
    record === undefined
      ? undefined
      : {
          buildId: RUN_ID,
          kind: 'retention',
          family: 'web',
          responseUrl: 'https://hooks.slack.com/x',
          command: '/ami',
          userId: 'U1',
          channelId: 'C1',
          teamId: 'T1',
          createdAt: '',
          posts: 0,
          posted: [],
          ...record,
        },
  );
}

const id = (n: number): string => `ami-${n.toString(16).padStart(17, '0')}`;

function entries(region: string, actions: Action[], offset = 0): PlanEntry[] {
  return actions.map((action, i) => ({
    imageId: id(offset + i),
    region,
    name: `web-2025-${String(offset + i).padStart(4, '0')}`,
    ageDays: action === 'keep' ? i : 400 + i,
    action,
    reason: action === 'keep' ? 'newest 3' : `expired: ${400 + i} days old (max 365)`,
  }));
}

function planOf(region: string, list: PlanEntry[]): RegionPlan {
  return { runId: RUN_ID, family: 'web', region, now: '2026-11-23T08:00:00Z', entries: list };
}

type Plans = Record<string, RegionPlan>;

function deps(store: ChatOpsStore, plans: Plans | 'missing', status = 200): NotifyDeps & { bodies: string[]; reads: string[] } {
  const bodies: string[] = [];
  const reads: string[] = [];
  return {
    store,
    logger: new Logger('test'),
    bodies,
    reads,
    retention: {
      getPlan: async (runId: string, region: string) => {
        reads.push(`${runId}/${region}`);
        const p = plans === 'missing' ? undefined : plans[region];
        if (p === undefined)
          throw new UnexpectedResponseError(`The retention plan retention/runs/${runId}/${region}/plan.json is missing or unreadable`);
        return p;
      },
    },
    post: async (_url, body) => {
      bodies.push(body);
      return { status };
    },
  };
}

/** The event report-retention publishes, parsed as notify-slack's handler parses it. */
function retentionEvent(
  dryRun: boolean,
  runs: RegionRun[],
  trigger: Record<string, string> = { type: 'chatops', actor: 'U1 (alice)', channel: 'C1' },
) {
  const report = retentionReport(RUN_ID, 'web', dryRun, runs, { DescribeImages: 4 }, 0);
  return NotifiedEventSchema.parse({
    version: '0',
    id: `evt-${RUN_ID}`,
    source: 'ami-factory',
    'detail-type': dryRun ? 'RetentionPlanned' : 'RetentionCompleted',
    account: '111122223333',
    time: '2026-11-23T08:01:00Z',
    region: EAST,
    resources: [],
    detail: { ...report, trigger },
  });
}

const body = (d: { bodies: string[] }, i = 0): SlackMessage & { replace_original?: boolean } =>
  JSON.parse(d.bodies[i] ?? '{}') as SlackMessage;

function checkLimits(m: SlackMessage): void {
  expect(m.blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
  expect(m.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fallbackText);
  for (const b of m.blocks) {
    if (b.type === 'section') expect(b.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
    if (b.type === 'context') for (const e of b.elements) expect(e.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
  }
}

describe('notify-slack: retention runs started from Slack', () => {
  const eastPlan = planOf(EAST, [...entries(EAST, ['keep', 'keep', 'keep']), ...entries(EAST, ['disable', 'deregister'], 10)]);
  const westPlan = planOf(WEST, entries(WEST, ['keep', 'deprecate'], 20));

  it('does post the dry-run plan with counts per region and a table of the plan when RetentionPlanned arrives', async () => {
    const s = fakeStore({});
    const d = deps(s.store, { [EAST]: eastPlan, [WEST]: westPlan });
    const event = retentionEvent(true, [
      { region: EAST, status: 'planned', plan: eastPlan, results: [] },
      { region: WEST, status: 'planned', plan: westPlan, results: [] },
    ]);
    expect(await notifySlack(d, event)).toBe('posted');
    const m = body(d);
    expect(m.response_type).toBe('ephemeral');
    expect(m.replace_original).toBe(false);
    expect(m.text).toMatch(/^Retention plan for web \(dry run\): 1 deregister, 1 disable, 1 deprecate, 4 keep/);
    expect(m.text).toMatch(/us-east-1: 5 images — 1 deregister, 1 disable, 3 keep/);
    expect(m.text).toMatch(/us-west-2: 2 images — 1 deprecate, 1 keep/);
    // The table: acted-on images first, with image, region, age, action and reason.
    const table = m.blocks.flatMap((b) => (b.type === 'section' ? [b.text.text] : [])).find((t) => t.startsWith('```'));
    expect(table?.split('\n')[0]).toMatch(/^```ACTION +IMAGE +REGION +AGE +NAME +REASON$/);
    expect(table?.split('\n')[1]).toMatch(new RegExp(`^deregister +${id(11)} +us-east-1 +401d +web-2025-0011 +expired: 401 days old`));
    expect(table).toContain(`disable     ${id(10)}`);
    expect(table).toContain(`keep        ${id(0)}`);
    expect(JSON.stringify(m.blocks)).toContain('/ami expire web --apply');
    expect(d.reads).toEqual([`${RUN_ID}/${EAST}`, `${RUN_ID}/${WEST}`]);
    expect(s.saved()).toMatchObject({ posts: 1, posted: ['final'] });
    checkLimits(m);
  });

  it('does post the outcomes and the failures per region when RetentionCompleted arrives for an apply', async () => {
    const s = fakeStore({});
    const d = deps(s.store, { [EAST]: eastPlan });
    const results: ImageResult[] = [
      { imageId: id(10), region: EAST, planned: 'disable', outcome: 'kept', reason: 'in use by instance i-0123456789abcdef0' },
      { imageId: id(11), region: EAST, planned: 'deregister', outcome: 'failed', reason: 'error', error: 'InvalidAMIID.Unavailable: gone' },
    ];
    const event = retentionEvent(false, [
      { region: EAST, status: 'applied', plan: eastPlan, results },
      { region: WEST, status: 'plan-failed', error: 'UnauthorizedOperation: not allowed in us-west-2', results: [] },
    ]);
    expect(await notifySlack(d, event)).toBe('posted');
    const m = body(d);
    expect(m.response_type).toBe('in_channel');
    expect(m.text).toMatch(/^Retention of web failed: 1 kept, 1 failed \(run /);
    expect(m.text).toMatch(/us-east-1: 5 images — 1 deregister, 1 disable, 3 keep · done: 1 kept, 1 failed/);
    expect(m.text).toMatch(/us-west-2: plan failed — UnauthorizedOperation: not allowed in us-west-2/);
    expect(m.text).toContain(`failed: ${id(11)} us-east-1 (planned deregister): InvalidAMIID.Unavailable: gone`);
    expect(m.text).toContain(`kept: ${id(10)} us-east-1 kept at action time (planned disable): in use by instance i-0123456789abcdef0`);
    // A region whose plan failed has no plan to read.
    expect(d.reads).toEqual([`${RUN_ID}/${EAST}`]);
    expect(JSON.stringify(m.blocks)).not.toContain('--apply');
    checkLimits(m);
  });

  it('does list a bounded number of rows and count the rest when the plan is large', async () => {
    const s = fakeStore({});
    const big = planOf(EAST, [
      ...entries(EAST, Array<Action>(300).fill('keep')),
      ...entries(EAST, Array<Action>(700).fill('deregister'), 1000),
    ]);
    const d = deps(s.store, { [EAST]: big });
    expect(await notifySlack(d, retentionEvent(true, [{ region: EAST, status: 'planned', plan: big, results: [] }]))).toBe('posted');
    const m = body(d);
    checkLimits(m);
    const rows = m.blocks
      .flatMap((b) => (b.type === 'section' && b.text.text.startsWith('```') ? b.text.text.replace(/```/g, '').split('\n') : []))
      .filter((r) => !r.startsWith('ACTION'));
    expect(rows.length).toBeLessThanOrEqual(RETENTION_MAX_ROWS);
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.every((r) => r.startsWith('deregister'))).toBe(true);
    const note = m.blocks.flatMap((b) => (b.type === 'context' ? b.elements.map((e) => e.text) : [])).find((t) => t.includes('more'));
    expect(note).toBe(
      `…and ${1000 - rows.length} more rows not listed (${700 - rows.length} deregister, 300 keep); the counts per region above cover every image.`,
    );
    expect(m.text).toMatch(/us-east-1: 1000 images — 700 deregister, 300 keep/);
  });

  it('does post the counts without the table when a plan cannot be read', async () => {
    const s = fakeStore({});
    const d = deps(s.store, 'missing');
    expect(await notifySlack(d, retentionEvent(true, [{ region: EAST, status: 'planned', plan: eastPlan, results: [] }]))).toBe('posted');
    const m = body(d);
    expect(m.text).toMatch(/Retention plan for web \(dry run\)/);
    expect(JSON.stringify(m.blocks)).toContain('The plan table is not available.');
  });

  it('does skip runs not started from Slack without reading the ChatOps store', async () => {
    const s = fakeStore({});
    const d = deps(s.store, { [EAST]: eastPlan });
    const event = retentionEvent(false, [{ region: EAST, status: 'applied', plan: eastPlan, results: [] }], {
      type: 'schedule',
      eventId: 'e-1',
    });
    expect(await notifySlack(d, event)).toBe('no-record');
    expect(s.gets()).toBe(0);
    expect(d.bodies).toEqual([]);
    // A chatops run whose record is gone is skipped too.
    const none = deps(fakeStore().store, { [EAST]: eastPlan });
    expect(await notifySlack(none, retentionEvent(true, [{ region: EAST, status: 'planned', plan: eastPlan, results: [] }]))).toBe(
      'no-record',
    );
    expect(none.bodies).toEqual([]);
  });

  it('does post a duplicate RetentionPlanned once', async () => {
    const s = fakeStore({});
    const d = deps(s.store, { [EAST]: eastPlan });
    const event = retentionEvent(true, [{ region: EAST, status: 'planned', plan: eastPlan, results: [] }]);
    expect(await notifySlack(d, event)).toBe('posted');
    expect(await notifySlack(d, event)).toBe('duplicate');
    expect(d.bodies).toHaveLength(1);
  });

  it('does throw on a server error so EventBridge retries, recording nothing', async () => {
    const s = fakeStore({});
    const d = deps(s.store, { [EAST]: eastPlan }, 502);
    await expect(
      notifySlack(d, retentionEvent(true, [{ region: EAST, status: 'planned', plan: eastPlan, results: [] }])),
    ).rejects.toMatchObject({
      name: 'SlackPostError',
      message: expect.stringContaining(`retention run ${RUN_ID}`),
    });
    expect(s.saved()?.posted).toEqual([]);
  });
});
