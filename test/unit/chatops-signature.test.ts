import { createHmac } from 'node:crypto';
import {
  SlackSignatureError,
  signSlackRequest,
  slackRetryOf,
  slackRequestHeaders,
  verifySlackRequest,
  type SlackSignatureReason,
} from '../../functions/lib/chatops/signature.js';
import { installClock } from '../../functions/lib/clock.js';
import { ConfigurationError } from '../../functions/lib/errors.js';

const secret = '8f742231b10e8888abcd99yyyzzz85a5';
const body = 'token=x&team_id=T123&command=%2Fami&text=bake+web&user_id=U123';
const nowMs = 1_700_000_000_000;
const now = (): number => nowMs;
const ts = String(nowMs / 1000);

function reasonOf(fn: () => void): SlackSignatureReason | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof SlackSignatureError) return e.reason;
    throw e;
  }
  return undefined;
}

describe('Slack request signature', () => {
  it('does accept a request when it is signed with the secret and fresh', () => {
    // Prepare
    const headers = { 'x-slack-request-timestamp': ts, 'x-slack-signature': signSlackRequest(secret, ts, body) };
    // Act
    const act = (): void => {
      verifySlackRequest({ signingSecret: secret, headers, rawBody: body, now });
    };
    // Assess
    expect(act).not.toThrow();
  });

  it('does produce the HMAC Slack documents when signing', () => {
    // Prepare
    const expected = createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex');
    // Act
    const signature = signSlackRequest(secret, ts, body);
    // Assess
    expect(signature).toBe(`v0=${expected}`);
  });

  it('does accept headers in any case and a Buffer body when they come from slackRequestHeaders', () => {
    // Prepare
    const headers = slackRequestHeaders(secret, body, nowMs);
    // Act
    const act = (): void => {
      verifySlackRequest({ signingSecret: secret, headers, rawBody: Buffer.from(body), now });
    };
    // Assess
    expect(headers['X-Slack-Request-Timestamp']).toBe(ts);
    expect(act).not.toThrow();
  });

  it('does accept an upper-case hex signature and multi-valued headers', () => {
    // Prepare
    const sig = signSlackRequest(secret, ts, body).replace(/^v0=/, '');
    const headers = { 'X-Slack-Request-Timestamp': [ts], 'X-Slack-Signature': [`v0=${sig.toUpperCase()}`] };
    // Act / Assess
    expect(() => verifySlackRequest({ signingSecret: secret, headers, rawBody: body, now })).not.toThrow();
  });

  it('does refuse with mismatch when the secret is wrong', () => {
    const headers = slackRequestHeaders('another-secret', body, nowMs);
    expect(reasonOf(() => verifySlackRequest({ signingSecret: secret, headers, rawBody: body, now }))).toBe('mismatch');
  });

  it('does refuse with mismatch when the body was tampered with', () => {
    const headers = slackRequestHeaders(secret, body, nowMs);
    const tampered = body.replace('bake+web', 'expire+web+--apply');
    expect(reasonOf(() => verifySlackRequest({ signingSecret: secret, headers, rawBody: tampered, now }))).toBe('mismatch');
  });

  it('does refuse with mismatch when the timestamp header was changed', () => {
    // Prepare: signed one second earlier, header says now.
    const headers = { 'x-slack-request-timestamp': ts, 'x-slack-signature': signSlackRequest(secret, Number(ts) - 1, body) };
    // Act / Assess
    expect(reasonOf(() => verifySlackRequest({ signingSecret: secret, headers, rawBody: body, now }))).toBe('mismatch');
  });

  it('does refuse with stale when the timestamp is older than five minutes', () => {
    const headers = slackRequestHeaders(secret, body, nowMs - 301_000);
    expect(reasonOf(() => verifySlackRequest({ signingSecret: secret, headers, rawBody: body, now }))).toBe('stale');
  });

  it('does accept a request when it is exactly five minutes old', () => {
    const headers = slackRequestHeaders(secret, body, nowMs - 300_000);
    expect(reasonOf(() => verifySlackRequest({ signingSecret: secret, headers, rawBody: body, now }))).toBeUndefined();
  });

  it('does refuse with stale when the timestamp is more than five minutes in the future', () => {
    const headers = slackRequestHeaders(secret, body, nowMs + 301_000);
    expect(reasonOf(() => verifySlackRequest({ signingSecret: secret, headers, rawBody: body, now }))).toBe('stale');
  });

  it('does judge staleness by maxSkewSeconds when one is given', () => {
    const headers = slackRequestHeaders(secret, body, nowMs - 61_000);
    expect(reasonOf(() => verifySlackRequest({ signingSecret: secret, headers, rawBody: body, now, maxSkewSeconds: 60 }))).toBe('stale');
    expect(reasonOf(() => verifySlackRequest({ signingSecret: secret, headers, rawBody: body, now, maxSkewSeconds: 61 }))).toBeUndefined();
  });

  it('does refuse with missing-header when either header is absent or empty', () => {
    const signed = slackRequestHeaders(secret, body, nowMs);
    const cases = [
      { 'X-Slack-Request-Timestamp': ts },
      { 'X-Slack-Signature': signed['X-Slack-Signature'] },
      { 'X-Slack-Signature': '', 'X-Slack-Request-Timestamp': ts },
      {},
    ];
    for (const headers of cases) {
      expect(reasonOf(() => verifySlackRequest({ signingSecret: secret, headers, rawBody: body, now }))).toBe('missing-header');
    }
  });

  it('does refuse with malformed when a header has the wrong shape', () => {
    const good = signSlackRequest(secret, ts, body);
    const cases = [
      { 'x-slack-request-timestamp': 'yesterday', 'x-slack-signature': good },
      { 'x-slack-request-timestamp': ts, 'x-slack-signature': good.replace('v0=', 'v1=') },
      { 'x-slack-request-timestamp': ts, 'x-slack-signature': good.slice(0, -2) },
      { 'x-slack-request-timestamp': ts, 'x-slack-signature': `${good.slice(0, -1)}g` },
    ];
    for (const headers of cases) {
      expect(reasonOf(() => verifySlackRequest({ signingSecret: secret, headers, rawBody: body, now }))).toBe('malformed');
    }
  });

  it('does name the error SlackSignatureError when it refuses', () => {
    const headers = slackRequestHeaders('wrong', body, nowMs);
    expect(() => verifySlackRequest({ signingSecret: secret, headers, rawBody: body, now })).toThrow(
      expect.objectContaining({ name: 'SlackSignatureError', reason: 'mismatch' }),
    );
  });

  it('does throw ConfigurationError when the signing secret is empty', () => {
    const headers = slackRequestHeaders(secret, body, nowMs);
    expect(() => verifySlackRequest({ signingSecret: '', headers, rawBody: body, now })).toThrow(ConfigurationError);
    expect(() => signSlackRequest('', ts, body)).toThrow(ConfigurationError);
  });

  it('does use the factory clock when none is injected', () => {
    const headers = slackRequestHeaders(secret, body);
    expect(() => verifySlackRequest({ signingSecret: secret, headers, rawBody: body })).not.toThrow();
    // A clock an hour ahead (the local cloud's simulated one): signing and checking both follow it.
    const restore = installClock({ now: () => nowMs + 3_600_000, sleep: async () => undefined });
    try {
      const ahead = slackRequestHeaders(secret, body);
      expect(ahead['X-Slack-Request-Timestamp']).toBe(String((nowMs + 3_600_000) / 1000));
      expect(reasonOf(() => verifySlackRequest({ signingSecret: secret, headers, rawBody: body }))).toBe('stale');
      expect(() => verifySlackRequest({ signingSecret: secret, headers: ahead, rawBody: body })).not.toThrow();
    } finally {
      restore();
    }
  });

  it('does give each verified request its own digest, the same on every delivery of it', () => {
    const verify = (b: string, at: number): string =>
      verifySlackRequest({ signingSecret: secret, headers: slackRequestHeaders(secret, b, at), rawBody: b, now }).digest;
    const first = verify(body, nowMs);
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(verify(body, nowMs)).toBe(first);
    expect(verify(`${body}&x=1`, nowMs)).not.toBe(first);
    expect(verify(body, nowMs - 1000)).not.toBe(first);
    // Upper-case hex is the same signature, hence the same request.
    const upper = {
      'x-slack-request-timestamp': ts,
      'x-slack-signature': signSlackRequest(secret, ts, body).toUpperCase().replace('V0=', 'v0='),
    };
    expect(verifySlackRequest({ signingSecret: secret, headers: upper, rawBody: body, now }).digest).toBe(first);
  });
});

describe('slackRetryOf', () => {
  it("does read Slack's retry headers in any case, and nothing from a first delivery", () => {
    expect(slackRetryOf({ 'X-Slack-Retry-Num': '1', 'X-Slack-Retry-Reason': 'http_timeout' })).toEqual({
      num: '1',
      reason: 'http_timeout',
    });
    expect(slackRetryOf({ 'x-slack-retry-num': '2' })).toEqual({ num: '2', reason: 'unknown' });
    expect(slackRetryOf({ 'x-slack-signature': 'v0=00' })).toBeUndefined();
  });
});
