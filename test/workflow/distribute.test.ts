import { jest } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { StartExecutionCommand, type DescribeExecutionCommandOutput } from '@aws-sdk/client-sfn';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { BuildRequest } from '../../functions/lib/build-request.js';
import { loadFactoryConfig } from '../../functions/lib/config.js';
import {
  describeOwnImage,
  distributableImage,
  distributionExecutionName,
  distributionRequestFor,
} from '../../functions/lib/distribution.js';
import { buildIdFromEvent } from '../../functions/lib/triggers/ids.js';
import { executionArnFor } from '../../functions/lib/triggers/runtime.js';
import { runBuild, startHarness, waitForExecution, webBuildRequest, type Harness } from './harness.js';

/**
 * Distributing an existing image (functions/lib/distribution.ts) on the local cloud: the build
 * whose copy to one region failed is distributed again, and only that region is touched.
 */
const REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1'] as const;
/** The demo family's copy regions, unencrypted (an encrypted copy's test instance needs kms:DescribeKey, which launch-test lacks). */
const COPIES = [{ region: 'us-west-2' }, { region: 'eu-west-1' }];
const BUILD_MS = 150_000;
jest.setTimeout(3 * BUILD_MS);

interface Report {
  outcome: string;
  distribution?: { imageId: string; runId: string } | null;
  regions: {
    region: string;
    status: string;
    imageId?: string | null;
    action?: string;
    error?: string;
    published?: { channel: string } | null;
  }[];
}

