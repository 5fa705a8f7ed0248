import * as z from 'zod';
import {
  AccountIdSchema,
  BuildIdSchema,
  FamilySchema,
  ImageIdSchema,
  OrganizationArnSchema,
  OrganizationalUnitArnSchema,
  RegionSchema,
  parseInput,
} from '../build-request.js';
import { ChannelNameSchema } from '../channels/names.js';
import { ValidationError } from '../errors.js';

/**
 * Slack slash commands: the form Slack posts (`application/x-www-form-urlencoded`) and the
 * factory's little command language in its `text`.
 */
export const SlashCommandSchema = z.lazy(() =>
  z.object({
    command: z.string().regex(/^\/[\w-]+$/, 'must be a slash command such as /ami'),
    text: z.string().max(4000).default(''),
    user_id: z.string().regex(/^[UW][A-Z0-9]+$/, 'must be a Slack user id'),
    user_name: z.string().default(''),
    channel_id: z.string().regex(/^[CDG][A-Z0-9]+$/, 'must be a Slack channel id'),
    channel_name: z.string().default(''),
    team_id: z.string().regex(/^T[A-Z0-9]+$/, 'must be a Slack team id'),
    response_url: z.url({ protocol: /^https?$/ }),
    trigger_id: z.string().min(1),
  }),
);
export type SlashCommand = z.infer<typeof SlashCommandSchema>;

/**
 * The largest slash-command body parsed, in bytes: 64 KiB. Slack's `text` is at most 4,000
 * characters and the other fields are short, so a real form is a few KiB.
 */
export const SLACK_BODY_MAX_BYTES = 64 * 1024;

/** A Slack request body over SLACK_BODY_MAX_BYTES. */
export class SlackBodyTooLargeError extends ValidationError {
  override name = 'SlackBodyTooLargeError';
}

/** Throws SlackBodyTooLargeError when the body is over SLACK_BODY_MAX_BYTES. */
export function assertSlackBodySize(rawBody: string | Buffer): void {
  const bytes = typeof rawBody === 'string' ? Buffer.byteLength(rawBody, 'utf8') : rawBody.length;
  if (bytes > SLACK_BODY_MAX_BYTES) {
    throw new SlackBodyTooLargeError(`The request body is ${bytes} bytes; at most ${SLACK_BODY_MAX_BYTES} (64 KiB) are accepted`);
  }
}

/** Parses the raw form body of a slash command; a bad form is a ValidationError. */
export function parseSlashCommandForm(rawBody: string): SlashCommand {
  assertSlackBodySize(rawBody);
  const form = Object.fromEntries(new URLSearchParams(rawBody));
  return parseInput(SlashCommandSchema, form, 'Slack slash command');
}

export type ChatCommand =
  | { kind: 'help'; topic?: CommandName }
  | { kind: 'bake'; family: string; regions?: string[]; reboot?: boolean }
  | { kind: 'status'; buildId?: string }
  | { kind: 'list'; family: string; region?: string }
  | { kind: 'expire'; family: string; apply: boolean }
  | ({ kind: 'share'; imageId: string } & ShareTarget)
  | { kind: 'promote'; family: string; target: string; channel: string };

/** Whom `share` adds: exactly one account, organization or OU. */
export type ShareTarget = { account: string } | { organizationArn: string } | { organizationalUnitArn: string };

export type CommandName = ChatCommand['kind'];

export const USAGE: Record<CommandName, string> = {
  help: 'help [command]',
  bake: 'bake <family> [--regions a,b] [--reboot|--no-reboot]',
  status: 'status [build-id]',
  list: 'list <family> [--region R]',
  expire: 'expire <family> [--apply]',
  share: 'share <ami-id> --account <12-digit account id> | --organization <org ARN> | --ou <OU ARN>',
  promote: 'promote <family> <build-id|ami-id> <channel>',
};

export const SUMMARY: Record<CommandName, string> = {
  help: 'show this help',
  bake: 'build a new image of a family (copies to the given regions only)',
  status: 'show a build, or the recent builds',
  list: "list a family's images",
  expire: 'show the retention plan of a family; --apply carries it out',
  share: 'share an image with an account, organization or OU the family allows',
  promote: 'move a published build to a channel (e.g. stable) in every region it was published in',
};

const COMMANDS = Object.keys(USAGE) as CommandName[];

/** A command the factory cannot run as typed; `message` says why, `usage` how to type it. */
export class ChatCommandError extends ValidationError {
  override name = 'ChatCommandError';
  constructor(
    message: string,
    readonly usage?: string,
    readonly suggestion?: string,
  ) {
    super(message);
  }
}

