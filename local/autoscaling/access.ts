import {
  callerContext,
  instanceProfileRoleOfSameName,
  requestTagContext,
  resourceTagContext,
  type AccessContext,
  type AccessRequest,
  type AccessTable,
} from '../iam/access-request.js';

/**
 * What EC2 Auto Scaling authorizes for each action the local endpoint serves (service.ts's
 * actions), after the Service Authorization Reference for Amazon EC2 Auto Scaling:
 *
 * - DescribeAutoScalingGroups and DescribeLaunchConfigurations support no resource-level
 *   permissions: `*`.
 * - Groups are `arn:aws:autoscaling:<region>:<account>:autoScalingGroup:<uuid>:autoScalingGroupName/<name>`,
 *   launch configurations `…:launchConfiguration:<uuid>:launchConfigurationName/<name>`; one being
 *   created (its uuid not yet known) has `*` for the uuid. An existing group carries its tags as
 *   `aws:ResourceTag/<k>` and `autoscaling:ResourceTag/<k>`.
 * - The request's settings are keys (`autoscaling:MinSize`, `autoscaling:MaxSize`,
 *   `autoscaling:LaunchConfigurationName`, `autoscaling:VPCZoneIdentifiers`,
 *   `autoscaling:LaunchTemplateVersionSpecified`, `autoscaling:ImageId`, `autoscaling:InstanceType`…),
 *   CreateAutoScalingGroup's Tags `aws:RequestTag/<k>`; a launch configuration's instance profile
 *   is passed to EC2 (iam:PassRole, `iam:PassedToService=ec2.amazonaws.com`).
 */

/** The Query parameter access a descriptor needs (local/ec2/query.ts's Params satisfies it). */
export interface AutoScalingParams {
  str(key: string): string | undefined;
  bool(key: string): boolean | undefined;
  int(key: string): number | undefined;
  strings(key: string): string[];
  list(key: string): AutoScalingParams[];
  child(key: string): AutoScalingParams | undefined;
}

export interface AutoScalingAccessInput {
  params: AutoScalingParams;
  region: string;
  account: string;
  /** An existing group by name: its ARN and tags. */
  group?: (name: string) => { arn: string; tags: Record<string, string> } | undefined;
  /** An existing launch configuration by name: its ARN. */
  launchConfiguration?: (name: string) => { arn: string } | undefined;
  /** The role ARNs an instance profile holds (default: the role of the profile's path and name). */
  instanceProfileRoles?: (instanceProfileArn: string) => string[];
}

export const autoScalingArn = (
  region: string,
  account: string,
  kind: 'autoScalingGroup' | 'launchConfiguration',
  name: string,
  uuid = '*',
): string => `arn:aws:autoscaling:${region}:${account}:${kind}:${uuid}:${kind}Name/${name}`;

function asRequest(input: AutoScalingAccessInput, action: string, resource: string, extra: AccessContext = {}): AccessRequest {
  return { action: `autoscaling:${action}`, resource, context: { ...callerContext(input.region), ...extra } };
}

function groupTarget(input: AutoScalingAccessInput): { arn: string; context: AccessContext } {
  const name = input.params.str('AutoScalingGroupName') ?? '*';
  const existing = input.group?.(name);
  return {
    arn: existing?.arn ?? autoScalingArn(input.region, input.account, 'autoScalingGroup', name),
    context: resourceTagContext(existing?.tags, ['autoscaling']),
  };
}

/** The keys of a group's settings, as CreateAutoScalingGroup and UpdateAutoScalingGroup take them. */
function groupSettings(p: AutoScalingParams): AccessContext {
  const out: AccessContext = {};
  const min = p.int('MinSize');
  if (min !== undefined) out['autoscaling:MinSize'] = min;
  const max = p.int('MaxSize');
  if (max !== undefined) out['autoscaling:MaxSize'] = max;
  const lc = p.str('LaunchConfigurationName');
  if (lc !== undefined) out['autoscaling:LaunchConfigurationName'] = lc;
  const zones = p.str('VPCZoneIdentifier');
  if (zones !== undefined && zones !== '') out['autoscaling:VPCZoneIdentifiers'] = zones.split(',').map((s) => s.trim());
  const template =
    p.child('LaunchTemplate') ?? p.child('MixedInstancesPolicy')?.child('LaunchTemplate')?.child('LaunchTemplateSpecification');
  if (template !== undefined) out['autoscaling:LaunchTemplateVersionSpecified'] = template.str('Version') !== undefined;
  return out;
}

