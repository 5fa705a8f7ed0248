import { EC2Client } from '@aws-sdk/client-ec2';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand, type DescribeExecutionCommandOutput } from '@aws-sdk/client-sfn';
import { startLocalCloud, type LocalCloud, type LocalCloudOptions } from '../../local/server.js';
import type { BuildRequest } from '../../functions/lib/build-request.js';

/**
 * A local cloud on a free port with real SDK clients pointed at it. Time runs 600× fast:
 * EC2's 5 minutes take half a second, a function's cold start (a few hundred ms) a few simulated minutes.
 */
export interface Harness {
  cloud: LocalCloud;
  ec2: EC2Client;
  sfn: SFNClient;
  close(): Promise<void>;
}

export async function startHarness(opts: LocalCloudOptions = {}): Promise<Harness> {
  const cloud = await startLocalCloud({ port: 0, stateDir: null, timeScale: 600, familySchedules: false, ...opts });
  const config = {
    region: 'us-east-1',
    endpoint: cloud.endpoint,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' },
    maxAttempts: 1,
  };
  const ec2 = new EC2Client(config);
  const sfn = new SFNClient(config);
  return {
    cloud,
    ec2,
    sfn,
    close: async () => {
      ec2.destroy();
      sfn.destroy();
      await cloud.close();
    },
  };
}

/** Starts an image-factory execution through the real SFN API and waits (bounded) for its end. */
export async function runBuild(
  h: Harness,
  request: BuildRequest,
  name = `test-${request.buildId}`,
): Promise<DescribeExecutionCommandOutput> {
  const { executionArn } = await h.sfn.send(
    new StartExecutionCommand({ stateMachineArn: h.cloud.stateMachineArn('image-factory'), name, input: JSON.stringify(request) }),
  );
  if (executionArn === undefined) throw new Error('no executionArn');
  return waitForExecution(h, executionArn);
}

export async function waitForExecution(h: Harness, executionArn: string, timeoutMs = 30_000): Promise<DescribeExecutionCommandOutput> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await h.sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (d.status !== 'RUNNING') return d;
    if (Date.now() > deadline) throw new Error(`execution ${executionArn} still RUNNING after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function tagMap(tags: { Key?: string | undefined; Value?: string | undefined }[] | undefined): Record<string, string> {
  return Object.fromEntries((tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
}
