import { readFileSync } from 'node:fs';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { connectForCommand, onePositional, parseCommand, CLOUD_OPTIONS, CLOUD_OPTIONS_HELP } from './_common.js';

export const summary = 'Put an event (JSON file) on the local cloud, e.g. examples/events/build-requested.json';

const HELP = `usage: ami-factory event <file.json> [--bus NAME] [--wait SECONDS]

Sends the event in the file to the local cloud: \`{source, detail-type, detail, resources?}\`
(or an array of them). Events of the factory (source ami-factory) go to the factory bus with
PutEvents; events of AWS services (aws.ssm, aws.ec2) cannot be put by anyone but AWS, so an
in-process cloud emits them as the service would. Prints the event ids and, for an
in-process cloud, the rules and targets each one reached.
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
  const waitMs = Math.max(0, Number(values.wait ?? '10')) * 1000;
  const target = await connectForCommand('event', values);
  if (typeof target === 'number') return target;
  const client = new EventBridgeClient({
    region: 'us-east-1',
    endpoint: target.endpoint,
    credentials: {
      accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'AKIDLOCAL',
      secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'local',
    },
  });
  try {
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
    if (target.cloud !== undefined) {
      await Promise.race([target.cloud.events.idle(), new Promise((r) => setTimeout(r, waitMs))]);
      for (const d of target.cloud.events.log().filter((l) => ids.includes(l.event.id))) {
        if (d.targets.length === 0) console.log(`  ${d.event.id}: matched no rule`);
        for (const t of d.targets)
          console.log(`  ${d.event.id}: ${t.rule} → ${t.targetId}: ${t.status}${t.error !== undefined ? ` (${t.error})` : ''}`);
      }
      console.log('(in-process cloud: builds it started resume the next time the local cloud runs; `ami-factory cloud` keeps one running)');
    }
    return 0;
  } catch (e) {
    console.error(`✗ ami-factory event: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    return 1;
  } finally {
    client.destroy();
    await target.close();
  }
}
