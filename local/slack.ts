import type { LocalRequest, LocalResponse, LocalService } from './http.js';
import { JsonFileStore } from './persist.js';
import type { JsonObject, JsonValue } from './json.js';
import { isJsonObject } from './json.js';

/**
 * The local cloud's Slack stand-in, on the cloud's port (unsigned requests under `/slack/`):
 *
 * - The Web API methods the factory calls, at `/slack/api/<method>` (the functions get
 *   `AMI_FACTORY_SLACK_API_URL=<endpoint>/slack/api/`): `chat.postMessage`, `chat.update`,
 *   `usergroups.users.list`. As Slack does, each answers HTTP 200 with `{ok: true, …}` or
 *   `{ok: false, error}`: `not_authed` without a token, `invalid_auth` with another than the bot
 *   token the cloud seeds in SSM; `channel_not_found`, `no_text`, `message_not_found`,
 *   `no_such_subteam`, `invalid_arguments`; any other method is `unknown_method`. Arguments are
 *   JSON or form-encoded (where `blocks` is a JSON string), as Slack accepts them.
 * - Response URLs, `POST /slack/response/<id>`: what a function answers a click with
 *   (ephemeral messages) is kept per id.
 * - For `ami-factory chat` and tests: `GET /slack/_messages[?channel=C…]` (the channels'
 *   messages, each with its earlier versions) and `GET /slack/_responses/<id>`.
 *
 * Channels exist when first posted to (the demo has no workspace to create them in); user
 * groups are set by tests (`setUserGroup`). The messages persist in `slack.json` with the rest
 * of the world, so a `chat` command can read what a cloud in another process posted.
 */
export const LOCAL_SLACK_BOT_TOKEN = 'xoxb-local-bot-token';
export const SLACK_PREFIX = '/slack/';
export const SLACK_API_PATH = '/slack/api/';

export interface LocalSlackMessage {
  channel: string;
  ts: string;
  text: string;
  blocks: JsonValue[];
  /** The message as it was before each chat.update, oldest first. */
  versions: { text: string; blocks: JsonValue[]; editedAt: string }[];
  postedAt: string;
}

interface SlackState {
  messages: LocalSlackMessage[];
  responses: Record<string, JsonValue[]>;
  userGroups: Record<string, string[]>;
  /** The last ts handed out (ts are unique per channel in Slack; here across the workspace). */
  lastTs: number;
}

export interface SlackServiceOptions {
  /** Epoch ms of the cloud's clock (message ts). */
  now: () => number;
  stateFile?: string;
  botToken?: string;
}

export interface SlackService extends LocalService {
  messages(channel?: string): LocalSlackMessage[];
  responses(id: string): JsonValue[];
  setUserGroup(id: string, users: string[]): void;
  close(): void;
}

const CHANNEL = /^[CGD][A-Z0-9]{2,}$/;

function ok(value: JsonObject): LocalResponse {
  return { status: 200, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify({ ok: true, ...value }) };
}
function fail(error: string): LocalResponse {
  return { status: 200, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify({ ok: false, error }) };
}
function json(status: number, value: JsonValue): LocalResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) };
}

/** The method's arguments from a JSON or form-encoded body (and the query string, which Slack also reads). */
function argsOf(req: LocalRequest): Record<string, JsonValue> | undefined {
  const out: Record<string, JsonValue> = Object.fromEntries(req.query);
  const type = String(req.headers['content-type'] ?? '');
  const text = req.body.toString('utf8');
  if (/^application\/json/i.test(type)) {
    if (text === '') return out;
    try {
      const v = JSON.parse(text) as unknown;
      return isJsonObject(v) ? { ...out, ...v } : undefined;
    } catch {
      return undefined;
    }
  }
  for (const [k, v] of new URLSearchParams(text)) {
    if (k === 'blocks') {
      try {
        out[k] = JSON.parse(v) as JsonValue;
      } catch {
        return undefined;
      }
    } else out[k] = v;
  }
  return out;
}

function bearer(req: LocalRequest, args: Record<string, JsonValue>): string | undefined {
  const h = req.headers.authorization;
  const m = typeof h === 'string' ? /^Bearer\s+(\S+)$/i.exec(h) : null;
  if (m?.[1] !== undefined) return m[1];
  return typeof args.token === 'string' ? args.token : undefined;
}

