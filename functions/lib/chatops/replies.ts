import { FactoryError, ValidationError, isError } from '../errors.js';
import type { Action, PlanEntry } from '../retention/plan.js';
import type { RegionReport as RetentionRegionReport, RetentionReport } from '../retention/report.js';
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
  return message(
    'ephemeral',
    fallback(
      title,
      lines.map((l) => l.replace(/`/g, '')),
    ),
    blocks,
  );
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
  /** What the run did there (build report's `action`); `untouched` is said on the line. */
  action?: 'created' | 'adopted' | 'untouched';
}

export interface BuildReport {
  /** BuildSucceeded | BuildPartiallySucceeded | BuildFailed, or anything else while running. */
  outcome: string;
  buildId: string;
  family: string;
  imageName?: string | null;
  regions: RegionReport[];
  /** The image a distribution run distributed (absent: a build). */
  distributedImageId?: string;
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
  const action = r.action === 'untouched' ? ' (already published, left alone)' : r.action === 'adopted' ? ' (existing image)' : '';
  return `${mrkdwn ? `${STATUS_ICON[r.status]} ` : `${r.status}: `}${e(r.region)}${image}${state}${action}${failure}`;
}

/** Progress or the final result of a build: one line per region with image id or failure. */
export function buildReportReply(report: BuildReport): SlackMessage {
  const o = OUTCOME[report.outcome] ?? { icon: ':hourglass_flowing_sand:', words: 'in progress' };
  const title = `${report.distributedImageId !== undefined ? `Distribution of ${report.distributedImageId}` : 'Build'} of ${report.family} ${o.words}`;
  const name = report.imageName ? ` · image \`${escapeMrkdwn(report.imageName)}\`` : '';
  const blocks: Block[] = [section(`${o.icon} *${escapeMrkdwn(title)}*`), context(`Build \`${escapeMrkdwn(report.buildId)}\`${name}`)];
  blocks.push(
    ...packLines(
      report.regions.map((r) => regionLine(r, true)),
      SLACK_LIMITS.blocks - blocks.length,
    ),
  );
  const text = fallback(
    `${title} (build ${report.buildId})`,
    report.regions.map((r) => regionLine(r, false)),
  );
  return message('in_channel', text, blocks);
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? '';
}

export interface PublishedReport {
  family: string;
  region: string;
  channel: string;
  imageId: string;
  previousImageId: string | null;
  action: 'publish' | 'promote' | 'rollback';
  launchTemplates: number;
}

const PUBLISHED_WORDS: Record<PublishedReport['action'], string> = { publish: 'published', promote: 'promoted', rollback: 'rolled back' };

/** An ImagePublished event, short: which image a channel of a region now names, and what it replaced. */
export function imagePublishedReply(p: PublishedReport): SlackMessage {
  const e = escapeMrkdwn;
  const was = p.previousImageId === null ? 'new channel in the region' : `was \`${e(p.previousImageId)}\``;
  const templates = p.launchTemplates > 0 ? ` · ${p.launchTemplates} launch template${p.launchTemplates === 1 ? '' : 's'} updated` : '';
  const line = `:label: ${e(p.family)}: \`${e(p.imageId)}\` ${PUBLISHED_WORDS[p.action]} to *${e(p.channel)}* in ${e(p.region)} (${was})${templates}`;
  const text = `${p.family}: ${p.imageId} ${PUBLISHED_WORDS[p.action]} to ${p.channel} in ${p.region} (${p.previousImageId === null ? 'new channel in the region' : `was ${p.previousImageId}`})`;
  return message('in_channel', text, [section(line)]);
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
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

export interface RetentionAcknowledgement {
  family: string;
  regions: string[];
  runId: string;
  executionName: string;
  executionArn?: string;
  /** true: `expire` (plan only); false: `expire --apply`. */
  dryRun: boolean;
  /** Slack user id of the requester. */
  requestedBy?: string;
  policy: { keepNewest: number; maxAgeDays: number; disableGraceDays: number; deprecateAfterDays?: number };
}

function policyText(p: RetentionAcknowledgement['policy']): string {
  const deprecate = p.deprecateAfterDays !== undefined ? `, deprecate after ${p.deprecateAfterDays} days` : '';
  return `keep newest ${p.keepNewest} per region, max age ${p.maxAgeDays} days${deprecate}, ${p.disableGraceDays} days disabled before deregistering`;
}

/**
 * A retention run was started from Slack (`expire`). A dry run is for the requester only; an
 * apply is in channel, so the team sees who retired images. The plan or the result follows on
 * the response_url.
 */
export function retentionAcknowledgedReply(a: RetentionAcknowledgement): SlackMessage {
  const where = a.regions.map(escapeMrkdwn).join(', ');
  const summary = a.dryRun
    ? `:hourglass_flowing_sand: Planning retention of *${escapeMrkdwn(a.family)}* in ${where} (dry run: nothing will change). The plan will be posted here.`
    : `:hourglass_flowing_sand: ${a.requestedBy !== undefined ? `<@${escapeMrkdwn(a.requestedBy)}> started` : 'Started'} retention of *${escapeMrkdwn(a.family)}* in ${where}: expired images are deprecated, disabled or deregistered. The result will be posted here.`;
  const details = `Run \`${escapeMrkdwn(a.runId)}\` · execution \`${escapeMrkdwn(a.executionName)}\` · ${escapeMrkdwn(policyText(a.policy))}`;
  const text = a.dryRun
    ? `Planning retention of ${a.family} in ${a.regions.join(', ')} (dry run). Run ${a.runId}, execution ${a.executionName}.`
    : `${a.requestedBy !== undefined ? `<@${a.requestedBy}> started` : 'Started'} retention of ${a.family} in ${a.regions.join(', ')}. Run ${a.runId}, execution ${a.executionName}.`;
  return message(a.dryRun ? 'ephemeral' : 'in_channel', clip(text, SLACK_LIMITS.fallbackText), [section(summary), context(details)]);
}

/** Plan rows listed in a retention report post at most (the rest are counted per region). */
export const RETENTION_MAX_ROWS = 40;
/** Failure and kept-at-action-time lines listed at most. */
export const RETENTION_MAX_ISSUES = 20;

const ACTIONS: readonly Action[] = ['deregister', 'disable', 'deprecate', 'keep'];
const OUTCOMES: readonly (keyof RetentionRegionReport['outcomes'])[] = [
  'deregistered',
  'disabled',
  'deprecated',
  'already-done',
  'kept',
  'failed',
];

function tally<K extends string>(counts: Partial<Record<K, number>>, order: readonly K[]): string {
  return order
    .filter((k) => (counts[k] ?? 0) > 0)
    .map((k) => `${counts[k] ?? 0} ${k}`)
    .join(', ');
}

function sum<K extends string>(items: Partial<Record<K, number>>[], keys: readonly K[]): Partial<Record<K, number>> {
  const out: Partial<Record<K, number>> = {};
  for (const i of items) for (const k of keys) out[k] = (out[k] ?? 0) + (i[k] ?? 0);
  return out;
}

function retentionTitle(report: RetentionReport): { icon: string; title: string } {
  const planned =
    tally(
      sum(
        report.regions.filter((r) => r.images > 0).map((r) => r.planned),
        ACTIONS,
      ),
      ACTIONS,
    ) || 'no images';
  if (report.dryRun) {
    return report.status === 'failed'
      ? { icon: ':x:', title: `Retention plan for ${report.family} failed` }
      : {
          icon: report.regions.some((r) => r.status === 'plan-failed') ? ':warning:' : ':white_check_mark:',
          title: `Retention plan for ${report.family} (dry run): ${planned}`,
        };
  }
  const done =
    tally(
      sum(
        report.regions.map((r) => r.outcomes),
        OUTCOMES,
      ),
      OUTCOMES,
    ) || 'nothing to do';
  if (report.status === 'succeeded') return { icon: ':white_check_mark:', title: `Retention of ${report.family} applied: ${done}` };
  if (report.status === 'partially-succeeded')
    return { icon: ':warning:', title: `Retention of ${report.family} partially succeeded: ${done}` };
  return { icon: ':x:', title: `Retention of ${report.family} failed: ${done}` };
}

function retentionRegionLine(r: RetentionRegionReport, dryRun: boolean, mrkdwn: boolean): string {
  const e = mrkdwn ? escapeMrkdwn : (s: string): string => s;
  const failed = r.status === 'plan-failed' || r.status === 'apply-failed';
  const icon = failed
    ? ':x:'
    : r.failures.length > 0
      ? ':warning:'
      : r.status === 'skipped'
        ? ':information_source:'
        : ':white_check_mark:';
  const lead = mrkdwn ? `${icon} *${e(r.region)}*` : `${r.region}:`;
  if (r.status === 'plan-failed') return `${lead} plan failed — ${e(clip(firstLine(r.error ?? 'unknown error'), 300))}`;
  let line = r.images === 0 ? `${lead} no images` : `${lead} ${r.images} image${r.images === 1 ? '' : 's'} — ${tally(r.planned, ACTIONS)}`;
  const acted = ACTIONS.some((a) => a !== 'keep' && r.planned[a] > 0);
  if (!dryRun && acted) line += r.status === 'skipped' ? ' · not applied' : ` · done: ${tally(r.outcomes, OUTCOMES) || 'nothing'}`;
  if (r.error !== undefined) line += ` — ${e(clip(firstLine(r.error), 300))}`;
  return line;
}

function retentionIssueLines(report: RetentionReport, mrkdwn: boolean): string[] {
  const e = mrkdwn ? escapeMrkdwn : (s: string): string => s;
  const code = (s: string): string => (mrkdwn ? `\`${e(s)}\`` : s);
  const lines: string[] = [];
  for (const r of report.regions) {
    for (const f of r.failures)
      lines.push(
        `${mrkdwn ? ':x: ' : 'failed: '}${code(f.imageId)} ${e(r.region)} (planned ${e(f.planned)}): ${e(clip(firstLine(f.error), 300))}`,
      );
    for (const k of r.keptAtActionTime)
      lines.push(
        `${mrkdwn ? ':information_source: ' : 'kept: '}${code(k.imageId)} ${e(r.region)} kept at action time (planned ${e(k.planned)}): ${e(clip(firstLine(k.reason), 300))}`,
      );
  }
  return lines;
}

/** Acted-on rows first (deregister, disable, deprecate), then what is kept; by region, oldest first. */
function planOrder(a: PlanEntry, b: PlanEntry): number {
  return (
    ACTIONS.indexOf(a.action) - ACTIONS.indexOf(b.action) ||
    a.region.localeCompare(b.region) ||
    b.ageDays - a.ageDays ||
    a.imageId.localeCompare(b.imageId)
  );
}

const PLAN_HEADER = ['ACTION', 'IMAGE', 'REGION', 'AGE', 'NAME', 'REASON'];

function planCells(r: PlanEntry): string[] {
  return [r.action, r.imageId, r.region, `${Math.floor(r.ageDays)}d`, clip(r.name, 48), clip(r.reason, 80)];
}

export interface RetentionReportReplyInput {
  report: RetentionReport;
  /** Every region's plan entries (read from the run's stored plans); undefined: not available. */
  rows?: PlanEntry[];
  slashCommand?: string;
  /** Plan rows listed at most (default RETENTION_MAX_ROWS). */
  maxRows?: number;
}

/**
 * The plan (dry run) or the result (apply) of a retention run started from Slack: the counts
 * per region, the failures and images kept at action time, and a table of the plan (action,
 * image, region, age, name, reason) cut to a bounded number of rows, acted-on images first.
 */
export function retentionReportReply(input: RetentionReportReplyInput): SlackMessage {
  const { report } = input;
  const { icon, title } = retentionTitle(report);
  const blocks: Block[] = [section(`${icon} *${escapeMrkdwn(title)}*`)];
  const acted = report.regions.some((r) => ACTIONS.some((a) => a !== 'keep' && r.planned[a] > 0));
  const note =
    report.dryRun && acted
      ? ` · nothing was changed; \`${escapeMrkdwn(input.slashCommand ?? '/ami')} expire ${escapeMrkdwn(report.family)} --apply\` carries it out`
      : '';
  blocks.push(context(`Run \`${escapeMrkdwn(report.runId)}\`${note}`));
  blocks.push(
    ...packLines(
      report.regions.map((r) => retentionRegionLine(r, report.dryRun, true)),
      2,
    ),
  );
  const issues = retentionIssueLines(report, true);
  const shownIssues = issues.slice(0, RETENTION_MAX_ISSUES);
  if (shownIssues.length > 0) blocks.push(...packLines(shownIssues, 3));
  if (issues.length > shownIssues.length) blocks.push(context(more(issues.length - shownIssues.length)));
  const rows = [...(input.rows ?? [])].sort(planOrder);
  const limit = Math.max(0, input.maxRows ?? RETENTION_MAX_ROWS);
  const shown = rows.slice(0, limit);
  if (input.rows === undefined) {
    blocks.push(context('The plan table is not available.'));
  } else if (shown.length > 0) {
    const omitted = rows.length - shown.length;
    // One block stays free for the note on the rows not listed.
    const lines = table([PLAN_HEADER, ...shown.map((r) => planCells(r).map(escapeMrkdwn))]);
    blocks.push(...packLines(lines, SLACK_LIMITS.blocks - blocks.length - 1, true));
    if (omitted > 0) {
      const counts: Partial<Record<Action, number>> = {};
      for (const r of rows.slice(limit)) counts[r.action] = (counts[r.action] ?? 0) + 1;
      const byAction = tally(counts, ACTIONS);
      blocks.push(context(`${more(omitted)} rows not listed (${byAction}); the counts per region above cover every image.`));
    }
  }
  const plain = [
    ...report.regions.map((r) => retentionRegionLine(r, report.dryRun, false)),
    ...retentionIssueLines(report, false),
    ...(shown.length > 0 ? table([PLAN_HEADER, ...shown.map(planCells)]) : []),
  ];
  const responseType = report.dryRun ? 'ephemeral' : 'in_channel';
  return message(responseType, fallback(`${title} (run ${report.runId})`, plain), blocks);
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
  /** Whom: `account 1234…`, `organization arn:…` or `OU arn:…` (permissions.ts shareTargetLabel). */
  target: string;
  /** false: the target could launch the image already. */
  added: boolean;
  snapshotsShared: number;
}

/** The outcome of `share`. In channel, so the team sees who shared what. */
export function shareReply(s: ShareReplyInput): SlackMessage {
  const what = s.added
    ? `Shared ${s.imageId} (${s.family}, ${s.region}) with ${s.target}`
    : `${s.imageId} (${s.family}, ${s.region}) was already shared with ${s.target}; nothing changed`;
  const snaps =
    s.snapshotsShared > 0 ? ` · create-volume permission on ${s.snapshotsShared} snapshot${s.snapshotsShared === 1 ? '' : 's'}` : '';
  return message('in_channel', clip(`${what}${snaps}`, SLACK_LIMITS.fallbackText), [
    section(`:handshake: ${escapeMrkdwn(what)}${escapeMrkdwn(snaps)}`),
  ]);
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
