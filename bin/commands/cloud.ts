import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseFaultArgument, type FaultSpec } from '../../local/faults.js';
import { startLocalCloud, DEFAULT_PORT } from '../../local/server.js';
import { REGIONS } from '../../local/ec2/model.js';
import { StateDirLockedError } from '../../local/lock.js';
import { StateFileError } from '../../local/persist.js';
import { DEFAULT_TIME_SCALE } from './_common.js';

export const summary = 'Run the embedded local cloud (EC2, Step Functions) in the foreground';

const HELP = `usage: ami-factory cloud [--port N] [--time-scale X] [--state-dir DIR] [--no-throttling]
                          [--seed-images N [--seed-family F] [--seed-regions L]] [--faults FILE.json|SPEC]

Serves the AWS APIs the factory uses on one loopback port, so the AWS CLI or any SDK can
talk to it with an endpoint override. State persists in --state-dir (default .ami-factory/).
  --port N          listen port (default ${DEFAULT_PORT})
  --time-scale X    simulated seconds per real second (default ${DEFAULT_TIME_SCALE}: EC2's minutes pass in tenths of a second)
  --no-throttling   turn off EC2's token-bucket request throttling
  --seed-images N   add N available managed images dated across the past 400 days, the regions taking
                    turns (once per family and state dir: a restart with the same N adds nothing)
  --seed-family F   their family (default bench)
  --seed-regions L  comma-separated regions to seed (default all: ${REGIONS.join(',')})
  --faults F        inject faults (local/faults.ts): a JSON file, inline JSON, or clauses like
                    "seed=7; ec2:*=throttle:0.3; ec2:*@us-west-2=reset; events:EC2 AMI State Change=lose:1";
                    change them while running with PUT /_local/faults

A retention demo: seed the web family in its regions, then look at the plan:
  ami-factory cloud --seed-images 300 --seed-family web --seed-regions us-east-1,us-west-2,eu-west-1 &
  ami-factory expire web --dry-run`;

export async function run(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string' },
        'time-scale': { type: 'string' },
        'state-dir': { type: 'string' },
        'no-throttling': { type: 'boolean' },
        'seed-images': { type: 'string' },
        'seed-family': { type: 'string' },
        'seed-regions': { type: 'string' },
        faults: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    console.error(`ami-factory cloud: ${e instanceof Error ? e.message : String(e)}\n\n${HELP}`);
    return 2;
  }
  if (values.help === true) {
    console.log(HELP);
    return 0;
  }
  const port = values.port === undefined ? DEFAULT_PORT : Number(values.port);
  const timeScale = values['time-scale'] === undefined ? DEFAULT_TIME_SCALE : Number(values['time-scale']);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`ami-factory cloud: --port must be a port number, got "${values.port}"`);
    return 2;
  }
  if (!(timeScale > 0)) {
    console.error(`ami-factory cloud: --time-scale must be a positive number, got "${values['time-scale']}"`);
    return 2;
  }
  const seedImages = values['seed-images'] === undefined ? undefined : Number(values['seed-images']);
  if (seedImages !== undefined && !(Number.isInteger(seedImages) && seedImages >= 0)) {
    console.error(`ami-factory cloud: --seed-images must be a non-negative integer, got "${values['seed-images']}"`);
    return 2;
  }
  if (seedImages === undefined && (values['seed-family'] !== undefined || values['seed-regions'] !== undefined)) {
    console.error('ami-factory cloud: --seed-family and --seed-regions go with --seed-images N');
    return 2;
  }
  const seedFamily = values['seed-family'] ?? 'bench';
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(seedFamily)) {
    console.error(`ami-factory cloud: --seed-family must be a lower-case family name (letters, digits, dashes), got "${seedFamily}"`);
    return 2;
  }
  const seedRegions =
    values['seed-regions'] === undefined
      ? [...REGIONS]
      : values['seed-regions']
          .split(',')
          .map((r) => r.trim())
          .filter((r) => r !== '');
  const unknownRegions = seedRegions.filter((r) => !(REGIONS as readonly string[]).includes(r));
  if (seedRegions.length === 0 || unknownRegions.length > 0) {
    console.error(
      `ami-factory cloud: --seed-regions must name regions of the local cloud (${REGIONS.join(', ')}), got "${values['seed-regions']}"`,
    );
    return 2;
  }
  let faults: FaultSpec | undefined;
  try {
    if (values.faults !== undefined) faults = parseFaultArgument(values.faults, (path) => readFileSync(path, 'utf8'));
  } catch (e) {
    console.error(`ami-factory cloud: --faults: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
  const opts: Parameters<typeof startLocalCloud>[0] = { port, timeScale, throttling: values['no-throttling'] !== true };
  if (faults !== undefined) opts.faults = faults;
  if (values['state-dir'] !== undefined) opts.stateDir = values['state-dir'];
  if (seedImages !== undefined && seedImages > 0)
    opts.seedImages = { count: seedImages, regions: [...new Set(seedRegions)], family: seedFamily };
  let cloud;
  try {
    cloud = await startLocalCloud(opts);
  } catch (e) {
    if (e instanceof StateDirLockedError || e instanceof StateFileError) {
      console.error(`ami-factory cloud: ${e.message}`);
      return 1;
    }
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      console.error(`ami-factory cloud: port ${port} is in use by another program; choose one with --port N (0: any free port)`);
      return 1;
    }
    throw e;
  }
  console.log(`ami-factory local cloud listening on ${cloud.endpoint} (account ${cloud.accountId}, time scale ×${timeScale})`);
  console.log(
    `state: ${cloud.stateDir ?? '(memory)'}   function logs: ${cloud.stateDir === null ? '(memory)' : join(cloud.stateDir, 'logs', '<function>.log')}   IAM denials: ${cloud.stateDir === null ? '(memory)' : join(cloud.stateDir, 'logs', 'iam.log')}`,
  );
  if (opts.seedImages !== undefined) {
    console.log(
      `seeded: ${opts.seedImages.count} managed images of family ${opts.seedImages.family} over ${opts.seedImages.regions.join(', ')}`,
    );
  }
  console.log(`try:   aws ec2 describe-images --owners self --endpoint-url ${cloud.endpoint} --region us-east-1`);
  if (faults !== undefined) console.log(`faults: ${JSON.stringify(faults)}   (GET/PUT ${cloud.endpoint}/_local/faults)`);
  console.log('press Ctrl-C to stop');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await cloud.close();
  console.log('local cloud stopped; state saved');
  return 0;
}