describe('distribute an existing image (the real state machine on the local cloud)', () => {
  let h: Harness;
  const made: { destroy(): void }[] = [];
  const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' };
  const ec2 = (region: string): EC2Client => {
    const c = new EC2Client({ region, endpoint: h.cloud.endpoint, credentials, maxAttempts: 1 });
    made.push(c);
    return c;
  };
  const ssm = (region: string): SSMClient => {
    const c = new SSMClient({ region, endpoint: h.cloud.endpoint, credentials, maxAttempts: 1 });
    made.push(c);
    return c;
  };

  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    for (const c of made) c.destroy();
    await h.close();
  });

  /** The channel `latest` of web in a region: its image and its parameter version (a write bumps it). */
  async function latest(region: string): Promise<{ value?: string; version?: number }> {
    try {
      const p = (await ssm(region).send(new GetParameterCommand({ Name: '/ami-factory/web/latest' }))).Parameter;
      return { ...(p?.Value !== undefined ? { value: p.Value } : {}), ...(p?.Version !== undefined ? { version: p.Version } : {}) };
    } catch (e) {
      if ((e as Error).name === 'ParameterNotFound') return {};
      throw e;
    }
  }

  /** Starts a distribution of `imageId` (as `ami-factory distribute` does) and waits for its end. */
  async function distribute(imageId: string, over: Partial<BuildRequest> = {}): Promise<DescribeExecutionCommandOutput> {
    const config = loadFactoryConfig(h.cloud.functionConfigFile ?? '');
    const image = distributableImage(await describeOwnImage(ec2('us-east-1'), imageId), 'web', 'us-east-1', imageId);
    const runId = randomUUID();
    const request = {
      ...distributionRequestFor(config, 'web', image, { runId, trigger: { type: 'test', actor: 'distribute-test' } }),
      ...over,
    };
    const { executionArn } = await h.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: h.cloud.stateMachineArn('image-factory'),
        name: distributionExecutionName('web', runId),
        input: JSON.stringify(request),
      }),
    );
    return waitForExecution(h, executionArn ?? '', BUILD_MS);
  }

  /** `<region>:<action>` of the EC2 calls since the last resetStats, for these actions. */
  function calls(...actions: string[]): string[] {
    return h.cloud.ec2
      .callLog()
      .filter((c) => actions.includes(c.action))
      .map((c) => `${c.region}:${c.action}`)
      .sort();
  }

  let build: { req: BuildRequest; report: Report; home: string };

  it('re-runs a distribution that failed in one region for that region alone', async () => {
    // Prepare: a tested build whose copy to eu-west-1 fails.
    h.cloud.ec2.faults.failCopiesTo = ['eu-west-1'];
    const req = webBuildRequest({ copies: COPIES, tests: { script: 'echo "all good"' } });
    const exec = await runBuild(h, req);
    const report = JSON.parse(exec.output ?? '{}') as Report;
    expect([exec.status, report.outcome]).toEqual(['SUCCEEDED', 'BuildPartiallySucceeded']);
    expect(report.regions.map((r) => [r.region, r.status])).toEqual([
      ['us-east-1', 'succeeded'],
      ['us-west-2', 'succeeded'],
      ['eu-west-1', 'failed'],
    ]);
    build = { req, report, home: report.regions[0]?.imageId ?? '' };
    const before = { 'us-east-1': await latest('us-east-1'), 'us-west-2': await latest('us-west-2') };
    expect(await latest('eu-west-1')).toEqual({});
    h.cloud.ec2.faults.failCopiesTo = [];
    h.cloud.ec2.resetStats();

    // Act
    const d = await distribute(build.home);

    // Assess: only eu-west-1 copied, tested and published; the other regions untouched.
    expect([d.status, d.error]).toEqual(['SUCCEEDED', undefined]);
    const again = JSON.parse(d.output ?? '{}') as Report;
    expect(again.outcome).toBe('BuildSucceeded');
    expect(again.distribution).toMatchObject({ imageId: build.home });
    expect(again.regions.map((r) => [r.region, r.status, r.action, r.published?.channel])).toEqual([
      ['us-east-1', 'succeeded', 'untouched', 'latest'],
      ['us-west-2', 'succeeded', 'untouched', 'latest'],
      ['eu-west-1', 'succeeded', 'created', 'latest'],
    ]);
    const mutating = [
      'CopyImage',
      'RunInstances',
      'CreateImage',
      'RegisterImage',
      'ModifyImageAttribute',
      'EnableImageDeprecation',
      'CreateTags',
    ];
    expect(calls(...mutating).filter((c) => !c.startsWith('eu-west-1:'))).toEqual([]);
    expect(calls('CopyImage', 'RunInstances')).toEqual(['eu-west-1:CopyImage', 'eu-west-1:RunInstances']);
    expect(await latest('us-east-1')).toEqual(before['us-east-1']);
    expect(await latest('us-west-2')).toEqual(before['us-west-2']);
    const eu = again.regions[2]?.imageId ?? '';
    expect((await latest('eu-west-1')).value).toBe(eu);
    const copy = (await ec2('eu-west-1').send(new DescribeImagesCommand({ ImageIds: [eu] }))).Images?.[0];
    expect(copy?.State).toBe('available');
    expect(Object.fromEntries((copy?.Tags ?? []).map((t) => [t.Key, t.Value]))).toMatchObject({
      'ami-factory:build-id': build.req.buildId,
      'ami-factory:source': build.home,
    });
  });

  it('a distribution of an image published everywhere touches nothing', async () => {
    h.cloud.ec2.resetStats();
    const before = Object.fromEntries(await Promise.all(REGIONS.map(async (r) => [r, await latest(r)] as const)));
    // Act
    const d = await distribute(build.home);
    // Assess
    const report = JSON.parse(d.output ?? '{}') as Report;
    expect([d.status, report.outcome]).toEqual(['SUCCEEDED', 'BuildSucceeded']);
    expect(report.regions.map((r) => r.action)).toEqual(['untouched', 'untouched', 'untouched']);
    expect(calls('CopyImage', 'RunInstances', 'ModifyImageAttribute', 'CreateTags', 'EnableImageDeregistrationProtection')).toEqual([]);
    for (const r of REGIONS) expect([r, await latest(r)]).toEqual([r, before[r]]);
  });

  it('refuses to distribute an image that is not the family’s, creating nothing', async () => {
    h.cloud.ec2.resetStats();
    // An Amazon base image of the demo world: not the account's, not managed.
    const base = h.cloud.ec2.images('us-east-1').find((i) => i.name.startsWith('al2023-ami-'))?.imageId ?? '';
    expect(base).toMatch(/^ami-/);
    // Act: a forged request (anyone may start an execution) naming it.
    const d = await distribute(build.home, { distribute: { imageId: base, runId: randomUUID() } });
    // Assess
    expect([d.status, d.error]).toEqual(['FAILED', 'ImageNotDistributableError']);
    expect(calls('CopyImage', 'RunInstances', 'CreateImage', 'RegisterImage', 'ModifyImageAttribute', 'CreateTags')).toEqual([]);
  });

  it('a Distribute Requested event on the factory bus starts the distribution (trigger-build), a refused one is rejected', async () => {
    const events = new EventBridgeClient({ region: 'us-east-1', endpoint: h.cloud.endpoint, credentials, maxAttempts: 1 });
    made.push(events);
    const put = async (detail: unknown): Promise<string> => {
      const r = await events.send(
        new PutEventsCommand({
          Entries: [
            { EventBusName: h.cloud.eventBus, Source: 'ami-factory', DetailType: 'Distribute Requested', Detail: JSON.stringify(detail) },
          ],
        }),
      );
      return r.Entries?.[0]?.EventId ?? '';
    };
    const base = h.cloud.ec2.images('us-east-1').find((i) => i.name.startsWith('al2023-ami-'))?.imageId ?? '';
    // Act
    const ok = await put({ family: 'web', imageId: build.home, regions: ['eu-west-1'], requestedBy: 'pipeline' });
    const refused = await put({ family: 'web', imageId: base });
    await h.cloud.events.idle();
    // Assess
    const name = distributionExecutionName('web', buildIdFromEvent('distribute', ok, 'web'));
    const d = await waitForExecution(h, executionArnFor(h.cloud.stateMachineArn('image-factory'), name), BUILD_MS);
    const report = JSON.parse(d.output ?? '{}') as Report;
    expect([d.status, report.outcome]).toEqual(['SUCCEEDED', 'BuildSucceeded']);
    expect(report.regions.map((r) => [r.region, r.action])).toEqual([
      ['us-east-1', 'untouched'],
      ['eu-west-1', 'untouched'],
    ]);
    const rejected = h.cloud.events.log().find((l) => l.event['detail-type'] === 'BuildRequestRejected');
    expect(rejected?.event.detail).toMatchObject({
      trigger: 'Distribute Requested',
      eventId: refused,
      family: 'web',
      reason: expect.stringContaining('is not an image of this account'),
    });
  });
});
