import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  StartExecutionCommand,
  type HistoryEvent,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { causeMessage, formatDuration, ExecutionStillRunningError, following } from './commands/_common.js';

/**
 * Progress of a Step Functions execution as it happens: polls GetExecutionHistory and prints
 * one readable line per step (`start`, `build`, `expire`). Each line says two elapsed times,
 * labelled: wall time since the command started, and the execution's own time from its history
 * timestamps, which on the local cloud is simulated (×600 by default) and in AWS is real.
 */
export interface Final {
  status: string;
  output?: string;
  error?: string;
  cause?: string;
}

export interface FollowOptions {
  /** When the command started (Date.now()), for the wall time. */
  started: number;
  /** Give up after this long (wall), default 30 minutes. */
  timeoutMs?: number;
  /** Where lines go; default stdout. */
  print?: (line: string) => void;
  /** The cloud's endpoint: when it stops answering, a CloudLostError says how to follow the execution later. */
  endpoint?: string;
}

/** StartExecution, then follows it (printing each step) until it ends or `timeoutMs` passes (ExecutionStillRunningError). */
export async function startAndFollow(
  sfn: SFNClient,
  start: { stateMachineArn: string; name: string; input: string },
  opts: FollowOptions,
): Promise<Final> {
  const { executionArn } = await sfn.send(new StartExecutionCommand(start));
  if (executionArn === undefined) throw new Error('StartExecution returned no executionArn');
  return following(opts.endpoint ?? '(the cloud)', executionArn, () => followExecution(sfn, executionArn, opts));
}

/** Polls GetExecutionHistory and prints one readable line per step until the execution ends. */
export async function followExecution(sfn: SFNClient, executionArn: string, opts: FollowOptions): Promise<Final> {
  const print = opts.print ?? ((line: string) => console.log(line));
  const timeoutMs = opts.timeoutMs ?? 30 * 60_000;
  let seen = 0;
  let nextToken: string | undefined;
  let first: number | undefined;
  const show = (ev: HistoryEvent): void => {
    first ??= ev.timestamp?.getTime();
    const line = describeEvent(ev);
    if (line === undefined) return;
    const simulated = first === undefined || ev.timestamp === undefined ? 0 : ev.timestamp.getTime() - first;
    print(
      `  [wall ${formatDuration(Date.now() - opts.started).padStart(8)} · execution clock ${formatDuration(simulated).padStart(8)}] ${line}`,
    );
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, nextToken }));
    const events = page.events ?? [];
    for (const ev of events.slice(seen)) show(ev);
    seen = events.length;
    if (page.nextToken !== undefined) {
      nextToken = page.nextToken;
      seen = 0;
      continue;
    }
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (d.status !== 'RUNNING') {
      const again = await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, nextToken }));
      for (const ev of (again.events ?? []).slice(seen)) show(ev);
      const final: Final = { status: d.status ?? 'UNKNOWN' };
      if (d.output !== undefined) final.output = d.output;
      if (d.error !== undefined) final.error = d.error;
      if (d.cause !== undefined) final.cause = d.cause;
      return final;
    }
    if (Date.now() > deadline) throw new ExecutionStillRunningError(executionArn, timeoutMs);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function describeEvent(ev: HistoryEvent): string | undefined {
  const exited = ev.stateExitedEventDetails;
  if (exited?.name !== undefined) {
    const line = describeStep(exited.name, safeJson(exited.output));
    return line === undefined ? undefined : `${exited.name.padEnd(18)} ${line}`;
  }
  if (ev.type === 'TaskFailed' && ev.taskFailedEventDetails !== undefined) {
    return `${'task failed'.padEnd(18)} ${ev.taskFailedEventDetails.error}: ${causeMessage(ev.taskFailedEventDetails.cause)}`;
  }
  return undefined;
}

/** The image-retention machine's steps worth a line (statemachines/image-retention.asl.yml). */
const RETENTION_STEPS = new Set(['PlanRegion', 'PlanFailed', 'NotApplied', 'NothingToApply', 'ApplyStep', 'Applied', 'ApplyFailed']);

/** The approvers of an approval gate's output, for a progress line. */
function approversText(v: unknown): string {
  return Array.isArray(v) && v.length > 0 ? v.map(String).join(', ') : 'the approvers';
}

