import { clock } from '../clock.js';
import { env } from '../env.js';
import { ConfigurationError, FactoryError } from '../errors.js';
import type { ApprovalRecord } from '../approvals/decide.js';
import { approvalMessage, type ApprovalBlock } from '../approvals/message.js';
import { botToken } from './secret.js';

/**
 * The Slack Web API, the three methods the approvals use:
 *
 * - `chat.postMessage` (scope `chat:write`): posts the approval request; Slack answers the
 *   message's `channel` and `ts`, which identify it from then on.
 * - `chat.update` (scope `chat:write`): replaces that message's `text` and `blocks` in place
 *   (approved by …, waiting for one more, rejected by …; the buttons go once it is decided).
 * - `usergroups.users.list` (scope `usergroups:read`): the members of a user group, for gates
 *   whose approvers are groups.
 *
 * Requests go to `https://slack.com/api/<method>` with `Authorization: Bearer <bot token>`.
 * The chat methods take a JSON body (`application/json; charset=utf-8`); usergroups.users.list
 * is a read method, and Slack's read methods take form-encoded arguments, not JSON, so it is sent
 * form-encoded. Slack answers HTTP 200 with `{ok: true, …}` or `{ok: false, error: "<code>"}`
 * (SlackApiError with that code); a rate-limited call is HTTP 429 with `Retry-After: <seconds>`,
 * which is honoured (on the factory clock) as long as the wait fits the caller's budget — an
 * interactivity request must be answered within 3 s — and otherwise is SlackRateLimitedError.
 *
 * Our own code rather than `@slack/web-api`: three methods, and the factory needs what that
 * client does not give — an injectable `fetch` and clock (the local cloud's simulated time, the
 * unit tests' fake Slack), a retry policy bounded by the caller's deadline instead of
 * minutes-long backoff, and no HTTP stack of its own in every Lambda bundle.
 *
 * The bot token is the SecureString parameter named by AMI_FACTORY_SLACK_BOT_TOKEN_PARAM (read
 * once per container, like the signing secret). The base URL may be overridden with
 * AMI_FACTORY_SLACK_API_URL only when it points at the loopback interface and the local-cloud
 * flag AMI_FACTORY_SLACK_LOOPBACK_RESPONSE_URLS is set (the local cloud's Slack stand-in): a
 * deployed function never sends its bot token anywhere but Slack.
 */
export const SLACK_API_BASE_URL = 'https://slack.com/api/';

/** Slack answered `{ok: false, error}`: `code` is Slack's error code (`channel_not_found`, `invalid_auth`, …). */
export class SlackApiError extends FactoryError {
  override name = 'SlackApiError';
  constructor(
    readonly method: string,
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Slack rate-limited the call (HTTP 429) for longer than the caller can wait. */
export class SlackRateLimitedError extends SlackApiError {
  override name = 'SlackRateLimitedError';
  constructor(
    method: string,
    readonly retryAfterSeconds: number,
  ) {
    super(method, 'ratelimited', `Slack rate-limited ${method}: retry after ${retryAfterSeconds}s`);
  }
}

/** Slack could not be reached or answered something other than its JSON envelope (5xx, HTML, timeout). */
export class SlackHttpError extends FactoryError {
  override name = 'SlackHttpError';
}

/** AMI_FACTORY_SLACK_API_URL is not allowed here (off loopback, or without the local-cloud flag). */
export class SlackApiUrlNotAllowedError extends ConfigurationError {
  override name = 'SlackApiUrlNotAllowedError';
}

export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body: string; signal?: AbortSignal },
) => Promise<{
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}>;

export interface SlackWebApiOptions {
  /** The bot token (`xoxb-…`). */
  token: () => Promise<string>;
  /** Default https://slack.com/api/ (see slackApiBaseUrl). */
  baseUrl?: string;
  fetch?: FetchLike;
  /** Waits on the factory clock by default. */
  sleep?: (ms: number) => Promise<void>;
  /** How many times a 429 is retried (default 2). */
  maxRetries?: number;
  /** The longest Retry-After that is waited for (default 2 s: inside Slack's 3 s for a click). */
  maxRetryAfterSeconds?: number;
  /** Per request (default 2500 ms). */
  timeoutMs?: number;
}

