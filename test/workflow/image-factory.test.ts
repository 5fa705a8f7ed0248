import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeImagesCommand, DescribeInstancesCommand, DescribeSnapshotsCommand } from '@aws-sdk/client-ec2';
import { GetExecutionHistoryCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { type BuildRequest, type BuildRequestInput } from '../../functions/lib/build-request.js';
import { imageName } from '../../functions/lib/naming.js';
import { runBuild, startHarness, tagMap, waitForExecution, type Harness, webBuildRequest } from './harness.js';

function request(overrides: Partial<BuildRequestInput> = {}): BuildRequest {
  return webBuildRequest({
    source: { type: 'instance', tags: { Role: 'web', Golden: 'true' }, noReboot: false },
    tags: { Team: 'platform' },
    ...overrides,
  });
}

interface Report {
  outcome: string;
  regions: { region: string; status: string; imageId?: string | null }[];
}
const homeImage = (output: string | undefined): string => (JSON.parse(output ?? '{}') as Report).regions[0]?.imageId ?? '';

describe('image-factory state machine on the local cloud (real ASL, real handlers, no mocks)', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  async function golden(): Promise<string> {
    const r = await h.ec2.send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: 'tag:Role', Values: ['web'] },
          { Name: 'tag:Golden', Values: ['true'] },
        ],
      }),
    );
    const id = r.Reservations?.[0]?.Instances?.[0]?.InstanceId;
    if (id === undefined) throw new Error('demo world has no golden web instance');
    return id;
  }

  it.each([
    { noReboot: false, label: 'with a reboot' },
    { noReboot: true, label: 'without a reboot' },
  ])('builds an available, tagged image $label', async ({ noReboot }) => {
    const instanceId = await golden();
    const req = request({ source: { type: 'instance', tags: { Role: 'web', Golden: 'true' }, noReboot } });

    const exec = await runBuild(h, req);

    expect(exec.status).toBe('SUCCEEDED');
    const out = JSON.parse(exec.output ?? '{}') as Report;
    expect(out).toMatchObject({ outcome: 'BuildSucceeded', regions: [{ region: 'us-east-1', status: 'succeeded' }] });
    const imageId = homeImage(exec.output);

    const image = (await h.ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images?.[0];
    expect(image?.State).toBe('available');
    expect(image?.Name).toBe(imageName('web', req.requestedAt, req.buildId));
    const tags = tagMap(image?.Tags);
    expect(tags).toMatchObject({
      'ami-factory:managed': 'true',
      'ami-factory:family': 'web',
      'ami-factory:build-id': req.buildId,
      'ami-factory:source': instanceId,
      'ami-factory:created-at': req.requestedAt,
      'ami-factory:reboot': noReboot ? 'false' : 'true',
      Team: 'platform',
    });

    // One snapshot per EBS volume of the instance, each carrying the factory tags.
    const instance = (await h.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))).Reservations?.[0]?.Instances?.[0];
    const volumeCount = (instance?.BlockDeviceMappings ?? []).filter((b) => b.Ebs !== undefined).length;
    const snapshotIds = (image?.BlockDeviceMappings ?? []).flatMap((b) => (b.Ebs?.SnapshotId ? [b.Ebs.SnapshotId] : []));
    expect(snapshotIds).toHaveLength(volumeCount);
    const snaps = (await h.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: snapshotIds }))).Snapshots ?? [];
    expect(snaps).toHaveLength(volumeCount);
    for (const s of snaps) expect(tagMap(s.Tags)).toMatchObject({ 'ami-factory:managed': 'true', 'ami-factory:build-id': req.buildId });

    // The reboot is visible in the instance's state history, and only when asked for.
    const history = h.cloud.ec2.instanceHistory('us-east-1', instanceId).map((e) => e.state);
    const rebootSequence = ['stopping', 'stopped', 'pending', 'running'];
    const containsReboot = history.join(',').includes(rebootSequence.join(','));
    expect(containsReboot).toBe(!noReboot);
    expect(instance?.State?.Name).toBe('running');
  });

  it('makes one image per build even when the same request is driven twice', async () => {
    const req = request();
    const first = await runBuild(h, req, 'first');
    const second = await runBuild(h, req, 'second');

    expect(first.status).toBe('SUCCEEDED');
    expect(second.status).toBe('SUCCEEDED');
    expect(homeImage(second.output)).toBe(homeImage(first.output));
    const named = await h.ec2.send(
      new DescribeImagesCommand({
        Owners: ['self'],
        Filters: [{ Name: 'name', Values: [imageName('web', req.requestedAt, req.buildId)] }],
      }),
    );
    expect(named.Images).toHaveLength(1);
  });

  it("ends the execution as failed with EC2's reason when the image fails", async () => {
    h.cloud.ec2.faults.failImages = [{ namePrefix: 'web-', reason: 'simulated snapshot failure' }];

    const exec = await runBuild(h, request());

    expect(exec.status).toBe('FAILED');
    expect(exec.error).toBe('ImageFailedError');
    expect(exec.cause).toContain('simulated snapshot failure');
    const history = await h.sfn.send(new GetExecutionHistoryCommand({ executionArn: exec.executionArn }));
    expect(
      history.events?.some(
        (e: { type?: string; stateEnteredEventDetails?: { name?: string } }) =>
          e.type === 'FailStateEntered' && e.stateEnteredEventDetails?.name === 'BuildFailed',
      ),
    ).toBe(true);
  });

  it('fails clearly when the tag selector matches several instances', async () => {
    const exec = await runBuild(h, request({ source: { type: 'instance', tags: { Role: 'web' }, noReboot: true } }));
    expect(exec.status).toBe('FAILED');
    expect(exec.error).toBe('AmbiguousSourceError');
    expect(exec.cause).toMatch(/instances match the tags \{Role=web\}/);
  });

  it('rejects a malformed BuildRequest without creating anything', async () => {
    const before = (await h.ec2.send(new DescribeImagesCommand({ Owners: ['self'] }))).Images?.length ?? 0;
    const bad = { ...request(), region: 'nowhere' } as unknown as BuildRequest;
    const exec = await runBuild(h, bad);
    expect(exec.status).toBe('FAILED');
    expect(exec.error).toBe('ValidationError');
    const after = (await h.ec2.send(new DescribeImagesCommand({ Owners: ['self'] }))).Images?.length ?? 0;
    expect(after).toBe(before);
  });
});

