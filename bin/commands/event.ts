import { readFileSync } from 'node:fs';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { BUILD_REQUEST_REJECTED } from '../../functions/lib/triggers/runtime.js';
import {
  commandCredentials,
  connectForCommand,
  onePositional,
  parseCommand,
  usageError,
  CLOUD_OPTIONS,
  CLOUD_OPTIONS_HELP,
  type CloudTarget,
} from './_common.js';

export const summary = 'Put an event (JSON file) on the local cloud, e.g. examples/events/build-requested.json';

const HELP = `usage: ami-factory event <file.json> [--bus NAME] [--wait SECONDS]

Sends the event in the file to the local cloud: \`{source, detail-type, detail, resources?}\`
(or an array of them). Events of the factory (source ami-factory) go to the factory bus with
PutEvents; events of AWS services (aws.ssm, aws.ec2) cannot be put by anyone but AWS, so an
in-process cloud emits them as the service would. Prints the event ids and, for an
in-process cloud, the rules and targets each one reached. Then says what the events did:
each execution they started, each request the factory rejected and why, each event that
matched no rule. Exits 0 when at least one execution started, 1 when none did (rejected,
no rule matched, a target failed, or nothing started within --wait), 2 for a usage error.
  --bus NAME      bus for non-AWS sources (default: the factory's bus)
  --wait SECONDS  how long to wait for the deliveries of an in-process cloud (default 10)
${CLOUD_OPTIONS_HELP}`;

interface EventFile {
  source: string;
  'detail-type': string;
  detail: unknown;
  resources?: string[];
  region?: string;
}

function readEvents(path: string): EventFile[] {
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  const list = Array.isArray(parsed) ? parsed : [parsed];
  return list.map((e, i) => {
    const o = e as Partial<EventFile>;
    if (typeof o.source !== 'string' || typeof o['detail-type'] !== 'string' || typeof o.detail !== 'object' || o.detail === null) {
      throw new Error(`${path}: event ${i + 1} needs source, detail-type and an object detail`);
    }
    return o as EventFile;
  });
}

