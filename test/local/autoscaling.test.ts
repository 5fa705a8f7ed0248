import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  CreateLaunchConfigurationCommand,
  DeleteAutoScalingGroupCommand,
  DeleteLaunchConfigurationCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeLaunchConfigurationsCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { CreateLaunchTemplateCommand, CreateLaunchTemplateVersionCommand, DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { VirtualClock } from '../../local/clock.js';
import { createAutoScalingService, type AutoScalingService } from '../../local/autoscaling/service.js';
import { createEc2Service, type Ec2Service } from '../../local/ec2/service.js';
import type { LocalService } from '../../local/http.js';
import { serveLocalServices } from '../../local/server.js';
import { errorName } from './ec2-harness.js';

/** EC2 and Auto Scaling behind one node:http server, routed like the local cloud routes them. */
async function start(stateDir?: string): Promise<{ ec2: Ec2Service; asg: AutoScalingService; endpoint: string; close(): Promise<void> }> {
  const clock = new VirtualClock(1, Date.parse('2025-03-01T12:00:00.000Z'));
  const ec2 = createEc2Service({ clock, ...(stateDir !== undefined ? { stateFile: join(stateDir, 'ec2.json') } : {}) });
  const asg = createAutoScalingService({
    clock,
    ec2,
    ...(stateDir !== undefined ? { stateFile: join(stateDir, 'autoscaling.json') } : {}),
  });
  const services: LocalService[] = [asg, ec2];
  const served = await serveLocalServices(services);
  const endpoint = served.endpoint;
  return {
    ec2,
    asg,
    endpoint,
    close: async () => {
      asg.close();
      ec2.close();
      await served.close();
    },
  };
}

const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' };

describe('local Auto Scaling endpoint', () => {
  let env: Awaited<ReturnType<typeof start>>;
  let as: AutoScalingClient;
  let ec2: EC2Client;
  let ami: string;
  beforeEach(async () => {
    env = await start();
    as = new AutoScalingClient({ region: 'us-east-1', endpoint: env.endpoint, credentials, maxAttempts: 1 });
    ec2 = new EC2Client({ region: 'us-east-1', endpoint: env.endpoint, credentials, maxAttempts: 1 });
    ami = (await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images?.[0]?.ImageId ?? '';
  });
  afterEach(async () => {
    as.destroy();
    ec2.destroy();
    await env.close();
  });

  describe('launch configurations', () => {
    it('creates, describes (paged) and deletes launch configurations, and refuses what Auto Scaling refuses', async () => {
      // Prepare
      for (const n of ['lc-a', 'lc-b', 'lc-c']) {
        await as.send(
          new CreateLaunchConfigurationCommand({
            LaunchConfigurationName: n,
            ImageId: ami,
            InstanceType: 't3.micro',
            SecurityGroups: ['sg-1'],
          }),
        );
      }
      // Act
      const first = await as.send(new DescribeLaunchConfigurationsCommand({ MaxRecords: 2 }));
      const second = await as.send(new DescribeLaunchConfigurationsCommand({ MaxRecords: 2, NextToken: first.NextToken }));
      const one = await as.send(new DescribeLaunchConfigurationsCommand({ LaunchConfigurationNames: ['lc-b'] }));
      // Assess
      expect(first.LaunchConfigurations?.map((l) => l.LaunchConfigurationName)).toEqual(['lc-a', 'lc-b']);
      expect(second.LaunchConfigurations?.map((l) => l.LaunchConfigurationName)).toEqual(['lc-c']);
      expect(second.NextToken).toBeUndefined();
      expect(one.LaunchConfigurations?.[0]).toMatchObject({ ImageId: ami, InstanceType: 't3.micro', SecurityGroups: ['sg-1'] });
      expect(one.LaunchConfigurations?.[0]?.LaunchConfigurationARN).toMatch(
        /^arn:aws:autoscaling:us-east-1:111122223333:launchConfiguration:[0-9a-f-]{36}:launchConfigurationName\/lc-b$/,
      );
      expect(one.LaunchConfigurations?.[0]?.CreatedTime?.toISOString()).toMatch(/^2025-03-01T12:00/);
      expect(
        await errorName(
          as.send(new CreateLaunchConfigurationCommand({ LaunchConfigurationName: 'lc-a', ImageId: ami, InstanceType: 't3.micro' })),
        ),
      ).toBe('AlreadyExistsFault');
      expect(
        await errorName(
          as.send(
            new CreateLaunchConfigurationCommand({
              LaunchConfigurationName: 'lc-x',
              ImageId: 'ami-0123456789abcdef0',
              InstanceType: 't3.micro',
            }),
          ),
        ),
      ).toBe('ValidationError');
      await as.send(new DeleteLaunchConfigurationCommand({ LaunchConfigurationName: 'lc-c' }));
      expect((await as.send(new DescribeLaunchConfigurationsCommand({}))).LaunchConfigurations).toHaveLength(2);
      expect(await errorName(as.send(new DeleteLaunchConfigurationCommand({ LaunchConfigurationName: 'lc-c' })))).toBe('ValidationError');
    });

    it('refuses to delete a launch configuration a group uses (ResourceInUse)', async () => {
      await as.send(new CreateLaunchConfigurationCommand({ LaunchConfigurationName: 'used', ImageId: ami, InstanceType: 't3.micro' }));
      await as.send(
        new CreateAutoScalingGroupCommand({
          AutoScalingGroupName: 'g',
          MinSize: 0,
          MaxSize: 1,
          LaunchConfigurationName: 'used',
          AvailabilityZones: ['us-east-1a'],
        }),
      );
      expect(await errorName(as.send(new DeleteLaunchConfigurationCommand({ LaunchConfigurationName: 'used' })))).toBe(
        'ResourceInUseFault',
      );
    });
  });

  describe('Auto Scaling groups', () => {
    it('records the launch template (id and name), version, and mixed-instances overrides a group launches from', async () => {
      // Prepare
      const lt = (await ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'asg-web', LaunchTemplateData: { ImageId: ami } })))
        .LaunchTemplate;
      await ec2.send(
        new CreateLaunchTemplateVersionCommand({
          LaunchTemplateName: 'asg-web',
          LaunchTemplateData: { ImageId: ami, InstanceType: 'm5.large' },
        }),
      );
      // Act
      await as.send(
        new CreateAutoScalingGroupCommand({
          AutoScalingGroupName: 'by-name',
          MinSize: 1,
          MaxSize: 3,
          LaunchTemplate: { LaunchTemplateName: 'asg-web', Version: '2' },
          VPCZoneIdentifier: 'subnet-1,subnet-2',
          Tags: [{ Key: 'team', Value: 'web', PropagateAtLaunch: true }],
        }),
      );
      await as.send(
        new CreateAutoScalingGroupCommand({
          AutoScalingGroupName: 'mixed',
          MinSize: 0,
          MaxSize: 2,
          AvailabilityZones: ['us-east-1a'],
          MixedInstancesPolicy: {
            LaunchTemplate: {
              LaunchTemplateSpecification: { LaunchTemplateId: lt?.LaunchTemplateId, Version: '$Latest' },
              Overrides: [{ InstanceType: 't3.large' }, { InstanceType: 'm6g.large', ImageId: ami, WeightedCapacity: '2' }],
            },
          },
        }),
      );
      const r = await as.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['by-name', 'mixed', 'absent'] }));
      // Assess
      const [byName, mixed] = r.AutoScalingGroups ?? [];
      expect(r.AutoScalingGroups).toHaveLength(2);
      expect(byName).toMatchObject({
        AutoScalingGroupName: 'by-name',
        MinSize: 1,
        MaxSize: 3,
        DesiredCapacity: 1,
        LaunchTemplate: { LaunchTemplateId: lt?.LaunchTemplateId, LaunchTemplateName: 'asg-web', Version: '2' },
        VPCZoneIdentifier: 'subnet-1,subnet-2',
        Instances: [],
        Tags: [{ ResourceId: 'by-name', ResourceType: 'auto-scaling-group', Key: 'team', Value: 'web', PropagateAtLaunch: true }],
      });
      expect(byName?.AutoScalingGroupARN).toMatch(
        /^arn:aws:autoscaling:us-east-1:111122223333:autoScalingGroup:[0-9a-f-]{36}:autoScalingGroupName\/by-name$/,
      );
      expect(mixed?.MixedInstancesPolicy?.LaunchTemplate).toEqual({
        LaunchTemplateSpecification: { LaunchTemplateId: lt?.LaunchTemplateId, LaunchTemplateName: 'asg-web', Version: '$Latest' },
        Overrides: [{ InstanceType: 't3.large' }, { InstanceType: 'm6g.large', ImageId: ami, WeightedCapacity: '2' }],
      });
      expect(mixed?.LaunchTemplate).toBeUndefined();
    });

    it('refuses unknown templates and versions, a missing or double launch source, bad sizes and duplicates', async () => {
      await ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'asg-web', LaunchTemplateData: { ImageId: ami } }));
      const create = (extra: Partial<ConstructorParameters<typeof CreateAutoScalingGroupCommand>[0]>): Promise<unknown> =>
        as.send(
          new CreateAutoScalingGroupCommand({
            AutoScalingGroupName: 'g',
            MinSize: 0,
            MaxSize: 2,
            AvailabilityZones: ['us-east-1a'],
            ...extra,
          }),
        );
      expect(await errorName(create({ LaunchTemplate: { LaunchTemplateName: 'nope' } }))).toBe('ValidationError');
      expect(await errorName(create({ LaunchTemplate: { LaunchTemplateId: 'lt-0123456789abcdef0' } }))).toBe('ValidationError');
      expect(await errorName(create({ LaunchTemplate: { LaunchTemplateName: 'asg-web', Version: '5' } }))).toBe('ValidationError');
      expect(await errorName(create({}))).toBe('ValidationError');
      expect(await errorName(create({ LaunchTemplate: { LaunchTemplateName: 'asg-web' }, LaunchConfigurationName: 'x' }))).toBe(
        'ValidationError',
      );
      expect(await errorName(create({ LaunchTemplate: { LaunchTemplateName: 'asg-web' }, MinSize: 3 }))).toBe('ValidationError');
      expect(await errorName(create({ LaunchTemplate: { LaunchTemplateName: 'asg-web' }, DesiredCapacity: 5 }))).toBe('ValidationError');
      await create({ LaunchTemplate: { LaunchTemplateName: 'asg-web' } });
      expect(await errorName(create({ LaunchTemplate: { LaunchTemplateName: 'asg-web' } }))).toBe('AlreadyExistsFault');
      const g = (await as.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['g'] }))).AutoScalingGroups?.[0];
      expect(g?.LaunchTemplate?.Version).toBe('$Default');
    });

    it('updates sizes and switches the launch source, deletes groups, and pages through them', async () => {
      await as.send(new CreateLaunchConfigurationCommand({ LaunchConfigurationName: 'lc', ImageId: ami, InstanceType: 't3.micro' }));
      await ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'asg-web', LaunchTemplateData: { ImageId: ami } }));
      for (const n of ['g1', 'g2', 'g3']) {
        await as.send(
          new CreateAutoScalingGroupCommand({
            AutoScalingGroupName: n,
            MinSize: 1,
            MaxSize: 2,
            LaunchConfigurationName: 'lc',
            AvailabilityZones: ['us-east-1a'],
          }),
        );
      }
      await as.send(
        new UpdateAutoScalingGroupCommand({
          AutoScalingGroupName: 'g1',
          MaxSize: 5,
          MinSize: 3,
          LaunchTemplate: { LaunchTemplateName: 'asg-web', Version: '$Latest' },
        }),
      );
      const g1 = (await as.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['g1'] }))).AutoScalingGroups?.[0];
      expect(g1).toMatchObject({
        MinSize: 3,
        MaxSize: 5,
        DesiredCapacity: 3,
        LaunchTemplate: { LaunchTemplateName: 'asg-web', Version: '$Latest' },
      });
      expect(g1?.LaunchConfigurationName).toBeUndefined();
      // The launch configuration is free again once only g2 and g3 are gone.
      await as.send(new DeleteAutoScalingGroupCommand({ AutoScalingGroupName: 'g3' }));
      const pages: string[][] = [];
      let token: string | undefined;
      do {
        const r = await as.send(new DescribeAutoScalingGroupsCommand({ MaxRecords: 1, NextToken: token }));
        pages.push((r.AutoScalingGroups ?? []).map((g) => g.AutoScalingGroupName ?? ''));
        token = r.NextToken;
      } while (token !== undefined);
      expect(pages).toEqual([['g1'], ['g2']]);
      await as.send(new DeleteAutoScalingGroupCommand({ AutoScalingGroupName: 'g2', ForceDelete: true }));
      await as.send(new DeleteLaunchConfigurationCommand({ LaunchConfigurationName: 'lc' }));
      expect(await errorName(as.send(new DeleteAutoScalingGroupCommand({ AutoScalingGroupName: 'g2' })))).toBe('ValidationError');
      expect(await errorName(as.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'nope', MaxSize: 1 })))).toBe(
        'ValidationError',
      );
      expect(await errorName(as.send(new DescribeAutoScalingGroupsCommand({ MaxRecords: 101 })))).toBe('ValidationError');
    });
  });

  it('persists groups and launch configurations across restarts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'asg-'));
    try {
      const first = await start(dir);
      const c1 = new AutoScalingClient({ region: 'eu-west-1', endpoint: first.endpoint, credentials, maxAttempts: 1 });
      const e1 = new EC2Client({ region: 'eu-west-1', endpoint: first.endpoint, credentials, maxAttempts: 1 });
      const euAmi = (await e1.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images?.[0]?.ImageId ?? '';
      await c1.send(new CreateLaunchConfigurationCommand({ LaunchConfigurationName: 'kept', ImageId: euAmi, InstanceType: 't3.micro' }));
      await c1.send(
        new CreateAutoScalingGroupCommand({
          AutoScalingGroupName: 'kept',
          MinSize: 0,
          MaxSize: 1,
          LaunchConfigurationName: 'kept',
          AvailabilityZones: ['eu-west-1a'],
        }),
      );
      c1.destroy();
      e1.destroy();
      await first.close();
      const second = await start(dir);
      const c2 = new AutoScalingClient({ region: 'eu-west-1', endpoint: second.endpoint, credentials, maxAttempts: 1 });
      const g = (await c2.send(new DescribeAutoScalingGroupsCommand({}))).AutoScalingGroups;
      expect(g?.map((x) => [x.AutoScalingGroupName, x.LaunchConfigurationName])).toEqual([['kept', 'kept']]);
      // Regions are separate.
      const c3 = new AutoScalingClient({ region: 'us-east-1', endpoint: second.endpoint, credentials, maxAttempts: 1 });
      expect((await c3.send(new DescribeAutoScalingGroupsCommand({}))).AutoScalingGroups).toEqual([]);
      c2.destroy();
      c3.destroy();
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
