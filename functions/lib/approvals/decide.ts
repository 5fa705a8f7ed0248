import type { Gate, GateKind } from './gates.js';

/**
 * An approval request and the decisions on it: the pure rules, no I/O (the store keeps the
 * record, the Slack endpoint feeds clicks in, the resumer turns a final status into
 * SendTaskSuccess / SendTaskFailure).
 *
 * Rules, in the order they are checked for a click:
 *   1. a request that is no longer pending (approved, rejected, expired) changes no more: the
 *      click is answered `closed` with who decided;
 *   2. a pending request past its deadline expires on the first click that sees it (the sweeper
 *      expires it too): `closed`;
 *   3. the requester may reject (withdraw) their own request; they may approve it only when the
 *      gate says `requesterMayApprove`;
 *   4. anyone else must be an allowed approver (listed user, or member of a listed group);
 *   5. one person counts once: a second click by the same approver is `refused`;
 *   6. one rejection by an allowed person rejects the request; approvals count until `required`
 *      distinct approvers have approved.
 */
export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'expired';
export type DecisionKind = 'approve' | 'reject';

export interface Decision {
  userId: string;
  decision: DecisionKind;
  at: string;
  comment?: string;
}

export interface ApprovalRecord {
  /** Stable id (a UUID), carried by the buttons' `value`. */
  id: string;
  family: string;
  gate: GateKind;
  rule: Gate;
  /** The execution waiting on this gate (for the report) and its task token (to resume it). */
  executionArn: string;
  taskToken: string;
  requester: { userId: string; reason?: string };
  /** One line per change, as the message shows them. */
  changes: string[];
  requestedAt: string;
  expiresAt: string;
  status: ApprovalStatus;
  decisions: Decision[];
  decidedAt?: string;
  /** Where the request was posted (chat.postMessage's channel and ts), to update it in place. */
  message?: { channel: string; ts: string };
}

export interface Click {
  userId: string;
  /** The clicker's user groups (resolved through the Slack Web API; empty without a bot token). */
  userGroups: readonly string[];
  decision: DecisionKind;
  at: Date;
  comment?: string;
}

export type ClickOutcome =
  /** Recorded; the request is now decided (approved or rejected). */
  | { kind: 'decided'; status: 'approved' | 'rejected' }
  /** Recorded; more approvals are needed. */
  | { kind: 'recorded'; remaining: number }
  /** Not recorded: the clicker may not decide this request (or already did). */
  | { kind: 'refused'; reason: string }
  /** Not recorded: the request was already decided or has expired. */
  | { kind: 'closed'; status: Exclude<ApprovalStatus, 'pending'> };

/** The record after a click, and what to answer. The input record is not modified. */
export interface ClickResult {
  record: ApprovalRecord;
  outcome: ClickOutcome;
  /** True when the record changed and must be written. */
  changed: boolean;
}

/** Distinct users who approved, in click order. */
export function approversOf(record: ApprovalRecord): string[] {
  const seen: string[] = [];
  for (const d of record.decisions) if (d.decision === 'approve' && !seen.includes(d.userId)) seen.push(d.userId);
  return seen;
}

function mayDecide(record: ApprovalRecord, click: Click): string | undefined {
  const isRequester = click.userId === record.requester.userId;
  if (isRequester) {
    if (click.decision === 'reject') return undefined;
    if (!record.rule.requesterMayApprove) return 'you asked for this change; another approver must approve it (two-person rule)';
    // A requester who may approve still has to be an approver.
  }
  const listed = record.rule.approvers.users.includes(click.userId);
  const grouped = click.userGroups.some((g) => record.rule.approvers.userGroups.includes(g));
  if (!listed && !grouped) return 'you are not an approver for this gate';
  if (record.decisions.some((d) => d.userId === click.userId)) return 'you have already decided on this request';
  return undefined;
}

/** Expires a pending record whose deadline has passed at `now` (sweeper and clicks alike). */
export function expireIfDue(record: ApprovalRecord, now: Date): ApprovalRecord {
  if (record.status !== 'pending' || now.getTime() < Date.parse(record.expiresAt)) return record;
  return { ...record, status: 'expired', decidedAt: now.toISOString() };
}

export function applyClick(record: ApprovalRecord, click: Click): ClickResult {
  const current = expireIfDue(record, click.at);
  if (current.status !== 'pending')
    return { record: current, outcome: { kind: 'closed', status: current.status }, changed: current !== record };
  const refusal = mayDecide(current, click);
  if (refusal !== undefined) return { record: current, outcome: { kind: 'refused', reason: refusal }, changed: false };

  const decision: Decision = { userId: click.userId, decision: click.decision, at: click.at.toISOString() };
  if (click.comment !== undefined && click.comment !== '') decision.comment = click.comment;
  const decisions = [...current.decisions, decision];
  if (click.decision === 'reject') {
    const next: ApprovalRecord = { ...current, decisions, status: 'rejected', decidedAt: decision.at };
    return { record: next, outcome: { kind: 'decided', status: 'rejected' }, changed: true };
  }
  const draft: ApprovalRecord = { ...current, decisions };
  const remaining = current.rule.required - approversOf(draft).length;
  if (remaining > 0) return { record: draft, outcome: { kind: 'recorded', remaining }, changed: true };
  return {
    record: { ...draft, status: 'approved', decidedAt: decision.at },
    outcome: { kind: 'decided', status: 'approved' },
    changed: true,
  };
}

/** A new pending record for a gate, due `rule.timeoutSeconds` after `requestedAt`. */
export function newApproval(
  fields: Omit<ApprovalRecord, 'status' | 'decisions' | 'expiresAt' | 'requestedAt' | 'decidedAt'>,
  requestedAt: Date,
): ApprovalRecord {
  return {
    ...fields,
    requestedAt: requestedAt.toISOString(),
    expiresAt: new Date(requestedAt.getTime() + fields.rule.timeoutSeconds * 1000).toISOString(),
    status: 'pending',
    decisions: [],
  };
}
