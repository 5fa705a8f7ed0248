import { createHash } from 'node:crypto';
import type { SFNClient } from '@aws-sdk/client-sfn';
import * as z from 'zod';
import { BuildRequestSchema, type BuildRequest } from '../build-request.js';
import { ChannelOperationSchema } from '../channels/promote.js';
import type { FamilyConfig } from '../config.js';
import { FactoryError } from '../errors.js';
import type { Logger } from '../logger.js';
import { RetentionRequestSchema } from '../retention/request.js';
import { expireIfDue, newApproval, type ApprovalRecord } from './decide.js';
import { GATE_KINDS, type Gate, type GateKind } from './gates.js';
import { resumeExecution } from './resume.js';
import type { ApprovalStore } from './store.js';

/**
 * Asking for an approval at a gate (the `requestApproval` function, invoked by a
 * `.waitForTaskToken` task of a state machine): the record is created in the state bucket with
 * the task's token, then the Block Kit request is posted to the gate's channel. The task then
 * waits — no state transitions, no invocations — until a decision (a click, applied by the Slack
 * endpoint) or the sweeper's expiry resumes it (resume.ts).
 *
 * Every step runs at least once, so the record's id is derived from what identifies the wait:
 * the execution, the step of it that waits and the gate. A retried invocation finds the record
 * it made: with the same token it changes nothing (and posts nothing twice); with a new token (a
 * Retry of the task state makes a new one) a pending record takes the new token, and a record
 * already decided resumes the new token at once with its decision.
 */

/** What a gate holds: a build's share, a promotion, a retention run's plan. */
export const ApprovalSubjectSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('build'), request: BuildRequestSchema, imageId: z.string(), imageName: z.string() }).strict(),
  z.object({ kind: z.literal('promote'), operation: ChannelOperationSchema }).strict(),
  z
    .object({
      kind: z.literal('retention'),
      request: RetentionRequestSchema,
      plans: z.array(RegionPlanSummarySchema()),
      /** Where the plans are (the state bucket), for the message's links. */
      bucket: z.string().optional(),
    })
    .strict(),
]);
export type ApprovalSubject = z.infer<typeof ApprovalSubjectSchema>;

function RegionPlanSummarySchema() {
  return z
    .object({
      region: z.string(),
      status: z.string(),
      planKey: z.string().optional(),
      counts: z.record(z.string(), z.number()).optional(),
    })
    .passthrough();
}

export const ApprovalTaskInputSchema = z
  .object({
    /** The `.waitForTaskToken` task's token ($$.Task.Token). */
    token: z.string().min(1).max(4096),
    /** The waiting execution ($$.Execution.Id). */
    executionArn: z.string().min(1).max(2048),
    /** Which step of the execution waits (one record per execution, step and gate). */
    step: z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, 'must be a step name such as share'),
    gate: z.enum(GATE_KINDS),
    subject: ApprovalSubjectSchema,
  })
  .strict();
export type ApprovalTaskInput = z.infer<typeof ApprovalTaskInputSchema>;

/** The family has no such gate (any longer): the state machine asked for one its config does not declare. */
export class GateNotConfiguredError extends FactoryError {
  override name = 'GateNotConfiguredError';
}

/** Posts the approval request to Slack: where it went, or undefined when it was not posted (no bot token). */
export interface ApprovalPoster {
  postApprovalRequest(record: ApprovalRecord): Promise<{ channel: string; ts: string } | undefined>;
}

/**
 * The poster of a factory without a Slack bot token: posts nothing. The request is still
 * recorded, and `ami-factory chat` shows it and can click on it.
 */
export const unpostedApprovals: ApprovalPoster = { postApprovalRequest: () => Promise.resolve(undefined) };

/**
 * The record id of the wait: a UUID (the buttons' value must be one, interactivity.ts) made
 * from sha256(execution, step, gate), with the version-8 and RFC 9562 variant bits set.
 */
