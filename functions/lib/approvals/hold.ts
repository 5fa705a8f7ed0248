import * as z from 'zod';
import type { BuildRequest } from '../build-request.js';
import { FamilySchema } from '../build-request.js';
import { ChannelOperationSchema } from '../channels/promote.js';
import type { FamilyConfig } from '../config.js';
import { gatesFor, type GateKind, type ProposedChange } from './gates.js';
import { retiringOf } from './request.js';

/**
 * Which gates hold a step, decided before the state machine waits, so that a step no gate holds
 * runs without waiting (and without a Lambda invocation or a message): planBuild for a build's
 * share, the decideGates function for a promotion and for a retention run's plans.
 */

/** The gates a build's share must pass: public sharing, and targets the family's sharing does not list. */
export function buildGates(family: FamilyConfig | undefined, request: BuildRequest): GateKind[] {
  const s = request.sharing;
  return shareGates(family, { public: s.public, targets: [...s.accounts, ...s.organizationArns, ...s.organizationalUnitArns] });
}

/**
 * The gates that hold a share of a family's image (public, or with accounts, organizations or
 * OUs the family's `sharing` does not list): a build's, or a Slack `share`'s.
 */
export function shareGates(family: FamilyConfig | undefined, share: { public: boolean; targets: string[] }): GateKind[] {
  const change: ProposedChange = { kind: 'share', ...share };
  const f = family?.sharing;
  const configured = f === undefined ? [] : [...f.accounts, ...f.organizationArns, ...f.organizationalUnitArns];
  return gatesFor(family?.gates ?? {}, change, configured).map((h) => h.kind);
}

export const GateCheckInputSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('promote'), operation: ChannelOperationSchema }).strict(),
  z
    .object({
      kind: z.literal('retention'),
      family: FamilySchema,
      plans: z.array(z.object({ status: z.string(), counts: z.record(z.string(), z.number()).optional() }).passthrough()),
    })
    .strict(),
]);
export type GateCheckInput = z.infer<typeof GateCheckInputSchema>;

export interface GateCheck {
  /** The gates that hold the step, in the order they are asked. */
  gates: GateKind[];
  held: boolean;
  /** For a retention run: how many images its plans would retire. */
  retiring?: number;
  /**
   * For a retention run: whether the family has a retentionApply gate at all (asked before
   * planning, with no plans: a gated family plans every region before applying any).
   */
  gated?: boolean;
}

export function checkGates(family: FamilyConfig | undefined, input: GateCheckInput): GateCheck {
  const gates = family?.gates ?? {};
  if (input.kind === 'promote') {
    const op = input.operation;
    const held = op.operation === 'promote' ? gatesFor(gates, { kind: 'promote', channel: op.channel }).map((h) => h.kind) : [];
    return { gates: held, held: held.length > 0 };
  }
  const retiring = retiringOf(input.plans);
  const held = gatesFor(gates, { kind: 'retentionApply', retiring }).map((h) => h.kind);
  return { gates: held, held: held.length > 0, retiring, gated: gates.retentionApply !== undefined };
}
