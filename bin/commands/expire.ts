import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { SFNClient } from '@aws-sdk/client-sfn';
import { S3Client } from '@aws-sdk/client-s3';
import { loadFactoryConfig } from '../../functions/lib/config.js';
import { countActions, type PlanEntry } from '../../functions/lib/retention/plan.js';
import type { RetentionReport } from '../../functions/lib/retention/report.js';
import { retentionExecutionName, retentionRequestFor, type RetentionRequest } from '../../functions/lib/retention/request.js';
import { RetentionStore } from '../../functions/lib/retention/store.js';
import { PROJECT_ROOT } from '../../local/server.js';
import {
  commandCredentials,
  commandFailed,
  connectForCommand,
  CLOUD_OPTIONS,
  CLOUD_OPTIONS_HELP,
  executionSucceeded,
  formatDuration,
  onePositional,
  parseCommand,
  table,
  stateMachineArnOf,
} from './_common.js';
import { startAndFollow } from '../execution-progress.js';

export const summary = "Run a family's retention policy on the local cloud: print the plan, then carry it out (or --dry-run)";

const HELP = `usage: ami-factory expire <family> [--dry-run] [--region R]... [--rows N | --all] [--config FILE] [--timeout SECONDS]
                         [--endpoint URL | --port N] [--state-dir DIR]

Runs the image-retention state machine for the family with its policy from the config
(retention: keepNewest, maxAgeDays, deprecateAfterDays, disableGraceDays, excludeTags) in
every region the family has images in, or only in the --region(s) given. Prints the plan
(image, region, age, action, reason), then what was done per region. Only images owned by
the account and tagged ami-factory:managed=true are considered; an image in use is kept.
  --dry-run      plan only; change nothing
  --region R     limit the run to this region (repeatable)
  --rows N       plan rows to print (default 40): images acted on first, then kept ones
                 with a notable reason (in use, excluded, protected); --all prints every row
${CLOUD_OPTIONS_HELP}
Exit status: 0 when the run planned (dry run) or succeeded in every region, 1 otherwise.`;

/** Which plan rows a reader wants first: actions, then kept images whose reason says something. */
function rank(e: PlanEntry): number {
  if (e.action !== 'keep') return 0;
  if (/^in use|^excluded|protection|^state /.test(e.reason)) return 1;
  return 2;
}

export function planRows(entries: PlanEntry[], limit: number): { rows: string[][]; hidden: number } {
  const ordered = entries
    .map((e, i) => ({ e, i }))
    .sort((a, b) => rank(a.e) - rank(b.e) || a.i - b.i)
    .map(({ e }) => e);
  const shown = ordered.slice(0, limit);
  return {
    rows: shown.map((e) => [e.imageId, e.region, String(e.ageDays), e.action, e.reason]),
    hidden: ordered.length - shown.length,
  };
}

