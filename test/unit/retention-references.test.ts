import {
  DescribeImageReferencesCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand, DescribeLaunchConfigurationsCommand } from '@aws-sdk/client-auto-scaling';
import { mockClient } from 'aws-sdk-client-mock';
import { findImageReferences } from '../../functions/lib/retention/references.js';

const ec2 = mockClient(EC2Client);
const asg = mockClient(AutoScalingClient);
const A = 'ami-0000000000000000a';
const B = 'ami-0000000000000000b';
const C = 'ami-0000000000000000c';
const D = 'ami-0000000000000000d';
const E = 'ami-0000000000000000e';

describe('findImageReferences', () => {
  beforeEach(() => {
    ec2.reset();
    asg.reset();
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    ec2.on(DescribeLaunchTemplatesCommand).resolves({ LaunchTemplates: [] });
    ec2.on(DescribeImageReferencesCommand).resolves({ ImageReferences: [] });
    asg.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
  });
  const find = (ids: string[]) => findImageReferences(ec2 as unknown as EC2Client, asg as unknown as AutoScalingClient, ids);

  it('finds instances, launch template versions ($Default, $Latest, pinned), launch configurations and EC2 references', async () => {
    ec2
      .on(DescribeInstancesCommand)
      .resolves({ Reservations: [{ Instances: [{ InstanceId: 'i-1', ImageId: A, State: { Name: 'stopped' } }] }] });
    asg.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [
        { AutoScalingGroupName: 'web', LaunchTemplate: { LaunchTemplateId: 'lt-1', Version: '2' } } as never,
        { AutoScalingGroupName: 'legacy', LaunchConfigurationName: 'lc-old' } as never,
      ],
    });
    asg
      .on(DescribeLaunchConfigurationsCommand)
      .resolves({ LaunchConfigurations: [{ LaunchConfigurationName: 'lc-old', ImageId: D } as never] });
    ec2
      .on(DescribeLaunchTemplatesCommand)
      .resolves({ LaunchTemplates: [{ LaunchTemplateId: 'lt-1', LaunchTemplateName: 'web', LatestVersionNumber: 5 }] });
    ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({
      LaunchTemplateVersions: [
        { VersionNumber: 2, DefaultVersion: false, LaunchTemplateData: { ImageId: B } },
        { VersionNumber: 3, DefaultVersion: true, LaunchTemplateData: { ImageId: C } },
        { VersionNumber: 5, DefaultVersion: false, LaunchTemplateData: { ImageId: C } },
      ],
    });
    ec2
      .on(DescribeImageReferencesCommand)
      .resolves({ ImageReferences: [{ ImageId: E, ResourceType: 'ssm:Parameter', Arn: 'arn:aws:ssm:us-east-1:1:parameter/golden' }] });

    const uses = await find([A, B, C, D, E, 'ami-0000000000000000f']);

    expect(uses.get(A)).toEqual(['instance i-1 (stopped)']);
    expect(uses.get(B)).toEqual(['launch template lt-1 version 2 (pinned by Auto Scaling group web)']);
    expect(uses.get(C)).toEqual(['launch template lt-1 version 3 ($Default)', 'launch template lt-1 version 5 ($Latest)']);
    expect(uses.get(D)).toEqual(['launch configuration lc-old of Auto Scaling group legacy']);
    expect(uses.get(E)).toEqual(['ssm:Parameter arn:aws:ssm:us-east-1:1:parameter/golden']);
    expect(uses.has('ami-0000000000000000f')).toBe(false);
    expect(ec2).toHaveReceivedCommandWith(DescribeLaunchTemplateVersionsCommand, {
      LaunchTemplateId: 'lt-1',
      Versions: ['$Default', '$Latest', '2'],
    });
  });

  it('asks DescribeImageReferences about at most 10 images per call', async () => {
    const ids = Array.from({ length: 23 }, (_, i) => `ami-${String(i).padStart(17, '0')}`);
    await find(ids);
    expect(ec2).toHaveReceivedCommandTimes(DescribeImageReferencesCommand, 3);
    for (const call of ec2.commandCalls(DescribeImageReferencesCommand))
      expect(call.args[0].input.ImageIds?.length).toBeLessThanOrEqual(10);
  });

  it('leaves DescribeImageReferences out when asked to, and still finds the other uses', async () => {
    ec2
      .on(DescribeInstancesCommand)
      .resolves({ Reservations: [{ Instances: [{ InstanceId: 'i-1', ImageId: A, State: { Name: 'running' } }] }] });
    ec2.on(DescribeImageReferencesCommand).resolves({ ImageReferences: [{ ImageId: E, ResourceType: 'ssm:Parameter', Arn: 'arn' }] });
    const uses = await findImageReferences(ec2 as unknown as EC2Client, asg as unknown as AutoScalingClient, [A, E], {
      describeImageReferences: false,
    });
    expect(uses.get(A)).toEqual(['instance i-1 (running)']);
    expect(uses.has(E)).toBe(false);
    expect(ec2).toHaveReceivedCommandTimes(DescribeImageReferencesCommand, 0);
  });

  it('propagates errors: when in doubt nothing is retired', async () => {
    ec2.on(DescribeImageReferencesCommand).rejects(Object.assign(new Error('denied'), { name: 'UnauthorizedOperation' }));
    await expect(find([A])).rejects.toMatchObject({ name: 'UnauthorizedOperation' });
  });
});
