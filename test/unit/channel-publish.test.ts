import {
  CreateLaunchTemplateVersionCommand,
  DescribeLaunchTemplateVersionsCommand,
  DisableImageDeregistrationProtectionCommand,
  EC2Client,
  EnableImageDeregistrationProtectionCommand,
  ModifyLaunchTemplateCommand,
  type LaunchTemplateVersion,
} from '@aws-sdk/client-ec2';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import type { ChannelHistoryStore, ChannelRecord, Publication } from '../../functions/lib/channels/history.js';
import { publishToChannel, type PublishDeps, type PublishInput } from '../../functions/lib/channels/publish.js';
import { awsError, BUILD_ID } from '../fixtures.js';

const ec2 = mockClient(EC2Client);
const ssm = mockClient(SSMClient);
const events = mockClient(EventBridgeClient);

const NEW = 'ami-0000000000000000b';
const OLD = 'ami-0000000000000000a';
const LT = 'lt-0a1b2c3d4e5f60718';
const LATEST = '/ami-factory/web/latest';
const STABLE = '/ami-factory/web/stable';

/** Parameter Store as the calls see it; `applyPuts: false` models a write not visible yet (aws:ec2:image is validated asynchronously). */
const parameters = new Map<string, string>();
let applyPuts = true;
/** The launch template's versions, by number. */
let versions: LaunchTemplateVersion[] = [];
/** What the history store was asked to record, and the record it answers with. */
const recorded: Publication[] = [];
let history: ChannelRecord['current'] = null;

const store = {
  get: async (family: string, region: string, channel: string): Promise<ChannelRecord> =>
    Promise.resolve({ family, region, channel, current: history, history: [] }),
  record: async (family: string, region: string, channel: string, p: Publication): Promise<ChannelRecord> => {
    recorded.push(p);
    if (history?.imageId !== p.imageId) history = p;
    return Promise.resolve({ family, region, channel, current: history, history: [] });
  },
} as unknown as ChannelHistoryStore;

function deps(): PublishDeps {
  return {
    ec2: new EC2Client({ region: 'us-east-1' }),
    ssm: new SSMClient({ region: 'us-east-1' }),
    store,
    events: new EventBridgeClient({ region: 'us-east-1' }),
    bus: 'ami-factory',
    now: () => new Date('2026-11-23T08:00:00.000Z'),
  };
}

function input(over: Partial<PublishInput> = {}): PublishInput {
  return {
    family: 'web',
    region: 'us-east-1',
    channel: 'latest',
    imageId: NEW,
    buildId: BUILD_ID,
    by: { type: 'cli', actor: 'alice' },
    action: 'publish',
    channels: ['latest', 'stable'],
    launchTemplates: [LT],
    ...over,
  };
}

function publishedDetail(): Record<string, unknown> {
  const entry = events.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries?.[0];
  expect(entry).toMatchObject({ Source: 'ami-factory', DetailType: 'ImagePublished', EventBusName: 'ami-factory' });
  return JSON.parse(entry?.Detail ?? '{}') as Record<string, unknown>;
}

