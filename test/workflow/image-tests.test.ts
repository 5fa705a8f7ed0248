import { jest } from '@jest/globals';
import { DescribeImagesCommand, DescribeInstancesCommand, DescribeSnapshotsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetExecutionHistoryCommand } from '@aws-sdk/client-sfn';
import { type BuildRequest, type ImageTests } from '../../functions/lib/build-request.js';
import { imageName } from '../../functions/lib/naming.js';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { allowRequest, startHarness, tagMap, waitForExecution, type Harness, webBuildRequest, WEB_COPIES } from './harness.js';
import { StartExecutionCommand, type DescribeExecutionCommandOutput } from '@aws-sdk/client-sfn';

/**
 * Image tests on the local cloud: a test instance per region, launched from the region's image,
 * "runs" the test script (local/ec2/instances.ts testPlan), is waited for by callback, judged,
 * terminated; a region whose test did not pass is rejected.
 */
const COPIES = ['us-west-2', 'eu-west-1'];

function request(tests: Partial<ImageTests> & { script: string }): BuildRequest {
  return webBuildRequest({ copies: COPIES.map((region) => ({ region })), tests });
}

interface TestResult {
  status: string;
  instanceId: string | null;
  reason: string | null;
  consoleTail: string | null;
}
interface Report {
  outcome: string;
  regions: { region: string; status: string; imageId?: string | null; error?: string; cause?: string; test?: TestResult | null }[];
}

/** A failing test script (the local cloud fails a script at `exit 1`; the echo lines are its console output). */
const FAILING = ['echo "checking nginx"', 'echo "nginx did not start"', 'exit 1'].join('\n');

/** A build runs a dozen more steps per region with tests: on a loaded 2-core machine allow minutes (simulated time is compressed). */
const BUILD_MS = 150_000;
jest.setTimeout(BUILD_MS + 60_000);

async function runBuild(h: Harness, request: BuildRequest): Promise<DescribeExecutionCommandOutput> {
  allowRequest(h, request);
  const { executionArn } = await h.sfn.send(
    new StartExecutionCommand({
      stateMachineArn: h.cloud.stateMachineArn('image-factory'),
      name: `test-${request.buildId}`,
      input: JSON.stringify(request),
    }),
  );
  if (executionArn === undefined) throw new Error('no executionArn');
  return waitForExecution(h, executionArn, BUILD_MS);
}

