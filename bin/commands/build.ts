import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { SFNClient } from '@aws-sdk/client-sfn';
import { buildRequestFor, loadFactoryConfig } from '../../functions/lib/config.js';
import { executionNameFor } from '../../functions/lib/triggers/ids.js';
import { PROJECT_ROOT } from '../../local/server.js';
import {
  commandCredentials,
  commandFailed,
  connectForCommand,
  CLOUD_OPTIONS,
  CLOUD_OPTIONS_HELP,
  executionSucceeded,
  onePositional,
  parseCommand,
  printBuildReport,
  stateMachineArnOf,
} from './_common.js';
import { startAndFollow } from '../execution-progress.js';

export const summary = 'Start a build of a family on the local cloud and wait for its result';

const HELP = `usage: ami-factory build <family> [--regions a,b] [--reboot | --no-reboot] [--config FILE] [--timeout SECONDS]

Starts an image-factory execution for the family (copies only to --regions, which must be
among the family's) and waits for it; prints one line per region and exits 0 when every
region succeeded.
${CLOUD_OPTIONS_HELP}`;

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
    credentials: commandCredentials(),
  });
  try {
    const stateMachineArn = stateMachineArnOf(target.stack, 'image-factory');
    const name = executionNameFor(family, request.buildId);
    console.log(`building ${family} (build ${request.buildId}) → ${[request.region, ...request.copies.map((c) => c.region)].join(', ')}`);
    const d = await startAndFollow(
      sfn,
      { stateMachineArn, name, input: JSON.stringify(request) },
      { started, timeoutMs, endpoint: target.endpoint },
    );
    return executionSucceeded(d) ? printBuildReport(d.output, started) : 1;
  } catch (e) {
    return commandFailed('build', e);
  } finally {
    sfn.destroy();
    await target.close();
  }
}