const QUOTES: Record<string, string> = { '"': '"', "'": "'", '“': '”', '‘': '’', '”': '”' };

/** Splits on white space; "double", 'single' and Slack's curly quotes group words. */
export function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let current = '';
  let inToken = false;
  let closing: string | undefined;
  for (const ch of text) {
    if (closing !== undefined) {
      if (ch === closing) closing = undefined;
      else current += ch;
    } else if (QUOTES[ch] !== undefined) {
      closing = QUOTES[ch];
      inToken = true;
    } else if (/\s/.test(ch)) {
      if (inToken) tokens.push(current);
      current = '';
      inToken = false;
    } else {
      current += ch;
      inToken = true;
    }
  }
  if (closing !== undefined) throw new ChatCommandError(`Unterminated quote: add the closing ${closing}`);
  if (inToken) tokens.push(current);
  return tokens;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j] ?? 0;
      row[j] = Math.min(up + 1, (row[j - 1] ?? 0) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length] ?? 0;
}

/** The command closest to `word` (prefix or at most 2 edits), if any. */
export function closestCommand(word: string): CommandName | undefined {
  const w = word.toLowerCase();
  const prefixed = COMMANDS.filter((c) => w.length >= 2 && c.startsWith(w));
  if (prefixed.length === 1) return prefixed[0];
  let best: CommandName | undefined;
  let bestDistance = 3;
  for (const c of COMMANDS) {
    const d = distance(w, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

interface Args {
  positional: string[];
  flags: Map<string, string | true>;
}

interface Spec {
  /** Flags taking a value. */
  values?: string[];
  /** Flags without a value. */
  switches?: string[];
}

function splitArgs(kind: CommandName, tokens: string[], spec: Spec): Args {
  const values = new Set(spec.values ?? []);
  const switches = new Set(spec.switches ?? []);
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] ?? '';
    // Slack's "smart dashes" turn -- into an em or en dash.
    const normal = token.replace(/^[—–]/, '--');
    if (!normal.startsWith('--')) {
      positional.push(token);
      continue;
    }
    const eq = normal.indexOf('=');
    const name = eq === -1 ? normal.slice(2) : normal.slice(2, eq);
    if (flags.has(name)) throw new ChatCommandError(`--${name} is given twice`, USAGE[kind]);
    if (values.has(name)) {
      const value = eq === -1 ? tokens[++i] : normal.slice(eq + 1);
      if (value === undefined || value === '' || value.startsWith('--')) {
        throw new ChatCommandError(`--${name} needs a value`, USAGE[kind]);
      }
      flags.set(name, value);
    } else if (switches.has(name) && eq === -1) {
      flags.set(name, true);
    } else {
      const known = [...values, ...switches].map((f) => `--${f}`);
      throw new ChatCommandError(
        `\`${kind}\` has no option --${name}${known.length > 0 ? ` (options: ${known.join(', ')})` : ''}`,
        USAGE[kind],
      );
    }
  }
  return { positional, flags };
}

function check<S extends z.ZodType<string>>(kind: CommandName, schema: S, value: string, what: string): string {
  const r = schema.safeParse(value);
  if (!r.success) throw new ChatCommandError(`${what} "${value}" ${r.error.issues[0]?.message ?? 'is invalid'}`, USAGE[kind]);
  return r.data;
}

function positionals(kind: CommandName, args: Args, min: number, max: number, names: string): string[] {
  if (args.positional.length < min) throw new ChatCommandError(`\`${kind}\` needs ${names}`, USAGE[kind]);
  if (args.positional.length > max) {
    throw new ChatCommandError(`\`${kind}\` does not take "${args.positional.slice(max).join(' ')}"`, USAGE[kind]);
  }
  return args.positional;
}

function stringFlag(args: Args, name: string): string | undefined {
  const v = args.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

/** Parses the text after the slash command. Empty text is `help`. */
export function parseChatCommand(text: string): ChatCommand {
  const tokens = tokenize(text.trim());
  const [word, ...rest] = tokens;
  if (word === undefined) return { kind: 'help' };
  const kind = word.toLowerCase();
  switch (kind) {
    case 'help': {
      const [topic] = positionals('help', splitArgs('help', rest, {}), 0, 1, '');
      if (topic === undefined) return { kind: 'help' };
      const t = topic.toLowerCase();
      if (!(COMMANDS as string[]).includes(t)) throw unknownCommand(topic);
      return { kind: 'help', topic: t as CommandName };
    }
    case 'bake': {
      const args = splitArgs('bake', rest, { values: ['regions'], switches: ['reboot', 'no-reboot'] });
      const [family = ''] = positionals('bake', args, 1, 1, 'a family');
      if (args.flags.has('reboot') && args.flags.has('no-reboot')) {
        throw new ChatCommandError('Give either --reboot or --no-reboot, not both', USAGE.bake);
      }
      const command: ChatCommand = { kind: 'bake', family: check('bake', FamilySchema, family, 'Family') };
      const regions = stringFlag(args, 'regions');
      if (regions !== undefined) {
        const list = regions
          .split(',')
          .map((r) => r.trim())
          .filter((r) => r !== '');
        if (list.length === 0) throw new ChatCommandError('--regions needs at least one region', USAGE.bake);
        if (new Set(list).size !== list.length) throw new ChatCommandError('--regions lists a region twice', USAGE.bake);
        command.regions = list.map((r) => check('bake', RegionSchema, r, 'Region'));
      }
      if (args.flags.has('reboot')) command.reboot = true;
      if (args.flags.has('no-reboot')) command.reboot = false;
      return command;
    }
    case 'status': {
      const [buildId] = positionals('status', splitArgs('status', rest, {}), 0, 1, '');
      return buildId === undefined ? { kind: 'status' } : { kind: 'status', buildId: check('status', BuildIdSchema, buildId, 'Build id') };
    }
    case 'list': {
      const args = splitArgs('list', rest, { values: ['region'] });
      const [family = ''] = positionals('list', args, 1, 1, 'a family');
      const command: ChatCommand = { kind: 'list', family: check('list', FamilySchema, family, 'Family') };
      const region = stringFlag(args, 'region');
      if (region !== undefined) command.region = check('list', RegionSchema, region, 'Region');
      return command;
    }
    case 'expire': {
      const args = splitArgs('expire', rest, { switches: ['apply'] });
      const [family = ''] = positionals('expire', args, 1, 1, 'a family');
      return { kind: 'expire', family: check('expire', FamilySchema, family, 'Family'), apply: args.flags.has('apply') };
    }
    case 'share': {
      const args = splitArgs('share', rest, { values: ['account', 'organization', 'ou'] });
      const [imageId = ''] = positionals('share', args, 1, 1, 'an image id');
      const account = stringFlag(args, 'account');
      const organization = stringFlag(args, 'organization');
      const ou = stringFlag(args, 'ou');
      const given = [account, organization, ou].filter((v) => v !== undefined).length;
      if (given !== 1) {
        throw new ChatCommandError(
          given === 0
            ? '`share` needs --account <12-digit account id>, --organization <org ARN> or --ou <OU ARN>'
            : '`share` takes one of --account, --organization or --ou',
          USAGE.share,
        );
      }
      const image = check('share', ImageIdSchema, imageId, 'Image id');
      if (account !== undefined) return { kind: 'share', imageId: image, account: check('share', AccountIdSchema, account, 'Account') };
      if (organization !== undefined) {
        return { kind: 'share', imageId: image, organizationArn: check('share', OrganizationArnSchema, organization, 'Organization') };
      }
      return { kind: 'share', imageId: image, organizationalUnitArn: check('share', OrganizationalUnitArnSchema, ou ?? '', 'OU') };
    }
    case 'promote': {
      const [family = '', target = '', channel = ''] = positionals(
        'promote',
        splitArgs('promote', rest, {}),
        3,
        3,
        'a family, a build id or image id, and a channel',
      );
      const isImage = target.startsWith('ami-');
      return {
        kind: 'promote',
        family: check('promote', FamilySchema, family, 'Family'),
        target: isImage ? check('promote', ImageIdSchema, target, 'Image id') : check('promote', BuildIdSchema, target, 'Build id'),
        channel: check('promote', ChannelNameSchema, channel, 'Channel'),
      };
    }
    default:
      throw unknownCommand(word);
  }
}

function unknownCommand(word: string): ChatCommandError {
  const suggestion = closestCommand(word);
  const hint = suggestion !== undefined ? ` Did you mean \`${suggestion}\`?` : '';
  return new ChatCommandError(
    `Unknown command "${word}".${hint} Commands: ${COMMANDS.join(', ')}`,
    suggestion !== undefined ? USAGE[suggestion] : undefined,
    suggestion,
  );
}