function counts(entries: PlanEntry[]): string {
  const c = countActions(entries);
  return `${entries.length} images: ${c.deregister} to deregister, ${c.disable} to disable, ${c.deprecate} to deprecate, ${c.keep} kept`;
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand('expire', HELP, argv, {
    'dry-run': { type: 'boolean' },
    region: { type: 'string', multiple: true },
    rows: { type: 'string' },
    all: { type: 'boolean' },
    config: { type: 'string' },
    timeout: { type: 'string' },
    ...CLOUD_OPTIONS,
    help: { type: 'boolean', short: 'h' },
  });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const family = onePositional('expire', HELP, positionals, 'family');
  if (typeof family === 'number') return family;
  const limit = values.all === true ? Number.POSITIVE_INFINITY : Number(values.rows ?? '40');
  if (!(limit >= 0)) {
    console.error(`ami-factory expire: --rows must be a non-negative number, got "${values.rows}"`);
    return 2;
  }
  const timeoutMs = Number(values.timeout ?? '3600') * 1000;
  if (!(timeoutMs > 0)) {
    console.error(`ami-factory expire: --timeout must be a positive number of seconds, got "${values.timeout}"`);
    return 2;
  }
  let request: RetentionRequest;
  try {
    const config = loadFactoryConfig(values.config ?? join(PROJECT_ROOT, 'factory.config.yml'));
    request = retentionRequestFor(config, family, {
      runId: randomUUID(),
      requestedAt: new Date().toISOString(),
      dryRun: values['dry-run'] === true,
      trigger: { type: 'cli', actor: process.env.USER ?? 'local' },
      ...(values.region !== undefined ? { regions: values.region } : {}),
    });
  } catch (e) {
    console.error(`ami-factory expire: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }

  const started = Date.now();
  const target = await connectForCommand('expire', values);
  if (typeof target === 'number') return target;
  const clientConfig = {
    region: 'us-east-1',
    endpoint: target.endpoint,
    credentials: commandCredentials(),
  };
  const sfn = new SFNClient(clientConfig);
  const s3 = new S3Client(clientConfig);
  try {
    const p = request.policy;
    console.log(
      `${request.dryRun ? 'planning' : 'retiring'} ${family} in ${request.regions.join(', ')} — keep newest ${p.keepNewest} per region, ` +
        `max age ${p.maxAgeDays} days, ${p.disableGraceDays} days disabled before deregistering` +
        `${p.deprecateAfterDays !== undefined ? `, deprecate after ${p.deprecateAfterDays} days` : ''} (run ${request.runId})`,
    );
    const stateMachineArn = stateMachineArnOf(target.stack, 'image-retention');
    const d = await startAndFollow(
      sfn,
      { stateMachineArn, name: retentionExecutionName(family, request.runId), input: JSON.stringify(request) },
      { started, timeoutMs, endpoint: target.endpoint },
    );
    if (!executionSucceeded(d)) return 1;
    const report = JSON.parse(d.output ?? '{}') as RetentionReport;

    // The plan, as the state machine stored it.
    const store = new RetentionStore(s3, target.stack.stateBucket);
    const entries: PlanEntry[] = [];
    for (const r of report.regions) {
      if (r.status === 'plan-failed') continue;
      entries.push(...(await store.getPlan(request.runId, r.region)).entries);
    }
    console.log(`\nplan: ${counts(entries)}`);
    const { rows, hidden } = planRows(entries, limit);
    if (rows.length > 0) console.log(table(['image', 'region', 'age (days)', 'action', 'reason'], rows));
    if (hidden > 0) console.log(`… ${hidden} more rows (--all prints every row)`);

    console.log('');
    const regionRows = report.regions.map((r) =>
      request.dryRun
        ? [
            r.region,
            r.status,
            String(r.images),
            String(r.planned.deprecate),
            String(r.planned.disable),
            String(r.planned.deregister),
            r.error ?? '',
          ]
        : [
            r.region,
            r.status,
            String(r.images),
            String(r.outcomes.deprecated),
            String(r.outcomes.disabled),
            String(r.outcomes.deregistered),
            String(r.outcomes['already-done']),
            String(r.outcomes.kept),
            String(r.outcomes.failed),
            r.error ?? '',
          ],
    );
    console.log(
      table(
        request.dryRun
          ? ['region', 'status', 'images', 'to deprecate', 'to disable', 'to deregister', 'error']
          : ['region', 'status', 'images', 'deprecated', 'disabled', 'deregistered', 'already done', 'kept at action', 'failed', 'error'],
        regionRows,
      ),
    );
    for (const r of report.regions) {
      for (const k of r.keptAtActionTime) console.log(`  kept ${k.imageId} (${r.region}): ${k.reason}`);
      for (const f of r.failures) console.log(`  ✗ ${f.imageId} (${r.region}, ${f.planned}): ${f.error}`);
    }
    const calls = Object.values(report.calls).reduce((a, b) => a + b, 0);
    console.log(`\n${report.status} · ${calls} EC2 calls, ${report.throttled} throttled · ${formatDuration(Date.now() - started)}`);
    return report.status === 'planned' || report.status === 'succeeded' ? 0 : 1;
  } catch (e) {
    return commandFailed('expire', e);
  } finally {
    sfn.destroy();
    s3.destroy();
    await target.close();
  }
}
