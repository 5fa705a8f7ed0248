import { DescribeImagesCommand, DescribeInstancesCommand, RunInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { LOCAL_ACCOUNT_ID } from '../../local/ec2/service.js';
import { errorName, startEc2, until, type Ec2Harness } from './ec2-harness.js';

async function baseImage(c: EC2Client): Promise<{ id: string; imdsV2: boolean }> {
  const r = await c.send(new DescribeImagesCommand({ Owners: ['amazon'], Filters: [{ Name: 'architecture', Values: ['x86_64'] }] }));
  const image = r.Images?.[0];
  return { id: image?.ImageId ?? '', imdsV2: image?.ImdsSupport === 'v2.0' };
}

describe('local EC2: instances as EC2 describes them', () => {
  let h: Ec2Harness;
  let c: EC2Client;
  beforeEach(async () => {
    h = await startEc2({ throttling: false, timeScale: 100 });
    c = h.client();
  });
  afterEach(async () => {
    await h.close();
  });

  it('has a primary network interface, EBS optimization, hibernation and metadata options, and a state reason while pending', async () => {
    // Prepare
    const image = await baseImage(c);
    // Act
    const launched = (await c.send(new RunInstancesCommand({ ImageId: image.id, MinCount: 1, MaxCount: 1, InstanceType: 't3.micro' })))
      .Instances?.[0];
    const id = launched?.InstanceId ?? '';
    const running = await until(async () => {
      const i = (await c.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations?.[0]?.Instances?.[0];
      return i?.State?.Name === 'running' ? i : undefined;
    });
    // Assess
    expect(launched?.StateReason).toEqual({ Code: 'pending', Message: 'pending' });
    expect(launched?.MetadataOptions?.State).toBe('pending');
    expect(running.StateReason).toBeUndefined();
    expect(running.EbsOptimized).toBe(true);
    expect(running.HibernationOptions).toEqual({ Configured: false });
    expect(running.MetadataOptions).toEqual({
      State: 'applied',
      HttpTokens: image.imdsV2 ? 'required' : 'optional',
      HttpPutResponseHopLimit: image.imdsV2 ? 2 : 1,
      HttpEndpoint: 'enabled',
      HttpProtocolIpv6: 'disabled',
      InstanceMetadataTags: 'disabled',
    });
    const eni = running.NetworkInterfaces?.[0];
    expect(running.NetworkInterfaces).toHaveLength(1);
    expect(eni).toMatchObject({
      NetworkInterfaceId: expect.stringMatching(/^eni-[0-9a-f]{17}$/),
      SubnetId: running.SubnetId,
      VpcId: running.VpcId,
      PrivateIpAddress: running.PrivateIpAddress,
      PrivateDnsName: running.PrivateDnsName,
      OwnerId: LOCAL_ACCOUNT_ID,
      Status: 'in-use',
      InterfaceType: 'interface',
      MacAddress: expect.stringMatching(/^02(:[0-9a-f]{2}){5}$/),
      Attachment: { AttachmentId: expect.stringMatching(/^eni-attach-/), DeviceIndex: 0, Status: 'attached', DeleteOnTermination: true },
      PrivateIpAddresses: [{ Primary: true, PrivateIpAddress: running.PrivateIpAddress, PrivateDnsName: running.PrivateDnsName }],
    });
  });

  it('takes MetadataOptions, EbsOptimized and HibernationOptions from RunInstances', async () => {
    // Act
    const i = (
      await c.send(
        new RunInstancesCommand({
          ImageId: (await baseImage(c)).id,
          MinCount: 1,
          MaxCount: 1,
          InstanceType: 't2.micro',
          EbsOptimized: false,
          HibernationOptions: { Configured: true },
          MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 3 },
        }),
      )
    ).Instances?.[0];
    // Assess
    expect(i?.EbsOptimized).toBe(false);
    expect(i?.HibernationOptions).toEqual({ Configured: true });
    expect(i?.MetadataOptions).toMatchObject({ HttpTokens: 'required', HttpPutResponseHopLimit: 3 });
    expect(
      await errorName(
        c.send(
          new RunInstancesCommand({
            ImageId: i?.ImageId ?? '',
            MinCount: 1,
            MaxCount: 1,
            MetadataOptions: { HttpPutResponseHopLimit: 65 },
          }),
        ),
      ),
    ).toBe('InvalidParameterValue');
  });
});