/** Every execution of every state machine of the stack, by ARN (the newest first). */
async function executionArns(sfn: SFNClient, stateMachines: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const stateMachineArn of stateMachines) {
    let nextToken: string | undefined;
    do {
      const page = await sfn.send(new ListExecutionsCommand({ stateMachineArn, nextToken, maxResults: 1000 }));
      for (const e of page.executions ?? []) if (e.executionArn !== undefined) out.set(e.executionArn, e.name ?? '');
      nextToken = page.nextToken;
    } while (nextToken !== undefined);
  }
  return out;
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand('event', HELP, argv, {
    bus: { type: 'string' },
    wait: { type: 'string' },
    ...CLOUD_OPTIONS,
    help: { type: 'boolean', short: 'h' },
  });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const file = onePositional('event', HELP, positionals, 'event file');
  if (typeof file === 'number') return file;
  let events: EventFile[];
  try {
    events = readEvents(file);
  } catch (e) {
    console.error(`ami-factory event: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  const wait = Number(values.wait ?? '10');
  if (!Number.isFinite(wait) || wait < 0) return usageError('event', `--wait must be a number of seconds, not "${values.wait ?? ''}"`);
  const waitMs = wait * 1000;
  const target = await connectForCommand('event', values);
  if (typeof target === 'number') return target;
  const credentials = commandCredentials();
  const client = new EventBridgeClient({ region: 'us-east-1', endpoint: target.endpoint, credentials });
  const sfn = new SFNClient({ region: target.stack.region, endpoint: target.endpoint, credentials });
  const machines = Object.values(target.stack.stateMachines);
  try {
    const before = await executionArns(sfn, machines);
    const ids: string[] = [];
    for (const e of events) {
      const region = e.region ?? 'us-east-1';
      if (e.source.startsWith('aws.')) {
        if (target.cloud === undefined) {
          console.error(
            `✗ ${e.source} events come from AWS itself; only an in-process cloud can emit them (stop \`ami-factory cloud\` and retry)`,
          );
          return 1;
        }
        const id = await target.cloud.events.emit({
          source: e.source,
          detailType: e['detail-type'],
          detail: e.detail,
          region,
          resources: e.resources ?? [],
        });
        console.log(`emitted ${e['detail-type']} (${e.source}) on the default bus: ${id}`);
        ids.push(id);
        continue;
      }
      const r = await client.send(
        new PutEventsCommand({
          Entries: [
            {
              EventBusName: values.bus ?? target.stack.eventBus,
              Source: e.source,
              DetailType: e['detail-type'],
              Detail: JSON.stringify(e.detail),
              ...(e.resources !== undefined ? { Resources: e.resources } : {}),
            },
          ],
        }),
      );
      const entry = r.Entries?.[0];
      if (entry?.EventId === undefined) {
        console.error(`✗ ${e['detail-type']} refused: ${entry?.ErrorCode ?? ''}: ${entry?.ErrorMessage ?? ''}`);
        return 1;
      }
      console.log(`put ${e['detail-type']} (${e.source}) on ${values.bus ?? target.stack.eventBus}: ${entry.EventId}`);
      ids.push(entry.EventId);
    }
    let outcome: Outcome = { lines: [], rejected: [], noRule: 0, failed: 0 };
    let started: string[];
    if (target.cloud !== undefined) {
      outcome = await inProcessOutcome(target.cloud, ids, waitMs);
      started = await startedBy(sfn, machines, before, ids);
    } else {
      // A cloud another process owns: its bus log is not ours to read.
      started = await untilStarted(sfn, machines, before, ids, waitMs);
    }
    for (const line of outcome.lines) console.log(line);
    for (const arn of started) console.log(`✓ started execution ${arn}`);
    for (const r of outcome.rejected) console.log(`✗ rejected: ${r}`);
    if (started.length === 0) {
      const why =
        outcome.rejected.length > 0
          ? 'the factory rejected the request'
          : outcome.noRule > 0
            ? 'no rule matched'
            : outcome.failed > 0
              ? 'a target failed'
              : `nothing started within ${wait} s`;
      console.error(`✗ no execution started: ${why}`);
    }
    if (target.cloud !== undefined && started.length > 0)
      console.log('(in-process cloud: builds it started resume the next time the local cloud runs; `ami-factory cloud` keeps one running)');
    return started.length > 0 ? 0 : 1;
  } catch (e) {
    console.error(`✗ ami-factory event: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    return 1;
  } finally {
    client.destroy();
    sfn.destroy();
    await target.close();
  }
}

interface Outcome {
  /** The deliveries, one line each (in-process cloud only). */
  lines: string[];
  /** Reasons of the BuildRequestRejected events the factory published for these events. */
  rejected: string[];
  noRule: number;
  failed: number;
}

/** An in-process cloud: waits for the deliveries, then reads its bus log (rules, targets, rejections). */
async function inProcessOutcome(cloud: NonNullable<CloudTarget['cloud']>, ids: string[], waitMs: number): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([cloud.events.idle(), new Promise((r) => (timer = setTimeout(r, waitMs)))]);
  clearTimeout(timer);
  const log = cloud.events.log();
  const out: Outcome = { lines: [], rejected: [], noRule: 0, failed: 0 };
  for (const d of log.filter((l) => ids.includes(l.event.id))) {
    if (d.targets.length === 0) {
      out.noRule++;
      out.lines.push(`  ${d.event.id}: matched no rule`);
    }
    for (const t of d.targets) {
      if (t.status === 'failed') out.failed++;
      out.lines.push(`  ${d.event.id}: ${t.rule} → ${t.targetId}: ${t.status}${t.error !== undefined ? ` (${t.error})` : ''}`);
    }
  }
  for (const d of log) {
    if (d.event['detail-type'] !== BUILD_REQUEST_REJECTED) continue;
    const detail = d.event.detail as { eventId?: unknown; reason?: unknown };
    if (typeof detail.eventId === 'string' && ids.includes(detail.eventId) && typeof detail.reason === 'string')
      out.rejected.push(detail.reason);
  }
  return out;
}

/**
 * The executions these events started: new since `before` and, by their input's
 * `trigger.eventId`, started for one of the events — not a schedule that came due meanwhile nor
 * a command another process ran on the same cloud.
 */
export async function startedBy(sfn: SFNClient, machines: string[], before: Map<string, string>, ids: string[]): Promise<string[]> {
  const fresh = [...(await executionArns(sfn, machines)).keys()].filter((arn) => !before.has(arn));
  const ours: string[] = [];
  for (const executionArn of fresh) {
    const { input } = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (ids.includes(triggerEventId(input) ?? '')) ours.push(executionArn);
  }
  return ours;
}

/** `trigger.eventId` of an execution's input (a build or distribution request), if it has one. */
function triggerEventId(input: string | undefined): string | undefined {
  try {
    const parsed = JSON.parse(input ?? 'null') as { trigger?: { eventId?: unknown } } | null;
    return typeof parsed?.trigger?.eventId === 'string' ? parsed.trigger.eventId : undefined;
  } catch {
    return undefined;
  }
}

/** The executions of these events, once one has started or the time is up (startedBy, polled). */
async function untilStarted(
  sfn: SFNClient,
  machines: string[],
  before: Map<string, string>,
  ids: string[],
  waitMs: number,
): Promise<string[]> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const started = await startedBy(sfn, machines, before, ids);
    if (started.length > 0 || Date.now() >= deadline) return started;
    await new Promise((r) => setTimeout(r, 200));
  }
}
