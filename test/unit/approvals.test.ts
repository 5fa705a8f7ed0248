import { GetObjectCommand, PutObjectCommand, S3Client, type PutObjectCommandInput } from '@aws-sdk/client-s3';
import { SFNClient, SendTaskFailureCommand, SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { applyClick, approversOf, newApproval, type ApprovalRecord, type Click } from '../../functions/lib/approvals/decide.js';
import { GateConfigError, gatesFor, parseGates, type Gate } from '../../functions/lib/approvals/gates.js';
import { APPROVE_ACTION_ID, REJECT_ACTION_ID } from '../../functions/lib/approvals/action-ids.js';
import { SlackInteractionError, approvalClickBody, parseApprovalClick } from '../../functions/lib/approvals/interactivity.js';
import { approvalMessage } from '../../functions/lib/approvals/message.js';
import { APPROVAL_ERROR, ApprovalPendingError, resumeExecution, resumptionFor } from '../../functions/lib/approvals/resume.js';
import { ApprovalContentionError, ApprovalStore } from '../../functions/lib/approvals/store.js';

const ID = '0b6d3c8e-6f0a-4a53-9d7e-0c1f6f7a1b2c';
const T0 = new Date('2026-12-01T10:00:00Z');
const later = (s: number): Date => new Date(T0.getTime() + s * 1000);

function gate(over: Partial<Gate> = {}): Gate {
  return parseGates({ publicShare: { approvers: { users: ['U0ALICE', 'U0BOB', 'U0CAROL'] }, channel: 'C0APPROVE', ...over } }, 'web')
    .publicShare as Gate;
}

function pending(rule: Gate = gate()): ApprovalRecord {
  return newApproval(
    {
      id: ID,
      family: 'web',
      gate: 'publicShare',
      rule,
      executionArn: 'arn:aws:states:us-east-1:111122223333:execution:image-factory:b1',
      taskToken: 'token-1',
      requester: { userId: 'U0ALICE', reason: 'public marketplace test' },
      changes: ['us-east-1 ami-0123456789abcdef0 → public'],
    },
    T0,
  );
}

const click = (userId: string, decision: 'approve' | 'reject', atSeconds = 60, userGroups: string[] = []): Click => ({
  userId,
  userGroups,
  decision,
  at: later(atSeconds),
});

describe('gates config', () => {
  it('fills the defaults: one approver, two-person rule, 24 h', () => {
    const g = gate();
    expect(g).toMatchObject({ required: 1, requesterMayApprove: false, timeoutSeconds: 86_400 });
  });

  it('refuses a gate no request could ever pass, naming it', () => {
    const bad = (): unknown =>
      parseGates({ newAccounts: { approvers: { users: ['U0ALICE', 'U0BOB'] }, required: 2, channel: 'C0X' } }, 'web');
    expect(bad).toThrow(GateConfigError);
    expect(bad).toThrow(/newAccounts: needs 2 approver\(s\) other than the requester but lists 2 user/);
    expect(() => parseGates({ publicShare: { approvers: {}, channel: 'C0X' } }, 'web')).toThrow(/names no approver/);
    // With the requester allowed, two listed users can approve a request by either.
    expect(
      parseGates({ newAccounts: { approvers: { users: ['U0A1', 'U0B1'] }, required: 2, requesterMayApprove: true, channel: 'C0X' } }, 'web')
        .newAccounts?.required,
    ).toBe(2);
  });

  it('refuses unknown keys and out-of-range timeouts', () => {
    expect(() => parseGates({ publicShare: { approvers: { users: ['U0A1', 'U0B1'] }, channel: 'C0X', quorum: 2 } }, 'web')).toThrow(
      GateConfigError,
    );
    expect(() =>
      parseGates({ publicShare: { approvers: { users: ['U0A1', 'U0B1'] }, channel: 'C0X', timeoutSeconds: 30 } }, 'web'),
    ).toThrow(/timeoutSeconds/);
  });

  it('holds only the changes its gates name', () => {
    const gates = parseGates(
      {
        publicShare: { approvers: { users: ['U0A1', 'U0B1'] }, channel: 'C0X' },
        newAccounts: { approvers: { userGroups: ['S0PLATFORM'] }, channel: 'C0X' },
        promote: { channels: ['stable'], approvers: { users: ['U0A1', 'U0B1'] }, channel: 'C0X' },
        retentionApply: { aboveImages: 20, approvers: { users: ['U0A1', 'U0B1'] }, channel: 'C0X' },
      },
      'web',
    );
    const kinds = (c: Parameters<typeof gatesFor>[1], configured: string[] = []): string[] =>
      gatesFor(gates, c, configured).map((h) => h.kind);
    expect(kinds({ kind: 'share', public: true, targets: [] })).toEqual(['publicShare']);
    expect(kinds({ kind: 'share', public: false, targets: ['444455556666'] }, ['444455556666'])).toEqual([]);
    expect(kinds({ kind: 'share', public: true, targets: ['777788889999'] }, ['444455556666'])).toEqual(['publicShare', 'newAccounts']);
    expect(kinds({ kind: 'promote', channel: 'stable' })).toEqual(['promote']);
    expect(kinds({ kind: 'promote', channel: 'latest' })).toEqual([]);
    expect(kinds({ kind: 'retentionApply', retiring: 20 })).toEqual([]);
    expect(kinds({ kind: 'retentionApply', retiring: 21 })).toEqual(['retentionApply']);
    expect(gatesFor(parseGates(undefined, 'web'), { kind: 'share', public: true, targets: ['1'] })).toEqual([]);
  });
});

describe('a click on an approval request', () => {
  it('approves with one allowed approver other than the requester', () => {
    const r = applyClick(pending(), click('U0BOB', 'approve'));
    expect(r.outcome).toEqual({ kind: 'decided', status: 'approved' });
    expect(r.record.status).toBe('approved');
    expect(r.record.decidedAt).toBe(later(60).toISOString());
    expect(approversOf(r.record)).toEqual(['U0BOB']);
  });

  it('refuses the requester approving their own change under the two-person rule, and records nothing', () => {
    const before = pending();
    const r = applyClick(before, click('U0ALICE', 'approve'));
    expect(r.outcome).toEqual({ kind: 'refused', reason: expect.stringMatching(/two-person rule/) as string });
    expect(r.changed).toBe(false);
    expect(r.record.decisions).toEqual([]);
  });

  it('lets the requester approve when the gate allows it, and withdraw (reject) always', () => {
    expect(applyClick(pending(gate({ requesterMayApprove: true })), click('U0ALICE', 'approve')).outcome.kind).toBe('decided');
    expect(applyClick(pending(), click('U0ALICE', 'reject')).record.status).toBe('rejected');
  });

  it('refuses someone who is not an approver, and accepts a member of an approver group', () => {
    expect(applyClick(pending(), click('U0MALLORY', 'approve')).outcome).toMatchObject({ kind: 'refused' });
    const byGroup = pending(parseGates({ publicShare: { approvers: { userGroups: ['S0SEC'] }, channel: 'C0X' } }, 'web').publicShare);
    expect(applyClick(byGroup, click('U0DAVE', 'approve', 60, ['S0SEC'])).outcome).toEqual({ kind: 'decided', status: 'approved' });
    expect(applyClick(byGroup, click('U0DAVE', 'approve', 60, ['S0OTHER'])).outcome.kind).toBe('refused');
  });

  it('needs two distinct approvers when required is 2; the same person twice counts once', () => {
    const first = applyClick(pending(gate({ required: 2 })), click('U0BOB', 'approve'));
    expect(first.outcome).toEqual({ kind: 'recorded', remaining: 1 });
    expect(first.record.status).toBe('pending');
    const again = applyClick(first.record, click('U0BOB', 'approve', 90));
    expect(again.outcome).toMatchObject({ kind: 'refused', reason: expect.stringMatching(/already decided/) as string });
    const second = applyClick(first.record, click('U0CAROL', 'approve', 120));
    expect(second.outcome).toEqual({ kind: 'decided', status: 'approved' });
    expect(approversOf(second.record)).toEqual(['U0BOB', 'U0CAROL']);
  });

  it('rejects on one allowed rejection, and a late click changes nothing', () => {
    const rejected = applyClick(pending(gate({ required: 2 })), click('U0BOB', 'reject'));
    expect(rejected.record.status).toBe('rejected');
    const late = applyClick(rejected.record, click('U0CAROL', 'approve', 120));
    expect(late).toEqual({ record: rejected.record, outcome: { kind: 'closed', status: 'rejected' }, changed: false });
  });

  it('expires after the gate timeout: the first click after the deadline closes it as expired', () => {
    const rec = pending(gate({ timeoutSeconds: 3600 }));
    expect(applyClick(rec, click('U0BOB', 'approve', 3599)).outcome.kind).toBe('decided');
    const late = applyClick(rec, click('U0BOB', 'approve', 3600));
    expect(late.outcome).toEqual({ kind: 'closed', status: 'expired' });
    expect(late.changed).toBe(true);
    expect(late.record.decisions).toEqual([]);
  });
});

describe('interactivity payloads', () => {
  const body = (decision: 'approve' | 'reject' = 'approve'): string =>
    approvalClickBody({
      approvalId: ID,
      decision,
      userId: 'U0BOB',
      channelId: 'C0APPROVE',
      responseUrl: 'https://hooks.slack.com/actions/T/1/x',
    });

  it('reads the approval id, decision, user and where to answer', () => {
    expect(parseApprovalClick(body())).toEqual({
      approvalId: ID,
      decision: 'approve',
      userId: 'U0BOB',
      teamId: 'T0LOCAL',
      channelId: 'C0APPROVE',
      messageTs: '0.000000',
      responseUrl: 'https://hooks.slack.com/actions/T/1/x',
    });
    expect(parseApprovalClick(body('reject')).decision).toBe('reject');
  });

  it('refuses what is not a click on our buttons, with a named error', () => {
    const form = (payload: unknown): string => new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    const cases: [string, RegExp][] = [
      ['', /no payload/],
      ['payload=%7Bnot-json', /not JSON/],
      [form({ type: 'view_submission' }), /type view_submission/],
      [form({ type: 'block_actions', user: { id: 'U0BOB' }, actions: [{ action_id: 'other', value: ID }] }), /not on an approval button/],
      [form({ type: 'block_actions', user: { id: 'U0BOB' }, actions: [{ action_id: APPROVE_ACTION_ID, value: 'x' }] }), /no approval id/],
      [form({ type: 'block_actions', user: { id: 'nobody' }, actions: [{ action_id: REJECT_ACTION_ID, value: ID }] }), /user\.id/],
    ];
    for (const [raw, message] of cases) {
      expect(() => parseApprovalClick(raw)).toThrow(SlackInteractionError);
      expect(() => parseApprovalClick(raw)).toThrow(message);
    }
  });
});

describe('the approval message', () => {
  it('shows the change, who asked and why, and both buttons while pending', () => {
    const m = approvalMessage(pending(gate({ required: 2 })), 'C0APPROVE');
    const text = JSON.stringify(m.blocks);
    expect(m.channel).toBe('C0APPROVE');
    expect(text).toContain('ami-0123456789abcdef0');
    expect(text).toContain('<@U0ALICE>');
    expect(text).toContain('public marketplace test');
    expect(text).toContain('not the requester');
    const actions = m.blocks.find((b) => b.type === 'actions');
    expect(actions).toMatchObject({
      elements: [
        { action_id: APPROVE_ACTION_ID, value: ID },
        { action_id: REJECT_ACTION_ID, value: ID },
      ],
    });
  });

  it('is updated in place: waiting for one more, then approved by both, without buttons', () => {
    const one = applyClick(pending(gate({ required: 2 })), click('U0BOB', 'approve')).record;
    expect(approvalMessage(one, 'C0X').text).toMatch(/Approved by <@U0BOB>; waiting for 1 more/);
    const two = applyClick(one, click('U0CAROL', 'approve', 90)).record;
    const m = approvalMessage(two, 'C0X');
    expect(m.text).toMatch(/Approved by <@U0BOB>, <@U0CAROL>/);
    expect(m.blocks.some((b) => b.type === 'actions')).toBe(false);
  });

  it('escapes user text so it cannot mention or link', () => {
    const rec = { ...pending(), requester: { userId: 'U0ALICE', reason: '<!channel> see <https://evil>' } };
    expect(JSON.stringify(approvalMessage(rec, 'C0X').blocks)).not.toContain('<!channel>');
  });
});

describe('ApprovalStore', () => {
  const s3 = mockClient(S3Client);
  afterEach(() => s3.reset());
  const body = (r: ApprovalRecord): { transformToString: () => Promise<string> } => ({ transformToString: async () => JSON.stringify(r) });
  /** GetObject answers the records in turn (the last one from then on). */
  const reads = (...answers: [ApprovalRecord, string][]): void => {
    let n = 0;
    s3.on(GetObjectCommand).callsFake(() => {
      const [r, etag] = answers[Math.min(n++, answers.length - 1)] as [ApprovalRecord, string];
      return { Body: body(r), ETag: etag };
    });
  };
  const conflict = Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), {
    name: 'PreconditionFailed',
  });

  it('re-reads and re-applies a click when another writer won the race (If-Match)', async () => {
    const base = pending(gate({ required: 2 }));
    const carolFirst = applyClick(base, click('U0CAROL', 'approve', 30)).record;
    reads([base, '"e1"'], [carolFirst, '"e2"']);
    s3.on(PutObjectCommand).rejectsOnce(conflict).resolves({});
    const r = await new ApprovalStore(new S3Client({}), 'state').click(ID, click('U0BOB', 'approve'));
    expect(r.outcome).toEqual({ kind: 'decided', status: 'approved' });
    const puts = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input as PutObjectCommandInput);
    expect(puts.map((p) => p.IfMatch)).toEqual(['"e1"', '"e2"']);
    expect(approversOf(JSON.parse(String(puts[1]?.Body)) as ApprovalRecord)).toEqual(['U0CAROL', 'U0BOB']);
  });

  it('writes nothing for a refused click, and gives up with a named error under endless contention', async () => {
    reads([pending(), '"e1"']);
    const store = new ApprovalStore(new S3Client({}), 'state');
    expect((await store.click(ID, click('U0ALICE', 'approve'))).outcome.kind).toBe('refused');
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
    s3.on(PutObjectCommand).rejects(conflict);
    await expect(store.click(ID, click('U0BOB', 'approve'))).rejects.toThrow(ApprovalContentionError);
  });

  it('creates a record once: a retried gate keeps the decisions already made', async () => {
    const decided = applyClick(pending(), click('U0BOB', 'approve')).record;
    s3.on(PutObjectCommand).rejects(conflict);
    reads([decided, '"e9"']);
    const stored = await new ApprovalStore(new S3Client({}), 'state').create(pending());
    expect(stored.status).toBe('approved');
    expect((s3.commandCalls(PutObjectCommand)[0]?.args[0].input as PutObjectCommandInput).IfNoneMatch).toBe('*');
  });
});

