import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseOptions, usageError, type OptionValues } from './_options.js';
import { DescribeExecutionCommand, StartExecutionCommand, type DescribeExecutionCommandOutput, type SFNClient } from '@aws-sdk/client-sfn';
import { failureCauseMessage } from '../../functions/lib/errors.js';
import { join, resolve } from 'node:path';
import { startLocalCloud, DEFAULT_PORT, PROJECT_ROOT, type LocalCloud, type LocalCloudOptions } from '../../local/server.js';
import { readLock, StateDirLockedError } from '../../local/lock.js';
import { StateFileError } from '../../local/persist.js';

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
  /** True when a cloud another process owns was joined. */
  reused: boolean;
  stack: StackInfo;
  /** Which cloud, for the command's first lines: endpoint, owner, state folder. */
  description: string;
  /** Ends this command's use of the cloud: closes a cloud it started, gives back a joined one's lease. */
  close(): Promise<void>;
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

/** The options every command that talks to the local cloud takes (parseArgs definitions). */
export const CLOUD_OPTIONS = {
  endpoint: { type: 'string' },
  port: { type: 'string' },
  'state-dir': { type: 'string' },
} as const;

export const CLOUD_OPTIONS_HELP = `  --endpoint URL  the local cloud at URL (fails when none answers there)
  --port N        the local cloud listening on port N (fails when none does); 0: a private cloud on a free port
  --state-dir DIR the cloud of this state folder (default .ami-factory/): joined when it runs, else started here`;

/** Nothing (or not a local cloud) answers where a command was pointed. */
export class NoLocalCloudError extends Error {
  override name = 'NoLocalCloudError';
}

interface Health {
  ok?: boolean;
  ready?: boolean;
  service?: string;
  pid?: number;
  stateDir?: string | null;
  timeScale?: number;
}

async function health(endpoint: string, timeoutMs: number): Promise<Health | undefined> {
  try {
    const r = await fetch(`${endpoint}/_local/health`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!r.ok) return undefined;
    const h = (await r.json()) as Health;
    return h.service === 'ami-factory-local-cloud' ? h : undefined;
  } catch {
    return undefined;
  }
}

/** Waits (bounded) until the cloud at `endpoint` has deployed its stack. */
async function untilReady(endpoint: string, timeoutMs: number): Promise<Health | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const h = await health(endpoint, 3000);
    if (h?.ready === true) return h;
    if (Date.now() > deadline) return h;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A lease on a cloud another process owns: renewed while this command runs, so the owner does not stop under it. */
async function lease(endpoint: string): Promise<() => Promise<void>> {
  const take = async (id?: string): Promise<string | undefined> => {
    try {
      const r = await fetch(`${endpoint}/_local/lease${id !== undefined ? `?id=${id}` : ''}`, {
        method: 'POST',
        signal: AbortSignal.timeout(3000),
      });
      return ((await r.json()) as { id?: string }).id;
    } catch {
      return id;
    }
  };
  const id = await take();
  const timer = setInterval(() => void take(id), 5000);
  timer.unref();
  return async () => {
    clearInterval(timer);
    if (id !== undefined)
      await fetch(`${endpoint}/_local/lease?id=${id}`, { method: 'DELETE', signal: AbortSignal.timeout(3000) }).catch(() => undefined);
  };
}

export interface ConnectOptions extends LocalCloudOptions {
  /** `--endpoint`: join this cloud or fail. */
  endpoint?: string;
}

/** The cloud options of a command's parsed values (`--endpoint`, `--port`, `--state-dir`), or a usage message. */
export function cloudOptionsOf(values: { endpoint?: string; port?: string; 'state-dir'?: string }): ConnectOptions | string {
  const out: ConnectOptions = {};
  if (values.endpoint !== undefined) {
    if (!/^https?:\/\/[^\s/]+/.test(values.endpoint))
      return `--endpoint must be a URL such as http://127.0.0.1:4566, got "${values.endpoint}"`;
    out.endpoint = values.endpoint.replace(/\/+$/, '');
  }
  if (values.port !== undefined) {
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) return `--port must be a port number, got "${values.port}"`;
    out.port = port;
  }
  if (values['state-dir'] !== undefined) out.stateDir = values['state-dir'];
  return out;
}