export function approvalIdFor(executionArn: string, step: string, gate: GateKind): string {
  const h = createHash('sha256').update(`${executionArn}\n${step}\n${gate}`).digest('hex').slice(0, 32).split('');
  h[12] = '8';
  h[16] = ((parseInt(h[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  const s = h.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20, 32)}`;
}

/** The gate's rule in the family's config (a promote or retention gate with its extra fields). */
export function gateRule(family: FamilyConfig | undefined, familyName: string, gate: GateKind): Gate {
  const rule = family?.gates?.[gate];
  if (rule === undefined) throw new GateNotConfiguredError(`family ${familyName} declares no ${gate} gate`);
  return rule;
}

const SLACK_USER = /^[UW][A-Z0-9]{2,}$/;

/**
 * Who asked: the Slack user of a ChatOps trigger (`U0123 (name)`), else the trigger itself
 * (`schedule`, `cli:alice`), which no Slack user is, so any approver may approve it.
 */
export function requesterOf(trigger: BuildRequest['trigger'], what: string): ApprovalRecord['requester'] {
  const first = trigger.actor?.split(' ')[0] ?? '';
  const userId =
    trigger.type === 'chatops' && SLACK_USER.test(first)
      ? first
      : `${trigger.type}${trigger.actor !== undefined ? `:${trigger.actor}` : ''}`;
  return { userId, reason: what };
}

function targetsOf(s: BuildRequest['sharing']): string[] {
  return [...s.accounts, ...s.organizationArns, ...s.organizationalUnitArns];
}

function configuredTargets(family: FamilyConfig | undefined): string[] {
  const s = family?.sharing;
  return s === undefined ? [] : [...s.accounts, ...s.organizationArns, ...s.organizationalUnitArns];
}

/** The change lines of the message, and who asked, for a subject at a gate. */
export function describeSubject(
  subject: ApprovalSubject,
  gate: GateKind,
  family: FamilyConfig | undefined,
): { changes: string[]; requester: ApprovalRecord['requester'] } {
  switch (subject.kind) {
    case 'build': {
      const r = subject.request;
      const where = `${subject.imageId} in ${r.region}${r.copies.length > 0 ? ` and its copies in ${r.copies.map((c) => c.region).join(', ')}` : ''}`;
      const requester = requesterOf(r.trigger, `build ${r.buildId} (${r.trigger.type})`);
      if (gate === 'publicShare') return { changes: [`Make ${subject.imageName} public: ${where}`], requester };
      const known = configuredTargets(family);
      const fresh = targetsOf(r.sharing).filter((t) => !known.includes(t));
      return {
        changes: [`Share ${subject.imageName} (${where}) with:`, ...fresh.map((t) => `${t} (not in the family's sharing)`)],
        requester,
      };
    }
    case 'promote': {
      const op = subject.operation;
      return {
        changes: [
          `Promote ${op.operation === 'promote' ? op.target : '(rollback)'} of ${op.family} to channel ${op.channel} in every region it was published in`,
        ],
        requester: requesterOf(op.by, `${op.operation} ${op.channel}`),
      };
    }
    case 'retention': {
      const lines = subject.plans.map((p) => {
        if (p.status !== 'planned' || p.counts === undefined) return `${p.region}: no plan (${p.status})`;
        const c = p.counts;
        const plan = p.planKey === undefined ? '' : ` — plan ${subject.bucket !== undefined ? `s3://${subject.bucket}/` : ''}${p.planKey}`;
        return `${p.region}: deregister ${c.deregister ?? 0}, disable ${c.disable ?? 0}, deprecate ${c.deprecate ?? 0}, keep ${c.keep ?? 0}${plan}`;
      });
      return {
        changes: [`Retire ${retiringOf(subject.plans)} images of ${subject.request.family}:`, ...lines],
        requester: requesterOf(subject.request.trigger, `retention run ${subject.request.runId} (${subject.request.trigger.type})`),
      };
    }
  }
}

/** How many images a retention run's plans would retire (disable or deregister), over all planned regions. */
export function retiringOf(plans: readonly { status: string; counts?: Record<string, number> | undefined }[]): number {
  let n = 0;
  for (const p of plans) if (p.status === 'planned') n += (p.counts?.disable ?? 0) + (p.counts?.deregister ?? 0);
  return n;
}

export interface RequestApprovalDeps {
  store: Pick<ApprovalStore, 'create' | 'expire' | 'setMessage' | 'setTaskToken'>;
  sfn: SFNClient;
  poster: ApprovalPoster;
  now: () => Date;
  logger: Pick<Logger, 'info' | 'warn'>;
}

export interface RequestApprovalResult {
  approvalId: string;
  status: ApprovalRecord['status'];
  /** Where the request was posted; null when it was not (no bot token). */
  message: { channel: string; ts: string } | null;
  /** True when this invocation resumed the execution (a retried task whose record was already decided). */
  resumed: boolean;
}

export async function requestApproval(
  deps: RequestApprovalDeps,
  input: ApprovalTaskInput,
  family: FamilyConfig | undefined,
): Promise<RequestApprovalResult> {
  const familyName = input.subject.kind === 'promote' ? input.subject.operation.family : input.subject.request.family;
  const rule = gateRule(family, familyName, input.gate);
  const { changes, requester } = describeSubject(input.subject, input.gate, family);
  const id = approvalIdFor(input.executionArn, input.step, input.gate);
  const fresh = newApproval(
    { id, family: familyName, gate: input.gate, rule, executionArn: input.executionArn, taskToken: input.token, requester, changes },
    deps.now(),
  );
  let record = await deps.store.create(fresh);
  if (record.taskToken !== input.token) record = await deps.store.setTaskToken(id, input.token);
  if (expireIfDue(record, deps.now()) !== record) record = await deps.store.expire(id, deps.now());
  if (record.status !== 'pending') {
    // The token of this attempt, which is the one that waits (a decided record keeps the old one).
    const resumed = await resumeExecution(deps.sfn, { ...record, taskToken: input.token });
    deps.logger.info('approval already decided; execution resumed', { approvalId: id, status: record.status, resumed });
    return { approvalId: id, status: record.status, message: record.message ?? null, resumed };
  }
  if (record.message === undefined) {
    const posted = await deps.poster.postApprovalRequest(record);
    if (posted !== undefined) record = await deps.store.setMessage(id, posted);
    else deps.logger.warn('approval request not posted (no Slack bot token); decide with ami-factory chat', { approvalId: id });
  }
  deps.logger.info('approval requested', { approvalId: id, gate: input.gate, family: familyName, expiresAt: record.expiresAt });
  return { approvalId: id, status: record.status, message: record.message ?? null, resumed: false };
}
