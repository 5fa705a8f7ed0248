import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DescribeExecutionCommand, StartExecutionCommand, type DescribeExecutionCommandOutput, type SFNClient } from '@aws-sdk/client-sfn';
import { failureCauseMessage } from '../../functions/lib/errors.js';
import { isLocalCloudUp, startLocalCloud, DEFAULT_PORT, type LocalCloud, type LocalCloudOptions } from '../../local/server.js';

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** What the local cloud deployed (its `/_local/stack`): the names the CLI needs. */
export interface StackInfo {
  stackName: string;
  region: string;
  accountId: string;
  stateBucket: string;
  eventBus: string;
  /** Full name → ARN. */
  stateMachines: Record<string, string>;
  /** Function key → local URL. */
  functionUrls: Record<string, string>;
  outputs: Record<string, string>;
}

/** Where the CLI's AWS clients go: a local cloud (in-process or already running) or AWS. */
export interface CloudTarget {
  endpoint: string;
  /** Present when this process started the cloud; close it when done. */
  cloud?: LocalCloud;
  /** True when an already-running `ami-factory cloud` was reused. */
  reused: boolean;
  stack: StackInfo;
}

/** The deployed stack of the local cloud at `endpoint`. */
export async function stackInfo(endpoint: string): Promise<StackInfo> {
  const r = await fetch(`${endpoint}/_local/stack`, { signal: AbortSignal.timeout(5000) });
  if (!r.ok) throw new Error(`the local cloud at ${endpoint} did not describe its stack (HTTP ${r.status})`);
  return (await r.json()) as StackInfo;
}

/** A state machine's ARN by its short name (`image-factory`). */
export function stateMachineArnOf(stack: StackInfo, shortName: string): string {
  const found = Object.entries(stack.stateMachines).find(([name]) => name === shortName || name.endsWith(`-${shortName}`));
  if (found === undefined) throw new Error(`the stack ${stack.stackName} has no state machine ${shortName}`);
  return found[1];
}

export const DEFAULT_TIME_SCALE = 600;

/**
 * Uses the local cloud already listening on the default port (`ami-factory cloud`), or
 * starts one in-process. If the port is taken by something else, a free port is used.
 */
