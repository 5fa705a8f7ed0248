import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { ImageIdSchema, type BuildRequest } from '../../functions/lib/build-request.js';
import { loadFactoryConfig, type FactoryConfig } from '../../functions/lib/config.js';
import {
  describeOwnImage,
  distributableImage,
  distributionExecutionName,
  distributionRequestFor,
} from '../../functions/lib/distribution.js';
import { familyOf } from '../../functions/lib/request-policy.js';
import { PROJECT_ROOT } from '../../local/server.js';
import {
  commandCredentials,
  commandFailed,
  connectForCommand,
  CLOUD_OPTIONS,
  CLOUD_OPTIONS_HELP,
  executionSucceeded,
  parseCommand,
  printBuildReport,
  stateMachineArnOf,
  type CloudTarget,
} from './_common.js';
import { startAndFollow } from '../execution-progress.js';

export const summary = 'Distribute an existing image of a family (copies, sharing, tests, publication) without a rebuild';

const HELP = `usage: ami-factory distribute <ami-id> --family FAMILY [--regions a,b] [--wait] [--config FILE] [--timeout SECONDS]

Runs the distribution half of the image-factory workflow for an image the factory built for
FAMILY (in the family's region, available): the copies to the family's regions (or only
--regions, which must be among them), sharing, image tests and publication to the family's
first channel. It is idempotent: a region whose channel already holds the build's image is left
alone, a region holding the build's copy adopts it, so after a failure in one region a
distribution re-runs that region only. Without --wait it starts the execution and prints it
(a cloud this command starts itself is waited for); with --wait it follows it like \`build\`.
${CLOUD_OPTIONS_HELP}
Exit status: 0 when every region succeeded (or, without --wait, the execution started).`;

/** The distribution request of the image: read (DescribeImages in the family's region) and checked as planBuild will. */
async function requestFor(
  target: CloudTarget,
  config: FactoryConfig,
  family: string,
  imageId: string,
  regions: string[] | undefined,
): Promise<BuildRequest> {
  const region = familyOf(config, family).region;
  const ec2 = new EC2Client({ region, endpoint: target.endpoint, credentials: commandCredentials() });
  try {
    const image = distributableImage(await describeOwnImage(ec2, imageId), family, region, imageId);
    return distributionRequestFor(config, family, image, {
      runId: randomUUID(),
      trigger: { type: 'cli', actor: process.env.USER ?? 'local' },
      ...(regions !== undefined ? { regions } : {}),
    });
  } finally {
    ec2.destroy();
  }
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand('distribute', HELP, argv, {
    family: { type: 'string' },
    regions: { type: 'string' },
    wait: { type: 'boolean' },
    config: { type: 'string' },
    timeout: { type: 'string' },
    ...CLOUD_OPTIONS,
    help: { type: 'boolean', short: 'h' },
  });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const [imageId] = positionals;
  if (imageId === undefined || positionals.length !== 1 || values.family === undefined) {
    console.error(`ami-factory distribute: give one image id and --family\n\n${HELP}`);
    return 2;
  }
  if (!ImageIdSchema.safeParse(imageId).success) {
    console.error(`ami-factory distribute: ${imageId} is not an image id (ami-…)`);
    return 2;
  }
  const family = values.family;
  const regions = values.regions
    ?.split(',')
    .map((r) => r.trim())
    .filter((r) => r !== '');
  const timeoutMs = Number(values.timeout ?? '1800') * 1000;
  let config: FactoryConfig;
  try {
    config = loadFactoryConfig(values.config ?? join(PROJECT_ROOT, 'factory.config.yml'));
    familyOf(config, family);
  } catch (e) {
    console.error(`ami-factory distribute: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }

  const started = Date.now();
  const target = await connectForCommand('distribute', values);
  if (typeof target === 'number') return target;
  let sfn: SFNClient | undefined;
  try {
    let request: BuildRequest;
    try {
      request = await requestFor(target, config, family, imageId, regions);
    } catch (e) {
      console.error(`ami-factory distribute: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
      return 1;
    }
    sfn = new SFNClient({ region: request.region, endpoint: target.endpoint, credentials: commandCredentials() });
    const runId = request.distribute?.runId ?? '';
    const name = distributionExecutionName(family, runId);
    console.log(
      `distributing ${imageId} (${family}, build ${request.buildId}, run ${runId}) → ${[request.region, ...request.copies.map((c) => c.region)].join(', ')}`,
    );
    const execution = { stateMachineArn: stateMachineArnOf(target.stack, 'image-factory'), name, input: JSON.stringify(request) };
    if (values.wait !== true && target.cloud === undefined) {
      const { executionArn } = await sfn.send(new StartExecutionCommand(execution));
      if (executionArn === undefined) throw new Error('StartExecution returned no executionArn');
      console.log(`started ${executionArn}\nfollow it with: ami-factory status ${executionArn}`);
      return 0;
    }
    if (values.wait !== true) console.log('(the local cloud runs in this process: waiting for the distribution)');
    const d = await startAndFollow(sfn, execution, { started, timeoutMs, endpoint: target.endpoint });
    return executionSucceeded(d) ? printBuildReport(d.output, started, { withAction: true }) : 1;
  } catch (e) {
    return commandFailed('distribute', e);
  } finally {
    sfn?.destroy();
    await target.close();
  }
}
