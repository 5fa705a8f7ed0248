import {
  SLACK_API_BASE_URL,
  SlackApiError,
  SlackApiUrlNotAllowedError,
  SlackHttpError,
  SlackRateLimitedError,
  SlackWebApi,
  postApprovalRequest,
  slackApiBaseUrl,
  type FetchLike,
} from '../../functions/lib/chatops/web-api.js';
import { newApproval } from '../../functions/lib/approvals/decide.js';
import { parseGates, type Gate } from '../../functions/lib/approvals/gates.js';
import { APPROVE_ACTION_ID } from '../../functions/lib/approvals/action-ids.js';

interface Sent {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** A fake Slack: answers the queued responses in order and records what it was sent. */
function fakeSlack(responses: { status?: number; body: unknown; retryAfter?: string }[]): { fetch: FetchLike; sent: Sent[] } {
  const sent: Sent[] = [];
  const queue = [...responses];
  const fetch: FetchLike = (url, init) => {
    sent.push({ url, headers: init.headers, body: init.body });
    const r = queue.shift();
    if (r === undefined) return Promise.reject(new Error('no more responses'));
    const headers = new Map<string, string>(r.retryAfter !== undefined ? [['retry-after', r.retryAfter]] : []);
    return Promise.resolve({
      status: r.status ?? 200,
      headers: { get: (n: string) => headers.get(n.toLowerCase()) ?? null },
      text: () => Promise.resolve(typeof r.body === 'string' ? r.body : JSON.stringify(r.body)),
    });
  };
  return { fetch, sent };
}

function api(fetch: FetchLike, sleeps: number[] = []): SlackWebApi {
  return new SlackWebApi({
    token: () => Promise.resolve('xoxb-test'),
    fetch,
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
  });
}

describe('Slack Web API client', () => {
  it('posts a message as JSON with the bot token and returns its channel and ts', async () => {
    const slack = fakeSlack([{ body: { ok: true, channel: 'C0APPROVE', ts: '1700000000.000100', message: {} } }]);
    const ref = await api(slack.fetch).postMessage({ channel: 'C0APPROVE', text: 'hello', blocks: [] });
    expect(ref).toEqual({ channel: 'C0APPROVE', ts: '1700000000.000100' });
    expect(slack.sent[0]?.url).toBe(`${SLACK_API_BASE_URL}chat.postMessage`);
    expect(slack.sent[0]?.headers).toMatchObject({ authorization: 'Bearer xoxb-test', 'content-type': 'application/json; charset=utf-8' });
    expect(JSON.parse(slack.sent[0]?.body ?? '')).toEqual({ channel: 'C0APPROVE', text: 'hello', blocks: [] });
  });

  it('updates a message by channel and ts', async () => {
    const slack = fakeSlack([{ body: { ok: true, channel: 'C0APPROVE', ts: '1.2', text: 'x' } }]);
    await api(slack.fetch).update({ channel: 'C0APPROVE', ts: '1.2', text: 'approved' });
    expect(slack.sent[0]?.url).toBe(`${SLACK_API_BASE_URL}chat.update`);
    expect(JSON.parse(slack.sent[0]?.body ?? '')).toMatchObject({ channel: 'C0APPROVE', ts: '1.2', text: 'approved' });
  });

  it('lists a user group form-encoded and says which of the groups a user is in', async () => {
    const slack = fakeSlack([{ body: { ok: true, users: ['U0ALICE', 'U0BOB'] } }, { body: { ok: true, users: ['U0CAROL'] } }]);
    const groups = await api(slack.fetch).groupsOf('U0BOB', ['S0PLATFORM', 'S0SECURITY']);
    expect(groups).toEqual(['S0PLATFORM']);
    expect(slack.sent.map((s) => s.body).sort()).toEqual(['usergroup=S0PLATFORM', 'usergroup=S0SECURITY']);
    expect(slack.sent[0]?.headers['content-type']).toBe('application/x-www-form-urlencoded');
  });

  it('turns {ok:false,error} into SlackApiError with Slack’s code', async () => {
    const slack = fakeSlack([{ body: { ok: false, error: 'channel_not_found' } }]);
    const e = await api(slack.fetch)
      .postMessage({ channel: 'C0GONE', text: 'x' })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SlackApiError);
    expect(e).toMatchObject({ name: 'SlackApiError', method: 'chat.postMessage', code: 'channel_not_found' });
  });

  it('waits Retry-After seconds on a 429 and tries again', async () => {
    const sleeps: number[] = [];
    const slack = fakeSlack([
      { status: 429, body: { ok: false, error: 'ratelimited' }, retryAfter: '1' },
      { body: { ok: true, channel: 'C0A', ts: '1.1' } },
    ]);
    await expect(api(slack.fetch, sleeps).postMessage({ channel: 'C0A', text: 'x' })).resolves.toEqual({ channel: 'C0A', ts: '1.1' });
    expect(sleeps).toEqual([1000]);
    expect(slack.sent).toHaveLength(2);
  });

  it('gives up with SlackRateLimitedError when Retry-After is longer than it may wait', async () => {
    const sleeps: number[] = [];
    const slack = fakeSlack([{ status: 429, body: { ok: false, error: 'ratelimited' }, retryAfter: '30' }]);
    const e = await api(slack.fetch, sleeps)
      .update({ channel: 'C0A', ts: '1.1', text: 'x' })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SlackRateLimitedError);
    expect(e).toMatchObject({ name: 'SlackRateLimitedError', retryAfterSeconds: 30 });
    expect(sleeps).toEqual([]);
    expect(slack.sent).toHaveLength(1);
  });

