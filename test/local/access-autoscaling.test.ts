import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  CreateLaunchConfigurationCommand,
  DeleteAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
} from '@aws-sdk/client-auto-scaling';
import { AUTOSCALING_ACCESS, autoScalingArn, type AutoScalingAccessInput } from '../../local/autoscaling/access.js';
import { requestsFor, type AccessContext } from '../../local/iam/access-request.js';
import { capturingHandler, queryParams, TEST_CREDENTIALS } from './access-wire.js';

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const base: AccessContext = { 'aws:RequestedRegion': REGION, 'aws:SecureTransport': false };
const client = new AutoScalingClient({ region: REGION, credentials: TEST_CREDENTIALS, requestHandler: capturingHandler });

async function access(
  action: string,
  command: unknown,
  over: Partial<AutoScalingAccessInput> = {},
): Promise<ReturnType<typeof requestsFor>> {
  return requestsFor(AUTOSCALING_ACCESS, 'autoscaling', action, {
    params: await queryParams(client, command),
    region: REGION,
    account: ACCOUNT,
    ...over,
  });
}

describe('Auto Scaling access', () => {
  it('authorizes the Describe actions retention calls on *', async () => {
    // Act
    const requests = await access('DescribeAutoScalingGroups', new DescribeAutoScalingGroupsCommand({ MaxRecords: 100 }));

    // Assess
    expect(requests).toEqual([{ action: 'autoscaling:DescribeAutoScalingGroups', resource: '*', context: base }]);
  });

  it('authorizes CreateAutoScalingGroup on the new group with its settings and tags', async () => {
    // Prepare
    const command = new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: 'web',
      MinSize: 1,
      MaxSize: 3,
      LaunchTemplate: { LaunchTemplateName: 'web', Version: '$Latest' },
      VPCZoneIdentifier: 'subnet-1,subnet-2',
      Tags: [{ Key: 'Team', Value: 'platform' }],
    });

    // Act
    const requests = await access('CreateAutoScalingGroup', command);

    // Assess
    expect(requests).toEqual([
      {
        action: 'autoscaling:CreateAutoScalingGroup',
        resource: `arn:aws:autoscaling:${REGION}:${ACCOUNT}:autoScalingGroup:*:autoScalingGroupName/web`,
        context: {
          ...base,
          'autoscaling:MinSize': 1,
          'autoscaling:MaxSize': 3,
          'autoscaling:VPCZoneIdentifiers': ['subnet-1', 'subnet-2'],
          'autoscaling:LaunchTemplateVersionSpecified': true,
          'aws:RequestTag/Team': 'platform',
          'aws:TagKeys': ['Team'],
        },
      },
    ]);
  });

  it('authorizes an existing group by its ARN and tags', async () => {
    // Prepare
    const arn = autoScalingArn(REGION, ACCOUNT, 'autoScalingGroup', 'web', '0b1c2d3e-0000-4000-8000-000000000001');
    const group = (name: string) => (name === 'web' ? { arn, tags: { Team: 'platform' } } : undefined);

    // Act
    const requests = await access(
      'DeleteAutoScalingGroup',
      new DeleteAutoScalingGroupCommand({ AutoScalingGroupName: 'web', ForceDelete: true }),
      { group },
    );

    // Assess
    expect(requests).toEqual([
      {
        action: 'autoscaling:DeleteAutoScalingGroup',
        resource: arn,
        context: {
          ...base,
          'aws:ResourceTag/Team': 'platform',
          'autoscaling:ResourceTag/Team': 'platform',
          'autoscaling:ForceDelete': true,
        },
      },
    ]);
  });

  it('passes a launch configuration instance profile role to EC2', async () => {
    // Prepare
    const command = new CreateLaunchConfigurationCommand({
      LaunchConfigurationName: 'web-lc',
      ImageId: 'ami-0123456789abcdef0',
      InstanceType: 't3.small',
      IamInstanceProfile: 'web',
    });

    // Act
    const requests = await access('CreateLaunchConfiguration', command);

    // Assess
    expect(requests).toEqual([
      {
        action: 'autoscaling:CreateLaunchConfiguration',
        resource: `arn:aws:autoscaling:${REGION}:${ACCOUNT}:launchConfiguration:*:launchConfigurationName/web-lc`,
        context: { ...base, 'autoscaling:ImageId': 'ami-0123456789abcdef0', 'autoscaling:InstanceType': 't3.small' },
      },
      {
        action: 'iam:PassRole',
        resource: `arn:aws:iam::${ACCOUNT}:role/web`,
        context: { ...base, 'iam:PassedToService': 'ec2.amazonaws.com' },
      },
    ]);
  });
});
