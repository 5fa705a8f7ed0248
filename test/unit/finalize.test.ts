import {
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  DescribeSnapshotAttributeCommand,
  EC2Client,
  EnableImageDeprecationCommand,
  ModifyImageAttributeCommand,
  ModifySnapshotAttributeCommand,
} from '@aws-sdk/client-ec2';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { finalizeEvents, finalizeImage } from '../../functions/lib/ec2/finalize.js';
import { installClock } from '../../functions/lib/clock.js';
import { BUILD_ID, buildRequest, IMAGE_ID } from '../fixtures.js';

const ec2 = mockClient(EC2Client);
const events = mockClient(EventBridgeClient);
const deps = () => ({ ec2: ec2 as unknown as EC2Client, events: events as unknown as EventBridgeClient, bus: 'ami-factory' });
const COPY_ID = 'ami-0000000000000000e';

function published(): { type?: string; detail: Record<string, unknown>; resources?: string[] }[] {
  return events
    .commandCalls(PutEventsCommand)
    .flatMap((c) => c.args[0].input.Entries ?? [])
    .map((e) => ({ type: e.DetailType, detail: JSON.parse(e.Detail ?? '{}') as Record<string, unknown>, resources: e.Resources }));
}

describe('finalizeImage', () => {
  let restore: () => void;
  beforeEach(() => {
    ec2.reset();
    events.reset();
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [] });
    restore = installClock({ now: () => Date.parse('2026-11-23T08:00:00Z'), sleep: async () => undefined });
  });
  afterEach(() => restore());

  it('does deprecate, share and announce the build-region image', async () => {
    // Prepare
    ec2.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: IMAGE_ID, BlockDeviceMappings: [] }] });
    ec2.on(DescribeImageAttributeCommand).resolves({ LaunchPermissions: [] });
    const request = buildRequest({ deprecateAfterDays: 180, sharing: { accounts: ['444455556666'] } });
    // Act
    const out = await finalizeImage(deps(), { request, region: 'us-east-1', imageId: IMAGE_ID, home: true });
    // Assess
    const deprecateAt = '2027-05-22T07:43:00.000Z';
    expect(out).toEqual({
      region: 'us-east-1',
      imageId: IMAGE_ID,
      deprecateAt,
      sharing: { accounts: ['444455556666'], organizationArns: [], organizationalUnitArns: [], public: false, unmanaged: [] },
    });
    expect(ec2).toHaveReceivedCommandWith(EnableImageDeprecationCommand, { ImageId: IMAGE_ID, DeprecateAt: new Date(deprecateAt) });
    expect(ec2).toHaveReceivedCommandWith(ModifyImageAttributeCommand, { LaunchPermission: { Add: [{ UserId: '444455556666' }] } });
    expect(published()).toEqual([
      {
        type: 'ImageAvailable',
        detail: { buildId: BUILD_ID, family: 'web', region: 'us-east-1', imageId: IMAGE_ID, deprecateAt },
        resources: [`arn:aws:ec2:us-east-1::image/${IMAGE_ID}`],
      },
      {
        type: 'ImageShared',
        detail: expect.objectContaining({
          imageId: IMAGE_ID,
          accounts: ['444455556666'],
          added: expect.objectContaining({ userIds: ['444455556666'] }),
        }),
        resources: [`arn:aws:ec2:us-east-1::image/${IMAGE_ID}`],
      },
    ]);
  });

  it('does only announce a copy when the family neither deprecates nor shares', async () => {
    const out = await finalizeImage(deps(), { request: buildRequest(), region: 'eu-west-1', imageId: COPY_ID, home: false });
    expect(out).toEqual({ region: 'eu-west-1', imageId: COPY_ID, deprecateAt: null, sharing: null });
    expect(ec2.calls()).toHaveLength(0);
    expect(ec2).toHaveReceivedCommandTimes(ModifySnapshotAttributeCommand, 0);
    expect(ec2).toHaveReceivedCommandTimes(DescribeSnapshotAttributeCommand, 0);
    expect(published()).toEqual([
      {
        type: 'ImageCopied',
        detail: { buildId: BUILD_ID, family: 'web', region: 'eu-west-1', imageId: COPY_ID, sourceRegion: 'us-east-1', deprecateAt: null },
        resources: [`arn:aws:ec2:eu-west-1::image/${COPY_ID}`],
      },
    ]);
  });
});

describe('finalizeEvents', () => {
  it('does announce ImageShared only when sharing was applied', () => {
    const request = buildRequest({
      sharing: { public: false, organizationArns: ['arn:aws:organizations::111122223333:organization/o-abcdefghij'] },
    });
    const input = { region: 'us-east-1', imageId: IMAGE_ID, home: true };
    expect(finalizeEvents(request, input, null, null).map((e) => e.type)).toEqual(['ImageAvailable']);
    const added = { userIds: [], organizationArns: request.sharing.organizationArns, organizationalUnitArns: [], public: false };
    expect(finalizeEvents(request, input, null, { added }).map((e) => e.type)).toEqual(['ImageAvailable', 'ImageShared']);
  });
});
