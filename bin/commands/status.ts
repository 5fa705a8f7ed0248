import { DescribeExecutionCommand, SFNClient, type DescribeExecutionCommandOutput, type HistoryEvent } from '@aws-sdk/client-sfn';
import { hasErrorName } from '../../functions/lib/errors.js';
import { fullHistory } from '../execution-progress.js';
import {
  commandCredentials,
  causeMessage,
  CloudLostError,
  CLOUD_OPTIONS,
  CLOUD_OPTIONS_HELP,
  connectForCommand,
  following,
  formatDuration,
  onePositional,
  parseCommand,
  table,
  type StackInfo,
} from './_common.js';

export const summary = 'Show an execution (a build or a retention run) of the local cloud, e.g. after a restart';

const HELP = `usage: ami-factory status <execution> [--watch]

Shows one execution of the factory's state machines: its status, when it started and stopped,
the step it is in, and its result (one line per region). <execution> is the ARN a command
printed, or the execution name (e.g. web-<build id>), looked up in both state machines.
The execution is read from the cloud's state folder, so it is there after the cloud restarts.
  --watch   follow a running execution until it ends
Exit status: 0 when it succeeded (or, without --watch, is still running), 1 when it failed,
timed out or was aborted, or no such execution exists.
${CLOUD_OPTIONS_HELP}`;

interface RegionLine {
  region?: string;
  status?: string;
  imageId?: string | null;
  error?: string;
  cause?: string;
  reason?: string;
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand('status', HELP, argv, {
    watch: { type: 'boolean' },
    ...CLOUD_OPTIONS,
    help: { type: 'boolean', short: 'h' },
  });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const execution = onePositional('status', HELP, positionals, 'execution (ARN or name)');
  if (typeof execution === 'number') return execution;

  const target = await connectForCommand('status', values);
  if (typeof target === 'number') return target;
  const sfn = new SFNClient({
    region: target.stack.region,
    endpoint: target.endpoint,
    credentials: commandCredentials(),
  });
  try {
    let d = await findExecution(sfn, target.stack, execution);
    if (d === undefined) {
      console.error(`ami-factory status: no execution "${execution}" in the local cloud at ${target.endpoint}`);
      return 1;
    }
    const executionArn = d.executionArn ?? execution;
    if (values.watch === true) {
      while (d.status === 'RUNNING') {
        await new Promise((r) => setTimeout(r, 200));
        d = await following(target.endpoint, executionArn, () => sfn.send(new DescribeExecutionCommand({ executionArn })));
      }
    }
    const history = await following(target.endpoint, executionArn, () => fullHistory(sfn, executionArn));
    printExecution(d, history);
    return d.status === 'SUCCEEDED' || d.status === 'RUNNING' ? 0 : 1;
  } catch (e) {
    if (e instanceof CloudLostError) {
      console.error(`✗ ${e.message}`);
      return 1;
    }
    console.error(`✗ ami-factory status: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    return 1;
  } finally {
    sfn.destroy();
    await target.close();
  }
}

/** The execution by ARN, or by name in any of the stack's state machines; undefined when none has it. */
async function findExecution(sfn: SFNClient, stack: StackInfo, execution: string): Promise<DescribeExecutionCommandOutput | undefined> {
  const candidates = execution.startsWith('arn:')
    ? [execution]
    : Object.values(stack.stateMachines).map((sm) => `${sm.replace(':stateMachine:', ':execution:')}:${execution}`);
  for (const executionArn of candidates) {
    try {
      return await sfn.send(new DescribeExecutionCommand({ executionArn }));
    } catch (e) {
      if (hasErrorName(e, 'ExecutionDoesNotExist')) continue;
      throw e;
    }
  }
  return undefined;
}

function printExecution(d: DescribeExecutionCommandOutput, history: HistoryEvent[]): void {
  const stateMachine = d.stateMachineArn?.split(':').pop() ?? '?';
  const started = d.startDate;
  const stopped = d.stopDate;
  console.log(`execution   ${d.executionArn ?? '?'}`);
  console.log(`machine     ${stateMachine}`);
  console.log(`status      ${d.status ?? '?'}`);
  if (started !== undefined) console.log(`started     ${started.toISOString()}`);
  if (stopped !== undefined && started !== undefined) {
    console.log(`stopped     ${stopped.toISOString()} (${formatDuration(stopped.getTime() - started.getTime())} on the cloud's clock)`);
  }
  const entered = history.filter((e) => e.stateEnteredEventDetails?.name !== undefined);
  const last = entered[entered.length - 1]?.stateEnteredEventDetails?.name;
  console.log(`steps       ${entered.length} entered${last !== undefined ? `, last: ${last}` : ''}`);
  if (d.status === 'RUNNING') return;
  if (d.status !== 'SUCCEEDED') {
    console.log(`error       ${d.error ?? 'unknown error'}: ${causeMessage(d.cause)}`);
    return;
  }
  const output = parseOutput(d.output);
  if (typeof output.outcome === 'string') console.log(`outcome     ${output.outcome}`);
  const regions = Array.isArray(output.regions) ? (output.regions as RegionLine[]) : [];
  if (regions.length > 0) {
    console.log('');
    console.log(
      table(
        ['region', 'image id', 'result'],
        regions.map((r) => [
          r.region ?? '?',
          r.imageId ?? '-',
          r.error !== undefined ? `${r.status ?? 'failed'}: ${r.error}: ${causeMessage(r.cause)}` : (r.status ?? '?'),
        ]),
      ),
    );
  }
}

function parseOutput(output: string | undefined): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(output ?? '{}');
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
