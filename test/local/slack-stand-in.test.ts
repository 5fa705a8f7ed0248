import type { LocalRequest } from '../../local/http.js';
import { LOCAL_SLACK_BOT_TOKEN, createSlackService, type SlackService } from '../../local/slack.js';

/** The local Slack stand-in answers the Web API as Slack does: 200 with {ok}, errors by code. */
function request(path: string, body: unknown, opts: { token?: string | null; form?: boolean; method?: string } = {}): LocalRequest {
  const headers: Record<string, string> = {
    'content-type': opts.form === true ? 'application/x-www-form-urlencoded' : 'application/json; charset=utf-8',
  };
  if (opts.token !== null) headers.authorization = `Bearer ${opts.token ?? LOCAL_SLACK_BOT_TOKEN}`;
  const text = opts.form === true ? new URLSearchParams(body as Record<string, string>).toString() : JSON.stringify(body);
  return {
    method: opts.method ?? 'POST',
    path,
    query: new URLSearchParams(),
    headers,
    body: Buffer.from(text),
    region: 'us-east-1',
    service: undefined,
    accessKeyId: undefined,
  };
}

async function call(slack: SlackService, req: LocalRequest): Promise<Record<string, unknown>> {
  const r = await slack.handle(req);
  expect(r.status).toBe(200);
  return JSON.parse(String(r.body)) as Record<string, unknown>;
}

describe('the local Slack stand-in', () => {
  let t = Date.parse('2026-12-01T10:00:00Z');
  const slack = createSlackService({ now: () => t });

  it('refuses a call without the bot token (not_authed) or with another (invalid_auth)', async () => {
    expect(await call(slack, request('/slack/api/chat.postMessage', { channel: 'C0A', text: 'x' }, { token: null }))).toEqual({
      ok: false,
      error: 'not_authed',
    });
    expect(await call(slack, request('/slack/api/chat.postMessage', { channel: 'C0A', text: 'x' }, { token: 'xoxb-other' }))).toEqual({
      ok: false,
      error: 'invalid_auth',
    });
    expect(slack.messages()).toEqual([]);
  });

  it('posts, then updates in place keeping the earlier version; refuses what Slack refuses', async () => {
    const posted = await call(slack, request('/slack/api/chat.postMessage', { channel: 'C0APPROVE', text: 'waiting', blocks: [] }));
    expect(posted).toMatchObject({ ok: true, channel: 'C0APPROVE', ts: `${t / 1000}.000000` });
    t += 1000;
    const ts = String(posted.ts);
    expect(await call(slack, request('/slack/api/chat.update', { channel: 'C0APPROVE', ts, text: 'approved' }))).toMatchObject({
      ok: true,
      ts,
    });
    const [m] = slack.messages('C0APPROVE');
    expect(m).toMatchObject({ text: 'approved', versions: [{ text: 'waiting' }] });
    expect(await call(slack, request('/slack/api/chat.update', { channel: 'C0APPROVE', ts: '1.000001', text: 'x' }))).toEqual({
      ok: false,
      error: 'message_not_found',
    });
    expect(await call(slack, request('/slack/api/chat.postMessage', { channel: 'general', text: 'x' }))).toEqual({
      ok: false,
      error: 'channel_not_found',
    });
    expect(await call(slack, request('/slack/api/chat.postMessage', { channel: 'C0A' }))).toEqual({ ok: false, error: 'no_text' });
    expect(await call(slack, request('/slack/api/chat.delete', { channel: 'C0A' }))).toEqual({ ok: false, error: 'unknown_method' });
  });

  it('lists a user group’s members (form-encoded), no_such_subteam for another', async () => {
    slack.setUserGroup('S0PLATFORM', ['U0DAVE']);
    expect(await call(slack, request('/slack/api/usergroups.users.list', { usergroup: 'S0PLATFORM' }, { form: true }))).toEqual({
      ok: true,
      users: ['U0DAVE'],
    });
    expect(await call(slack, request('/slack/api/usergroups.users.list', { usergroup: 'S0NOPE' }, { form: true }))).toEqual({
      ok: false,
      error: 'no_such_subteam',
    });
  });

  it('keeps what is posted to a response URL', async () => {
    expect(
      (await slack.handle(request('/slack/response/r1', { text: 'only you', response_type: 'ephemeral' }, { token: null }))).status,
    ).toBe(200);
    expect(slack.responses('r1')).toEqual([{ text: 'only you', response_type: 'ephemeral' }]);
  });
});