export interface SlackMessageRef {
  channel: string;
  ts: string;
}

export interface PostMessageInput {
  channel: string;
  text: string;
  blocks?: readonly ApprovalBlock[];
}

export interface UpdateMessageInput extends PostMessageInput {
  ts: string;
}

const LOOPBACK_HOST = '127.0.0.1';

/**
 * The Web API's base URL: Slack's, or `override` when the local-cloud flag allows it and it is
 * `http://127.0.0.1:<port>/…` (SlackApiUrlNotAllowedError otherwise, so a misconfiguration fails
 * loudly instead of sending the token elsewhere).
 */
export function slackApiBaseUrl(override: string | undefined, allowLoopback: boolean): string {
  if (override === undefined) return SLACK_API_BASE_URL;
  let u: URL | undefined;
  try {
    u = new URL(override);
  } catch {
    u = undefined;
  }
  const loopback = u !== undefined && u.protocol === 'http:' && u.hostname === LOOPBACK_HOST && u.username === '' && u.password === '';
  if (!allowLoopback || u === undefined || !loopback) {
    throw new SlackApiUrlNotAllowedError(
      `AMI_FACTORY_SLACK_API_URL is accepted only as http://${LOOPBACK_HOST}:<port>/… on the local cloud (AMI_FACTORY_SLACK_LOOPBACK_RESPONSE_URLS=true); unset it to use ${SLACK_API_BASE_URL}`,
    );
  }
  return u.href.endsWith('/') ? u.href : `${u.href}/`;
}

/** Seconds of a Retry-After header (Slack sends whole seconds); 1 when absent or unreadable. */
function retryAfterSeconds(value: string | null): number {
  const n = Number(value);
  return value !== null && Number.isFinite(n) && n >= 0 ? n : 1;
}

interface SlackEnvelope {
  ok?: unknown;
  error?: unknown;
  [key: string]: unknown;
}

