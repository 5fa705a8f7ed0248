import { randomUUID } from 'node:crypto';
import { APPROVE_ACTION_ID } from '../../functions/lib/approvals/action-ids.js';
import { approvalClickBody } from '../../functions/lib/approvals/interactivity.js';
import { INTERACTIVITY_PATH } from '../../functions/lib/approvals/endpoint.js';
import { renderPlainText, type Block } from '../../functions/lib/chatops/replies.js';
import { slackRequestHeaders } from '../../functions/lib/chatops/signature.js';
import type { CloudTarget } from './_common.js';

/**
 * The approvals side of `ami-factory chat`: the approval requests the factory posted to the
 * local Slack stand-in (local/slack.ts), as text with their buttons and their earlier versions,
 * and a click on one of them sent as Slack sends it — a signed block_actions payload to the Slack
 * function's `/interactivity` URL, with a response_url on the stand-in for the ephemeral answer.
 */
interface StandInMessage {
  channel: string;
  ts: string;
  text: string;
  blocks: unknown[];
  versions: { text: string; blocks: unknown[]; editedAt: string }[];
  postedAt: string;
}

interface ActionsBlock {
  type: 'actions';
  elements: { type: string; text?: { text: string }; value?: string; action_id?: string }[];
}
interface InputBlock {
  type: 'input';
  label: { text: string };
}

const isActions = (b: unknown): b is ActionsBlock => typeof b === 'object' && b !== null && (b as { type?: unknown }).type === 'actions';
const isInput = (b: unknown): b is InputBlock => typeof b === 'object' && b !== null && (b as { type?: unknown }).type === 'input';

/** The approval id a message's Approve button carries, if it has one. */
function approvalIdOf(blocks: unknown[]): string | undefined {
  for (const b of blocks) {
    if (!isActions(b)) continue;
    const approve = b.elements.find((e) => e.action_id === APPROVE_ACTION_ID);
    if (approve?.value !== undefined) return approve.value;
  }
  return undefined;
}

/** A message as text: its blocks (renderPlainText), the comment field and the buttons as `[Approve] [Reject]`. */
export function renderApprovalText(m: { text: string; blocks: unknown[] }): string {
  const known = m.blocks.filter((b): b is Block => !isActions(b) && !isInput(b));
  const lines = [renderPlainText({ text: m.text, blocks: known })];
  for (const b of m.blocks) {
    if (isInput(b)) lines.push(`  [ ${b.label.text} … ]`);
    if (isActions(b)) lines.push(`  ${b.elements.map((e) => `[${e.text?.text ?? e.action_id ?? '?'}]`).join(' ')}`);
  }
  return lines.join('\n');
}

async function standInMessages(endpoint: string, channel?: string): Promise<StandInMessage[]> {
  const q = channel !== undefined ? `?channel=${encodeURIComponent(channel)}` : '';
  const r = await fetch(`${endpoint}/slack/_messages${q}`, { signal: AbortSignal.timeout(5000) });
  if (!r.ok) throw new Error(`the local Slack stand-in did not list its messages (HTTP ${r.status})`);
  return ((await r.json()) as { messages: StandInMessage[] }).messages;
}

/** The approval messages of the channel (or all), oldest first, each with its id, versions and buttons. */
export async function printApprovalMessages(target: CloudTarget, channel: string | undefined): Promise<number> {
  const messages = (await standInMessages(target.endpoint, channel)).filter(
    (m) => approvalIdOf(m.blocks) !== undefined || m.versions.some((v) => approvalIdOf(v.blocks) !== undefined),
  );
  if (messages.length === 0) {
    console.log(`no approval requests posted${channel !== undefined ? ` in ${channel}` : ''}`);
    return 0;
  }
  for (const m of messages) {
    const id = approvalIdOf(m.blocks) ?? m.versions.map((v) => approvalIdOf(v.blocks)).find((x) => x !== undefined);
    console.log(`\n#${m.channel} ${m.ts} (approval ${id ?? '?'}, posted ${m.postedAt})`);
    for (const [i, v] of m.versions.entries()) {
      console.log(`  -- version ${i + 1} (until ${v.editedAt})\n${indent(renderApprovalText(v))}`);
    }
    console.log(`${m.versions.length > 0 ? `  -- now (updated ${m.versions.length}×)\n` : ''}${indent(renderApprovalText(m))}`);
  }
  return 0;
}

const indent = (s: string): string =>
  s
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');

/** An ephemeral answer that says the click changed nothing (apply.ts's refusals). */
const REFUSED = /not recorded|changed nothing|not known/;

export interface ClickOptions {
  approvalId: string;
  decision: 'approve' | 'reject';
  userId: string;
  comment?: string;
  /** Where the request is when the stand-in does not have it (a record made by hand). */
  channel?: string;
  secret: string;
  nowMs: number;
}

/**
 * Sends a click on an approval request; prints the HTTP status, the ephemeral answer and the
 * message as it is now. 0 when the click was taken, 1 when it was refused or failed.
 */
export async function sendApprovalClick(target: CloudTarget, o: ClickOptions): Promise<number> {
  const url = target.stack.functionUrls.slackCommand;
  if (url === undefined) {
    console.error(`✗ the stack ${target.stack.stackName} has no function URL for slackCommand`);
    return 1;
  }
  const posted = (await standInMessages(target.endpoint)).find((m) => approvalIdOf(m.blocks) === o.approvalId);
  const responseId = randomUUID();
  const body = approvalClickBody({
    approvalId: o.approvalId,
    decision: o.decision,
    userId: o.userId,
    channelId: posted?.channel ?? o.channel ?? 'C0LOCAL',
    ...(posted !== undefined ? { messageTs: posted.ts } : {}),
    responseUrl: `${target.endpoint}/slack/response/${responseId}`,
    ...(o.comment !== undefined ? { comment: o.comment } : {}),
  });
  const r = await fetch(`${url.replace(/\/$/, '')}${INTERACTIVITY_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...slackRequestHeaders(o.secret, body, o.nowMs) },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await r.text();
  if (r.status !== 200) {
    console.error(`✗ HTTP ${r.status}: ${text}`);
    return 1;
  }
  const answers = await fetch(`${target.endpoint}/slack/_responses/${responseId}`, { signal: AbortSignal.timeout(5000) });
  const responses = ((await answers.json()) as { responses: { text?: string; replace_original?: boolean }[] }).responses;
  const ephemeral = responses.filter((x) => x.replace_original !== true);
  for (const e of ephemeral) console.log(`[only you] ${renderPlainText({ text: e.text ?? '', blocks: [] })}`);
  const now = (await standInMessages(target.endpoint)).find((m) => m.channel === posted?.channel && m.ts === posted.ts);
  if (now !== undefined) console.log(`\n#${now.channel} ${now.ts}\n${indent(renderApprovalText(now))}`);
  const refused = ephemeral.some((e) => REFUSED.test(e.text ?? ''));
  console.log(`\n${refused ? '✗ click not taken' : `✓ ${o.decision} by ${o.userId} recorded`}`);
  return refused ? 1 : 0;
}
