import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { now as clockNow } from '../clock.js';
import { errorMessage } from '../errors.js';
import { publishEvents } from '../events/publish.js';
import type { Logger } from '../logger.js';
import type { SlackWebApi } from '../chatops/web-api.js';
import { approversOf, type ApprovalRecord, type ClickOutcome } from './decide.js';
import type { ApprovalClick } from './interactivity.js';
import { approvalMessage, type ApprovalMessage } from './message.js';
import { resumeExecution } from './resume.js';
import type { ApprovalStore } from './store.js';

/**
 * A click on an approval request, applied (the Slack endpoint calls this once per verified,
 * first-delivery interactivity request):
 *
 *   1. the clicker's user groups, when the gate names groups and a bot token is configured
 *      (usergroups.users.list; a Slack failure counts as no groups: the click may be refused,
 *      never wrongly accepted);
 *   2. the click recorded with compare-and-swap (ApprovalStore.click, the rules of decide.ts);
 *   3. when it changed the record: the request message updated in place (chat.update with
 *      approvalMessage; without a bot token, through the click's response_url with
 *      `replace_original`);
 *   4. when the request is now final (approved, rejected, or expired by this click): the waiting
 *      execution resumed (resumeExecution) and `ApprovalDecided` published on the factory bus.
 *
 * A click that changes nothing (refused, or the request already closed) writes nothing, and the
 * clicker gets an ephemeral answer saying why. For a request already closed the resume is sent
 * again, which costs nothing when it already ran (Step Functions answers TaskTimedOut or
 * TaskDoesNotExist, resumeExecution's `false`) and finishes the job when a previous delivery died
 * between recording the decision and resuming. Steps 3 and 4 after the write are best effort: a
 * failure is logged and the click is still answered (the decision is recorded; the sweeper
 * expires what never resumes).
 */
export interface ApplyDeps {
  store: Pick<ApprovalStore, 'get' | 'click'>;
  sfn: SFNClient;
  events: EventBridgeClient;
  eventBus: string;
  /** The Slack Web API, or undefined without a bot token. */
  slack: SlackWebApi | undefined;
  /** Posts an answer to the click's response_url (ephemeral, or replacing the request message). */
  respond?: (responseUrl: string, message: ResponseMessage) => Promise<void>;
  logger: Logger;
  now?: () => Date;
}

export interface ResponseMessage {
  response_type?: 'ephemeral' | 'in_channel';
  replace_original: boolean;
  text: string;
  blocks?: ApprovalMessage['blocks'];
}

export type ApplyOutcome = ClickOutcome | { kind: 'unknown' };

export interface ApplyResult {
  outcome: ApplyOutcome;
  /** The record after the click (undefined for an unknown request). */
  record?: ApprovalRecord;
  /** What the clicker is told (ephemeral), or undefined when the updated message says it. */
  answer?: string;
  /** Whether the execution was resumed by this click. */
  resumed: boolean;
}

/** The clicker's groups among the gate's, or none (see the module comment). */
async function groupsOf(deps: ApplyDeps, record: ApprovalRecord, userId: string): Promise<string[]> {
  const groups = record.rule.approvers.userGroups;
  // Not needed for a closed request, nor for a listed user: no Slack call spends the 3 s for nothing.
  if (groups.length === 0 || deps.slack === undefined || record.status !== 'pending' || record.rule.approvers.users.includes(userId))
    return [];
  try {
    return await deps.slack.groupsOf(userId, groups);
  } catch (e) {
    deps.logger.warn('user groups not resolved; the click counts without them', { errorName: e instanceof Error ? e.name : typeof e });
    return [];
  }
}

function answerFor(outcome: ApplyOutcome, record: ApprovalRecord | undefined): string | undefined {
  switch (outcome.kind) {
    case 'unknown':
      return 'This approval request is not known to the factory (it may have been removed). Nothing was recorded.';
    case 'refused':
      return `Your click was not recorded: ${outcome.reason}.`;
    case 'closed': {
      const by =
        record === undefined || outcome.status === 'expired'
          ? ''
          : outcome.status === 'approved'
            ? ` by ${approversOf(record)
                .map((u) => `<@${u}>`)
                .join(', ')}`
            : ` by ${record.decisions
                .filter((d) => d.decision === 'reject')
                .map((d) => `<@${d.userId}>`)
                .join(', ')}`;
      return `This request was already ${outcome.status}${by}; your click changed nothing.`;
    }
    case 'recorded':
      return `Your approval is recorded; waiting for ${outcome.remaining} more.`;
    case 'decided':
      return undefined;
  }
}