export function createSlackService(opts: SlackServiceOptions): SlackService {
  const token = opts.botToken ?? LOCAL_SLACK_BOT_TOKEN;
  const store = new JsonFileStore<SlackState>(opts.stateFile, () => ({ messages: [], responses: {}, userGroups: {}, lastTs: 0 }));
  const state = (): SlackState => store.data;

  const nextTs = (): string => {
    // Slack's ts: seconds and six digits, unique and increasing within a channel.
    const micros = Math.max(opts.now() * 1000, state().lastTs + 1);
    state().lastTs = micros;
    return `${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')}`;
  };

  const methods: Record<string, (args: Record<string, JsonValue>) => LocalResponse> = {
    'chat.postMessage': (args) => {
      const channel = args.channel;
      if (typeof channel !== 'string' || !CHANNEL.test(channel)) return fail('channel_not_found');
      const text = typeof args.text === 'string' ? args.text : '';
      const blocks = Array.isArray(args.blocks) ? args.blocks : [];
      if (text === '' && blocks.length === 0) return fail('no_text');
      const m: LocalSlackMessage = { channel, ts: nextTs(), text, blocks, versions: [], postedAt: new Date(opts.now()).toISOString() };
      state().messages.push(m);
      store.markDirty();
      return ok({ channel, ts: m.ts, message: { type: 'message', text, blocks, ts: m.ts } });
    },
    'chat.update': (args) => {
      const { channel, ts } = args;
      if (typeof channel !== 'string' || typeof ts !== 'string') return fail('invalid_arguments');
      const m = state().messages.find((x) => x.channel === channel && x.ts === ts);
      if (m === undefined) return fail(CHANNEL.test(channel) ? 'message_not_found' : 'channel_not_found');
      const text = typeof args.text === 'string' ? args.text : m.text;
      // As Slack documents: blocks left out are kept, an empty array removes them.
      const blocks = Array.isArray(args.blocks) ? args.blocks : m.blocks;
      if (text === '' && blocks.length === 0) return fail('no_text');
      m.versions.push({ text: m.text, blocks: m.blocks, editedAt: new Date(opts.now()).toISOString() });
      m.text = text;
      m.blocks = blocks;
      store.markDirty();
      return ok({ channel, ts, text, message: { type: 'message', text, blocks } });
    },
    'usergroups.users.list': (args) => {
      const id = args.usergroup;
      if (typeof id !== 'string' || id === '') return fail('invalid_arguments');
      const users = state().userGroups[id];
      return users === undefined ? fail('no_such_subteam') : ok({ users });
    },
  };

  return {
    name: 'slack',
    matches: (req) => req.service === undefined && req.path.startsWith(SLACK_PREFIX),
    handle: (req) => {
      const path = req.path;
      if (path.startsWith(SLACK_API_PATH)) {
        const method = methods[path.slice(SLACK_API_PATH.length)];
        if (method === undefined) return Promise.resolve(fail('unknown_method'));
        const args = argsOf(req);
        if (args === undefined) return Promise.resolve(fail('invalid_arguments'));
        const given = bearer(req, args);
        if (given === undefined) return Promise.resolve(fail('not_authed'));
        if (given !== token) return Promise.resolve(fail('invalid_auth'));
        return Promise.resolve(method(args));
      }
      const response = /^\/slack\/response\/([A-Za-z0-9_-]{1,100})$/.exec(path);
      if (response?.[1] !== undefined && req.method === 'POST') {
        let body: JsonValue;
        try {
          body = JSON.parse(req.body.toString('utf8')) as JsonValue;
        } catch {
          return Promise.resolve({ status: 400, headers: { 'content-type': 'text/plain' }, body: 'invalid_payload' });
        }
        (state().responses[response[1]] ??= []).push(body);
        store.markDirty();
        return Promise.resolve({ status: 200, headers: { 'content-type': 'text/plain' }, body: 'ok' });
      }
      if (path === '/slack/_messages' && req.method === 'GET') {
        const channel = req.query.get('channel') ?? undefined;
        return Promise.resolve(
          json(200, { messages: state().messages.filter((m) => channel === undefined || m.channel === channel) } as unknown as JsonObject),
        );
      }
      const responses = /^\/slack\/_responses\/([A-Za-z0-9_-]{1,100})$/.exec(path);
      if (responses?.[1] !== undefined && req.method === 'GET') {
        return Promise.resolve(json(200, { responses: state().responses[responses[1]] ?? [] }));
      }
      return Promise.resolve(json(404, { error: 'not_found' }));
    },
    messages: (channel) => structuredClone(state().messages.filter((m) => channel === undefined || m.channel === channel)),
    responses: (id) => structuredClone(state().responses[id] ?? []),
    setUserGroup: (id, users) => {
      state().userGroups[id] = [...users];
      store.markDirty();
    },
    close: () => store.flush(),
  };
}