/**
 * The local cloud a command uses, by one rule for every command:
 * - `--endpoint URL` or `--port N` (N > 0): the cloud there — joined, or a NoLocalCloudError when
 *   nothing (or not a local cloud) answers: a command pointed somewhere never starts its own;
 * - otherwise the cloud of the state folder (`--state-dir`, default `.ami-factory/`): joined when
 *   a live cloud holds its lock (local/lock.ts), else started in this process on port 4566 (a
 *   free port when 4566 is taken) — if another command wins that race, this one joins it;
 * - `--port 0`: a cloud of this process on a free port (still the only one on its state folder).
 * A joined cloud is leased while the command runs, so its owner does not stop under it.
 */
export async function connectLocalCloud(opts: ConnectOptions = {}): Promise<CloudTarget> {
  const { endpoint: pointed, ...cloudOpts } = opts;
  const joinCloud = async (endpoint: string, how: string): Promise<CloudTarget> => {
    const h = await untilReady(endpoint, 60_000);
    if (h?.ready !== true) throw new NoLocalCloudError(`the local cloud at ${endpoint} did not get ready`);
    const release = await lease(endpoint);
    return {
      endpoint,
      reused: true,
      stack: await stackInfo(endpoint),
      description: `${endpoint} (${how}: process ${h.pid}, state ${h.stateDir ?? '(memory)'})`,
      close: release,
    };
  };
  const target = pointed ?? (opts.port !== undefined && opts.port !== 0 ? `http://127.0.0.1:${opts.port}` : undefined);
  if (target !== undefined) {
    if ((await health(target, 3000)) === undefined) {
      throw new NoLocalCloudError(
        `no local cloud answers at ${target}; start one with \`ami-factory cloud${opts.port !== undefined ? ` --port ${opts.port}` : ''}\` or leave out --endpoint/--port`,
      );
    }
    return joinCloud(target, 'joined');
  }
  const stateDir = resolve(typeof opts.stateDir === 'string' ? opts.stateDir : join(PROJECT_ROOT, '.ami-factory'));
  // Packaging (when the inputs changed), deployment progress and IAM denials go to stderr.
  const log = opts.log ?? ((line: string): void => void process.stderr.write(`  ${line}\n`));
  const deadline = Date.now() + 120_000;
  for (;;) {
    const held = readLock(stateDir);
    if (held.info !== undefined && !held.stale) {
      if (held.info.endpoint !== undefined) return joinCloud(held.info.endpoint, 'joined the cloud of this state folder');
    } else if (!held.empty) {
      const start = async (port: number): Promise<CloudTarget> => {
        const cloud = await startLocalCloud({ timeScale: DEFAULT_TIME_SCALE, prewarm: true, ...cloudOpts, stateDir, port, log });
        return {
          endpoint: cloud.endpoint,
          cloud,
          reused: false,
          stack: await stackInfo(cloud.endpoint),
          description: `${cloud.endpoint} (started in this process, time scale ×${cloud.clock.timeScale}, state ${stateDir})`,
          close: () => cloud.close(),
        };
      };
      try {
        return await start(opts.port ?? DEFAULT_PORT);
      } catch (e) {
        if (e instanceof StateDirLockedError) continue; // another command started it first: join it
        if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') return await start(0);
        throw e;
      }
    }
    if (Date.now() > deadline) {
      throw new NoLocalCloudError(
        `the local cloud of ${stateDir} (process ${held.info?.pid ?? '?'}) did not start listening within 2 minutes`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * connectLocalCloud for a command's parsed options: a usage error for malformed ones (exit 2),
 * the reason when no cloud can be used (exit 1), else the cloud (its description printed to stderr).
 */
export async function connectForCommand(
  command: string,
  values: { endpoint?: string; port?: string; 'state-dir'?: string },
  extra: LocalCloudOptions = {},
): Promise<CloudTarget | number> {
  const o = cloudOptionsOf(values);
  if (typeof o === 'string') return usageError(command, o);
  try {
    const target = await connectLocalCloud({ ...extra, ...o });
    process.stderr.write(`  local cloud  ${target.description}\n`);
    return target;
  } catch (e) {
    if (e instanceof NoLocalCloudError || e instanceof StateDirLockedError || e instanceof StateFileError) {
      console.error(`ami-factory ${command}: ${e.message}`);
      return 1;
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

/**
 * The local cloud stopped answering while a command followed an execution (killed, crashed,
 * stopped). The execution is in the cloud's state folder: the message says how to follow it
 * once the cloud runs again.
 */
export class CloudLostError extends Error {
  override name = 'CloudLostError';
  constructor(
    readonly executionArn: string,
    readonly endpoint: string,
    cause: unknown,
  ) {
    super(
      `the local cloud at ${endpoint} stopped answering while ${executionArn} ran; the execution is recorded in its state folder. ` +
        `Start the cloud again (\`ami-factory cloud\`, or any command on the same --state-dir) and follow it with ` +
        `\`ami-factory status ${executionArn}\``,
      { cause },
    );
  }
}

/** A refused connection, a reset or a timeout: the other end is gone (not an API error). */
export function isConnectionLost(e: unknown): boolean {
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 5; c = c.cause, depth++) {
    const code = (c as NodeJS.ErrnoException).code;
    if (
      code !== undefined &&
      ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT'].includes(code)
    )
      return true;
    if (c.name === 'TimeoutError' || c.message === 'fetch failed' || c.message === 'socket hang up') return true;
  }
  return false;
}

/** An SFN call while following `executionArn`: a lost connection becomes a CloudLostError. */
export async function following<T>(endpoint: string, executionArn: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (isConnectionLost(e)) throw new CloudLostError(executionArn, endpoint, e);
    throw e;
  }
}

/** StartExecution, then DescribeExecution every 100 ms until it is no longer RUNNING (bounded). */
export async function startAndWait(
  sfn: SFNClient,
  start: { stateMachineArn: string; name: string; input: string },
  timeoutMs: number,
  endpoint = '(the local cloud)',
): Promise<DescribeExecutionCommandOutput> {
  const { executionArn } = await sfn.send(new StartExecutionCommand(start));
  if (executionArn === undefined) throw new Error('StartExecution returned no executionArn');
  const describe = (): Promise<DescribeExecutionCommandOutput> =>
    following(endpoint, executionArn, () => sfn.send(new DescribeExecutionCommand({ executionArn })));
  const deadline = Date.now() + timeoutMs;
  let d = await describe();
  while (d.status === 'RUNNING') {
    if (Date.now() > deadline) throw new ExecutionStillRunningError(executionArn, timeoutMs);
    await new Promise((r) => setTimeout(r, 100));
    d = await describe();
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

// In bin/commands/_options.ts, so that a command needing only them (bundle) starts without the local cloud.
export { parseOptions, usageError, type OptionValues };

/** The credentials a command signs with: the environment's, or the local cloud's stand-ins. */
export function commandCredentials(): { accessKeyId: string; secretAccessKey: string } {
  return { accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'AKIDLOCAL', secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'local' };
}

/** The exit status of a command that threw: a run that outlived its wait or its cloud is said as such, anything else with its name. */
export function commandFailed(command: string, e: unknown): number {
  if (e instanceof ExecutionStillRunningError || e instanceof CloudLostError) console.error(`✗ ${e.message}`);
  else console.error(`✗ ami-factory ${command}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  return 1;
}

/** Whether an execution ended SUCCEEDED; otherwise its status, error and cause are printed. */
export function executionSucceeded(d: { status?: string; error?: string; cause?: string }): boolean {
  if (d.status === 'SUCCEEDED') return true;
  console.error(`✗ ${d.status ?? 'UNKNOWN'}: ${d.error ?? 'unknown error'}: ${causeMessage(d.cause)}`);
  return false;
}

/** The image-factory report as the CLI reads it (functions/report-build.ts writes it). */
interface BuildReportView {
  outcome?: string;
  imageName?: string | null;
  regions?: { region: string; status: string; imageId?: string | null; action?: string; error?: string; cause?: string }[];
}

/**
 * Prints an image-factory execution's output (one row per region, then the outcome) and
 * returns the exit status: 0 when the build (or distribution) succeeded in every region.
 * `withAction` adds the distribution's per-region action (created, adopted, untouched).
 */
export function printBuildReport(output: string | undefined, started: number, opts: { withAction?: boolean } = {}): number {
  const report = JSON.parse(output ?? '{}') as BuildReportView;
  const rows = (report.regions ?? []).map((r) => [
    r.region,
    r.imageId ?? '-',
    ...(opts.withAction === true ? [r.action ?? '-'] : []),
    r.status === 'failed' ? `failed: ${r.error ?? ''}: ${causeMessage(r.cause)}` : r.status,
  ]);
  console.log(table(['region', 'image id', ...(opts.withAction === true ? ['action'] : []), 'result'], rows));
  console.log(`${report.outcome ?? 'unknown outcome'} · ${report.imageName ?? ''} · ${formatDuration(Date.now() - started)}`);
  return report.outcome === 'BuildSucceeded' ? 0 : 1;
}