describe('publishToChannel', () => {
  beforeEach(() => {
    ec2.reset();
    ssm.reset();
    events.reset();
    parameters.clear();
    applyPuts = true;
    recorded.length = 0;
    history = null;
    versions = [{ VersionNumber: 1, DefaultVersion: true, LaunchTemplateData: { ImageId: OLD, InstanceType: 't3.micro' } }];
    ssm.on(GetParameterCommand).callsFake((i: { Name: string }) => {
      const value = parameters.get(i.Name);
      if (value === undefined) throw awsError('ParameterNotFound');
      return { Parameter: { Name: i.Name, Value: value, DataType: 'aws:ec2:image' } };
    });
    ssm.on(PutParameterCommand).callsFake((i: { Name: string; Value: string }) => {
      if (applyPuts) parameters.set(i.Name, i.Value);
      return { Version: 2 };
    });
    ec2.on(DescribeLaunchTemplateVersionsCommand).callsFake(() => {
      const def = versions.find((v) => v.DefaultVersion === true);
      const latest = versions.reduce((a, b) => ((b.VersionNumber ?? 0) > (a.VersionNumber ?? 0) ? b : a));
      return { LaunchTemplateVersions: latest === def ? [def] : [def, latest] };
    });
    ec2.on(CreateLaunchTemplateVersionCommand).callsFake((i: { LaunchTemplateData: { ImageId: string } }) => {
      const source = versions.find((v) => v.DefaultVersion === true);
      const v: LaunchTemplateVersion = {
        VersionNumber: versions.length + 1,
        DefaultVersion: false,
        LaunchTemplateData: { ...source?.LaunchTemplateData, ImageId: i.LaunchTemplateData.ImageId },
      };
      versions.push(v);
      return { LaunchTemplateVersion: v };
    });
    ec2.on(ModifyLaunchTemplateCommand).callsFake((i: { DefaultVersion: string }) => {
      versions = versions.map((v) => ({ ...v, DefaultVersion: String(v.VersionNumber) === i.DefaultVersion }));
      return {};
    });
    ec2.on(EnableImageDeregistrationProtectionCommand).resolves({ Return: 'enabled-without-cooldown' });
    ec2.on(DisableImageDeregistrationProtectionCommand).resolves({ Return: 'disabled' });
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e1' }] });
  });

  it('does still lift the replaced image’s protection when a retry finds the parameter already set (the read-back had failed)', async () => {
    parameters.set(LATEST, OLD);
    history = {
      imageId: OLD,
      buildId: BUILD_ID,
      publishedAt: '2026-11-22T08:00:00.000Z',
      by: { type: 'cli' },
      previousImageId: null,
      action: 'publish',
    };
    // The first attempt's write is not visible yet: it fails reading it back, before recording.
    applyPuts = false;
    await expect(publishToChannel(deps(), input())).rejects.toMatchObject({ name: 'ChannelUpdatePendingError' });
    expect(recorded).toEqual([]);
    // Parameter Store has validated it by the retry.
    parameters.set(LATEST, NEW);
    applyPuts = true;
    const r = await publishToChannel(deps(), input());
    expect(recorded.at(-1)).toMatchObject({ imageId: NEW, previousImageId: OLD });
    expect(ec2).toHaveReceivedCommandWith(DisableImageDeregistrationProtectionCommand, { ImageId: OLD });
    expect(r).toMatchObject({ previousImageId: OLD });
  });

  it('sets the parameter, protects the image, moves the launch template, records, unprotects the replaced image and announces it', async () => {
    // Prepare
    parameters.set(LATEST, OLD);
    // Act
    const r = await publishToChannel(deps(), input());
    // Assess
    expect(r).toEqual({
      region: 'us-east-1',
      channel: 'latest',
      parameter: LATEST,
      imageId: NEW,
      previousImageId: OLD,
      changed: true,
      launchTemplates: [{ launchTemplateId: LT, version: 2, changed: true }],
      unprotected: OLD,
    });
    expect(ssm).toHaveReceivedCommandWith(PutParameterCommand, {
      Name: LATEST,
      Value: NEW,
      Type: 'String',
      DataType: 'aws:ec2:image',
      Overwrite: true,
    });
    expect(ec2).toHaveReceivedCommandWith(EnableImageDeregistrationProtectionCommand, { ImageId: NEW, WithCooldown: false });
    expect(ec2).toHaveReceivedCommandWith(CreateLaunchTemplateVersionCommand, {
      LaunchTemplateId: LT,
      SourceVersion: '1',
      LaunchTemplateData: { ImageId: NEW },
    });
    expect(ec2).toHaveReceivedCommandWith(ModifyLaunchTemplateCommand, { LaunchTemplateId: LT, DefaultVersion: '2' });
    expect(versions.find((v) => v.DefaultVersion === true)?.LaunchTemplateData).toEqual({ ImageId: NEW, InstanceType: 't3.micro' });
    expect(recorded).toEqual([
      {
        imageId: NEW,
        buildId: BUILD_ID,
        publishedAt: '2026-11-23T08:00:00.000Z',
        by: { type: 'cli', actor: 'alice' },
        previousImageId: OLD,
        action: 'publish',
      },
    ]);
    expect(ec2).toHaveReceivedCommandWith(DisableImageDeregistrationProtectionCommand, { ImageId: OLD });
    expect(publishedDetail()).toEqual({
      family: 'web',
      region: 'us-east-1',
      channel: 'latest',
      parameter: LATEST,
      imageId: NEW,
      previousImageId: OLD,
      buildId: BUILD_ID,
      action: 'publish',
      by: { type: 'cli', actor: 'alice' },
      launchTemplates: [{ launchTemplateId: LT, version: 2 }],
    });
  });

  it('run again, changes nothing: no SSM write, no new launch template version, the same previous image', async () => {
    parameters.set(LATEST, OLD);
    await publishToChannel(deps(), input());
    ssm.resetHistory();
    ec2.resetHistory();
    events.resetHistory();
    // Act
    const again = await publishToChannel(deps(), input());
    // Assess
    expect(again).toMatchObject({
      changed: false,
      previousImageId: OLD,
      launchTemplates: [{ launchTemplateId: LT, version: 2, changed: false }],
    });
    expect(ssm).not.toHaveReceivedCommand(PutParameterCommand);
    expect(ec2).not.toHaveReceivedCommand(CreateLaunchTemplateVersionCommand);
    expect(ec2).not.toHaveReceivedCommand(ModifyLaunchTemplateCommand);
    expect(versions).toHaveLength(2);
    expect(publishedDetail()).toMatchObject({ imageId: NEW, previousImageId: OLD });
  });

  it('makes the version an earlier attempt created the default instead of creating another', async () => {
    versions.push({ VersionNumber: 2, DefaultVersion: false, LaunchTemplateData: { ImageId: NEW, InstanceType: 't3.micro' } });
    const r = await publishToChannel(deps(), input());
    expect(r.launchTemplates).toEqual([{ launchTemplateId: LT, version: 2, changed: true }]);
    expect(ec2).not.toHaveReceivedCommand(CreateLaunchTemplateVersionCommand);
    expect(ec2).toHaveReceivedCommandWith(ModifyLaunchTemplateCommand, { LaunchTemplateId: LT, DefaultVersion: '2' });
  });

  it('reads the parameter back: a value not there yet is ChannelUpdatePendingError, before anything else changes', async () => {
    applyPuts = false;
    await expect(publishToChannel(deps(), input())).rejects.toMatchObject({
      name: 'ChannelUpdatePendingError',
      message: expect.stringContaining(`${LATEST} does not hold ${NEW} yet`),
    });
    expect(ssm).toHaveReceivedCommandTimes(GetParameterCommand, 2);
    expect(ec2).not.toHaveReceivedCommand(EnableImageDeregistrationProtectionCommand);
    expect(recorded).toEqual([]);
    expect(events).not.toHaveReceivedCommand(PutEventsCommand);
  });

  it('keeps the protection of a replaced image another channel still holds, and moves no launch template for another channel', async () => {
    parameters.set(STABLE, OLD);
    parameters.set(LATEST, OLD);
    const r = await publishToChannel(deps(), input({ channel: 'stable', action: 'promote' }));
    expect(r).toMatchObject({ channel: 'stable', parameter: STABLE, previousImageId: OLD, unprotected: null, launchTemplates: [] });
    expect(ec2).not.toHaveReceivedCommand(DisableImageDeregistrationProtectionCommand);
    expect(ec2).not.toHaveReceivedCommand(DescribeLaunchTemplateVersionsCommand);
    expect(publishedDetail()).toMatchObject({ action: 'promote', launchTemplates: [] });
  });

  it('publishes to a channel new in the region (no previous image)', async () => {
    const r = await publishToChannel(deps(), input({ launchTemplates: [] }));
    expect(r).toMatchObject({ changed: true, previousImageId: null, unprotected: null });
    expect(parameters.get(LATEST)).toBe(NEW);
    expect(ec2).not.toHaveReceivedCommand(DisableImageDeregistrationProtectionCommand);
  });
});