describe('a request outside its family config', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  async function world(): Promise<{ images: number; instances: number; snapshots: number }> {
    const images = (await h.ec2.send(new DescribeImagesCommand({ Owners: ['self'], IncludeDeprecated: true }))).Images ?? [];
    const reservations = (await h.ec2.send(new DescribeInstancesCommand({}))).Reservations ?? [];
    const snapshots = (await h.ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }))).Snapshots ?? [];
    return { images: images.length, instances: reservations.flatMap((r) => r.Instances ?? []).length, snapshots: snapshots.length };
  }

  it('fails in planBuild with RequestNotAllowedError when started directly, and creates nothing', async () => {
    const before = await world();
    // Whoever may StartExecution hands in a complete request: another region to copy to, another account to share with.
    const req = request({
      description: 'Golden image of the web tier',
      deprecateAfterDays: 180,
      copies: [{ region: 'ap-southeast-2' }],
      sharing: { accounts: ['999988887777'] },
    });
    const { executionArn } = await h.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: h.cloud.stateMachineArn('image-factory'),
        name: `outside-${req.buildId}`,
        input: JSON.stringify(req),
      }),
    );
    const exec = await waitForExecution(h, executionArn ?? '');
    expect(exec.status).toBe('FAILED');
    expect(exec.error).toBe('RequestNotAllowedError');
    expect(exec.cause).toContain("copies: ap-southeast-2 is not among the family's copy regions (us-west-2, eu-west-1)");
    expect(exec.cause).toContain("sharing.accounts: 999988887777 is not among the family's (444455556666)");
    const history = await h.sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }));
    const entered = (history.events ?? []).flatMap((e) =>
      e.stateEnteredEventDetails?.name !== undefined ? [e.stateEnteredEventDetails.name] : [],
    );
    expect(entered).toContain('Plan');
    expect(entered).not.toContain('ResolveSource');
    expect(entered).not.toContain('CreateImage');
    expect(await world()).toEqual(before);
  });
});

describe('the persisted local world', () => {
  it('keeps images across restarts, and a second build makes a second image', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ami-factory-world-'));
    try {
      let h = await startHarness({ stateDir: dir });
      const first = await runBuild(h, request());
      await h.close();

      h = await startHarness({ stateDir: dir });
      const second = await runBuild(h, request());
      const images =
        (await h.ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'tag:ami-factory:family', Values: ['web'] }] })))
          .Images ?? [];
      await h.close();

      const ids = [first, second].map((e) => homeImage(e.output));
      expect(new Set(ids).size).toBe(2);
      expect(images.map((i) => i.ImageId).sort()).toEqual([...ids].sort());
      expect(images.every((i) => i.State === 'available')).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
