import { DescribeExecutionCommand, ListExecutionsCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { FactoryError, hasErrorName } from '../errors.js';
import { SFN_ERROR } from '../error-codes.js';

/** Another run that applies retention to the same family is in progress; this one changes nothing. */
export class RetentionAlreadyRunningError extends FactoryError {
  override name = 'RetentionAlreadyRunningError';
}

/** `arn:…:execution:<machine>:<name>` → `arn:…:stateMachine:<machine>`. */
export function stateMachineOf(executionArn: string): string {
  const m = /^(arn:[^:]+:states:[^:]+:\d{12}:)execution:([^:]+):[^:]+$/.exec(executionArn);
  if (m === null) throw new FactoryError(`Not an execution ARN: ${executionArn}`);
  return `${m[1]}stateMachine:${m[2]}`;
}

/**
 * Two runs that apply retention to one family at once would race on the family's disable
 * ledger and act on each other's plans. Before planning, an applying run looks for other
 * running, applying runs of the family (dry runs change nothing and are ignored): the one that
 * started first goes on (ties: the smaller name), the other stops here with
 * RetentionAlreadyRunningError, reported like any planning failure.
 */
export async function assertOnlyApplyingRun(sfn: SFNClient, executionArn: string, family: string): Promise<void> {
  const stateMachineArn = stateMachineOf(executionArn);
  const mine = { arn: executionArn, name: executionArn.split(':').pop() ?? '', start: Number.POSITIVE_INFINITY };
  const others: { arn: string; name: string; start: number }[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: 'RUNNING', maxResults: 100, nextToken }));
    for (const e of page.executions ?? []) {
      const start = e.startDate?.getTime() ?? 0;
      if (e.executionArn === executionArn) mine.start = start;
      else if (e.executionArn !== undefined) others.push({ arn: e.executionArn, name: e.name ?? '', start });
    }
    nextToken = page.nextToken;
  } while (nextToken);
  for (const o of others.filter((x) => x.start < mine.start || (x.start === mine.start && x.name < mine.name))) {
    let input: { dryRun?: unknown; family?: unknown };
    try {
      const d = await sfn.send(new DescribeExecutionCommand({ executionArn: o.arn }));
      if (d.status !== 'RUNNING') continue;
      input = JSON.parse(d.input ?? '{}') as { dryRun?: unknown; family?: unknown };
    } catch (e) {
      if (hasErrorName(e, SFN_ERROR.executionDoesNotExist)) continue;
      throw e;
    }
    if (input.family !== family || input.dryRun === true) continue;
    throw new RetentionAlreadyRunningError(
      `Another retention run of ${family} is applying (${o.name}); this run changes nothing. Try again when it has finished.`,
    );
  }
}
