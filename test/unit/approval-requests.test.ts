import { SFNClient, SendTaskFailureCommand, SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import * as z from 'zod';
import { applyClick, expireIfDue, type ApprovalRecord } from '../../functions/lib/approvals/decide.js';
import { buildGates, checkGates } from '../../functions/lib/approvals/hold.js';
import {
  approvalIdFor,
  describeSubject,
  GateNotConfiguredError,
  requestApproval,
  retiringOf,
  unpostedApprovals,
  type ApprovalPoster,
  type ApprovalTaskInput,
  type RequestApprovalDeps,
} from '../../functions/lib/approvals/request.js';
import { sweepApprovals } from '../../functions/lib/approvals/sweep.js';
import { buildReport } from '../../functions/lib/build-report.js';
import { BuildRequestSchema } from '../../functions/lib/build-request.js';
import { parseFactoryConfig, type FamilyConfig } from '../../functions/lib/config.js';
import { RetentionRequestSchema } from '../../functions/lib/retention/request.js';

const EXEC = 'arn:aws:states:us-east-1:111122223333:execution:image-factory:b1';
const T0 = new Date('2026-12-01T10:00:00Z');

const config = parseFactoryConfig(`
families:
  rel:
    region: us-east-1
    source: { type: instance, instanceId: i-0123456789abcdef0 }
    acknowledgeUnsanitizedPublic: true
    sharing: { public: true, accounts: ["444455556666"] }
    channels: [latest, stable]
    gates:
      publicShare: { approvers: { users: [U0ALICE, U0BOB] }, channel: C0APPROVALS, timeoutSeconds: 3600 }
      newAccounts: { approvers: { users: [U0ALICE, U0BOB, U0CAROL] }, required: 2, channel: C0APPROVALS }
      promote: { channels: [stable], approvers: { users: [U0ALICE, U0BOB] }, channel: C0APPROVALS }
      retentionApply: { aboveImages: 10, approvers: { users: [U0ALICE, U0BOB] }, channel: C0APPROVALS }
`);
const family = config.families.rel as FamilyConfig;

function request(sharing: Record<string, unknown> = { public: true, accounts: ['444455556666'] }) {
  return BuildRequestSchema.parse({
    buildId: 'b1234567-aaaa',
    family: 'rel',
    requestedAt: T0.toISOString(),
    region: 'us-east-1',
    source: { type: 'instance', instanceId: 'i-0123456789abcdef0', noReboot: false },
    trigger: { type: 'chatops', actor: 'U0ALICE (alice)' },
    acknowledgeUnsanitizedPublic: true,
    sharing,
  });
}

function input(token = 'token-1', gate: ApprovalTaskInput['gate'] = 'publicShare'): ApprovalTaskInput {
  return {
    token,
    executionArn: EXEC,
    step: 'share',
    gate,
    subject: { kind: 'build', request: request(), imageId: 'ami-0123', imageName: 'rel-1' },
  };
}

/** The approval store's semantics (create-once, compare-and-swap updates) over a Map. */
class MemoryStore {
  readonly records = new Map<string, ApprovalRecord>();
  create(r: ApprovalRecord): Promise<ApprovalRecord> {
    const existing = this.records.get(r.id);
    if (existing !== undefined) return Promise.resolve(existing);
    this.records.set(r.id, r);
    return Promise.resolve(r);
  }
  get(id: string): Promise<ApprovalRecord | undefined> {
    return Promise.resolve(this.records.get(id));
  }
  private change(id: string, f: (r: ApprovalRecord) => ApprovalRecord): Promise<ApprovalRecord> {
    const r = this.records.get(id);
    if (r === undefined) throw new Error(`no ${id}`);
    const next = f(r);
    this.records.set(id, next);
    return Promise.resolve(next);
  }
  expire(id: string, now: Date): Promise<ApprovalRecord> {
    return this.change(id, (r) => expireIfDue(r, now));
  }
  setMessage(id: string, message: { channel: string; ts: string }): Promise<ApprovalRecord> {
    return this.change(id, (r) => ({ ...r, message }));
  }
  setTaskToken(id: string, taskToken: string): Promise<ApprovalRecord> {
    return this.change(id, (r) => (r.status === 'pending' ? { ...r, taskToken } : r));
  }
}

describe('approval ids', () => {
  it('are UUIDs derived from the execution, the step and the gate', () => {
    const id = approvalIdFor(EXEC, 'share', 'publicShare');
    expect(z.uuid().safeParse(id).success).toBe(true);
    expect(approvalIdFor(EXEC, 'share', 'publicShare')).toBe(id);
    expect(
      new Set([
        id,
        approvalIdFor(EXEC, 'share', 'newAccounts'),
        approvalIdFor(EXEC, 'retention', 'publicShare'),
        approvalIdFor(`${EXEC}x`, 'share', 'publicShare'),
      ]).size,
    ).toBe(4);
  });
});

describe('requestApproval', () => {
  const sfn = mockClient(SFNClient);
  let store: MemoryStore;
  let posts: ApprovalRecord[];
  let warnings: string[];
  const poster: ApprovalPoster = {
    postApprovalRequest: (r) => {
      posts.push(r);
      return Promise.resolve({ channel: r.rule.channel, ts: '1700000000.000100' });
    },
  };
  const deps = (p: ApprovalPoster = poster, now = T0): RequestApprovalDeps => ({
    store,
    sfn: new SFNClient({}),
    poster: p,
    now: () => now,
    logger: { info: () => undefined, warn: (m: string) => void warnings.push(m) },
  });
  beforeEach(() => {
    sfn.reset();
    store = new MemoryStore();
    posts = [];
    warnings = [];
  });

  it('records a pending request with the gate’s rule, the requester and the changes, and posts it once', async () => {
    const first = await requestApproval(deps(), input(), family);
    expect(first).toEqual({
      approvalId: approvalIdFor(EXEC, 'share', 'publicShare'),
      status: 'pending',
      message: { channel: 'C0APPROVALS', ts: '1700000000.000100' },
      resumed: false,
    });
    const r = store.records.get(first.approvalId);
    expect(r?.requester.userId).toBe('U0ALICE');
    expect(r?.expiresAt).toBe('2026-12-01T11:00:00.000Z');
    expect(r?.changes).toEqual(['Make rel-1 public: ami-0123 in us-east-1']);
    // A retried invocation with the same token: nothing new, nothing posted twice, nothing resumed.
    await requestApproval(deps(), input(), family);
    expect(posts).toHaveLength(1);
    expect(sfn.calls()).toHaveLength(0);
  });

  it('records the request without posting when no bot token is configured', async () => {
    const r = await requestApproval(deps(unpostedApprovals), input(), family);
    expect(r.message).toBeNull();
    expect(store.records.get(r.approvalId)?.status).toBe('pending');
    expect(warnings[0]).toMatch(/not posted/);
  });

  it('lists only the targets the family does not share with for newAccounts', async () => {
    const i = input('t', 'newAccounts');
    const withNew = {
      ...i,
      subject: {
        kind: 'build' as const,
        request: request({ accounts: ['444455556666', '999988887777'] }),
        imageId: 'ami-0123',
        imageName: 'rel-1',
      },
    };
    const r = await requestApproval(deps(), withNew, family);
    expect(store.records.get(r.approvalId)?.changes).toEqual([
      'Share rel-1 (ami-0123 in us-east-1) with:',
      "999988887777 (not in the family's sharing)",
    ]);
  });

  it('gives a pending request the token of a retried task', async () => {
    const { approvalId } = await requestApproval(deps(), input('token-1'), family);
    await requestApproval(deps(), input('token-2'), family);
    expect(store.records.get(approvalId)?.taskToken).toBe('token-2');
    expect(posts).toHaveLength(1);
  });

  it('resumes a retried task at once when its request was already decided', async () => {
    const { approvalId } = await requestApproval(deps(), input('token-1'), family);
    const pending = store.records.get(approvalId) as ApprovalRecord;
    store.records.set(approvalId, applyClick(pending, { userId: 'U0BOB', userGroups: [], decision: 'approve', at: T0 }).record);
    sfn.on(SendTaskSuccessCommand).resolves({});
    const r = await requestApproval(deps(), input('token-2'), family);
    expect(r).toMatchObject({ status: 'approved', resumed: true });
    expect(sfn.commandCalls(SendTaskSuccessCommand)[0]?.args[0].input.taskToken).toBe('token-2');
  });

  it('expires and resumes a retried task whose request is past its deadline', async () => {
    await requestApproval(deps(), input('token-1'), family);
    sfn.on(SendTaskFailureCommand).resolves({});
    const r = await requestApproval(deps(poster, new Date(T0.getTime() + 3_601_000)), input('token-2'), family);
    expect(r).toMatchObject({ status: 'expired', resumed: true });
    expect(sfn.commandCalls(SendTaskFailureCommand)[0]?.args[0].input).toMatchObject({ taskToken: 'token-2', error: 'ApprovalExpired' });
  });

  it('refuses a gate the family does not declare, recording nothing', async () => {
    const noGates = parseFactoryConfig(`
families:
  plain:
    region: us-east-1
    source: { type: instance, instanceId: i-0123456789abcdef0 }
`).families.plain;
    await expect(requestApproval(deps(), input(), noGates)).rejects.toThrow(GateNotConfiguredError);
    expect(store.records.size).toBe(0);
  });
});

describe('which gates hold a step', () => {
  it('holds a public share, and a share with targets beyond the family’s', () => {
    expect(buildGates(family, request())).toEqual(['publicShare']);
    expect(buildGates(family, request({ accounts: ['444455556666'] }))).toEqual([]);
    expect(buildGates(family, request({ public: true, accounts: ['999988887777'] }))).toEqual(['publicShare', 'newAccounts']);
    expect(buildGates(undefined, request())).toEqual([]);
  });

  it('holds a promotion to a gated channel, never a rollback', () => {
    const op = (channel: string, operation: 'promote' | 'rollback' = 'promote') =>
      operation === 'promote'
        ? { operation, family: 'rel', channel, target: 'b1', by: { type: 'cli' as const } }
        : { operation, family: 'rel', channel, by: { type: 'cli' as const } };
    expect(checkGates(family, { kind: 'promote', operation: op('stable') })).toEqual({ gates: ['promote'], held: true });
    expect(checkGates(family, { kind: 'promote', operation: op('latest') }).held).toBe(false);
    expect(checkGates(family, { kind: 'promote', operation: op('stable', 'rollback') }).held).toBe(false);
  });

  it('holds a retention run that would retire more than aboveImages, counting disables and deregistrations of planned regions', () => {
    const plans = (east: number, west: number) => [
      { region: 'us-east-1', status: 'planned', counts: { keep: 5, deprecate: 9, disable: east, deregister: 0 } },
      { region: 'us-west-2', status: 'planned', counts: { keep: 5, deprecate: 0, disable: 0, deregister: west } },
      { region: 'eu-west-1', status: 'plan-failed' },
    ];
    expect(retiringOf(plans(6, 5))).toBe(11);
    expect(checkGates(family, { kind: 'retention', family: 'rel', plans: plans(6, 5) })).toEqual({
      gates: ['retentionApply'],
      held: true,
      retiring: 11,
      gated: true,
    });
    expect(checkGates(family, { kind: 'retention', family: 'rel', plans: plans(5, 5) })).toEqual({
      gates: [],
      held: false,
      retiring: 10,
      gated: true,
    });
  });

  it('says before planning whether a family has a retentionApply gate at all (the state machine then plans every region first)', () => {
    expect(checkGates(family, { kind: 'retention', family: 'rel', plans: [] })).toMatchObject({ held: false, gated: true });
    const { retentionApply: _dropped, ...others } = family.gates ?? {};
    expect(checkGates({ ...family, gates: others }, { kind: 'retention', family: 'rel', plans: [] })).toMatchObject({
      held: false,
      gated: false,
    });
    expect(checkGates(undefined, { kind: 'retention', family: 'rel', plans: [] })).toMatchObject({ gated: false });
  });
});

describe('sweepApprovals', () => {
  const sfn = mockClient(SFNClient);
  beforeEach(() => sfn.reset());

  it('expires the requests past their deadline and resumes them with ApprovalExpired, once', async () => {
    const store = new MemoryStore();
    const deps = (now: Date, decided: ApprovalRecord[]) => ({
      ids: () => Promise.resolve([...store.records.keys()]),
      store,
      sfn: new SFNClient({}),
      now: () => now,
      onDecided: (r: ApprovalRecord) => {
        decided.push(r);
        return Promise.resolve();
      },
    });
    const req = deps(T0, []);
    await requestApproval(
      { ...req, poster: unpostedApprovals, logger: { info: () => undefined, warn: () => undefined } },
      input('tok-a'),
      family,
    );
    await requestApproval(
      { ...req, poster: unpostedApprovals, logger: { info: () => undefined, warn: () => undefined } },
      { ...input('tok-b'), executionArn: `${EXEC}-2` },
      family,
    );
    const [first] = [...store.records.keys()];
    // The second request was made later: only the first is due at T0 + 1 h.
    store.records.set(first ?? '', { ...(store.records.get(first ?? '') as ApprovalRecord), expiresAt: '2026-12-01T10:30:00.000Z' });
    sfn.on(SendTaskFailureCommand).resolves({});

    const decided: ApprovalRecord[] = [];
    const at = new Date('2026-12-01T10:45:00Z');
    expect(await sweepApprovals(deps(at, decided))).toEqual({ pending: 1, expired: 1, resumed: 1 });
    expect(sfn.commandCalls(SendTaskFailureCommand).map((c) => c.args[0].input)).toEqual([
      expect.objectContaining({ taskToken: 'tok-a', error: 'ApprovalExpired' }),
    ]);
    expect(decided.map((r) => r.status)).toEqual(['expired']);
    expect(await sweepApprovals(deps(at, decided))).toEqual({ pending: 1, expired: 0, resumed: 0 });
    expect(sfn.commandCalls(SendTaskFailureCommand)).toHaveLength(1);
  });
});

describe('the build report of a gated share', () => {
  const base = { request: request(), home: { imageId: 'ami-0123', imageName: 'rel-1' }, copies: [], error: null };

  it('reports a withheld share (rejected) as a partial success, with the reason', () => {
    const { outcome, detail } = buildReport({
      ...base,
      approvalError: { Error: 'ApprovalRejected', Cause: 'rejected by U0BOB at 2026-12-01T10:05:00.000Z: no' },
    });
    expect(outcome).toBe('BuildPartiallySucceeded');
    expect(detail.approvals).toEqual([{ status: 'rejected', reason: 'rejected by U0BOB at 2026-12-01T10:05:00.000Z: no' }]);
  });

  it('reports the approvers of an approved share, and leaves an ungated build’s report as it was', () => {
    const approved = buildReport({
      ...base,
      approvals: [{ approvalId: 'a1', status: 'approved', approvers: ['U0BOB'], decidedAt: '2026-12-01T10:05:00.000Z' }],
    });
    expect(approved.outcome).toBe('BuildSucceeded');
    expect(approved.detail.approvals).toEqual([
      { status: 'approved', approvalId: 'a1', approvers: ['U0BOB'], decidedAt: '2026-12-01T10:05:00.000Z' },
    ]);
    expect(buildReport(base).detail).not.toHaveProperty('approvals');
  });
});

describe('the changes a retention request lists', () => {
  it('counts what each region would retire, with a link to its plan', () => {
    const { changes, requester } = describeSubject(
      {
        kind: 'retention',
        bucket: 'factory-state',
        request: RetentionRequestSchema.parse({
          runId: 'run-12345678',
          family: 'rel',
          requestedAt: T0.toISOString(),
          regions: ['us-east-1', 'us-west-2'],
          dryRun: false,
          trigger: { type: 'schedule' },
          policy: { keepNewest: 2, maxAgeDays: 90, disableGraceDays: 0, excludeTags: {} },
        }),
        plans: [
          {
            region: 'us-east-1',
            status: 'planned',
            planKey: 'retention/runs/run-12345678/us-east-1/plan.json',
            counts: { keep: 2, deprecate: 1, disable: 3, deregister: 9 },
          },
          { region: 'us-west-2', status: 'plan-failed' },
        ],
      },
      'retentionApply',
      family,
    );
    expect(changes).toEqual([
      'Retire 12 images of rel:',
      'us-east-1: deregister 9, disable 3, deprecate 1, keep 2 — plan s3://factory-state/retention/runs/run-12345678/us-east-1/plan.json',
      'us-west-2: no plan (plan-failed)',
    ]);
    expect(requester.userId).toBe('schedule');
  });
});
