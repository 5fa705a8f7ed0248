import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  CreateLaunchConfigurationCommand,
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
  DeleteSnapshotCommand,
  DeleteTagsCommand,
  DeregisterImageCommand,
  DescribeImageAttributeCommand,
  DescribeImageReferencesCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  DescribeRegionsCommand,
  DescribeSnapshotAttributeCommand,
  DescribeSnapshotsCommand,
  DescribeTagsCommand,
  DisableImageCommand,
  DisableImageDeprecationCommand,
  EC2Client,
  EnableImageCommand,
  EnableImageDeprecationCommand,
  EnableImageDeregistrationProtectionCommand,
  DisableImageDeregistrationProtectionCommand,
  GetImageBlockPublicAccessStateCommand,
  ModifyImageAttributeCommand,
  ModifySnapshotAttributeCommand,
  RegisterImageCommand,
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import {
  CreateEventBusCommand,
  DescribeEventBusCommand,
  DescribeRuleCommand,
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
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetBucketAclCommand,
  GetObjectAclCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
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
  SFNClient,
  StartExecutionCommand,
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
import { VirtualClock } from '../../local/clock.js';
import { createAutoScalingService } from '../../local/autoscaling/service.js';
import { createEc2Service, LOCAL_ACCOUNT_ID } from '../../local/ec2/service.js';
import { createEventsService } from '../../local/events/service.js';
import { headerValue, type LocalRequest, type LocalService } from '../../local/http.js';
import { FunctionError, type LambdaInvoker } from '../../local/lambda/runtime.js';
import { PROJECT_ROOT } from '../../local/paths.js';
import { ensurePackaged } from '../../local/template/package.js';
import { planStack } from '../../local/template/stack.js';
import { createS3Service, s3Operation } from '../../local/s3/service.js';
import { SfnService } from '../../local/sfn/service.js';
import { createSsmService } from '../../local/ssm/service.js';
import { serveLocalServices, type ServedServices } from '../../local/server.js';
import { botocoreData, checkResponse, loadModel, recording, type Recorded } from './api-models.js';
import { until } from './ec2-harness.js';

/**
 * Real responses of the local EC2, Auto Scaling, S3, EventBridge and Step Functions endpoints,
 * for the calls the factory and its users' tooling make, checked element by element against
 * AWS's API models (botocore's service-2.json): an element the model does not name, a list
 * in the wrong wrapper or a value of the wrong type fails.
 */
const data = botocoreData();
const required = process.env.AMI_FACTORY_REQUIRE_API_MODELS === '1';
if ('missing' in data) {
  if (required) throw new Error(`${data.missing} (AMI_FACTORY_REQUIRE_API_MODELS=1)`);
  console.warn(
    `api-models.test.ts: SKIPPING the API model checks: ${data.missing}. Install a current AWS CLI v1 (pip install awscli), or point BOTOCORE_DATA at a botocore data directory.`,
  );
}
const check = 'dir' in data ? it : it.skip;
const title = (what: string): string => ('dir' in data ? what : `${what} — SKIPPED: ${data.missing}`);

const credentials = { accessKeyId: 'AKIDMODELS', secretAccessKey: 'test' };
const client = { region: 'us-east-1', credentials, maxAttempts: 1 };

const queryAction = (req: LocalRequest): string => new URLSearchParams(req.body.toString('utf8')).get('Action') ?? '';
const jsonTarget = (req: LocalRequest): string => (headerValue(req.headers, 'x-amz-target') ?? '').split('.')[1] ?? '';

/** Every 2xx answer checked against the model; the problems, one a line. */
function problems(service: string, recorded: Recorded[], expectOperations: string[]): string {
  if (!('dir' in data)) return '';
  const model = loadModel(data.dir, service);
  const ok = recorded.filter((r) => r.res.status >= 200 && r.res.status < 300);
  const seen = new Set(ok.map((r) => r.operation));
  const missing = expectOperations.filter((o) => !seen.has(o));
  const out = ok.flatMap((r) => checkResponse(model, r));
  if (missing.length > 0) out.push(`not exercised (no 2xx answer): ${missing.join(', ')}`);
  return [...new Set(out)].join('\n');
}

/** A recorded 200 answer with this body, for the checker's own tests. */
function answer(operation: string, body: string): Recorded {
  const req: LocalRequest = {
    method: 'POST',
    path: '/',
    query: new URLSearchParams(),
    headers: {},
    body: Buffer.alloc(0),
    region: 'us-east-1',
    service: undefined,
    accessKeyId: undefined,
  };
  return { operation, req, res: { status: 200, body } };
}

describe('the API model checker', () => {
  const ec2 = (inner: string): string => `<DescribeImagesResponse xmlns="x"><requestId>r</requestId>${inner}</DescribeImagesResponse>`;

  check(title('accepts a well-formed answer and names each element that is unknown, wrongly wrapped or of the wrong type'), () => {
    // Prepare
    const dir = 'dir' in data ? data.dir : '';
    const models = {
      ec2: loadModel(dir, 'ec2'),
      asg: loadModel(dir, 'autoscaling'),
      s3: loadModel(dir, 's3'),
      sfn: loadModel(dir, 'stepfunctions'),
    };
    // Act
    const good = checkResponse(
      models.ec2,
      answer('DescribeImages', ec2('<imagesSet><item><imageId>ami-1</imageId><isPublic>false</isPublic></item></imagesSet>')),
    );
    const unknown = checkResponse(models.ec2, answer('DescribeImages', ec2('<imagesSet><item><ownerId>1</ownerId></item></imagesSet>')));
    const wrapper = checkResponse(
      models.ec2,
      answer('DescribeImages', ec2('<imagesSet><member><imageId>a</imageId></member></imagesSet>')),
    );
    const type = checkResponse(models.ec2, answer('DescribeImages', ec2('<imagesSet><item><isPublic>yes</isPublic></item></imagesSet>')));
    const enumValue = checkResponse(
      models.ec2,
      answer('DescribeImages', ec2('<imagesSet><item><imageState>ready</imageState></item></imagesSet>')),
    );
    const asg = checkResponse(
      models.asg,
      answer(
        'DescribeAutoScalingGroups',
        '<DescribeAutoScalingGroupsResponse><DescribeAutoScalingGroupsResult><AutoScalingGroups><item/></AutoScalingGroups></DescribeAutoScalingGroupsResult></DescribeAutoScalingGroupsResponse>',
      ),
    );
    const s3 = checkResponse(
      models.s3,
      answer(
        'ListObjectsV2',
        '<ListBucketResult><Contents><Key>a</Key><Size>x</Size></Contents><Contents><Key>b</Key></Contents><Name>n</Name><Name>m</Name></ListBucketResult>',
      ),
    );
    const json = checkResponse(
      models.sfn,
      answer('DescribeExecution', JSON.stringify({ executionArn: 'a', startDate: '2026-01-01', extra: 1 })),
    );
    // Assess
    expect(good).toEqual([]);
    expect(unknown).toEqual([expect.stringContaining('imagesSet/item[0]/ownerId: unknown element in Image')]);
    expect(wrapper).toEqual([expect.stringContaining('holds <item> elements, not <member>')]);
    expect(type).toEqual([expect.stringContaining('"yes" is not a boolean')]);
    expect(enumValue).toEqual([expect.stringContaining("'ready' is not one of ImageState's values")]);
    expect(asg).toEqual([expect.stringContaining('holds <member> elements, not <item>')]);
    expect(s3).toEqual([
      expect.stringContaining('Contents[0]/Size: "x" is not an long'),
      expect.stringContaining('Name: repeated 2 times'),
    ]);
    expect(json).toEqual([
      expect.stringContaining('startDate: "2026-01-01" is not a timestamp'),
      expect.stringContaining('$.extra: unknown member'),
    ]);
  });
});

describe('local cloud responses against the AWS API models', () => {
  let served: ServedServices | undefined;
  const serve = async (services: LocalService[]): Promise<string> => {
    served = await serveLocalServices(services);
    return served.endpoint;
  };
  afterEach(async () => {
    await served?.close();
    served = undefined;
  });

  check(title('EC2 and Auto Scaling (ec2 and awsquery protocols)'), async () => {
    // Prepare
    const recorded: Recorded[] = [];
    const clock = new VirtualClock(6000);
    const ec2Service = createEc2Service({ clock, throttling: false, imageAvailableAfterMs: 60_000 });
    const asgService = createAutoScalingService({ clock, ec2: ec2Service });
    const endpoint = await serve([recording(asgService, queryAction, recorded), recording(ec2Service, queryAction, recorded)]);
    const ec2 = new EC2Client({ ...client, endpoint });
    const west = new EC2Client({ ...client, region: 'us-west-2', endpoint });
    const asg = new AutoScalingClient({ ...client, endpoint });
    try {
      // Act
      await ec2.send(new DescribeRegionsCommand({}));
      const amazon = (
        await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'], Filters: [{ Name: 'architecture', Values: ['x86_64'] }] }))
      ).Images?.[0];
      const base = amazon?.ImageId ?? '';
      const run = await ec2.send(
        new RunInstancesCommand({
          ImageId: base,
          MinCount: 1,
          MaxCount: 1,
          InstanceType: 't3.micro',
          TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'builder' }] }],
        }),
      );
      const instanceId = run.Instances?.[0]?.InstanceId ?? '';
      await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
      const created = await ec2.send(
        new CreateImageCommand({
          InstanceId: instanceId,
          Name: 'models-image',
          NoReboot: true,
          TagSpecifications: [{ ResourceType: 'image', Tags: [{ Key: 'ami-factory:managed', Value: 'true' }] }],
        }),
      );
      const imageId = created.ImageId ?? '';
      const image = await until(async () => {
        const i = (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images?.[0];
        return i?.State === 'available' ? i : undefined;
      });
      await ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'tag:ami-factory:managed', Values: ['true'] }] }));
      await ec2.send(new ModifyImageAttributeCommand({ ImageId: imageId, LaunchPermission: { Add: [{ UserId: '444455556666' }] } }));
      await ec2.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'launchPermission' }));
      await ec2.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'description' }));
      const snapshotId = image.BlockDeviceMappings?.[0]?.Ebs?.SnapshotId ?? '';
      await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }));
      await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], MaxResults: 5 }));
      await ec2.send(
        new ModifySnapshotAttributeCommand({
          SnapshotId: snapshotId,
          Attribute: 'createVolumePermission',
          OperationType: 'add',
          UserIds: ['444455556666'],
        }),
      );
      await ec2.send(new DescribeSnapshotAttributeCommand({ SnapshotId: snapshotId, Attribute: 'createVolumePermission' }));
      await ec2.send(new EnableImageDeprecationCommand({ ImageId: imageId, DeprecateAt: new Date(clock.nowMs() + 86_400_000 * 30) }));
      await ec2.send(new DisableImageDeprecationCommand({ ImageId: imageId }));
      await ec2.send(new GetImageBlockPublicAccessStateCommand({}));
      await west.send(
        new CopyImageCommand({ SourceImageId: imageId, SourceRegion: 'us-east-1', Name: 'models-copy', ClientToken: 'models-1' }),
      );
      await ec2.send(new CreateTagsCommand({ Resources: [imageId], Tags: [{ Key: 'Team', Value: 'models' }] }));
      await ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [imageId, instanceId] }] }));
      await ec2.send(new DeleteTagsCommand({ Resources: [imageId], Tags: [{ Key: 'Team' }] }));
      const lt = await ec2.send(
        new CreateLaunchTemplateCommand({
          LaunchTemplateName: 'models-lt',
          LaunchTemplateData: { ImageId: imageId, InstanceType: 't3.micro' },
        }),
      );
      const ltId = lt.LaunchTemplate?.LaunchTemplateId ?? '';
      await ec2.send(new CreateLaunchTemplateVersionCommand({ LaunchTemplateId: ltId, LaunchTemplateData: { ImageId: base } }));
      await ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: [ltId] }));
      await ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: ltId }));
      await ec2.send(new DescribeImageReferencesCommand({ ImageIds: [imageId], IncludeAllResourceTypes: true }));
      await asg.send(
        new CreateLaunchConfigurationCommand({ LaunchConfigurationName: 'models-lc', ImageId: imageId, InstanceType: 't3.micro' }),
      );
      await asg.send(new DescribeLaunchConfigurationsCommand({}));
      await asg.send(
        new CreateAutoScalingGroupCommand({
          AutoScalingGroupName: 'models-asg',
          MinSize: 0,
          MaxSize: 1,
          LaunchTemplate: { LaunchTemplateId: ltId, Version: '$Latest' },
          Tags: [{ Key: 'Team', Value: 'models', PropagateAtLaunch: true }],
        }),
      );
      await asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'models-asg', MaxSize: 2 }));
      await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['models-asg'] }));
      await ec2.send(new EnableImageDeregistrationProtectionCommand({ ImageId: imageId }));
      await ec2.send(new DisableImageDeregistrationProtectionCommand({ ImageId: imageId }));
      await ec2.send(new DisableImageCommand({ ImageId: imageId }));
      await ec2.send(new EnableImageCommand({ ImageId: imageId }));
      const registered = await ec2.send(
        new RegisterImageCommand({
          Name: 'models-registered',
          Architecture: 'x86_64',
          RootDeviceName: '/dev/xvda',
          VirtualizationType: 'hvm',
          BootMode: 'uefi',
          EnaSupport: true,
          BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: snapshotId } }],
        }),
      );
      await ec2.send(new DeregisterImageCommand({ ImageId: registered.ImageId ?? '' }));
      await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
      await ec2.send(new DescribeInstancesCommand({}));
      const unused = await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }));
      const spare = (unused.Snapshots ?? []).find((s) => s.SnapshotId !== snapshotId && s.Description?.includes('models') !== true);
      if (spare?.SnapshotId !== undefined)
        await ec2.send(new DeleteSnapshotCommand({ SnapshotId: spare.SnapshotId })).catch(() => undefined);
      // Assess
      const expected = [
        'DescribeImages',
        'DescribeInstances',
        'RunInstances',
        'CreateImage',
        'CopyImage',
        'DescribeSnapshots',
        'DescribeTags',
      ];
      expect(
        problems(
          'ec2',
          recorded.filter((r) => r.req.service === 'ec2'),
          expected,
        ),
      ).toBe('');
      expect(
        problems(
          'autoscaling',
          recorded.filter((r) => r.req.service === 'autoscaling'),
          ['DescribeAutoScalingGroups', 'DescribeLaunchConfigurations', 'CreateAutoScalingGroup'],
        ),
      ).toBe('');
    } finally {
      for (const c of [ec2, west, asg]) c.destroy();
      asgService.close();
      ec2Service.close();
    }
  });

  check(title('S3 (rest-xml protocol)'), async () => {
    // Prepare
    const recorded: Recorded[] = [];
    const service = createS3Service({ accountId: LOCAL_ACCOUNT_ID, minPartSize: 1 });
    const endpoint = await serve([recording(service, s3Operation, recorded)]);
    const s3 = new S3Client({ ...client, endpoint, forcePathStyle: true });
    try {
      // Act
      await s3.send(new CreateBucketCommand({ Bucket: 'models' }));
      await s3.send(new PutObjectCommand({ Bucket: 'models', Key: 'ledger/a.json', Body: '{}', ChecksumAlgorithm: 'CRC32' }));
      await s3.send(new PutObjectCommand({ Bucket: 'models', Key: 'bundles/x.part.0', Body: 'x', ACL: 'aws-exec-read' }));
      await s3.send(new HeadObjectCommand({ Bucket: 'models', Key: 'ledger/a.json' }));
      await (await s3.send(new GetObjectCommand({ Bucket: 'models', Key: 'ledger/a.json' }))).Body?.transformToString();
      await s3.send(new ListObjectsV2Command({ Bucket: 'models', Delimiter: '/', FetchOwner: true }));
      await s3.send(new ListObjectsV2Command({ Bucket: 'models', Prefix: 'ledger/', MaxKeys: 1 }));
      await s3.send(new ListObjectsCommand({ Bucket: 'models' }));
      await s3.send(new ListBucketsCommand({}));
      await s3.send(new GetObjectAclCommand({ Bucket: 'models', Key: 'bundles/x.part.0' }));
      await s3.send(new PutObjectAclCommand({ Bucket: 'models', Key: 'bundles/x.part.0', ACL: 'aws-exec-read' }));
      await s3.send(new GetBucketAclCommand({ Bucket: 'models' }));
      await s3.send(new CopyObjectCommand({ Bucket: 'models', Key: 'ledger/b.json', CopySource: 'models/ledger/a.json' }));
      const mpu = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'models', Key: 'big', ChecksumAlgorithm: 'SHA256' }));
      const part = await s3.send(
        new UploadPartCommand({
          Bucket: 'models',
          Key: 'big',
          UploadId: mpu.UploadId,
          PartNumber: 1,
          Body: 'part',
          ChecksumAlgorithm: 'SHA256',
        }),
      );
      await s3.send(new ListPartsCommand({ Bucket: 'models', Key: 'big', UploadId: mpu.UploadId }));
      await s3.send(new ListMultipartUploadsCommand({ Bucket: 'models' }));
      await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'models',
          Key: 'big',
          UploadId: mpu.UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag, ChecksumSHA256: part.ChecksumSHA256 }] },
        }),
      );
      await s3.send(new DeleteObjectsCommand({ Bucket: 'models', Delete: { Objects: [{ Key: 'ledger/b.json' }, { Key: 'nope' }] } }));
      // Assess
      const expected = [
        'ListObjectsV2',
        'ListBuckets',
        'GetObjectAcl',
        'CopyObject',
        'CompleteMultipartUpload',
        'DeleteObjects',
        'ListParts',
      ];
      expect(problems('s3', recorded, expected)).toBe('');
    } finally {
      s3.destroy();
      service.close();
    }
  });

  check(title('EventBridge and Step Functions (json protocol)'), async () => {
    // Prepare
    const recorded: Recorded[] = [];
    // The deployed image-factory definition; every function refuses its input, as planBuild does a bad request.
    const lambda: LambdaInvoker = {
      has: () => true,
      invoke: async () => {
        throw new FunctionError('ValidationError', 'not a build request', []);
      },
    };
    const sfnService = new SfnService({ accountId: LOCAL_ACCOUNT_ID, lambda, timeScale: 6000 });
    const pkg = await ensurePackaged({ projectRoot: PROJECT_ROOT });
    const machine = planStack(pkg.template, {
      stackName: 'ami-factory-dev',
      region: 'us-east-1',
      accountId: LOCAL_ACCOUNT_ID,
    }).stateMachines.find((m) => m.name.endsWith('-image-factory'));
    if (machine === undefined) throw new Error('no image-factory state machine in the package');
    sfnService.registerStateMachine(machine);
    const eventsService = createEventsService({
      accountId: LOCAL_ACCOUNT_ID,
      clock: new VirtualClock(),
      dispatcher: { invokeLambda: async () => undefined, startExecution: async () => undefined },
    });
    const endpoint = await serve([recording(sfnService, jsonTarget, recorded), recording(eventsService, jsonTarget, recorded)]);
    const events = new EventBridgeClient({ ...client, endpoint });
    const sfn = new SFNClient({ ...client, endpoint });
    try {
      // Act
      await events.send(new CreateEventBusCommand({ Name: 'models' }));
      await events.send(new DescribeEventBusCommand({ Name: 'models' }));
      await events.send(new ListEventBusesCommand({}));
      await events.send(
        new PutRuleCommand({
          Name: 'ami-state',
          EventPattern: JSON.stringify({ source: ['aws.ec2'], 'detail-type': ['EC2 AMI State Change'] }),
        }),
      );
      await events.send(new PutRuleCommand({ Name: 'nightly', ScheduleExpression: 'cron(0 3 * * ? *)', State: 'DISABLED' }));
      const fn = `arn:aws:lambda:us-east-1:${LOCAL_ACCOUNT_ID}:function:completeWaits`;
      await events.send(
        new PutTargetsCommand({
          Rule: 'nightly',
          Targets: [{ Id: 'fn', Arn: fn, InputTransformer: { InputPathsMap: { id: '$.id' }, InputTemplate: '{"id": <id>}' } }],
        }),
      );
      await events.send(new DescribeRuleCommand({ Name: 'nightly' }));
      await events.send(new ListRulesCommand({ Limit: 1 }));
      await events.send(new ListTargetsByRuleCommand({ Rule: 'nightly' }));
      await events.send(new ListRuleNamesByTargetCommand({ TargetArn: fn }));
      await events.send(new PutEventsCommand({ Entries: [{ Source: 'ami-factory', DetailType: 'ImageAvailable', Detail: '{}' }] }));
      await events.send(
        new TestEventPatternCommand({
          EventPattern: '{"source":["x"]}',
          Event: JSON.stringify({
            id: '1',
            account: LOCAL_ACCOUNT_ID,
            source: 'x',
            time: '2026-01-01T00:00:00Z',
            region: 'us-east-1',
            resources: [],
            'detail-type': 'y',
          }),
        }),
      );
      await events.send(new RemoveTargetsCommand({ Rule: 'nightly', Ids: ['fn'] }));
      const arn = sfnService.stateMachineArn('us-east-1', machine.name);
      await sfn.send(new ListStateMachinesCommand({}));
      await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arn }));
      const started = await sfn.send(new StartExecutionCommand({ stateMachineArn: arn, input: '{"not":"a build request"}' }));
      await sfnService.waitFor(started.executionArn ?? '');
      await sfn.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
      await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn }));
      await sfn.send(new GetExecutionHistoryCommand({ executionArn: started.executionArn }));
      // Assess
      const expectEvents = ['PutRule', 'PutTargets', 'DescribeRule', 'ListRules', 'ListTargetsByRule', 'PutEvents', 'CreateEventBus'];
      expect(
        problems(
          'events',
          recorded.filter((r) => r.req.service === 'events'),
          expectEvents,
        ),
      ).toBe('');
      const expectSfn = ['StartExecution', 'DescribeExecution', 'ListExecutions', 'GetExecutionHistory'];
      expect(
        problems(
          'stepfunctions',
          recorded.filter((r) => r.req.service === 'states'),
          expectSfn,
        ),
      ).toBe('');
    } finally {
      events.destroy();
      sfn.destroy();
      eventsService.close();
      sfnService.close();
    }
  });

  check(title('SSM Parameter Store (json protocol)'), async () => {
    // Prepare
    const recorded: Recorded[] = [];
    const service = createSsmService({ accountId: LOCAL_ACCOUNT_ID, clock: new VirtualClock() });
    const endpoint = await serve([recording(service, jsonTarget, recorded)]);
    const ssm = new SSMClient({ ...client, endpoint });
    try {
      // Act
      await ssm.send(new PutParameterCommand({ Name: '/models/url', Value: 'https://a', Type: 'String', Description: 'd' }));
      await ssm.send(new PutParameterCommand({ Name: '/models/url', Value: 'https://b', Overwrite: true }));
      await ssm.send(new PutParameterCommand({ Name: '/models/secret', Value: 's', Type: 'SecureString' }));
      await ssm.send(new PutParameterCommand({ Name: '/models/list', Value: 'a,b', Type: 'StringList', AllowedPattern: '^[a-z,]+$' }));
      await ssm.send(
        new PutParameterCommand({ Name: '/models/ami', Value: 'ami-0123456789abcdef0', Type: 'String', DataType: 'aws:ec2:image' }),
      );
      await service.idle();
      await ssm.send(new GetParameterCommand({ Name: '/models/secret', WithDecryption: true }));
      await ssm.send(new GetParameterCommand({ Name: '/models/url:1' }));
      await ssm.send(new GetParametersCommand({ Names: ['/models/url', '/models/none'] }));
      await ssm.send(new GetParametersByPathCommand({ Path: '/models', Recursive: true, MaxResults: 2 }));
      await ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Path', Option: 'Recursive', Values: ['/models'] }] }));
      await ssm.send(new GetParameterHistoryCommand({ Name: '/models/url' }));
      await ssm.send(new DeleteParametersCommand({ Names: ['/models/list', '/models/none'] }));
      await ssm.send(new DeleteParameterCommand({ Name: '/models/url' }));
      // Assess
      const expected = [
        'PutParameter',
        'GetParameter',
        'GetParameters',
        'GetParametersByPath',
        'DescribeParameters',
        'GetParameterHistory',
      ];
      expect(problems('ssm', recorded, [...expected, 'DeleteParameter', 'DeleteParameters'])).toBe('');
    } finally {
      ssm.destroy();
      service.close();
    }
  });
});
