import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { SFNClient, StartExecutionCommand, type HistoryEvent } from '@aws-sdk/client-sfn';
import { DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { buildRequestFor, loadFactoryConfig } from '../../functions/lib/config.js';
import type { BuildRequest } from '../../functions/lib/build-request.js';
import { PROJECT_ROOT } from '../../local/server.js';
import { followExecution, fullHistory, safeJson } from '../execution-progress.js';
import {
  commandCredentials,
  causeMessage,
  connectForCommand,
  following,
  formatDuration,
  stateMachineArnOf,
  table,
  CLOUD_OPTIONS_HELP,
  DEFAULT_TIME_SCALE,
} from './_common.js';

export const summary = 'Build a golden image end to end on the local cloud (what `npm start` runs)';

const HELP = `usage: ami-factory start [--family NAME] [--reboot | --no-reboot] [--config FILE] [--time-scale X]

Uses the local cloud of the state folder (or starts one in-process), starts an execution of
the image-factory state machine with a BuildRequest for the family, shows its progress and
a summary, and exits 0 once the image is available.
  --family NAME   family from the config (default: the first one, "web" in the demo)
  --no-reboot     crash-consistent image without rebooting the instance (default: the family's setting)
  --config FILE   factory config (default factory.config.yml)
  --time-scale X  simulated seconds per real second for an in-process cloud (default ${DEFAULT_TIME_SCALE})
${CLOUD_OPTIONS_HELP}`;

interface StartValues {
  family?: string;
  reboot?: boolean;
  'no-reboot'?: boolean;
  config?: string;
  'time-scale'?: string;
  endpoint?: string;
  port?: string;
  'state-dir'?: string;
  help?: boolean;
}

export async function run(argv: string[]): Promise<number> {
  let values: StartValues;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        family: { type: 'string' },
        reboot: { type: 'boolean' },
        'no-reboot': { type: 'boolean' },
        config: { type: 'string' },
        'time-scale': { type: 'string' },
        endpoint: { type: 'string' },
        port: { type: 'string' },
        'state-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    console.error(`ami-factory start: ${e instanceof Error ? e.message : String(e)}\n\n${HELP}`);
    return 2;
  }
  if (values.help === true) {
    console.log(HELP);
    return 0;
  }
  if (values.reboot === true && values['no-reboot'] === true) {
    console.error('ami-factory start: --reboot and --no-reboot contradict each other');
    return 2;
  }
  const timeScale = values['time-scale'] === undefined ? DEFAULT_TIME_SCALE : Number(values['time-scale']);
  if (!(timeScale > 0)) {
    console.error(`ami-factory start: --time-scale must be a positive number, got "${values['time-scale']}"`);
    return 2;
  }

  let config;
  try {
    config = loadFactoryConfig(values.config ?? join(PROJECT_ROOT, 'factory.config.yml'));
  } catch (e) {
    console.error(`ami-factory start: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  const family = values.family ?? Object.keys(config.families)[0] ?? '';
  const noReboot = values['no-reboot'] === true ? true : values.reboot === true ? false : undefined;
  let request;
  try {
    request = buildRequestFor(config, family, {
      buildId: randomUUID(),
      requestedAt: new Date().toISOString(),
      trigger: { type: 'cli', actor: process.env.USER ?? 'local' },
      ...(noReboot === undefined ? {} : { noReboot }),
    });
  } catch (e) {
    console.error(`ami-factory start: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }

  const started = Date.now();
  const target = await connectForCommand('start', values, { timeScale });
  if (typeof target === 'number') return target;
  const clientConfig = {
    region: request.region,
    endpoint: target.endpoint,
    credentials: commandCredentials(),
  };
  const sfn = new SFNClient(clientConfig);
  const ec2 = new EC2Client(clientConfig);
  try {
    console.log(`ami-factory: building family "${family}" in ${request.region}`);
    const stateMachineArn = stateMachineArnOf(target.stack, 'image-factory');
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn, name: `${family}-${request.buildId}`, input: JSON.stringify(request) }),
    );
    if (executionArn === undefined) throw new Error('StartExecution returned no executionArn');
    console.log(`  build        ${request.buildId}`);
    console.log(`  execution    ${executionArn}\n`);

    const statsBefore = await localStats(target.endpoint);
    const final = await following(target.endpoint, executionArn, () => followExecution(sfn, executionArn, { started }));
    const elapsed = Date.now() - started;
    const history = await fullHistory(sfn, executionArn);
    const statsAfter = await localStats(target.endpoint);
    const counts = {
      transitions: history.filter((e) => e.type?.endsWith('StateEntered') === true).length,
      lambda: history.filter((e) => e.type === 'TaskScheduled').length,
      ec2: statsAfter !== undefined && statsBefore !== undefined ? sum(statsAfter.ec2.calls) - sum(statsBefore.ec2.calls) : undefined,
    };
    if (final.status !== 'SUCCEEDED') {
      console.error(`\n✗ build failed (${final.status}): ${final.error ?? 'unknown error'}: ${causeMessage(final.cause)}`);
      printCounts(counts);
      return 1;
    }
    const report = JSON.parse(final.output ?? '{}') as Report;
    const rows: string[][] = [];
    let allAvailable = true;
    for (const r of report.regions ?? []) {
      let state = r.status === 'failed' ? 'failed' : 'unknown';
      if (r.imageId !== undefined && r.imageId !== null && r.status === 'succeeded') {
        const regional = new EC2Client({ ...clientConfig, region: r.region });
        const image = (await regional.send(new DescribeImagesCommand({ ImageIds: [r.imageId] }))).Images?.[0];
        regional.destroy();
        state = image?.State ?? 'missing';
      }
      if (state !== 'available') allAvailable = false;
      const home = r.region === request.region;
      rows.push([
        family,
        r.region,
        r.imageId ?? '-',
        r.status === 'failed' ? `failed: ${r.error ?? ''}` : state,
        home ? sourceOf(request, history) : `copy of ${request.region}`,
        request.source.type === 'instance' ? (request.source.noReboot ? 'no' : 'yes') : '-',
        sharedWith(request),
        r.published?.channel ?? '-',
        formatDuration(regionElapsed(history, r.region, home) ?? elapsed),
      ]);
    }
    console.log(`\n${report.outcome ?? ''} · ${report.imageName ?? ''}\n`);
    console.log(table(['family', 'region', 'image id', 'state', 'source', 'reboot', 'shared with', 'channel', 'elapsed'], rows));
    for (const r of (report.regions ?? []).filter((x) => x.status === 'failed' || x.error !== undefined)) {
      console.log(`  ${r.region}: ${r.error ?? ''}: ${causeMessage(r.cause)}`);
    }
    printCounts(counts);
    if (report.outcome !== 'BuildSucceeded' || !allAvailable) {
      console.error(
        `\n✗ ${report.outcome === 'BuildPartiallySucceeded' ? 'some regions failed' : 'the build did not produce available images'}`,
      );
      return 1;
    }
    console.log(`\n✓ ${rows.length} image${rows.length === 1 ? '' : 's'} available in ${elapsedLabel(elapsed)}`);
    return 0;
  } catch (e) {
    console.error(`\n✗ ami-factory start: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    return 1;
  } finally {
    sfn.destroy();
    ec2.destroy();
    await target.close();
  }
}

interface Report {
  outcome?: string;
  imageName?: string | null;
  regions?: {
    region: string;
    status: string;
    imageId?: string | null;
    error?: string;
    cause?: string;
    published?: { channel: string; parameter: string } | null;
  }[];
}

interface LocalStats {
  ec2: { calls: Record<string, number>; throttled: Record<string, number> };
}

async function localStats(endpoint: string): Promise<LocalStats | undefined> {
  try {
    const r = await fetch(`${endpoint}/_local/stats`);
    return r.ok ? ((await r.json()) as LocalStats) : undefined;
  } catch {
    return undefined;
  }
}

function sum(m: Record<string, number>): number {
  return Object.values(m).reduce((a, b) => a + b, 0);
}

function printCounts(c: { transitions: number; lambda: number; ec2: number | undefined }): void {
  console.log(
    `\ncost: ${c.transitions} state transitions · ${c.lambda} Lambda invocations · ${c.ec2 === undefined ? '?' : c.ec2} EC2 API calls`,
  );
}

function elapsedLabel(ms: number): string {
  return formatDuration(ms);
}

function sourceOf(request: BuildRequest, history: HistoryEvent[]): string {
  switch (request.source.type) {
    case 'instance': {
      const resolved = history.find((e) => e.stateExitedEventDetails?.name === 'ResolveSource')?.stateExitedEventDetails?.output;
      const id = (safeJson(resolved).source as { instanceId?: string } | undefined)?.instanceId;
      return (
        id ??
        request.source.instanceId ??
        Object.entries(request.source.tags ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(',')
      );
    }
    case 'base-image':
      return `builder from ${request.source.imageId ?? request.source.nameFilter ?? ''}`;
    case 'snapshots':
      return request.source.blockDeviceMappings.map((m) => m.snapshotId).join(',');
    case 'bundle':
      return request.source.imageLocation;
  }
}

function sharedWith(request: BuildRequest): string {
  const s = request.sharing;
  const parts = [
    ...s.accounts,
    ...s.organizationArns.map((a) => a.split('/').pop() ?? a),
    ...s.organizationalUnitArns.map((a) => a.split('/').pop() ?? a),
  ];
  if (s.public) parts.push('public');
  return parts.length === 0 ? '-' : parts.join(',');
}

/** When the region's image was ready: FinalizeHome's exit, or the copy's CopySucceeded/CopyFailed. */
function regionElapsed(history: HistoryEvent[], region: string, home: boolean): number | undefined {
  const start = history[0]?.timestamp?.getTime();
  if (start === undefined) return undefined;
  for (const e of history) {
    const d = e.stateExitedEventDetails;
    if (d?.name === undefined) continue;
    if (home && (d.name === 'FinalizeHome' || d.name === 'Report')) return (e.timestamp?.getTime() ?? start) - start;
    if (!home && (d.name === 'CopySucceeded' || d.name === 'CopyFailed') && (d.output ?? '').includes(`"region":"${region}"`)) {
      return (e.timestamp?.getTime() ?? start) - start;
    }
  }
  return undefined;
}
