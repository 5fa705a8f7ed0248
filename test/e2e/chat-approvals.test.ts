import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { S3Client } from '@aws-sdk/client-s3';
import { newApproval, type ApprovalRecord } from '../../functions/lib/approvals/decide.js';
import { parseGates, type Gate } from '../../functions/lib/approvals/gates.js';
import { approvalClickBody } from '../../functions/lib/approvals/interactivity.js';
import { ApprovalStore } from '../../functions/lib/approvals/store.js';
import { slackRequestHeaders } from '../../functions/lib/chatops/signature.js';
import { SlackWebApi, postApprovalRequest } from '../../functions/lib/chatops/web-api.js';
import { LOCAL_SLACK_SIGNING_SECRET } from '../../local/function-url.js';
import { LOCAL_SLACK_BOT_TOKEN } from '../../local/slack.js';
import { startHarness, type Harness } from '../workflow/harness.js';

/**
 * Approval clicks end to end on the local cloud: a request posted to the Slack stand-in with the
 * Web API client, clicked through the Slack function's /interactivity URL (the real handler, its
 * role, the state bucket), by hand and with `ami-factory chat --click` in a child process that
 * joins the cloud. The record's task token is one Step Functions does not know: the click must
 * not fail on it.
 */
const run = promisify(execFile);
const ID = '7d7c1d7e-2f43-4c55-8a0e-5b0b2a1f9e10';
const CHANNEL = 'C0APPROVE';

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, ['bin/ami-factory.js', ...args], { env: { ...process.env, NODE_OPTIONS: '' }, timeout: 120_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

describe('approval clicks on the local cloud', () => {
  let h: Harness;
  let s3: S3Client;
  let store: ApprovalStore;
  let interactivity: string;
  const nowMs = (): number => h.cloud.clock.nowMs();
  const stored = async (): Promise<ApprovalRecord | undefined> => store.get(ID);
  const click = (userId: string, decision: 'approve' | 'reject', extra: Record<string, string> = {}, at = nowMs()): RequestInit => {
    const body = approvalClickBody({ approvalId: ID, decision, userId, channelId: CHANNEL });
    return {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...slackRequestHeaders(LOCAL_SLACK_SIGNING_SECRET, body, at),
        ...extra,
      },
      body,
    };
  };

  beforeAll(async () => {
    // Real time: the CLI in another process signs with the cloud's clock, inside Slack's 5-minute window.
    h = await startHarness({ timeScale: 1 });
    s3 = new S3Client({
      region: 'us-east-1',
      endpoint: h.cloud.endpoint,
      credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' },
      forcePathStyle: true,
      maxAttempts: 1,
    });
    store = new ApprovalStore(s3, h.cloud.stateBucket);
    interactivity = `${h.cloud.functionUrl('slackCommand')}interactivity`;
    const rule = parseGates(
      { publicShare: { approvers: { users: ['U0ALICE', 'U0BOB', 'U0CAROL'] }, required: 2, channel: CHANNEL } },
      'web',
    ).publicShare as Gate;
    const record = await store.create(
      newApproval(
        {
          id: ID,
          family: 'web',
          gate: 'publicShare',
          rule,
          executionArn: `arn:aws:states:us-east-1:${h.cloud.accountId}:execution:ami-factory-dev-image-factory:web-test`,
          taskToken: 'AQunknown-task-token-0001',
          requester: { userId: 'U0ALICE', reason: 'marketplace listing' },
          changes: ['us-east-1 ami-0123456789abcdef0 → public'],
        },
        new Date(nowMs()),
      ),
    );
    const api = new SlackWebApi({ token: () => Promise.resolve(LOCAL_SLACK_BOT_TOKEN), baseUrl: `${h.cloud.endpoint}/slack/api/` });
    await store.setMessage(ID, await postApprovalRequest(record, api));
  }, 300_000);
  afterAll(async () => {
    s3.destroy();
    await h.close();
  });

  it('refuses a forged click (bad signature) with 401 and records nothing', async () => {
    const forged = click('U0BOB', 'approve');
    (forged.headers as Record<string, string>)['X-Slack-Signature'] = `v0=${'0'.repeat(64)}`;
    const r = await fetch(interactivity, forged);
    expect(r.status).toBe(401);
    expect(await r.json()).toEqual({ error: 'invalid_signature' });
    expect((await stored())?.decisions).toEqual([]);
  });

  it('acknowledges a Slack retry (X-Slack-Retry-Num) with an empty 200 and does not apply it', async () => {
    const r = await fetch(interactivity, click('U0CAROL', 'approve', { 'X-Slack-Retry-Num': '1', 'X-Slack-Retry-Reason': 'http_timeout' }));
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('');
    expect((await stored())?.decisions).toEqual([]);
  });

  it('refuses the requester’s own approval from `chat --click` (two-person rule), exit 1', async () => {
    const r = await cli('chat', '--click', 'approve', '--as', 'U0ALICE', ID, '--endpoint', h.cloud.endpoint);
    expect(r.stdout).toContain('two-person rule');
    expect(r.code).toBe(1);
    expect((await stored())?.decisions).toEqual([]);
  }, 120_000);

  it('records one approval of two from `chat --click` and updates the message in place', async () => {
    const r = await cli('chat', '--click', 'approve', '--as', 'U0BOB', '--comment', 'ok by me', ID, '--endpoint', h.cloud.endpoint);
    expect(r.stderr).not.toContain('✗');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Approved by @U0BOB; waiting for 1 more');
    expect(r.stdout).toContain('[Approve] [Reject]');
    expect((await stored())?.decisions).toEqual([expect.objectContaining({ userId: 'U0BOB', decision: 'approve', comment: 'ok by me' })]);
  }, 120_000);

  it('decides on the second approval (an unknown task token does not fail it), and refuses the same request replayed', async () => {
    const request = click('U0CAROL', 'approve');
    const r = await fetch(interactivity, request);
    expect(r.status).toBe(200);
    const record = await stored();
    expect(record?.status).toBe('approved');
    const message = h.cloud.slack.messages(CHANNEL).find((m) => m.ts === record?.message?.ts);
    expect(message?.text).toContain('Approved by <@U0BOB>, <@U0CAROL>');
    expect(JSON.stringify(message?.blocks)).not.toContain('ami-factory.approval.approve');
    expect(message?.versions).toHaveLength(2);
    await h.cloud.events.idle();
    const decided = h.cloud.events.log().find((l) => l.event['detail-type'] === 'ApprovalDecided');
    expect(decided?.event.detail).toMatchObject({ approvalId: ID, status: 'approved', decidedBy: ['U0BOB', 'U0CAROL'], family: 'web' });

    const replay = await fetch(interactivity, request);
    expect(replay.status).toBe(401);
    expect(await replay.json()).toEqual({ error: 'replayed_request' });
    expect((await stored())?.decisions).toHaveLength(2);
  });

  it('answers a late click politely from `chat --click` and changes nothing; `chat --approvals` shows the request and its updates', async () => {
    const late = await cli('chat', '--click', 'reject', '--as', 'U0CAROL', ID, '--endpoint', h.cloud.endpoint);
    expect(late.code).toBe(1);
    expect(late.stdout).toContain('This request was already approved by @U0BOB, @U0CAROL; your click changed nothing.');
    expect((await stored())?.status).toBe('approved');

    const shown = await cli('chat', '--approvals', '--channel', CHANNEL, '--endpoint', h.cloud.endpoint);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`(approval ${ID}`);
    expect(shown.stdout).toMatch(/version 1[\s\S]*Waiting for approval[\s\S]*\[Approve\] \[Reject\]/);
    expect(shown.stdout).toMatch(/now \(updated 2×\)[\s\S]*✓ Approved by @U0BOB, @U0CAROL/);
  }, 120_000);
});
