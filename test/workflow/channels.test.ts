import { jest } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import {
  DeregisterImageCommand,
  DescribeImageReferencesCommand,
  DescribeImagesCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { type BuildRequest } from '../../functions/lib/build-request.js';
import { ChannelRecordSchema, type ChannelRecord } from '../../functions/lib/channels/history.js';
import { SEED_WEB_LAUNCH_TEMPLATE_ID } from '../../local/ec2/seed.js';
import { failure } from '../fixtures.js';
import { allowRequest, startHarness, waitForExecution, type Harness, webBuildRequest, WEB_COPIES } from './harness.js';

const REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1'] as const;
const BUILD_TIMEOUT_MS = 120_000;

function request(): BuildRequest {
  return webBuildRequest({ trigger: { type: 'test', actor: 'channels-test' }, copies: WEB_COPIES });
}

interface Report {
  outcome: string;
  regions: { region: string; status: string; imageId?: string | null; published?: { channel: string; parameter: string } | null }[];
}

jest.setTimeout(4 * BUILD_TIMEOUT_MS);

describe('publication to channels (the real state machine on the local cloud)', () => {
  let h: Harness;
  const made: { destroy(): void }[] = [];
  let s3: S3Client;
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
    s3 = new S3Client({ region: 'us-east-1', endpoint: h.cloud.endpoint, credentials, forcePathStyle: true, maxAttempts: 1 });
  });
  afterAll(async () => {
    for (const c of made) c.destroy();
    s3.destroy();
    await h.close();
  });

  async function build(): Promise<{ req: BuildRequest; images: Record<string, string>; report: Report }> {
    const req = request();
    allowRequest(h, req);
    const { executionArn } = await h.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: h.cloud.stateMachineArn('image-factory'),
        name: `test-${req.buildId}`,
        input: JSON.stringify(req),
      }),
    );
    // A whole build with three regions: allow for a loaded machine.
    const exec = await waitForExecution(h, executionArn ?? '', BUILD_TIMEOUT_MS);
    expect(exec.status).toBe('SUCCEEDED');
    const report = JSON.parse(exec.output ?? '{}') as Report;
    const images = Object.fromEntries(report.regions.map((r) => [r.region, r.imageId ?? '']));
    return { req, images, report };
  }

  async function channelValue(region: string, channel: string): Promise<{ value?: string; dataType?: string }> {
    const p = (await ssm(region).send(new GetParameterCommand({ Name: `/ami-factory/web/${channel}` }))).Parameter;
    return { ...(p?.Value !== undefined ? { value: p.Value } : {}), ...(p?.DataType !== undefined ? { dataType: p.DataType } : {}) };
  }

  async function protection(region: string, imageId: string): Promise<string | undefined> {
    return (await ec2(region).send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images?.[0]?.DeregistrationProtection;
  }

  async function history(region: string): Promise<ReturnType<typeof ChannelRecordSchema.parse>> {
    const r = await s3.send(new GetObjectCommand({ Bucket: h.cloud.stateBucket, Key: `channels/web/${region}/latest.json` }));
    return ChannelRecordSchema.parse(JSON.parse((await r.Body?.transformToString()) ?? ''));
  }

  let first: Awaited<ReturnType<typeof build>>;

  it("publishes every region's image to latest: parameter, launch template, protection, history, ImagePublished", async () => {
    // Act
    first = await build();
    // Assess
    expect(first.report.outcome).toBe('BuildSucceeded');
    for (const region of REGIONS) {
      const imageId = first.images[region] ?? '';
      expect(imageId).toMatch(/^ami-/);
      expect([region, await channelValue(region, 'latest')]).toEqual([region, { value: imageId, dataType: 'aws:ec2:image' }]);
      expect([region, await protection(region, imageId)]).toEqual([region, 'enabled-without-cooldown']);
      const record = await history(region);
      expect(record.current).toMatchObject({ imageId, buildId: first.req.buildId, action: 'publish', previousImageId: null });
      expect(record.current?.by).toEqual({ type: 'test', actor: 'channels-test' });
    }
    expect(first.report.regions.map((r) => [r.region, r.published?.channel])).toEqual(REGIONS.map((r) => [r, 'latest']));
    // The web launch template of us-east-1 defaults to a new version (from the old default) with the image.
    const lt = await ec2('us-east-1').send(
      new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: SEED_WEB_LAUNCH_TEMPLATE_ID, Versions: ['$Default'] }),
    );
    expect(lt.LaunchTemplateVersions?.[0]).toMatchObject({
      VersionNumber: 2,
      DefaultVersion: true,
      LaunchTemplateData: { ImageId: first.images['us-east-1'], InstanceType: 't3.micro' },
    });
    await h.cloud.events.idle();
    const published = h.cloud.events
      .log()
      .filter((e) => e.event['detail-type'] === 'ImagePublished' && (e.event.detail as { buildId?: string }).buildId === first.req.buildId)
      .map((e) => e.event.detail as { region: string; channel: string; imageId: string });
    expect(published.map((d) => [d.region, d.channel, d.imageId]).sort()).toEqual(
      REGIONS.map((r) => [r, 'latest', first.images[r]]).sort(),
    );
  });

  it('refuses DeregisterImage of a published (protected) image, as EC2 does', async () => {
    const imageId = first.images['us-west-2'] ?? '';
    expect(await failure(ec2('us-west-2').send(new DeregisterImageCommand({ ImageId: imageId })))).toEqual({
      name: 'OperationNotPermitted',
      status: 400,
    });
    expect((await ec2('us-west-2').send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images?.[0]?.State).toBe('available');
  });

  it("a newer build takes latest over, records what it replaced and lifts the old image's protection", async () => {
    // Act
    const second = await build();
    // Assess
    for (const region of REGIONS) {
      const [oldImage, newImage] = [first.images[region] ?? '', second.images[region] ?? ''];
      expect([region, (await channelValue(region, 'latest')).value]).toEqual([region, newImage]);
      expect([region, await protection(region, newImage)]).toEqual([region, 'enabled-without-cooldown']);
      expect([region, await protection(region, oldImage)]).toEqual([region, 'disabled']);
      const record = await history(region);
      expect(record.history.map((e) => e.imageId)).toEqual([oldImage, newImage]);
      expect(record.current?.previousImageId).toBe(oldImage);
    }
    // EC2 reports the channel parameter as a reference of the published image only.
    const refs = await ec2('us-east-1').send(
      new DescribeImageReferencesCommand({
        ImageIds: [first.images['us-east-1'] ?? '', second.images['us-east-1'] ?? ''],
        ResourceTypes: [{ ResourceType: 'ssm:Parameter' }],
      }),
    );
    expect(refs.ImageReferences?.map((r) => [r.ImageId, r.Arn])).toEqual([
      [second.images['us-east-1'], expect.stringMatching(/:parameter\/ami-factory\/web\/latest$/)],
    ]);
  });

  async function channelOperation(
    input: Record<string, unknown>,
  ): Promise<{ executionArn: string; regions: { region: string; status: string }[] }> {
    const { executionArn } = await h.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: h.cloud.stateMachineArn('image-channels'),
        name: `op-${randomUUID()}`,
        input: JSON.stringify({ family: 'web', channel: 'stable', by: { type: 'test', actor: 'ops' }, ...input }),
      }),
    );
    const d = await waitForExecution(h, executionArn ?? '', BUILD_TIMEOUT_MS);
    expect([d.status, d.error, d.cause]).toEqual(['SUCCEEDED', undefined, undefined]);
    return { executionArn: executionArn ?? '', ...(JSON.parse(d.output ?? '{}') as { regions: { region: string; status: string }[] }) };
  }

  it('promotes a build to stable in every region it was published in, then rolls stable back; protection follows', async () => {
    const [older, newer] = [first, await build()];
    // Act: the older build by its id, then the newer one by its image id in one region.
    const promoted = await channelOperation({ operation: 'promote', target: older.req.buildId });
    for (const region of REGIONS) {
      expect([region, (await channelValue(region, 'stable')).value]).toEqual([region, older.images[region]]);
      expect([region, await protection(region, older.images[region] ?? '')]).toEqual([region, 'enabled-without-cooldown']);
    }
    await channelOperation({ operation: 'promote', target: newer.images['eu-west-1'] });
    for (const region of REGIONS) {
      expect([region, (await channelValue(region, 'stable')).value]).toEqual([region, newer.images[region]]);
      // The older image is in no channel any more: unprotected.
      expect([region, await protection(region, older.images[region] ?? '')]).toEqual([region, 'disabled']);
    }
    const rolledBack = await channelOperation({ operation: 'rollback' });
    // Assess
    expect(promoted.regions.map((r) => r.status)).toEqual(['published', 'published', 'published']);
    expect(rolledBack.regions.map((r) => r.status)).toEqual(['published', 'published', 'published']);
    for (const region of REGIONS) {
      expect([region, (await channelValue(region, 'stable')).value]).toEqual([region, older.images[region]]);
      expect([region, await protection(region, older.images[region] ?? '')]).toEqual([region, 'enabled-without-cooldown']);
      // The newer image is still latest: it keeps its protection.
      expect([region, await protection(region, newer.images[region] ?? '')]).toEqual([region, 'enabled-without-cooldown']);
    }
    const r = await s3.send(new GetObjectCommand({ Bucket: h.cloud.stateBucket, Key: 'channels/web/us-west-2/stable.json' }));
    const stable = ChannelRecordSchema.parse(JSON.parse((await r.Body?.transformToString()) ?? ''));
    expect(stable.history.map((e) => [e.action, e.imageId])).toEqual([
      ['promote', older.images['us-west-2']],
      ['promote', newer.images['us-west-2']],
      ['rollback', older.images['us-west-2']],
    ]);
    expect(stable.current?.by).toEqual({ type: 'test', actor: 'ops' });
  });

  it('goes back once when the rollback step runs again (a retried invocation), not twice', async () => {
    const stableRecord = async (region: string): Promise<ChannelRecord> => {
      const r = await s3.send(new GetObjectCommand({ Bucket: h.cloud.stateBucket, Key: `channels/web/${region}/stable.json` }));
      return ChannelRecordSchema.parse(JSON.parse((await r.Body?.transformToString()) ?? ''));
    };
    const rolledBack = await channelOperation({ operation: 'rollback' });
    const after = new Map<string, { value: string | undefined; entries: number }>();
    for (const region of REGIONS) {
      after.set(region, { value: (await channelValue(region, 'stable')).value, entries: (await stableRecord(region)).history.length });
    }
    // Act: the task again with the same execution, as Step Functions' Retry (or a duplicate invocation) runs it.
    const again = (await h.cloud.lambda.invoke('promoteImage', {
      operation: { operation: 'rollback', family: 'web', channel: 'stable', by: { type: 'test', actor: 'ops' } },
      executionArn: rolledBack.executionArn,
    })) as { regions: { region: string; status: string; imageId?: string }[] };
    // Assess: every region keeps the image the rollback gave it, with no second entry.
    for (const region of REGIONS) {
      const record = await stableRecord(region);
      expect([region, (await channelValue(region, 'stable')).value, record.history.length]).toEqual([
        region,
        after.get(region)?.value,
        after.get(region)?.entries,
      ]);
      expect(record.current?.operationId).toBe(rolledBack.executionArn);
      expect(again.regions.find((r) => r.region === region)).toMatchObject({ status: 'published', imageId: after.get(region)?.value });
    }
  });
});