describe('image tests in every region (local cloud)', () => {
  let h: Harness;
  const clients: EC2Client[] = [];
  function regional(region: string): EC2Client {
    const c = new EC2Client({
      region,
      endpoint: h.cloud.endpoint,
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      maxAttempts: 1,
    });
    clients.push(c);
    return c;
  }
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await h.close();
  });

  async function testInstances(region: string, buildId: string) {
    const r = await regional(region).send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: 'tag:ami-factory:build-id', Values: [buildId] },
          { Name: 'tag:ami-factory:role', Values: ['test'] },
        ],
      }),
    );
    return (r.Reservations ?? []).flatMap((x) => x.Instances ?? []);
  }

  async function image(region: string, req: BuildRequest) {
    const r = await regional(region).send(
      new DescribeImagesCommand({
        Owners: ['self'],
        Filters: [{ Name: 'name', Values: [imageName(req.family, req.requestedAt, req.buildId)] }],
        IncludeDisabled: true,
        IncludeDeprecated: true,
      }),
    );
    return r.Images?.[0];
  }

  async function buildSnapshots(region: string, buildId: string) {
    const r = await regional(region).send(
      new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: [{ Name: 'tag:ami-factory:build-id', Values: [buildId] }] }),
    );
    return r.Snapshots ?? [];
  }

  /** Every test instance of the build, in every region, ends terminated (terminate is asynchronous: wait for it). */
  async function expectAllTerminated(buildId: string, regions: string[]): Promise<number> {
    let n = 0;
    for (const region of regions) {
      const list = await testInstances(region, buildId);
      n += list.length;
      for (const i of list) expect(['shutting-down', 'terminated']).toContain(i.State?.Name);
    }
    return n;
  }

  it('launches a tagged test instance from each region image; all pass: BuildSucceeded, each region reports its test', async () => {
    const req = request({ script: 'echo "all good"' });
    const exec = await runBuild(h, req);
    expect(exec.status).toBe('SUCCEEDED');
    const report = JSON.parse(exec.output ?? '{}') as Report;
    expect(report.outcome).toBe('BuildSucceeded');
    expect(report.regions.map((r) => [r.region, r.status, r.test?.status])).toEqual([
      ['us-east-1', 'succeeded', 'passed'],
      ['us-west-2', 'succeeded', 'passed'],
      ['eu-west-1', 'succeeded', 'passed'],
    ]);
    for (const r of report.regions) {
      const [inst, ...more] = await testInstances(r.region, req.buildId);
      expect(more).toHaveLength(0);
      expect(inst?.ImageId).toBe(r.imageId);
      expect(inst?.InstanceId).toBe(r.test?.instanceId);
      expect(tagMap(inst?.Tags)).toMatchObject({
        'ami-factory:managed': 'true',
        'ami-factory:role': 'test',
        'ami-factory:build-id': req.buildId,
      });
      expect((await image(r.region, req))?.State).toBe('available');
    }
    expect(await expectAllTerminated(req.buildId, ['us-east-1', ...COPIES])).toBe(3);
  });

  it('one copy region fails its test: that image deregistered with its snapshots, the others kept; BuildPartiallySucceeded with the reason', async () => {
    // The same script runs in every region; the local fault fails it in eu-west-1, whose instance then
    // tags itself ami-factory:test-status=failed (tag report).
    const req = request({ script: 'echo "smoke test"', report: 'tag' });
    h.cloud.ec2.faults.failTestsIn = ['eu-west-1'];
    const exec = await runBuild(h, req);
    const report = JSON.parse(exec.output ?? '{}') as Report;
    expect(report.outcome).toBe('BuildPartiallySucceeded');
    const eu = report.regions.find((r) => r.region === 'eu-west-1');
    expect(eu).toMatchObject({ status: 'failed', error: 'ImageTestFailedError' });
    expect(eu?.test?.status).toBe('failed');
    expect(eu?.cause).toContain('ami-factory:test-status=failed');
    expect(eu?.test?.consoleTail).toContain('ami-factory test: failed');
    expect(report.regions.filter((r) => r.status === 'succeeded').map((r) => r.region)).toEqual(['us-east-1', 'us-west-2']);
    expect((await image('eu-west-1', req))?.State ?? 'deregistered').toBe('deregistered');
    expect(await buildSnapshots('eu-west-1', req.buildId)).toHaveLength(0);
    expect((await image('us-west-2', req))?.State).toBe('available');
    expect((await image('us-east-1', req))?.State).toBe('available');
    expect(await expectAllTerminated(req.buildId, ['us-east-1', ...COPIES])).toBe(3);
    await h.cloud.events.idle();
    const outcome = h.cloud.events
      .log()
      .find(
        (e) => e.event['detail-type'] === 'BuildPartiallySucceeded' && (e.event.detail as { buildId?: string }).buildId === req.buildId,
      );
    expect(JSON.stringify(outcome?.event.detail)).toContain('ImageTestFailedError');
  });

  it('the home test fails (tag report, disable policy): BuildFailed with the console tail, the image disabled, no copy made', async () => {
    const req = request({ script: FAILING, report: 'tag', onFailure: 'disable' });
    const exec = await runBuild(h, req);
    expect(exec.status).toBe('FAILED');
    expect(exec.error).toBe('ImageTestFailedError');
    expect(exec.cause).toContain('nginx did not start');
    expect((await image('us-east-1', req))?.State).toBe('disabled');
    expect(h.cloud.ec2.stats().calls['us-west-2:CopyImage'] ?? 0).toBe(0);
    expect(h.cloud.ec2.stats().calls['eu-west-1:CopyImage'] ?? 0).toBe(0);
    expect(await expectAllTerminated(req.buildId, ['us-east-1'])).toBe(1);
    await h.cloud.events.idle();
    const failed = h.cloud.events
      .log()
      .find((e) => e.event['detail-type'] === 'BuildFailed' && (e.event.detail as { buildId?: string }).buildId === req.buildId);
    const home = (failed?.event.detail as Report | undefined)?.regions[0];
    expect(home).toMatchObject({ region: 'us-east-1', status: 'failed', error: 'ImageTestFailedError' });
    expect(home?.test?.status).toBe('failed');
  });

  it('a test instance that never reports times out, is terminated, and its region fails', async () => {
    const req = request({ script: 'echo "waiting forever"\nsleep infinity', timeoutSeconds: 60 });
    const exec = await runBuild(h, req);
    expect(exec.status).toBe('FAILED');
    expect(exec.error).toBe('ImageTestTimeoutError');
    expect(await expectAllTerminated(req.buildId, ['us-east-1'])).toBe(1);
    const history = await h.sfn.send(new GetExecutionHistoryCommand({ executionArn: exec.executionArn, maxResults: 1000 }));
    const entered = (history.events ?? []).flatMap((e) =>
      e.stateEnteredEventDetails?.name !== undefined ? [e.stateEnteredEventDetails.name] : [],
    );
    expect(entered).toEqual(
      expect.arrayContaining(['LaunchTestHome', 'AwaitTestHome', 'JudgeTestHome', 'TerminateTestHome', 'RejectTestHome']),
    );
    expect(entered).not.toContain('Distribute');
  });
});

describe('image tests of a copy encrypted with a customer managed key (local cloud)', () => {
  let h: Harness;
  beforeAll(async () => {
    // The demo family declaring tests: launchTest's key grants come from the families that test.
    const families = (parse(readFileSync('factory.config.yml', 'utf8')) as { families: Record<string, Record<string, unknown>> }).families;
    h = await startHarness({ families: { web: { ...families.web, tests: { script: 'echo "all good"' } } } });
  });
  afterAll(async () => {
    await h.close();
  });

  it("launches the eu-west-1 test instance from the copy under the region's key: EC2 uses the key as launchTest, through EC2", async () => {
    const req = webBuildRequest({ copies: WEB_COPIES, tests: { script: 'echo "all good"' } });
    const exec = await runBuild(h, req);
    const report = JSON.parse(exec.output ?? '{}') as Report;
    expect(report.regions.map((r) => [r.region, r.status, r.test?.status ?? `${r.error}: ${r.cause}`])).toEqual([
      ['us-east-1', 'succeeded', 'passed'],
      ['us-west-2', 'succeeded', 'passed'],
      ['eu-west-1', 'succeeded', 'passed'],
    ]);
    expect(report.outcome).toBe('BuildSucceeded');
  });
});