describe('resuming the waiting execution', () => {
  const sfn = mockClient(SFNClient);
  afterEach(() => sfn.reset());

  it('continues on approval with the approvers, fails the task with a named error on rejection or expiry', async () => {
    sfn.on(SendTaskSuccessCommand).resolves({});
    sfn.on(SendTaskFailureCommand).resolves({});
    const client = new SFNClient({});
    const approved = applyClick(pending(gate({ required: 2 })), click('U0BOB', 'approve')).record;
    await expect(resumeExecution(client, approved)).rejects.toThrow(ApprovalPendingError);
    const done = applyClick(approved, click('U0CAROL', 'approve', 90)).record;
    expect(await resumeExecution(client, done)).toBe(true);
    const success = sfn.commandCalls(SendTaskSuccessCommand)[0]?.args[0].input;
    expect(success?.taskToken).toBe('token-1');
    expect(JSON.parse(success?.output ?? '{}')).toMatchObject({ status: 'approved', approvers: ['U0BOB', 'U0CAROL'] });

    const rejected = applyClick(pending(), { ...click('U0BOB', 'reject'), comment: 'not this quarter' }).record;
    await resumeExecution(client, rejected);
    expect(sfn.commandCalls(SendTaskFailureCommand)[0]?.args[0].input).toMatchObject({
      error: APPROVAL_ERROR.rejected,
      cause: expect.stringMatching(/U0BOB.*not this quarter/) as string,
    });
    expect(resumptionFor(applyClick(pending(), click('U0BOB', 'approve', 86_400)).record)).toMatchObject({
      kind: 'failure',
      error: APPROVAL_ERROR.expired,
    });
  });

  it('treats a token Step Functions no longer knows as already resumed, but not a malformed one', async () => {
    const done = applyClick(pending(), click('U0BOB', 'approve')).record;
    sfn.on(SendTaskSuccessCommand).rejectsOnce(Object.assign(new Error('gone'), { name: 'TaskDoesNotExist' }));
    expect(await resumeExecution(new SFNClient({}), done)).toBe(false);
    sfn.on(SendTaskSuccessCommand).rejects(Object.assign(new Error('bad'), { name: 'InvalidToken' }));
    await expect(resumeExecution(new SFNClient({}), done)).rejects.toThrow('bad');
  });
});
