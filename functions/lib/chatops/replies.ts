import { FactoryError, ValidationError, isError } from '../errors.js';
import type { PlanEntry } from '../retention/plan.js';
import { ChatCommandError, SUMMARY, USAGE, type CommandName } from './command.js';

/**
 * Slack replies (Block Kit with a plain-text `text` fallback for notifications and screen
 * readers). Slack's limits: at most 50 blocks a message, 3000 characters a section text,
 * 150 a header; long lists are cut with "…and N more". Text from EC2 or users is escaped
 * (& < >) so it cannot form mentions or links.
 */
export const SLACK_LIMITS = { blocks: 50, sectionText: 3000, headerText: 150, fallbackText: 3000 } as const;

export interface TextObject {
  type: 'mrkdwn' | 'plain_text';
  text: string;
}
export type Block =
  | { type: 'header'; text: { type: 'plain_text'; text: string } }
  | { type: 'section'; text: TextObject }
  | { type: 'context'; elements: TextObject[] }
  | { type: 'divider' };

export interface SlackMessage {
  /** ephemeral: only the requester sees it; in_channel: everyone in the channel. */
  response_type: 'ephemeral' | 'in_channel';
  text: string;
  blocks: Block[];
  replace_original?: boolean;
}

/** Escapes the three characters Slack's mrkdwn treats as control characters. */
export function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** `s` cut to `max` characters, ending in … when cut. */
export function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, Math.max(0, max - 1))}…`;
}

const header = (text: string): Block => ({ type: 'header', text: { type: 'plain_text', text: clip(text, SLACK_LIMITS.headerText) } });
const section = (text: string): Block => ({ type: 'section', text: { type: 'mrkdwn', text: clip(text, SLACK_LIMITS.sectionText) } });
const context = (text: string): Block => ({ type: 'context', elements: [{ type: 'mrkdwn', text: clip(text, SLACK_LIMITS.sectionText) }] });

const more = (n: number): string => `…and ${n} more`;

/**
 * Packs lines into as few sections as fit (each ≤ 3000 characters, wrapped in a code
 * block when `code`), using at most `maxBlocks` blocks; what does not fit becomes
 * "…and N more" (which takes the last block).
 */
export function packLines(lines: string[], maxBlocks: number, code = false): Block[] {
  const wrap = (body: string): string => (code ? `\`\`\`${body}\`\`\`` : body);
  const limit = SLACK_LIMITS.sectionText - (code ? 6 : 0);
  const chunks: string[][] = [];
  let current: string[] = [];
  let size = 0;
  let placed = 0;
  for (const raw of lines) {
    const line = clip(raw, limit);
    const added = (current.length > 0 ? 1 : 0) + line.length;
    if (current.length > 0 && size + added > limit) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    if (current.length === 0 && chunks.length >= maxBlocks) break;
    size += (current.length > 0 ? 1 : 0) + line.length;
    current.push(line);
    placed++;
  }
  if (current.length > 0) chunks.push(current);
  let remaining = lines.length - placed;
  if (remaining > 0) {
    // Make room for the "…and N more" block.
    while (chunks.length >= maxBlocks) {
      const dropped = chunks.pop() ?? [];
      remaining += dropped.length;
    }
  }
  const blocks = chunks.map((c) => section(wrap(c.join('\n'))));
  if (remaining > 0) blocks.push(context(more(remaining)));
  return blocks;
}

/** The fallback text: the summary plus as many lines as fit. */
function fallback(summary: string, lines: string[] = []): string {
  let text = summary;
  for (let i = 0; i < lines.length; i++) {
    const next = `${text}\n${lines[i]}`;
    const tail = i < lines.length - 1 ? `\n${more(lines.length - i)}` : '';
    if (next.length + tail.length > SLACK_LIMITS.fallbackText) return clip(`${text}\n${more(lines.length - i)}`, SLACK_LIMITS.fallbackText);
    text = next;
  }
  return clip(text, SLACK_LIMITS.fallbackText);
}

function message(responseType: SlackMessage['response_type'], text: string, blocks: Block[]): SlackMessage {
  return { response_type: responseType, text, blocks: blocks.slice(0, SLACK_LIMITS.blocks) };
}

const ALL_COMMANDS = Object.keys(USAGE) as CommandName[];

