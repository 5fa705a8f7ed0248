import { SendTaskFailureCommand, SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { SFN_ERROR } from '../error-codes.js';
import { FactoryError, hasErrorName } from '../errors.js';
import { approversOf, type ApprovalRecord } from './decide.js';

/**
 * Resuming the execution that waits at a gate (a `.waitForTaskToken` task holding the record's
 * token): approval continues it with the approvers in its output; rejection and expiry fail the
 * task with a named error the state machine catches (`ApprovalRejected`, `ApprovalExpired`:
 * the step ends as Rejected, cleans up and reports). A token Step Functions no longer knows
 * (the execution ended or timed out, or this resume already ran: Lambda and the sweeper may both
 * resume) is not an error; a malformed token (InvalidToken) is a bug and is thrown.
 */
export const APPROVAL_ERROR = { rejected: 'ApprovalRejected', expired: 'ApprovalExpired' } as const;

/** A record that is still pending cannot resume anything. */
export class ApprovalPendingError extends FactoryError {
  override name = 'ApprovalPendingError';
}

export type Resumption =
  | { kind: 'success'; output: { approvalId: string; status: 'approved'; approvers: string[]; decidedAt: string } }
  | { kind: 'failure'; error: string; cause: string };

export function resumptionFor(record: ApprovalRecord): Resumption {
  switch (record.status) {
    case 'pending':
      throw new ApprovalPendingError(`approval ${record.id} is still pending`);
    case 'approved':
      return {
        kind: 'success',
        output: {
          approvalId: record.id,
          status: 'approved',
          approvers: approversOf(record),
          decidedAt: record.decidedAt ?? record.expiresAt,
        },
      };
    case 'rejected': {
      const r = record.decisions.find((d) => d.decision === 'reject');
      const why = r?.comment !== undefined ? `: ${r.comment}` : '';
      return {
        kind: 'failure',
        error: APPROVAL_ERROR.rejected,
        cause: `rejected by ${r?.userId ?? 'an approver'} at ${record.decidedAt ?? ''}${why}`,
      };
    }
    case 'expired':
      return {
        kind: 'failure',
        error: APPROVAL_ERROR.expired,
        cause: `no decision within ${record.rule.timeoutSeconds}s (expired ${record.expiresAt})`,
      };
  }
}

/** Sends the record's decision to Step Functions; true when it woke the execution. */
export async function resumeExecution(sfn: SFNClient, record: ApprovalRecord): Promise<boolean> {
  const r = resumptionFor(record);
  try {
    if (r.kind === 'success') await sfn.send(new SendTaskSuccessCommand({ taskToken: record.taskToken, output: JSON.stringify(r.output) }));
    else await sfn.send(new SendTaskFailureCommand({ taskToken: record.taskToken, error: r.error, cause: r.cause }));
    return true;
  } catch (e) {
    if (hasErrorName(e, SFN_ERROR.taskDoesNotExist, SFN_ERROR.taskTimedOut)) return false;
    throw e;
  }
}