  it('stops retrying 429s after maxRetries', async () => {
    const r429 = { status: 429, body: { ok: false, error: 'ratelimited' }, retryAfter: '0' };
    const slack = fakeSlack([r429, r429, r429, { body: { ok: true, channel: 'C0A', ts: '1' } }]);
    await expect(api(slack.fetch).postMessage({ channel: 'C0A', text: 'x' })).rejects.toThrow(SlackRateLimitedError);
    expect(slack.sent).toHaveLength(3);
  });

  it('names a non-JSON answer or an unreachable Slack SlackHttpError', async () => {
    await expect(
      api(fakeSlack([{ status: 502, body: '<html>bad gateway</html>' }]).fetch).postMessage({ channel: 'C0A', text: 'x' }),
    ).rejects.toThrow(SlackHttpError);
    await expect(api(fakeSlack([]).fetch).postMessage({ channel: 'C0A', text: 'x' })).rejects.toThrow(/could not be reached/);
  });

  it('accepts a base URL override only on loopback with the local-cloud flag', () => {
    expect(slackApiBaseUrl(undefined, false)).toBe(SLACK_API_BASE_URL);
    expect(slackApiBaseUrl('http://127.0.0.1:4566/slack/api', true)).toBe('http://127.0.0.1:4566/slack/api/');
    expect(() => slackApiBaseUrl('http://127.0.0.1:4566/slack/api/', false)).toThrow(SlackApiUrlNotAllowedError);
    expect(() => slackApiBaseUrl('https://evil.example/api/', true)).toThrow(SlackApiUrlNotAllowedError);
    expect(() => slackApiBaseUrl('http://127.0.0.1.evil.example/api/', true)).toThrow(SlackApiUrlNotAllowedError);
  });

  it('posts an approval request once: a record that has its message is not posted again', async () => {
    const rule = parseGates({ publicShare: { approvers: { users: ['U0ALICE', 'U0BOB'] }, channel: 'C0APPROVE' } }, 'web')
      .publicShare as Gate;
    const record = newApproval(
      {
        id: '0b6d3c8e-6f0a-4a53-9d7e-0c1f6f7a1b2c',
        family: 'web',
        gate: 'publicShare',
        rule,
        executionArn: 'arn:aws:states:us-east-1:111122223333:execution:image-factory:b1',
        taskToken: 'AQtoken',
        requester: { userId: 'U0ALICE' },
        changes: ['us-east-1 ami-0123456789abcdef0 → public'],
      },
      new Date('2026-12-01T10:00:00Z'),
    );
    const slack = fakeSlack([{ body: { ok: true, channel: 'C0APPROVE', ts: '9.9' } }]);
    const ref = await postApprovalRequest(record, api(slack.fetch));
    expect(ref).toEqual({ channel: 'C0APPROVE', ts: '9.9' });
    const posted = JSON.parse(slack.sent[0]?.body ?? '') as {
      channel: string;
      blocks: { type: string; elements?: { action_id: string }[] }[];
    };
    expect(posted.channel).toBe('C0APPROVE');
    expect(posted.blocks.find((b) => b.type === 'actions')?.elements?.[0]?.action_id).toBe(APPROVE_ACTION_ID);
    await expect(postApprovalRequest({ ...record, message: ref }, api(slack.fetch))).resolves.toEqual(ref);
    expect(slack.sent).toHaveLength(1);
  });
});
