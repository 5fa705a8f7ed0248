import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { clock } from '../clock.js';
import { ConfigurationError, FactoryError } from '../errors.js';

/**
 * Slack request signing (shared/specs/aws-facts.md, "Slack slash commands"):
 * `X-Slack-Signature: v0=<hex HMAC-SHA256(signing secret, "v0:" + timestamp + ":" + raw body)>`
 * with `X-Slack-Request-Timestamp` in Unix seconds. Requests more than five minutes old (or
 * ahead of the clock) are refused, so a captured request cannot be replayed later.
 */
export const SLACK_SIGNATURE_HEADER = 'x-slack-signature';
export const SLACK_TIMESTAMP_HEADER = 'x-slack-request-timestamp';
export const SLACK_SIGNATURE_VERSION = 'v0';
/** Slack's retry headers: the attempt (1, 2, 3) and why (`http_timeout`, `http_error`, …). */
export const SLACK_RETRY_NUM_HEADER = 'x-slack-retry-num';
export const SLACK_RETRY_REASON_HEADER = 'x-slack-retry-reason';
/** Slack's documented replay window. */
export const SLACK_MAX_SKEW_SECONDS = 300;

export type SlackSignatureReason = 'missing-header' | 'stale' | 'mismatch' | 'malformed';

/** The request is not provably from Slack; answer 401 and do nothing. */
export class SlackSignatureError extends FactoryError {
  override name = 'SlackSignatureError';
  constructor(
    readonly reason: SlackSignatureReason,
    message: string,
  ) {
    super(message);
  }
}

/** Headers as Lambda function URLs / API Gateway hand them over (any case, maybe multi-valued). */
export type RequestHeaders = Record<string, string | string[] | undefined>;

export interface VerifySlackRequestInput {
  signingSecret: string;
  headers: RequestHeaders;
  /** The body exactly as received (decode base64 first when the event says so). */
  rawBody: string | Buffer;
  /** The clock in milliseconds since the epoch; injectable for tests. */
  now?: () => number;
  /** Allowed distance between the request timestamp and the clock, in seconds. */
  maxSkewSeconds?: number;
}

function header(headers: RequestHeaders, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() !== name) continue;
    const value = Array.isArray(v) ? v[0] : v;
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}

function hmacHex(secret: string, timestamp: string, body: string | Buffer): string {
  return createHmac('sha256', secret).update(`${SLACK_SIGNATURE_VERSION}:${timestamp}:`).update(body).digest('hex');
}

/** The `X-Slack-Signature` value Slack would send for this body (`v0=<hex>`). */
export function signSlackRequest(signingSecret: string, timestamp: number | string, body: string | Buffer): string {
  if (signingSecret === '') throw new ConfigurationError('The Slack signing secret is empty');
  return `${SLACK_SIGNATURE_VERSION}=${hmacHex(signingSecret, String(timestamp), body)}`;
}

/** Both Slack headers for a body, as the local `chat` command and tests send them. */
export function slackRequestHeaders(signingSecret: string, body: string | Buffer, nowMs: number = clock().now()): Record<string, string> {
  const timestamp = String(Math.floor(nowMs / 1000));
  return {
    'X-Slack-Request-Timestamp': timestamp,
    'X-Slack-Signature': signSlackRequest(signingSecret, timestamp, body),
  };
}

/** A request whose signature verified. */
export interface VerifiedSlackRequest {
  /** X-Slack-Request-Timestamp, Unix seconds. */
  timestamp: number;
  /**
   * SHA-256 (hex) of the timestamp and signature: the request's identity for replay protection
   * (the signature covers the timestamp and the body, so another request has another digest).
   */
  digest: string;
}

/** Slack's retry of a request it got no 200 for within 3 seconds, or undefined for a first attempt. */
export function slackRetryOf(headers: RequestHeaders): { num: string; reason: string } | undefined {
  const num = header(headers, SLACK_RETRY_NUM_HEADER);
  if (num === undefined) return undefined;
  return { num, reason: header(headers, SLACK_RETRY_REASON_HEADER) ?? 'unknown' };
}

/**
 * Checks that the request was signed by Slack with `signingSecret` within the replay
 * window; throws SlackSignatureError (with a reason code) otherwise. The signature is
 * compared in constant time. Within the window a captured request still verifies: the caller
 * accepts each digest once (ChatOpsStore.claimRequest).
 */
export function verifySlackRequest(input: VerifySlackRequestInput): VerifiedSlackRequest {
  const { signingSecret, headers, rawBody } = input;
  if (signingSecret === '') throw new ConfigurationError('The Slack signing secret is empty');
  const signature = header(headers, SLACK_SIGNATURE_HEADER);
  const timestamp = header(headers, SLACK_TIMESTAMP_HEADER);
  if (signature === undefined) throw new SlackSignatureError('missing-header', 'The X-Slack-Signature header is missing');
  if (timestamp === undefined) throw new SlackSignatureError('missing-header', 'The X-Slack-Request-Timestamp header is missing');
  if (!/^\d{1,12}$/.test(timestamp)) throw new SlackSignatureError('malformed', 'X-Slack-Request-Timestamp is not a Unix time in seconds');
  const match = /^v0=([0-9a-f]{64})$/i.exec(signature);
  if (match === null) throw new SlackSignatureError('malformed', 'X-Slack-Signature is not of the form v0=<64 hex digits>');

  const nowSeconds = Math.floor((input.now?.() ?? clock().now()) / 1000);
  const skew = nowSeconds - Number(timestamp);
  const max = input.maxSkewSeconds ?? SLACK_MAX_SKEW_SECONDS;
  if (skew > max) throw new SlackSignatureError('stale', `The request is ${skew}s old; at most ${max}s are accepted`);
  if (-skew > max)
    throw new SlackSignatureError('stale', `The request is ${-skew}s in the future; at most ${max}s of clock skew are accepted`);

  const expected = Buffer.from(hmacHex(signingSecret, timestamp, rawBody), 'hex');
  const given = Buffer.from((match[1] ?? '').toLowerCase(), 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new SlackSignatureError('mismatch', 'The request signature does not match');
  }
  const digest = createHash('sha256')
    .update(`${timestamp}:${given.toString('hex')}`)
    .digest('hex');
  return { timestamp: Number(timestamp), digest };
}