export class SlackWebApi {
  private readonly baseUrl: string;
  private readonly fetchFn: FetchLike;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: SlackWebApiOptions) {
    this.baseUrl = options.baseUrl ?? SLACK_API_BASE_URL;
    this.fetchFn = options.fetch ?? ((url, init) => fetch(url, init));
    this.sleep = options.sleep ?? ((ms) => clock().sleep(ms));
  }

  /** chat.postMessage: the posted message's channel and ts. */
  async postMessage(input: PostMessageInput): Promise<SlackMessageRef> {
    const r = await this.call('chat.postMessage', 'json', { channel: input.channel, text: input.text, blocks: input.blocks ?? [] });
    return messageRef('chat.postMessage', r);
  }

  /** chat.update: replaces the message's text and blocks (an empty `blocks` removes them, as Slack documents). */
  async update(input: UpdateMessageInput): Promise<SlackMessageRef> {
    const r = await this.call('chat.update', 'json', {
      channel: input.channel,
      ts: input.ts,
      text: input.text,
      blocks: input.blocks ?? [],
    });
    return messageRef('chat.update', r);
  }

  /** usergroups.users.list: the user ids in a user group. */
  async userGroupMembers(usergroup: string): Promise<string[]> {
    const r = await this.call('usergroups.users.list', 'form', { usergroup });
    if (!Array.isArray(r.users) || !r.users.every((u): u is string => typeof u === 'string')) {
      throw new SlackHttpError('usergroups.users.list answered without a users list');
    }
    return r.users;
  }

  /** The groups among `groups` that `userId` is a member of (one usergroups.users.list per group). */
  async groupsOf(userId: string, groups: readonly string[]): Promise<string[]> {
    const members = await Promise.all(groups.map(async (g) => ({ g, users: await this.userGroupMembers(g) })));
    return members.filter((m) => m.users.includes(userId)).map((m) => m.g);
  }

  private async call(method: string, encoding: 'json' | 'form', args: Record<string, unknown>): Promise<SlackEnvelope> {
    const token = await this.options.token();
    const body =
      encoding === 'json'
        ? JSON.stringify(args)
        : new URLSearchParams(
            Object.entries(args).map(([k, v]): [string, string] => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
          ).toString();
    const headers = {
      authorization: `Bearer ${token}`,
      'content-type': encoding === 'json' ? 'application/json; charset=utf-8' : 'application/x-www-form-urlencoded',
    };
    const maxRetries = this.options.maxRetries ?? 2;
    const maxWait = this.options.maxRetryAfterSeconds ?? 2;
    for (let attempt = 0; ; attempt++) {
      let status: number;
      let text: string;
      let retryAfter: string | null;
      try {
        const r = await this.fetchFn(`${this.baseUrl}${method}`, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 2500),
        });
        status = r.status;
        retryAfter = r.headers.get('retry-after');
        text = await r.text();
      } catch (e) {
        throw new SlackHttpError(`Slack ${method} could not be reached: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
      if (status === 429) {
        const wait = retryAfterSeconds(retryAfter);
        if (attempt >= maxRetries || wait > maxWait) throw new SlackRateLimitedError(method, wait);
        await this.sleep(wait * 1000);
        continue;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (e) {
        throw new SlackHttpError(`Slack ${method} answered HTTP ${status} without JSON`, { cause: e });
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || typeof (parsed as SlackEnvelope).ok !== 'boolean') {
        throw new SlackHttpError(`Slack ${method} answered HTTP ${status} without its {ok} envelope`);
      }
      const envelope = parsed as SlackEnvelope;
      if (envelope.ok !== true) {
        const code = typeof envelope.error === 'string' ? envelope.error : 'unknown_error';
        throw new SlackApiError(method, code, `Slack ${method} failed: ${code}`);
      }
      return envelope;
    }
  }
}

function messageRef(method: string, r: SlackEnvelope): SlackMessageRef {
  if (typeof r.channel !== 'string' || typeof r.ts !== 'string') throw new SlackHttpError(`${method} answered without channel and ts`);
  return { channel: r.channel, ts: r.ts };
}

/** Approval requests need the Web API: there is no response_url to post them to. */
export class SlackBotTokenMissingError extends ConfigurationError {
  override name = 'SlackBotTokenMissingError';
}

/**
 * The Web API of this function's environment (bot token from SSM, base URL as slackApiBaseUrl
 * allows), or undefined when no bot token is configured.
 */
export async function slackWebApiFromEnv(overrides: Omit<SlackWebApiOptions, 'token' | 'baseUrl'> = {}): Promise<SlackWebApi | undefined> {
  const e = env();
  const baseUrl = slackApiBaseUrl(e.AMI_FACTORY_SLACK_API_URL, e.AMI_FACTORY_SLACK_LOOPBACK_RESPONSE_URLS);
  const token = await botToken();
  if (token === undefined) return undefined;
  return new SlackWebApi({ ...overrides, baseUrl, token: () => Promise.resolve(token) });
}

/**
 * Posts an approval request in its gate's channel (chat.postMessage with approvalMessage) and
 * returns where it is, for ApprovalStore.setMessage. A record that already has its message (a
 * retried request step) is not posted twice.
 */
export async function postApprovalRequest(record: ApprovalRecord, api?: SlackWebApi): Promise<SlackMessageRef> {
  if (record.message !== undefined) return record.message;
  const client = api ?? (await slackWebApiFromEnv());
  if (client === undefined) {
    throw new SlackBotTokenMissingError(
      'Approval requests are posted with the Slack Web API: create the bot token parameter (AMI_FACTORY_SLACK_BOT_TOKEN_PARAM)',
    );
  }
  const m = approvalMessage(record, record.rule.channel);
  return client.postMessage({ channel: m.channel, text: m.text, blocks: m.blocks });
}