function describeStep(name: string, out: Record<string, unknown>): string | undefined {
  const get = (path: string): unknown =>
    path.split('.').reduce<unknown>((o, k) => (typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[k] : undefined), out);
  switch (name) {
    case 'Plan':
      if (get('request.distribute') !== undefined) return `distributing ${String(get('plan.imageId'))} (${String(get('plan.imageName'))})`;
      return get('plan.imageId') === null
        ? `new image ${String(get('plan.imageName'))}`
        : `resuming: ${String(get('plan.imageId'))} exists`;
    case 'HomeUntouched':
      return `${String(get('request.region'))}: already published to ${String(get('homePublished.channel'))}, left alone`;
    case 'CopyUntouched':
      return `→ ${String(get('region'))}: ${String(get('imageId'))} already published to ${String(get('published.channel'))}, left alone`;
    case 'ResolveSource':
      return `source instance ${String(get('source.instanceId'))} (${String(get('source.state'))})`;
    case 'ResolveBaseImage':
      return `base image ${String(get('base.imageId'))}`;
    case 'LaunchBuilder':
      return `builder ${String(get('builder.instanceId'))} running the build script`;
    case 'AwaitBuilder':
      return 'builder finished and stopped itself';
    case 'CreateImage':
    case 'CreateBuilderImage':
    case 'RegisterImage':
      return `${get('home.created') === true ? 'started' : 'found'} ${String(get('home.imageId'))}${name === 'CreateImage' ? (get('request.source.noReboot') === true ? ' (no reboot)' : ' (reboot)') : ''}`;
    case 'AwaitImage':
      return `${String(get('home.imageId'))} available`;
    case 'TerminateBuilder':
      return 'builder terminated';
    case 'FinalizeHome':
      return `deprecation ${String(get('homeResult.deprecateAt') ?? 'none')}, sharing ${get('homeResult.sharing') === null ? 'none' : 'applied'}`;
    case 'AwaitShareApproval':
      return `share approved by ${approversText(get('approvers'))}`;
    case 'ShareWithheld':
      return `share not approved (${String(get('approvalError.Error'))}): nothing shared, the images are kept`;
    case 'AwaitApproval':
      return `approved by ${approversText(get('approval.approvers'))}`;
    case 'NotApproved':
      return `not approved (${String(get('approvalError.Error'))}): nothing applied`;
    case 'PublishHome': {
      const error = get('homePublishError.Error');
      return typeof error === 'string'
        ? `not published (${error}); the image is kept`
        : `published to ${String(get('homePublished.channel'))} (${String(get('homePublished.parameter'))})`;
    }
    case 'CopyImage':
      return `→ ${String(get('target.region'))}: ${get('copy.created') === false ? 'found copy' : 'copy'} ${String(get('copy.imageId'))}`;
    case 'AwaitCopy':
      return `→ ${String(get('target.region'))}: ${String(get('copy.imageId'))} available`;
    case 'FinalizeCopy':
      return `→ ${String(get('target.region'))}: deprecation and sharing applied`;
    case 'LaunchTestHome':
    case 'LaunchTestCopy':
    case 'AwaitTestHome':
    case 'AwaitTestCopy':
    case 'JudgeTestHome':
    case 'JudgeTestCopy':
    case 'TerminateTestHome':
    case 'TerminateTestCopy':
    case 'RejectTestHome':
    case 'RejectTestCopy':
      return describeTestStep(name, get);
    case 'PublishCopy':
      return `→ ${String(get('target.region'))}: published to ${String(get('published.channel'))}`;
    case 'CopyFailed':
      return `→ ${String(get('region'))}: failed (${String(get('error'))}), cleaned up`;
    case 'Report':
      return String(get('outcome') ?? 'reported');
    default: {
      if (!RETENTION_STEPS.has(name)) return undefined;
      // A region's plan step carries `region`; the later steps carry it in their `plan` summary.
      const region = get('region') ?? get('plan.region');
      return typeof region === 'string' ? `${region}: done` : 'done';
    }
  }
}

export function safeJson(s: string | undefined): Record<string, unknown> {
  try {
    const v = JSON.parse(s ?? '{}') as unknown;
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Every event of an execution's history, all pages. */
export async function fullHistory(sfn: SFNClient, executionArn: string): Promise<HistoryEvent[]> {
  const out: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, nextToken }));
    out.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken !== undefined);
  return out;
}

/** The image test steps (TestHome… in the build region, TestCopy… in each copy region). */
function describeTestStep(name: string, get: (path: string) => unknown): string {
  const home = name.endsWith('Home');
  const where = home ? '' : `→ ${String(get('target.region'))}: `;
  const test = home ? 'homeTest' : 'test';
  const result = home ? 'homeTestResult' : 'testResult';
  const failure = get(`${test}.error.Error`);
  switch (name.slice(0, -(home ? 'Home' : 'Copy').length)) {
    case 'LaunchTest':
      return typeof failure === 'string'
        ? `${where}test launch failed (${failure})`
        : `${where}test instance ${String(get(`${test}.instanceId`))} running the test script`;
    case 'AwaitTest':
      return typeof failure === 'string' ? `${where}test instance did not pass (${failure})` : `${where}test instance reported a pass`;
    case 'JudgeTest': {
      const reason = get(`${result}.reason`);
      return `${where}test ${String(get(`${result}.status`))}${typeof reason === 'string' ? `: ${reason}` : ''}`;
    }
    case 'TerminateTest':
      return `${where}test instance terminated`;
    default:
      return `${where}image ${get('request.tests.onFailure') === 'disable' ? 'disabled' : 'deregistered, snapshots deleted'} (not published)`;
  }
}
