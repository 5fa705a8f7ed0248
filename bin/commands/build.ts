import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { SFNClient } from '@aws-sdk/client-sfn';
import { buildRequestFor, loadFactoryConfig } from '../../functions/lib/config.js';
import { executionNameFor } from '../../functions/lib/triggers/ids.js';
import { PROJECT_ROOT } from '../../local/server.js';
import {
  causeMessage,
  connectForCommand,
  CLOUD_OPTIONS,
  CLOUD_OPTIONS_HELP,
  CloudLostError,
  ExecutionStillRunningError,
  formatDuration,
  onePositional,
  parseCommand,
  startAndWait,
  table,
  stateMachineArnOf,
} from './_common.js';

export const summary = 'Start a build of a family on the local cloud and wait for its result';

const HELP = `usage: ami-factory build <family> [--regions a,b] [--reboot | --no-reboot] [--config FILE] [--timeout SECONDS]

Starts an image-factory execution for the family (copies only to --regions, which must be
among the family's) and waits for it; prints one line per region and exits 0 when every
region succeeded.
${CLOUD_OPTIONS_HELP}`;

interface Report {
  outcome?: string;
  imageName?: string | null;
  regions?: { region: string; status: string; imageId?: string | null; error?: string; cause?: string }[];
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand('build', HELP, argv, {
    regions: { type: 'string' },
    reboot: { type: 'boolean' },
    'no-reboot': { type: 'boolean' },
    config: { type: 'string' },
    timeout: { type: 'string' },
    ...CLOUD_OPTIONS,
    help: { type: 'boolean', short: 'h' },
  });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const family = onePositional('build', HELP, positionals, 'family');
  if (typeof family === 'number') return family;
  if (values.reboot === true && values['no-reboot'] === true) {
    console.error('ami-factory build: --reboot and --no-reboot contradict each other');
    return 2;
  }
  const noReboot = values['no-reboot'] === true ? true : values.reboot === true ? false : undefined;
  const regions = values.regions
    ?.split(',')
    .map((r) => r.trim())
    .filter((r) => r !== '');
  const timeoutMs = Number(values.timeout ?? '1800') * 1000;
  let request;
  try {
    const config = loadFactoryConfig(values.config ?? join(PROJECT_ROOT, 'factory.config.yml'));
    request = buildRequestFor(config, family, {
      buildId: randomUUID(),
      requestedAt: new Date().toISOString(),
      trigger: { type: 'cli', actor: process.env.USER ?? 'local' },
      ...(noReboot !== undefined ? { noReboot } : {}),
      ...(regions !== undefined ? { regions } : {}),
    });
  } catch (e) {
    console.error(`ami-factory build: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }

  const started = Date.now();
  const target = await connectForCommand('build', values);
  if (typeof target === 'number') return target;
  const sfn = new SFNClient({
    region: request.region,
    endpoint: target.endpoint,
    credentials: {
      accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'AKIDLOCAL',
      secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'local',
    },
  });
  try {
    const stateMachineArn = stateMachineArnOf(target.stack, 'image-factory');
    const name = executionNameFor(family, request.buildId);
    console.log(`building ${family} (build ${request.buildId}) → ${[request.region, ...request.copies.map((c) => c.region)].join(', ')}`);
    const d = await startAndWait(sfn, { stateMachineArn, name, input: JSON.stringify(request) }, timeoutMs, target.endpoint);
    if (d.status !== 'SUCCEEDED') {
      console.error(`✗ ${d.status}: ${d.error ?? 'unknown error'}: ${causeMessage(d.cause)}`);
      return 1;
    }
    const report = JSON.parse(d.output ?? '{}') as Report;
    const rows = (report.regions ?? []).map((r) => [
      r.region,
      r.imageId ?? '-',
      r.status === 'failed' ? `failed: ${r.error ?? ''}: ${causeMessage(r.cause)}` : r.status,
    ]);
    console.log(table(['region', 'image id', 'result'], rows));
    console.log(`${report.outcome ?? 'unknown outcome'} · ${report.imageName ?? ''} · ${formatDuration(Date.now() - started)}`);
    return report.outcome === 'BuildSucceeded' ? 0 : 1;
  } catch (e) {
    if (e instanceof ExecutionStillRunningError || e instanceof CloudLostError) {
      console.error(`✗ ${e.message}`);
      return 1;
    }
    console.error(`✗ ami-factory build: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    return 1;
  } finally {
    sfn.destroy();
    await target.close();
  }
}
