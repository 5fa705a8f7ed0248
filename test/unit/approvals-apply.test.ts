import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetObjectCommand, PutObjectCommand, S3Client, type PutObjectCommandInput } from '@aws-sdk/client-s3';
import { SFNClient, SendTaskFailureCommand, SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { applyApprovalClick, publishApprovalDecided, type ApplyDeps } from '../../functions/lib/approvals/apply.js';
import { newApproval, type ApprovalRecord } from '../../functions/lib/approvals/decide.js';
import { parseGates, type Gate } from '../../functions/lib/approvals/gates.js';
import { COMMENT_BLOCK_ID } from '../../functions/lib/approvals/action-ids.js';
import { approvalClickBody, parseApprovalClick, type ApprovalClick } from '../../functions/lib/approvals/interactivity.js';
import { approvalMessage } from '../../functions/lib/approvals/message.js';
import { ApprovalStore } from '../../functions/lib/approvals/store.js';
import { SlackWebApi, type FetchLike } from '../../functions/lib/chatops/web-api.js';
import { Logger } from '../../functions/lib/logger.js';

const ID = '0b6d3c8e-6f0a-4a53-9d7e-0c1f6f7a1b2c';
const T0 = new Date('2026-12-01T10:00:00Z');
const EXECUTION = 'arn:aws:states:us-east-1:111122223333:execution:ami-factory-dev-image-factory:b1';

const s3 = mockClient(S3Client);
const sfn = mockClient(SFNClient);
const events = mockClient(EventBridgeClient);

function record(over: Partial<Gate> = {}): ApprovalRecord {
  const rule = parseGates(
    { publicShare: { approvers: { users: ['U0ALICE', 'U0BOB', 'U0CAROL'], userGroups: ['S0PLATFORM'] }, channel: 'C0APPROVE', ...over } },
    'web',
  ).publicShare as Gate;
  return {
    ...newApproval(
      {
        id: ID,
        family: 'web',
        gate: 'publicShare',
        rule,
        executionArn: EXECUTION,
        taskToken: 'AQtoken-1',
        requester: { userId: 'U0ALICE', reason: 'marketplace' },
        changes: ['us-east-1 ami-0123456789abcdef0 → public'],
      },
      T0,
    ),
    message: { channel: 'C0APPROVE', ts: '1764583200.000100' },
  };
}

/** The stored record: GetObject answers it with an ETag; PutObject (If-Match) replaces it. */
function stored(r: ApprovalRecord | undefined): void {
  let current = r;
  let etag = 1;
  s3.on(GetObjectCommand).callsFake(() => {
    if (current === undefined) throw Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey' });
    const text = JSON.stringify(current);
    return { Body: { transformToString: () => Promise.resolve(text) }, ETag: `"e${etag}"` };
  });
  s3.on(PutObjectCommand).callsFake((input: PutObjectCommandInput) => {
    current = JSON.parse(String(input.Body)) as ApprovalRecord;
    etag++;
    return {};
  });
}

const puts = (): ApprovalRecord[] =>
  s3.commandCalls(PutObjectCommand).map((c) => JSON.parse(String(c.args[0].input.Body)) as ApprovalRecord);

interface SlackCall {
  method: string;
  body: string;
}

function fakeSlack(groups: Record<string, string[]> = {}): { api: SlackWebApi; calls: SlackCall[] } {
  const calls: SlackCall[] = [];
  const fetch: FetchLike = (url, init) => {
    const method = url.split('/').pop() ?? '';
    calls.push({ method, body: init.body });
    const answer =
      method === 'usergroups.users.list'
        ? { ok: true, users: groups[new URLSearchParams(init.body).get('usergroup') ?? ''] ?? [] }
        : { ok: true, channel: 'C0APPROVE', ts: '1764583200.000100' };
    return Promise.resolve({ status: 200, headers: { get: () => null }, text: () => Promise.resolve(JSON.stringify(answer)) });
  };
  return { api: new SlackWebApi({ token: () => Promise.resolve('xoxb-test'), fetch }), calls };
}

function deps(slack: SlackWebApi | undefined, over: Partial<ApplyDeps> = {}): ApplyDeps {
  return {
    store: new ApprovalStore(new S3Client({}), 'state'),
    sfn: new SFNClient({}),
    events: new EventBridgeClient({}),
    eventBus: 'ami-factory-dev',
    slack,
    logger: new Logger('test'),
    now: () => new Date(T0.getTime() + 60_000),
    ...over,
  };
}

const click = (userId: string, decision: 'approve' | 'reject', comment?: string): ApprovalClick => ({
  approvalId: ID,
  decision,
  userId,
  channelId: 'C0APPROVE',
  messageTs: '1764583200.000100',
  ...(comment !== undefined ? { comment } : {}),
});

const eventDetails = (): Record<string, unknown>[] =>
  events
    .commandCalls(PutEventsCommand)
    .flatMap((c) => (c.args[0].input.Entries ?? []).map((e) => JSON.parse(e.Detail ?? '{}') as Record<string, unknown>));

beforeEach(() => {
  s3.reset();
  sfn.reset();
  events.reset();
  sfn.on(SendTaskSuccessCommand).resolves({});
  sfn.on(SendTaskFailureCommand).resolves({});
  events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e1' }] });
});

describe('applyApprovalClick', () => {
  it('decided: records the approval, updates the message, resumes the execution and publishes ApprovalDecided', async () => {
    stored(record());
    const slack = fakeSlack();
    const r = await applyApprovalClick(deps(slack.api), click('U0BOB', 'approve', 'looks fine'));
    expect(r.outcome).toEqual({ kind: 'decided', status: 'approved' });
    expect(r.resumed).toBe(true);
    expect(puts()).toHaveLength(1);
    expect(puts()[0]).toMatchObject({ status: 'approved', decisions: [{ userId: 'U0BOB', decision: 'approve', comment: 'looks fine' }] });
    const update = slack.calls.find((c) => c.method === 'chat.update');
    expect(JSON.parse(update?.body ?? '{}')).toMatchObject({ channel: 'C0APPROVE', ts: '1764583200.000100' });
    expect(update?.body).toContain('Approved by <@U0BOB>');
    expect(update?.body).not.toContain('ami-factory.approval.approve');
    expect(sfn).toHaveReceivedCommandWith(SendTaskSuccessCommand, { taskToken: 'AQtoken-1' });
    expect(eventDetails()).toEqual([
      expect.objectContaining({
        approvalId: ID,
        family: 'web',
        gate: 'publicShare',
        status: 'approved',
        executionArn: EXECUTION,
        requestedBy: 'U0ALICE',
        decidedBy: ['U0BOB'],
        comment: 'looks fine',
      }),
    ]);
    expect(r.answer).toBeUndefined();
  });

  it('a rejection fails the task with ApprovalRejected and the reason', async () => {
    stored(record());
    const r = await applyApprovalClick(deps(fakeSlack().api), click('U0CAROL', 'reject', 'not this quarter'));
    expect(r.outcome).toEqual({ kind: 'decided', status: 'rejected' });
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, {
      taskToken: 'AQtoken-1',
      error: 'ApprovalRejected',
      cause: expect.stringContaining('not this quarter'),
    });
    expect(eventDetails()[0]).toMatchObject({ status: 'rejected', decidedBy: ['U0CAROL'], comment: 'not this quarter' });
  });

  it('recorded: one of two approvals updates the message (waiting for one more) and resumes nothing', async () => {
    stored(record({ required: 2 }));
    const slack = fakeSlack();
    const r = await applyApprovalClick(deps(slack.api), click('U0BOB', 'approve'));
    expect(r.outcome).toEqual({ kind: 'recorded', remaining: 1 });
    expect(puts()).toHaveLength(1);
    expect(slack.calls.find((c) => c.method === 'chat.update')?.body).toContain('waiting for 1 more');
    expect(sfn.calls()).toHaveLength(0);
    expect(events.calls()).toHaveLength(0);
    expect(r.answer).toMatch(/waiting for 1 more/);
  });

  it('refused: the requester’s own approval writes nothing, updates nothing, resumes nothing', async () => {
    stored(record());
    const slack = fakeSlack();
    const r = await applyApprovalClick(deps(slack.api), click('U0ALICE', 'approve'));
    expect(r.outcome.kind).toBe('refused');
    expect(r.answer).toMatch(/two-person rule/);
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
    expect(slack.calls.filter((c) => c.method === 'chat.update')).toHaveLength(0);
    expect(sfn.calls()).toHaveLength(0);
    expect(events.calls()).toHaveLength(0);
  });

  it('a member of an approver group counts, resolved through usergroups.users.list', async () => {
    stored(record());
    const slack = fakeSlack({ S0PLATFORM: ['U0DAVE'] });
    const r = await applyApprovalClick(deps(slack.api), click('U0DAVE', 'approve'));
    expect(r.outcome).toEqual({ kind: 'decided', status: 'approved' });
    expect(slack.calls[0]).toEqual({ method: 'usergroups.users.list', body: 'usergroup=S0PLATFORM' });
  });

  it('without a bot token nobody is a group member, and the message is replaced through the response_url', async () => {
    stored(record());
    const posted: unknown[] = [];
    const respond = (_url: string, m: unknown): Promise<void> => {
      posted.push(m);
      return Promise.resolve();
    };
    const refused = await applyApprovalClick(deps(undefined, { respond }), {
      ...click('U0DAVE', 'approve'),
      responseUrl: 'https://hooks.slack.com/actions/T/1/x',
    });
    expect(refused.outcome.kind).toBe('refused');
    const ok = await applyApprovalClick(deps(undefined, { respond }), {
      ...click('U0BOB', 'approve'),
      responseUrl: 'https://hooks.slack.com/actions/T/1/x',
    });
    expect(ok.outcome.kind).toBe('decided');
    expect(posted).toEqual([expect.objectContaining({ replace_original: true, text: expect.stringContaining('Approved by') })]);
  });

  it('closed: a late click changes nothing, is answered politely, and only repeats the (idempotent) resume', async () => {
    stored({
      ...record(),
      status: 'approved',
      decidedAt: '2026-12-01T10:00:30.000Z',
      decisions: [{ userId: 'U0BOB', decision: 'approve', at: '2026-12-01T10:00:30.000Z' }],
    });
    sfn.on(SendTaskSuccessCommand).rejects(Object.assign(new Error('Task Timed Out'), { name: 'TaskTimedOut' }));
    const slack = fakeSlack();
    const r = await applyApprovalClick(deps(slack.api), click('U0CAROL', 'reject'));
    expect(r.outcome).toEqual({ kind: 'closed', status: 'approved' });
    expect(r.answer).toBe('This request was already approved by <@U0BOB>; your click changed nothing.');
    expect(r.resumed).toBe(false);
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
    expect(slack.calls).toHaveLength(0);
    expect(events.calls()).toHaveLength(0);
  });

  it('an unknown request (or a token Step Functions does not know) does not fail the click', async () => {
    stored(undefined);
    const unknown = await applyApprovalClick(deps(undefined), click('U0BOB', 'approve'));
    expect(unknown.outcome).toEqual({ kind: 'unknown' });
    expect(unknown.answer).toMatch(/not known/);

    stored(record());
    sfn.on(SendTaskSuccessCommand).rejects(Object.assign(new Error('Task Does Not Exist'), { name: 'TaskDoesNotExist' }));
    const r = await applyApprovalClick(deps(undefined), click('U0BOB', 'approve'));
    expect(r.outcome).toEqual({ kind: 'decided', status: 'approved' });
    expect(r.resumed).toBe(false);
    expect(eventDetails()).toHaveLength(1);
  });

  it('a click after the deadline expires the request: the task fails with ApprovalExpired, nobody decided', async () => {
    stored(record({ timeoutSeconds: 60 }));
    const r = await applyApprovalClick(deps(undefined, { now: () => new Date(T0.getTime() + 61_000) }), click('U0BOB', 'approve'));
    expect(r.outcome).toEqual({ kind: 'closed', status: 'expired' });
    expect(puts()[0]?.status).toBe('expired');
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, { error: 'ApprovalExpired' });
    expect(eventDetails()[0]).toMatchObject({ status: 'expired', decidedBy: [] });
  });
});

describe('publishApprovalDecided', () => {
  it('publishes nothing for a pending record', async () => {
    await publishApprovalDecided({ events: new EventBridgeClient({}), eventBus: 'bus' }, record());
    expect(events.calls()).toHaveLength(0);
  });
});

describe('the comment field of an approval request', () => {
  it('comes with the click (state.values), trimmed; an empty one is no comment', () => {
    const body = (comment?: string): string =>
      approvalClickBody({
        approvalId: ID,
        decision: 'reject',
        userId: 'U0BOB',
        channelId: 'C0APPROVE',
        ...(comment !== undefined ? { comment } : {}),
      });
    expect(parseApprovalClick(body('  not this quarter  ')).comment).toBe('not this quarter');
    expect(parseApprovalClick(body('   ')).comment).toBeUndefined();
    expect(parseApprovalClick(body()).comment).toBeUndefined();
    const m = approvalMessage(record(), 'C0APPROVE');
    expect(m.blocks).toContainEqual(expect.objectContaining({ type: 'input', block_id: COMMENT_BLOCK_ID, optional: true }));
  });
});