async function updateMessage(deps: ApplyDeps, record: ApprovalRecord, click: ApprovalClick): Promise<void> {
  const where =
    record.message ??
    (click.channelId !== undefined && click.messageTs !== undefined ? { channel: click.channelId, ts: click.messageTs } : undefined);
  try {
    if (deps.slack !== undefined && where !== undefined) {
      const m = approvalMessage(record, where.channel);
      await deps.slack.update({ channel: where.channel, ts: where.ts, text: m.text, blocks: m.blocks });
    } else if (deps.respond !== undefined && click.responseUrl !== undefined) {
      const m = approvalMessage(record, where?.channel ?? record.rule.channel);
      await deps.respond(click.responseUrl, { replace_original: true, text: m.text, blocks: m.blocks });
    }
  } catch (e) {
    deps.logger.warn('approval message not updated', { approvalId: record.id, errorName: e instanceof Error ? e.name : typeof e });
  }
}

async function resume(deps: ApplyDeps, record: ApprovalRecord): Promise<boolean> {
  try {
    return await resumeExecution(deps.sfn, record);
  } catch (e) {
    deps.logger.error('execution not resumed', {
      approvalId: record.id,
      executionArn: record.executionArn,
      errorName: e instanceof Error ? e.name : typeof e,
      errorMessage: errorMessage(e),
    });
    return false;
  }
}

/** Publishes ApprovalDecided for a final record (also the sweeper's, on expiry). Throws on a refused event. */
export async function publishApprovalDecided(deps: Pick<ApplyDeps, 'events' | 'eventBus'>, record: ApprovalRecord): Promise<void> {
  if (record.status === 'pending') return;
  const rejection = record.decisions.find((d) => d.decision === 'reject');
  const decidedBy =
    record.status === 'approved' ? approversOf(record) : record.status === 'rejected' && rejection ? [rejection.userId] : [];
  const comment =
    record.status === 'rejected' ? rejection?.comment : record.decisions.filter((d) => d.decision === 'approve').at(-1)?.comment;
  await publishEvents(deps.events, deps.eventBus, [
    {
      type: 'ApprovalDecided',
      detail: {
        approvalId: record.id,
        family: record.family,
        gate: record.gate,
        status: record.status,
        executionArn: record.executionArn,
        requestedBy: record.requester.userId,
        decidedAt: record.decidedAt ?? record.expiresAt,
        decidedBy,
        ...(comment !== undefined ? { comment } : {}),
        decisions: record.decisions.map((d) => ({
          userId: d.userId,
          decision: d.decision,
          at: d.at,
          ...(d.comment !== undefined ? { comment: d.comment } : {}),
        })),
      },
      resources: [record.executionArn],
    },
  ]);
}

export async function applyApprovalClick(deps: ApplyDeps, click: ApprovalClick): Promise<ApplyResult> {
  const now = (deps.now ?? clockNow)();
  const current = await deps.store.get(click.approvalId);
  if (current === undefined) {
    deps.logger.warn('click on an unknown approval request', { approvalId: click.approvalId });
    return { outcome: { kind: 'unknown' }, answer: answerFor({ kind: 'unknown' }, undefined), resumed: false };
  }
  const userGroups = await groupsOf(deps, current, click.userId);
  const result = await deps.store.click(click.approvalId, {
    userId: click.userId,
    userGroups,
    decision: click.decision,
    at: now,
    ...(click.comment !== undefined && click.comment !== '' ? { comment: click.comment } : {}),
  });
  const { record, outcome } = result;
  deps.logger.info('approval click', { approvalId: record.id, outcome: outcome.kind, status: record.status, user: click.userId });
  let resumed = false;
  if (result.changed) {
    await updateMessage(deps, record, click);
    if (record.status !== 'pending') {
      resumed = await resume(deps, record);
      try {
        await publishApprovalDecided(deps, record);
      } catch (e) {
        deps.logger.error('ApprovalDecided not published', { approvalId: record.id, errorMessage: errorMessage(e) });
      }
    }
  } else if (record.status !== 'pending') {
    resumed = await resume(deps, record);
  }
  const answer = answerFor(outcome, record);
  return { outcome, record, resumed, ...(answer !== undefined ? { answer } : {}) };
}