function createGroup(input: AutoScalingAccessInput): AccessRequest[] {
  const { params: p } = input;
  const tags: Record<string, string> = {};
  for (const t of p.child('Tags')?.list('member') ?? []) {
    const key = t.str('Key');
    if (key !== undefined) tags[key] = t.str('Value') ?? '';
  }
  const name = p.str('AutoScalingGroupName') ?? '*';
  return [
    asRequest(input, 'CreateAutoScalingGroup', autoScalingArn(input.region, input.account, 'autoScalingGroup', name), {
      ...groupSettings(p),
      ...requestTagContext(tags),
    }),
  ];
}

function createLaunchConfiguration(input: AutoScalingAccessInput): AccessRequest[] {
  const { params: p, region, account } = input;
  const name = p.str('LaunchConfigurationName') ?? '*';
  const extra: AccessContext = {};
  const imageId = p.str('ImageId');
  if (imageId !== undefined) extra['autoscaling:ImageId'] = imageId;
  const instanceType = p.str('InstanceType');
  if (instanceType !== undefined) extra['autoscaling:InstanceType'] = instanceType;
  const spot = p.str('SpotPrice');
  if (spot !== undefined) extra['autoscaling:SpotPrice'] = Number(spot);
  const metadata = p.child('MetadataOptions');
  const tokens = metadata?.str('HttpTokens');
  if (tokens !== undefined) extra['autoscaling:MetadataHttpTokens'] = tokens;
  const endpoint = metadata?.str('HttpEndpoint');
  if (endpoint !== undefined) extra['autoscaling:MetadataHttpEndpoint'] = endpoint;
  const hops = metadata?.int('HttpPutResponseHopLimit');
  if (hops !== undefined) extra['autoscaling:MetadataHttpPutResponseHopLimit'] = hops;
  const out = [asRequest(input, 'CreateLaunchConfiguration', autoScalingArn(region, account, 'launchConfiguration', name), extra)];
  // IamInstanceProfile is a name or an ARN.
  const profile = p.str('IamInstanceProfile');
  if (profile !== undefined) {
    const profileArn = profile.startsWith('arn:') ? profile : `arn:aws:iam::${account}:instance-profile/${profile}`;
    for (const role of (input.instanceProfileRoles ?? instanceProfileRoleOfSameName)(profileArn)) {
      out.push({
        action: 'iam:PassRole',
        resource: role,
        context: { ...callerContext(region), 'iam:PassedToService': 'ec2.amazonaws.com' },
      });
    }
  }
  return out;
}

/** Every action of local/autoscaling/service.ts → what Auto Scaling authorizes for it. */
export const AUTOSCALING_ACCESS: AccessTable<AutoScalingAccessInput> = {
  DescribeAutoScalingGroups: (input) => [asRequest(input, 'DescribeAutoScalingGroups', '*')],
  DescribeLaunchConfigurations: (input) => [asRequest(input, 'DescribeLaunchConfigurations', '*')],
  CreateLaunchConfiguration: createLaunchConfiguration,
  DeleteLaunchConfiguration: (input) => {
    const name = input.params.str('LaunchConfigurationName') ?? '*';
    const arn = input.launchConfiguration?.(name)?.arn ?? autoScalingArn(input.region, input.account, 'launchConfiguration', name);
    return [asRequest(input, 'DeleteLaunchConfiguration', arn)];
  },
  CreateAutoScalingGroup: createGroup,
  UpdateAutoScalingGroup: (input) => {
    const g = groupTarget(input);
    return [asRequest(input, 'UpdateAutoScalingGroup', g.arn, { ...g.context, ...groupSettings(input.params) })];
  },
  DeleteAutoScalingGroup: (input) => {
    const g = groupTarget(input);
    const force = input.params.bool('ForceDelete');
    return [
      asRequest(input, 'DeleteAutoScalingGroup', g.arn, {
        ...g.context,
        ...(force !== undefined ? { 'autoscaling:ForceDelete': force } : {}),
      }),
    ];
  },
};