/** Help: every command with its usage, or one command in detail. Ephemeral. */
export function helpReply(slashCommand = '/ami', topic?: CommandName): SlackMessage {
  const commands = topic !== undefined ? [topic] : ALL_COMMANDS;
  const lines = commands.map((c) => `\`${slashCommand} ${USAGE[c]}\`  ${SUMMARY[c]}`);
  const title = topic !== undefined ? `${slashCommand} ${topic}` : `${slashCommand}: the AMI factory`;
  const blocks: Block[] = [header(title), section(lines.join('\n'))];
  if (topic === undefined) blocks.push(context('`expire` shows a plan and changes nothing unless you add `--apply`.'));
  return message('ephemeral', fallback(title, lines.map((l) => l.replace(/`/g, ''))), blocks);
}

export interface BakeAcknowledgement {
  family: string;
  /** Every region the build will produce an image in (the build region first). */
  regions: string[];
  buildId: string;
  executionName: string;
  executionArn?: string;
  /** Slack user id of the requester. */
  requestedBy?: string;
  reboot?: boolean;
}

/** A bake was accepted and its execution started. In channel, so the team sees it. */
export function bakeAcknowledgedReply(a: BakeAcknowledgement): SlackMessage {
  const who = a.requestedBy !== undefined ? `<@${escapeMrkdwn(a.requestedBy)}> started` : 'Started';
  const reboot = a.reboot === undefined ? '' : a.reboot ? ' (with reboot)' : ' (no reboot, crash-consistent)';
  const summary = `${who} a build of *${escapeMrkdwn(a.family)}*${reboot} → ${a.regions.map(escapeMrkdwn).join(', ')}`;
  const details = `Build \`${escapeMrkdwn(a.buildId)}\` · execution \`${escapeMrkdwn(a.executionName)}\``;
  const text = `${summary.replace(/\*/g, '')}. Build ${a.buildId}, execution ${a.executionName}.`;
  return message('in_channel', clip(text, SLACK_LIMITS.fallbackText), [section(summary), context(details)]);
}

export interface RegionReport {
  region: string;
  status: 'succeeded' | 'failed' | 'pending' | 'running';
  imageId?: string | null;
  error?: string;
  cause?: string;
}

export interface BuildReport {
  /** BuildSucceeded | BuildPartiallySucceeded | BuildFailed, or anything else while running. */
  outcome: string;
  buildId: string;
  family: string;
  imageName?: string | null;
  regions: RegionReport[];
}

const OUTCOME: Record<string, { icon: string; words: string }> = {
  BuildSucceeded: { icon: ':white_check_mark:', words: 'succeeded' },
  BuildPartiallySucceeded: { icon: ':warning:', words: 'partially succeeded' },
  BuildFailed: { icon: ':x:', words: 'failed' },
};
const STATUS_ICON: Record<RegionReport['status'], string> = {
  succeeded: ':white_check_mark:',
  failed: ':x:',
  pending: ':hourglass_flowing_sand:',
  running: ':hourglass_flowing_sand:',
};

function regionLine(r: RegionReport, mrkdwn: boolean): string {
  const e = mrkdwn ? escapeMrkdwn : (s: string): string => s;
  const code = (s: string): string => (mrkdwn ? `\`${e(s)}\`` : s);
  const image = r.imageId !== undefined && r.imageId !== null ? ` ${code(r.imageId)}` : '';
  const failure = r.status === 'failed' ? ` — ${e(r.error ?? 'Unknown')}${r.cause ? `: ${e(clip(firstLine(r.cause), 300))}` : ''}` : '';
  const state = r.status === 'pending' || r.status === 'running' ? ` ${r.status}` : '';
  return `${mrkdwn ? `${STATUS_ICON[r.status]} ` : `${r.status}: `}${e(r.region)}${image}${state}${failure}`;
}

/** Progress or the final result of a build: one line per region with image id or failure. */
export function buildReportReply(report: BuildReport): SlackMessage {
  const o = OUTCOME[report.outcome] ?? { icon: ':hourglass_flowing_sand:', words: 'in progress' };
  const title = `Build of ${report.family} ${o.words}`;
  const name = report.imageName ? ` · image \`${escapeMrkdwn(report.imageName)}\`` : '';
  const blocks: Block[] = [
    section(`${o.icon} *${escapeMrkdwn(title)}*`),
    context(`Build \`${escapeMrkdwn(report.buildId)}\`${name}`),
  ];
  blocks.push(...packLines(report.regions.map((r) => regionLine(r, true)), SLACK_LIMITS.blocks - blocks.length));
  const text = fallback(`${title} (build ${report.buildId})`, report.regions.map((r) => regionLine(r, false)));
  return message('in_channel', text, blocks);
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? '';
}

/** What went wrong, for the requester only. Never a stack trace; unexpected errors show only their name. */
export function errorReply(error: unknown, reference?: string): SlackMessage {
  const ref = reference !== undefined ? ` (reference \`${escapeMrkdwn(reference)}\`)` : '';
  let summary: string;
  let usage: string | undefined;
  if (error instanceof ChatCommandError) {
    summary = error.message;
    usage = error.usage;
  } else if (error instanceof ValidationError || error instanceof FactoryError) {
    summary = firstLine(error.message);
  } else {
    const name = isError(error) && /^[A-Za-z][\w.]{0,99}$/.test(error.name) ? error.name : 'an unexpected error';
    summary = `Something went wrong (${name}). The details are in the factory's logs.`;
  }
  summary = clip(summary, 1000);
  const blocks: Block[] = [section(`:warning: ${escapeMrkdwn(summary)}${ref}`)];
  if (usage !== undefined) blocks.push(context(`Usage: \`${escapeMrkdwn(usage)}\``));
  const text = `${summary}${usage !== undefined ? ` Usage: ${usage}` : ''}${reference !== undefined ? ` (reference ${reference})` : ''}`;
  return message('ephemeral', clip(text, SLACK_LIMITS.fallbackText), blocks);
}

/** A refused command (authorization). Ephemeral. */
export function deniedReply(reason: string): SlackMessage {
  return message('ephemeral', clip(`Not allowed: ${reason}`, SLACK_LIMITS.fallbackText), [section(`:no_entry: ${clip(reason, 2000)}`)]);
}

function table(rows: string[][]): string[] {
  const widths = rows.reduce<number[]>((w, row) => row.map((cell, i) => Math.max(w[i] ?? 0, cell.length)), []);
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd());
}

export interface RetentionPlanReplyInput {
  family: string;
  rows: PlanEntry[];
  /** false: a dry run (nothing changed); true: the plan was carried out. */
  applied: boolean;
  slashCommand?: string;
}

/** The retention plan as a table (action, image, region, age, name, reason). */
export function retentionPlanReply(input: RetentionPlanReplyInput): SlackMessage {
  const { family, rows, applied } = input;
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(r.action, (counts.get(r.action) ?? 0) + 1);
  const tally = [...counts].map(([a, n]) => `${n} ${a}`).join(', ') || 'no images';
  const title = applied ? `Retention applied to ${family}: ${tally}` : `Retention plan for ${family} (dry run): ${tally}`;
  const blocks: Block[] = [section(`*${escapeMrkdwn(title)}*`)];
  if (!applied && rows.some((r) => r.action !== 'keep')) {
    blocks.push(context(`Nothing was changed. \`${escapeMrkdwn(input.slashCommand ?? '/ami')} expire ${escapeMrkdwn(family)} --apply\` carries it out.`));
  }
  const lines = table(
    rows.map((r) => [r.action, r.imageId, r.region, `${Math.floor(r.ageDays)}d`, clip(r.name, 48), clip(r.reason, 80)].map(escapeMrkdwn)),
  );
  blocks.push(...packLines(lines, SLACK_LIMITS.blocks - blocks.length, true));
  const plain = rows.map((r) => `${r.action} ${r.imageId} ${r.region} ${Math.floor(r.ageDays)}d ${r.name}: ${r.reason}`);
  return message(applied ? 'in_channel' : 'ephemeral', fallback(title, plain), blocks);
}

export interface ImageListItem {
  imageId: string;
  region: string;
  name: string;
  ageDays?: number;
  state?: string;
  deprecationTime?: string;
}

/** A family's images, newest first as given. Ephemeral. */
export function imageListReply(family: string, images: ImageListItem[], region?: string): SlackMessage {
  const where = region !== undefined ? ` in ${region}` : '';
  const title = `${images.length} image${images.length === 1 ? '' : 's'} of ${family}${where}`;
  const rows = images.map((i) => [
    i.imageId,
    i.region,
    i.ageDays !== undefined ? `${Math.floor(i.ageDays)}d` : '',
    i.state ?? '',
    clip(i.name, 64),
    i.deprecationTime !== undefined ? `deprecated ${i.deprecationTime.slice(0, 10)}` : '',
  ]);
  const blocks: Block[] = [section(`*${escapeMrkdwn(title)}*`)];
  blocks.push(...packLines(table(rows.map((r) => r.map(escapeMrkdwn))), SLACK_LIMITS.blocks - blocks.length, true));
  return message('ephemeral', fallback(title, table(rows)), blocks);
}

/** A short ephemeral note (a feature not available yet, nothing found). */
export function noticeReply(text: string, detail?: string): SlackMessage {
  const blocks: Block[] = [section(`:information_source: ${escapeMrkdwn(text)}`)];
  if (detail !== undefined) blocks.push(context(escapeMrkdwn(detail)));
  return message('ephemeral', clip(detail !== undefined ? `${text} ${detail}` : text, SLACK_LIMITS.fallbackText), blocks);
}

/** Adds a context line under a reply (e.g. what a dry run does not check yet). */
export function withNote(reply: SlackMessage, note: string): SlackMessage {
  const blocks = [...reply.blocks.slice(0, SLACK_LIMITS.blocks - 1), context(escapeMrkdwn(note))];
  return { ...reply, blocks, text: clip(`${reply.text}\n${note}`, SLACK_LIMITS.fallbackText) };
}

export interface ExecutionSummary {
  buildId: string;
  family: string;
  /** RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED | PENDING_REDRIVE */
  status: string;
  startDate?: string;
  stopDate?: string;
  error?: string;
  cause?: string;
}

/** One build that has not (or not successfully) reported: its execution status. Ephemeral. */
export function executionStatusReply(e: ExecutionSummary): SlackMessage {
  const icon = e.status === 'RUNNING' ? ':hourglass_flowing_sand:' : e.status === 'SUCCEEDED' ? ':white_check_mark:' : ':x:';
  const title = `Build of ${e.family} is ${e.status.toLowerCase().replace(/_/g, ' ')}`;
  const since = e.startDate !== undefined ? ` · started ${e.startDate}` : '';
  const failure = e.error !== undefined ? ` — ${e.error}${e.cause ? `: ${clip(firstLine(e.cause), 300)}` : ''}` : '';
  const blocks: Block[] = [
    section(`${icon} *${escapeMrkdwn(title)}*${escapeMrkdwn(failure)}`),
    context(`Build \`${escapeMrkdwn(e.buildId)}\`${escapeMrkdwn(since)}`),
  ];
  return message('ephemeral', clip(`${title}${failure} (build ${e.buildId}${since})`, SLACK_LIMITS.fallbackText), blocks);
}

/** The recent builds, newest first. Ephemeral. */
export function recentBuildsReply(builds: ExecutionSummary[]): SlackMessage {
  const title = builds.length === 0 ? 'No recent builds' : `${builds.length} recent build${builds.length === 1 ? '' : 's'}`;
  const rows = builds.map((b) => [b.status.toLowerCase(), b.family, b.buildId, b.startDate ?? '']);
  const blocks: Block[] = [section(`*${escapeMrkdwn(title)}*`)];
  blocks.push(...packLines(table(rows.map((r) => r.map(escapeMrkdwn))), SLACK_LIMITS.blocks - blocks.length, true));
  return message('ephemeral', fallback(title, table(rows)), blocks);
}

export interface ShareReplyInput {
  imageId: string;
  region: string;
  family: string;
  account: string;
  /** false: the account could launch the image already. */
  added: boolean;
  snapshotsShared: number;
}

/** The outcome of `share`. In channel, so the team sees who shared what. */
export function shareReply(s: ShareReplyInput): SlackMessage {
  const what = s.added
    ? `Shared ${s.imageId} (${s.family}, ${s.region}) with account ${s.account}`
    : `${s.imageId} (${s.family}, ${s.region}) was already shared with account ${s.account}; nothing changed`;
  const snaps = s.snapshotsShared > 0 ? ` · create-volume permission on ${s.snapshotsShared} snapshot${s.snapshotsShared === 1 ? '' : 's'}` : '';
  return message('in_channel', clip(`${what}${snaps}`, SLACK_LIMITS.fallbackText), [section(`:handshake: ${escapeMrkdwn(what)}${escapeMrkdwn(snaps)}`)]);
}

/** The plain text of a message for a terminal: its blocks' text, with Slack's markup undone. */
export function renderPlainText(m: { text?: string; blocks?: Block[] }): string {
  const lines: string[] = [];
  for (const b of m.blocks ?? []) {
    if (b.type === 'header' || b.type === 'section') lines.push(b.text.text);
    else if (b.type === 'context') lines.push(...b.elements.map((e) => `  ${e.text}`));
  }
  const text = lines.length > 0 ? lines.join('\n') : (m.text ?? '');
  return text
    .replace(/```/g, '')
    .replace(/<@([A-Z0-9]+)>/g, '@$1')
    .replace(/<#([A-Z0-9]+)>/g, '#$1')
    .replace(/:white_check_mark:/g, '✓')
    .replace(/:x:/g, '✗')
    .replace(/:warning:/g, '!')
    .replace(/:no_entry:/g, '⛔')
    .replace(/:hourglass_flowing_sand:/g, '…')
    .replace(/:information_source:/g, 'i')
    .replace(/:handshake:/g, '→')
    .replace(/[*`]/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}
