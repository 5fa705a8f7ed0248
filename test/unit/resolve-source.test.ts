import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { handler } from '../../functions/resolve-source.js';
import { awsError, buildRequest, INSTANCE_ID, lambdaContext } from '../fixtures.js';

const ec2 = mockClient(EC2Client);

const instance = (id: string, state: 'running' | 'terminated' = 'running') => ({
  InstanceId: id,
  State: { Name: state },
  Tags: [{ Key: 'Name', Value: `web-${id}` }],
  BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeId: 'vol-0123456789abcdef0' } }],
});

describe('resolve-source handler', () => {
  beforeEach(() => ec2.reset());

  it('finds the one instance matching a tag selector', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [instance(INSTANCE_ID)] }] });

    const out = await handler(buildRequest(), lambdaContext);

    expect(out).toEqual({
      instanceId: INSTANCE_ID,
      name: `web-${INSTANCE_ID}`,
      state: 'running',
      volumes: [{ deviceName: '/dev/xvda', volumeId: 'vol-0123456789abcdef0' }],
    });
    expect(ec2).toHaveReceivedCommandWith(DescribeInstancesCommand, {
      Filters: [
        { Name: 'tag:Role', Values: ['web'] },
        { Name: 'tag:Golden', Values: ['true'] },
        { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
      ],
    });
  });

  it('reads every page before deciding the selector is unambiguous', async () => {
    ec2
      .on(DescribeInstancesCommand)
      .resolvesOnce({ Reservations: [{ Instances: [instance('i-0000000000000000a')] }], NextToken: 'p2' })
      .resolvesOnce({ Reservations: [{ Instances: [instance('i-0000000000000000b')] }] });

    await expect(handler(buildRequest(), lambdaContext)).rejects.toMatchObject({
      name: 'AmbiguousSourceError',
      message: expect.stringContaining('i-0000000000000000a, i-0000000000000000b'),
    });
    expect(ec2).toHaveReceivedCommandTimes(DescribeInstancesCommand, 2);
  });

  it('says clearly when no instance matches', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    await expect(handler(buildRequest(), lambdaContext)).rejects.toMatchObject({
      name: 'SourceNotFoundError',
      message: expect.stringContaining('Role=web, Golden=true'),
    });
  });

  it('resolves an instance id and maps EC2 NotFound to SourceNotFoundError', async () => {
    const req = buildRequest({ source: { type: 'instance', instanceId: INSTANCE_ID, noReboot: true } });
    ec2.on(DescribeInstancesCommand, { InstanceIds: [INSTANCE_ID] }).rejects(awsError('InvalidInstanceID.NotFound'));
    await expect(handler(req, lambdaContext)).rejects.toMatchObject({ name: 'SourceNotFoundError' });
  });

  it('refuses a terminated instance', async () => {
    const req = buildRequest({ source: { type: 'instance', instanceId: INSTANCE_ID, noReboot: true } });
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [instance(INSTANCE_ID, 'terminated')] }] });
    await expect(handler(req, lambdaContext)).rejects.toMatchObject({ name: 'SourceNotImageableError' });
  });

  it('rejects a malformed request before calling EC2', async () => {
    await expect(handler({ ...buildRequest(), region: 'nowhere' }, lambdaContext)).rejects.toMatchObject({ name: 'ValidationError' });
    expect(ec2).toHaveReceivedCommandTimes(DescribeInstancesCommand, 0);
  });

  it('keeps the AWS error name of an unexpected failure (no wrapping)', async () => {
    ec2.on(DescribeInstancesCommand).rejects(awsError('RequestLimitExceeded'));
    await expect(handler(buildRequest(), lambdaContext)).rejects.toMatchObject({ name: 'RequestLimitExceeded' });
  });
});