export async function connectLocalCloud(opts: LocalCloudOptions & { port?: number } = {}): Promise<CloudTarget> {
  const port = opts.port ?? DEFAULT_PORT;
  const existing = `http://127.0.0.1:${port}`;
  if (port !== 0 && (await isLocalCloudUp(existing))) return { endpoint: existing, reused: true, stack: await stackInfo(existing) };
  // Packaging (when the inputs changed) and deployment progress go to stderr.
  const log = opts.log ?? ((line: string): void => void process.stderr.write(`  ${line}\n`));
  try {
    const cloud = await startLocalCloud({ timeScale: DEFAULT_TIME_SCALE, prewarm: true, ...opts, port, log });
    return { endpoint: cloud.endpoint, cloud, reused: false, stack: await stackInfo(cloud.endpoint) };
  } catch (e) {
    if (e instanceof Error && (e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      const cloud = await startLocalCloud({ timeScale: DEFAULT_TIME_SCALE, prewarm: true, ...opts, port: 0, log });
      return { endpoint: cloud.endpoint, cloud, reused: false, stack: await stackInfo(cloud.endpoint) };
    }
    throw e;
  }
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  const rest = Math.round(s - m * 60);
  if (m < 60) return `${m}m ${String(rest).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** A plain text table: header row, rule, rows; columns padded to their widest cell. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** The message inside a Step Functions failure cause, or a note that there is none. */
export function causeMessage(cause: string | undefined): string {
  return cause === undefined || cause === '' ? '(no cause given)' : failureCauseMessage(cause);
}

/** An execution that did not finish in time (the CLI reports it and exits 1). */
export class ExecutionStillRunningError extends Error {
  constructor(
    readonly executionArn: string,
    readonly waitedMs: number,
  ) {
    super(`still running after ${formatDuration(waitedMs)}: ${executionArn}`);
    this.name = 'ExecutionStillRunningError';
  }
}

/** StartExecution, then DescribeExecution every 100 ms until it is no longer RUNNING (bounded). */
export async function startAndWait(
  sfn: SFNClient,
  start: { stateMachineArn: string; name: string; input: string },
  timeoutMs: number,
): Promise<DescribeExecutionCommandOutput> {
  const { executionArn } = await sfn.send(new StartExecutionCommand(start));
  if (executionArn === undefined) throw new Error('StartExecution returned no executionArn');
  const deadline = Date.now() + timeoutMs;
  let d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
  while (d.status === 'RUNNING') {
    if (Date.now() > deadline) throw new ExecutionStillRunningError(executionArn, timeoutMs);
    await new Promise((r) => setTimeout(r, 100));
    d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
  }
  return d;
}

type CommandConfig<O extends ParseArgsOptionsConfig> = { args: string[]; options: O; allowPositionals: true };
export type CommandArgs<O extends ParseArgsOptionsConfig> = ReturnType<typeof parseArgs<CommandConfig<O>>>;

/**
 * A command's arguments: `options` (which should include `help: { type: 'boolean', short: 'h' }`)
 * and positionals. Prints the usage and returns the exit code for --help (0) and for an
 * unknown or malformed option (2); otherwise returns what was parsed.
 */
export function parseCommand<O extends ParseArgsOptionsConfig>(
  command: string,
  usage: string,
  argv: string[],
  options: O,
): CommandArgs<O> | number {
  let parsed: CommandArgs<O>;
  try {
    parsed = parseArgs<CommandConfig<O>>({ args: argv, options, allowPositionals: true });
  } catch (e) {
    console.error(`ami-factory ${command}: ${e instanceof Error ? e.message : String(e)}\n\n${usage}`);
    return 2;
  }
  if ((parsed.values as { help?: unknown }).help === true) {
    console.log(usage);
    return 0;
  }
  return parsed;
}

/** The one positional a command takes (a family, a file), or the exit code 2 after saying what is missing. */
export function onePositional(command: string, usage: string, positionals: string[], what: string): string | number {
  const [value] = positionals;
  if (value === undefined || positionals.length > 1) {
    console.error(`ami-factory ${command}: give one ${what}\n\n${usage}`);
    return 2;
  }
  return value;
}

/** A usage error of an options-only command (the bundle tools): names the command, points to --help; exit code 2. */
export function usageError(command: string, message: string): number {
  console.error(`ami-factory ${command}: ${message}\nRun \`ami-factory ${command} --help\` for the options.`);
  return 2;
}

type OptionsConfig<O extends ParseArgsOptionsConfig> = { args: string[]; options: O; strict: true; allowPositionals: false };
export type OptionValues<O extends ParseArgsOptionsConfig> = ReturnType<typeof parseArgs<OptionsConfig<O>>>['values'];

/**
 * An options-only command's arguments (no positionals): prints the usage and returns 0 for
 * --help, returns 2 after a usageError for a bad option or a missing required one
 * ("missing --a, --b"), else the values.
 */
export function parseOptions<O extends ParseArgsOptionsConfig, R extends keyof OptionValues<O> & string = never>(
  command: string,
  usage: string,
  argv: string[],
  options: O,
  required: readonly R[] = [],
): (OptionValues<O> & Required<Pick<OptionValues<O>, R>>) | number {
  let values: OptionValues<O>;
  try {
    ({ values } = parseArgs<OptionsConfig<O>>({ args: argv, options, strict: true, allowPositionals: false }));
  } catch (e) {
    return usageError(command, e instanceof Error ? e.message : String(e));
  }
  if ((values as { help?: unknown }).help === true) {
    console.log(usage);
    return 0;
  }
  const missing = required.filter((k) => (values as Record<string, unknown>)[k] === undefined);
  if (missing.length > 0) return usageError(command, `missing ${missing.map((k) => `--${k}`).join(', ')}`);
  return values as OptionValues<O> & Required<Pick<OptionValues<O>, R>>;
}
