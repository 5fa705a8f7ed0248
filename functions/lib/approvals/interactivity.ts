import * as z from 'zod';
import { ValidationError } from '../errors.js';
import { assertSlackBodySize } from '../chatops/command.js';
import { SlackChannelIdSchema, SlackUserIdSchema } from '../chatops/permissions.js';
import type { DecisionKind } from './decide.js';
import { APPROVE_ACTION_ID, COMMENT_ACTION_ID, COMMENT_BLOCK_ID, MAX_COMMENT_LENGTH, REJECT_ACTION_ID } from './action-ids.js';

/**
 * Slack interactivity payloads (a button click on an approval request). Slack POSTs
 * `application/x-www-form-urlencoded` with one field, `payload`, holding JSON; the request is
 * signed exactly as slash commands are (the caller verifies the signature and claims its digest
 * before parsing). Of the payload types only `block_actions` is accepted, and of its actions only
 * the factory's two buttons, whose `value` is the approval id (action-ids.ts).
 */

/** The payload is not a click on one of the factory's approval buttons. */
export class SlackInteractionError extends ValidationError {
  override name = 'SlackInteractionError';
}

const ApprovalIdSchema = z.uuid();

const BlockActionsSchema = z.object({
  type: z.literal('block_actions'),
  user: z.object({ id: SlackUserIdSchema }).loose(),
  team: z
    .object({ id: z.string().min(1) })
    .loose()
    .nullable()
    .optional(),
  channel: z.object({ id: SlackChannelIdSchema }).loose().optional(),
  container: z.object({ message_ts: z.string().optional(), channel_id: SlackChannelIdSchema.optional() }).loose().optional(),
  response_url: z.url().optional(),
  state: z
    .object({
      values: z.record(z.string(), z.record(z.string(), z.object({ value: z.string().nullable().optional() }).loose())),
    })
    .loose()
    .optional(),
  actions: z
    .array(
      z
        .object({
          action_id: z.string(),
          value: z.string().optional(),
          action_ts: z.string().optional(),
        })
        .loose(),
    )
    .min(1),
});

export interface ApprovalClick {
  approvalId: string;
  decision: DecisionKind;
  userId: string;
  teamId?: string;
  channelId?: string;
  messageTs?: string;
  responseUrl?: string;
  /** What the clicker typed in the message's comment field, if anything. */
  comment?: string;
}

/** Parses the raw (verified) body of an interactivity request into the click it carries. */
export function parseApprovalClick(rawBody: string): ApprovalClick {
  assertSlackBodySize(rawBody);
  const payload = new URLSearchParams(rawBody).get('payload');
  if (payload === null || payload === '') throw new SlackInteractionError('The interactivity request has no payload field');
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch (e) {
    throw new SlackInteractionError('The interactivity payload is not JSON', [], { cause: e });
  }
  const type = typeof json === 'object' && json !== null && 'type' in json ? String(json.type) : 'unknown';
  if (type !== 'block_actions')
    throw new SlackInteractionError(`Interactivity payloads of type ${type} are not handled; only block_actions`);
  const parsed = BlockActionsSchema.safeParse(json);
  if (!parsed.success) {
    throw new SlackInteractionError(
      'The block_actions payload is malformed',
      parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
    );
  }
  const p = parsed.data;
  const action = p.actions.find((a) => a.action_id === APPROVE_ACTION_ID || a.action_id === REJECT_ACTION_ID);
  if (action === undefined) {
    throw new SlackInteractionError(`The click is not on an approval button (${p.actions.map((a) => a.action_id).join(', ')})`);
  }
  const id = ApprovalIdSchema.safeParse(action.value);
  if (!id.success) throw new SlackInteractionError('The approval button carries no approval id');
  const click: ApprovalClick = {
    approvalId: id.data,
    decision: action.action_id === APPROVE_ACTION_ID ? 'approve' : 'reject',
    userId: p.user.id,
  };
  const teamId = p.team?.id;
  if (teamId !== undefined) click.teamId = teamId;
  const channelId = p.channel?.id ?? p.container?.channel_id;
  if (channelId !== undefined) click.channelId = channelId;
  if (p.container?.message_ts !== undefined) click.messageTs = p.container.message_ts;
  if (p.response_url !== undefined) click.responseUrl = p.response_url;
  const comment = p.state?.values[COMMENT_BLOCK_ID]?.[COMMENT_ACTION_ID]?.value?.trim();
  if (comment !== undefined && comment !== '') click.comment = comment.slice(0, MAX_COMMENT_LENGTH);
  return click;
}

/** The form body Slack would send for a click (the local `chat --click` and tests). */
export function approvalClickBody(click: {
  approvalId: string;
  decision: DecisionKind;
  userId: string;
  channelId: string;
  teamId?: string;
  messageTs?: string;
  responseUrl?: string;
  comment?: string;
}): string {
  const payload = {
    type: 'block_actions',
    user: { id: click.userId },
    team: { id: click.teamId ?? 'T0LOCAL' },
    channel: { id: click.channelId },
    container: { type: 'message', channel_id: click.channelId, message_ts: click.messageTs ?? '0.000000' },
    ...(click.responseUrl !== undefined ? { response_url: click.responseUrl } : {}),
    ...(click.comment !== undefined
      ? { state: { values: { [COMMENT_BLOCK_ID]: { [COMMENT_ACTION_ID]: { type: 'plain_text_input', value: click.comment } } } } }
      : {}),
    actions: [
      {
        type: 'button',
        action_id: click.decision === 'approve' ? APPROVE_ACTION_ID : REJECT_ACTION_ID,
        value: click.approvalId,
      },
    ],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}
