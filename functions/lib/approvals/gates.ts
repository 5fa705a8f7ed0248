import * as z from 'zod';
import { ValidationError } from '../errors.js';
import { SlackChannelIdSchema, SlackUserGroupIdSchema, SlackUserIdSchema } from '../chatops/permissions.js';

/**
 * Approval gates (`families.<name>.gates` in factory.config.yml): the steps that wait for a
 * person before they run.
 *
 *   gates:
 *     publicShare: { approvers: { users: [U1, U2] }, channel: C0APPROVALS }
 *     newAccounts: { approvers: { userGroups: [S0PLATFORM] }, required: 2, channel: C0APPROVALS }
 *     promote:     { channels: [stable], approvers: { users: [U1, U2] }, channel: C0APPROVALS }
 *     retentionApply: { aboveImages: 20, approvers: { users: [U1] }, requesterMayApprove: true, channel: C0OPS }
 *
 * - `publicShare`: a change that makes an image public (launch permission group `all`).
 * - `newAccounts`: sharing with an account, organization or OU the family's `sharing` does not
 *   already list (a Slack `share`, or a request widened beyond the config).
 * - `promote`: promoting a build to one of the listed channels.
 * - `retentionApply`: a retention run whose plan would retire (disable or deregister) more than
 *   `aboveImages` of the family's images; a plan at or below it runs without waiting.
 *
 * Every gate names who may approve (Slack users and/or user groups; groups are resolved through
 * the Slack Web API, so they need the bot token), how many distinct approvers it needs
 * (`required`, default 1), whether the requester may be one of them (`requesterMayApprove`,
 * default false: the two-person rule), the channel the request is posted in, and how long it
 * waits before it is rejected (`timeoutSeconds`, default 24 h, at most 7 days).
 */
export const GATE_KINDS = ['publicShare', 'newAccounts', 'promote', 'retentionApply'] as const;
export type GateKind = (typeof GATE_KINDS)[number];

export const DEFAULT_GATE_TIMEOUT_SECONDS = 86_400;
/** A gate waits at most a week: Step Functions' task token outlives it, the Slack message should not go stale. */
export const MAX_GATE_TIMEOUT_SECONDS = 7 * 86_400;

export const ApproversSchema = z
  .object({
    users: z.array(SlackUserIdSchema).max(100).default([]),
    userGroups: z.array(SlackUserGroupIdSchema).max(20).default([]),
  })
  .strict();

const gateFields = {
  approvers: ApproversSchema,
  required: z.number().int().min(1).max(5).default(1),
  requesterMayApprove: z.boolean().default(false),
  channel: SlackChannelIdSchema,
  timeoutSeconds: z.number().int().min(60).max(MAX_GATE_TIMEOUT_SECONDS).default(DEFAULT_GATE_TIMEOUT_SECONDS),
};

export const GateSchema = z.object(gateFields).strict();
const ChannelNameSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'must be a channel name such as stable');

export const GatesSchema = z
  .object({
    publicShare: GateSchema.optional(),
    newAccounts: GateSchema.optional(),
    promote: z
      .object({ ...gateFields, channels: z.array(ChannelNameSchema).min(1) })
      .strict()
      .optional(),
    retentionApply: z
      .object({ ...gateFields, aboveImages: z.number().int().min(0) })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((gates, ctx) => {
    for (const kind of GATE_KINDS) {
      const gate = gates[kind];
      if (gate === undefined) continue;
      const problem = unsatisfiable(gate);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', path: [kind], message: problem });
    }
  });

export type Gate = z.infer<typeof GateSchema>;
export type Gates = z.infer<typeof GatesSchema>;

/**
 * Why a gate can never be approved, or undefined. Listed users are countable; a user group may
 * hold anyone, so a gate with groups is taken as satisfiable (Slack decides at click time).
 */
function unsatisfiable(gate: Gate): string | undefined {
  const users = new Set(gate.approvers.users);
  if (users.size === 0 && gate.approvers.userGroups.length === 0) return 'names no approver (approvers.users or approvers.userGroups)';
  if (gate.approvers.userGroups.length > 0) return undefined;
  // Under the two-person rule one listed user may be the requester, so one more must exist.
  const needed = gate.requesterMayApprove ? gate.required : gate.required + 1;
  if (users.size < needed) {
    return (
      `needs ${gate.required} approver(s)${gate.requesterMayApprove ? '' : ' other than the requester'} ` +
      `but lists ${users.size} user(s): a request by one of them could never be approved`
    );
  }
  return undefined;
}

/** The family's gates block failed validation. */
export class GateConfigError extends ValidationError {
  override name = 'GateConfigError';
}

/** Parses a `gates` block (GateConfigError with every issue, nothing applied). */
export function parseGates(raw: unknown, family: string): Gates {
  const r = GatesSchema.safeParse(raw ?? {});
  if (r.success) return r.data;
  throw new GateConfigError(
    `families.${family}.gates is invalid`,
    r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
  );
}

/** What a step would change, as far as the gates care. */
export type ProposedChange =
  | { kind: 'share'; public: boolean; targets: string[] }
  | { kind: 'promote'; channel: string }
  | { kind: 'retentionApply'; retiring: number };

/** A gate that holds a change: which one, and the rule that applies. */
export interface HeldBy {
  kind: GateKind;
  gate: Gate;
}

/**
 * The gates a change must pass, in the order they are asked (public before new accounts).
 * `configuredTargets` are the accounts, organization and OU ARNs the family's `sharing` lists:
 * adding one of those is not "new".
 */
export function gatesFor(gates: Gates, change: ProposedChange, configuredTargets: readonly string[] = []): HeldBy[] {
  const held: HeldBy[] = [];
  switch (change.kind) {
    case 'share': {
      if (change.public && gates.publicShare !== undefined) held.push({ kind: 'publicShare', gate: gates.publicShare });
      const fresh = change.targets.filter((t) => !configuredTargets.includes(t));
      if (fresh.length > 0 && gates.newAccounts !== undefined) held.push({ kind: 'newAccounts', gate: gates.newAccounts });
      break;
    }
    case 'promote':
      if (gates.promote !== undefined && gates.promote.channels.includes(change.channel))
        held.push({ kind: 'promote', gate: gates.promote });
      break;
    case 'retentionApply':
      if (gates.retentionApply !== undefined && change.retiring > gates.retentionApply.aboveImages) {
        held.push({ kind: 'retentionApply', gate: gates.retentionApply });
      }
      break;
  }
  return held;
}
