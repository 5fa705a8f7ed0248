import { SLACK_LIMITS, clip, escapeMrkdwn, type Block } from '../chatops/replies.js';
import { APPROVE_ACTION_ID, COMMENT_ACTION_ID, COMMENT_BLOCK_ID, MAX_COMMENT_LENGTH, REJECT_ACTION_ID } from './action-ids.js';
import { approversOf, type ApprovalRecord } from './decide.js';
import type { GateKind } from './gates.js';

/**
 * The approval request as a Block Kit message (chat.postMessage), and the same message updated
 * in place after each decision (chat.update): what will change, who asked and why, the gate's
 * rule, and Approve / Reject buttons while it is pending. Text from users and EC2 is escaped.
 */
export interface ButtonElement {
  type: 'button';
  action_id: string;
  text: { type: 'plain_text'; text: string };
  value: string;
  style?: 'primary' | 'danger';
}
export interface CommentInputBlock {
  type: 'input';
  block_id: string;
  optional: true;
  label: { type: 'plain_text'; text: string };
  element: { type: 'plain_text_input'; action_id: string; max_length: number };
}
export type ApprovalBlock = Block | CommentInputBlock | { type: 'actions'; block_id: string; elements: ButtonElement[] };

export interface ApprovalMessage {
  channel: string;
  text: string;
  blocks: ApprovalBlock[];
}

const TITLE: Record<GateKind, string> = {
  publicShare: 'Approval needed: make an image public',
  newAccounts: 'Approval needed: share with new accounts',
  promote: 'Approval needed: promote a build',
  retentionApply: 'Approval needed: retire images',
};

const section = (text: string): Block => ({ type: 'section', text: { type: 'mrkdwn', text: clip(text, SLACK_LIMITS.sectionText) } });
const context = (text: string): Block => ({ type: 'context', elements: [{ type: 'mrkdwn', text: clip(text, SLACK_LIMITS.sectionText) }] });
const mention = (user: string): string => `<@${user}>`;

/** How many changes are listed before "…and N more" (the rest is in the linked plan or report). */
const MAX_CHANGE_LINES = 30;

function changeLines(record: ApprovalRecord): string {
  const shown = record.changes.slice(0, MAX_CHANGE_LINES).map((c) => `• ${escapeMrkdwn(c)}`);
  if (record.changes.length > MAX_CHANGE_LINES) shown.push(`…and ${record.changes.length - MAX_CHANGE_LINES} more`);
  return shown.join('\n');
}

function ruleLine(record: ApprovalRecord): string {
  const who = [...record.rule.approvers.users.map(mention), ...record.rule.approvers.userGroups.map((g) => `<!subteam^${g}>`)].join(', ');
  const twoPerson = record.rule.requesterMayApprove ? '' : ', not the requester';
  return `Needs ${record.rule.required} approval(s) from ${who}${twoPerson}; expires ${record.expiresAt}`;
}

function statusLine(record: ApprovalRecord): string {
  const approvers = approversOf(record).map(mention);
  switch (record.status) {
    case 'pending': {
      const remaining = record.rule.required - approvers.length;
      return approvers.length === 0
        ? ':hourglass: Waiting for approval'
        : `:hourglass: Approved by ${approvers.join(', ')}; waiting for ${remaining} more`;
    }
    case 'approved':
      return `:white_check_mark: Approved by ${approvers.join(', ')}`;
    case 'rejected': {
      const r = record.decisions.find((d) => d.decision === 'reject');
      const by = r === undefined ? '' : ` by ${mention(r.userId)}`;
      const why = r?.comment !== undefined ? `: ${escapeMrkdwn(r.comment)}` : '';
      return `:no_entry: Rejected${by}${why}`;
    }
    case 'expired':
      return `:alarm_clock: Expired at ${record.decidedAt ?? record.expiresAt} without enough approvals: rejected`;
  }
}

/** The message for a record in its current state (buttons only while it is pending). */
export function approvalMessage(record: ApprovalRecord, channel: string): ApprovalMessage {
  const reason = record.requester.reason !== undefined ? ` — “${escapeMrkdwn(record.requester.reason)}”` : '';
  const blocks: ApprovalBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: clip(`${TITLE[record.gate]} (${record.family})`, SLACK_LIMITS.headerText) } },
    section(changeLines(record)),
    context(`Asked by ${mention(record.requester.userId)}${reason}. ${ruleLine(record)}`),
    section(statusLine(record)),
  ];
  if (record.status === 'pending') {
    // Sent with the click (state.values): the reason for a rejection, or a note with an approval.
    blocks.push({
      type: 'input',
      block_id: COMMENT_BLOCK_ID,
      optional: true,
      label: { type: 'plain_text', text: 'Comment (optional)' },
      element: { type: 'plain_text_input', action_id: COMMENT_ACTION_ID, max_length: MAX_COMMENT_LENGTH },
    });
    blocks.push({
      type: 'actions',
      block_id: `approval-${record.id}`,
      elements: [
        { type: 'button', action_id: APPROVE_ACTION_ID, text: { type: 'plain_text', text: 'Approve' }, value: record.id, style: 'primary' },
        { type: 'button', action_id: REJECT_ACTION_ID, text: { type: 'plain_text', text: 'Reject' }, value: record.id, style: 'danger' },
      ],
    });
  }
  const text = clip(`${TITLE[record.gate]} (${record.family}): ${statusLine(record)}`, SLACK_LIMITS.fallbackText);
  return { channel, text, blocks };
}
