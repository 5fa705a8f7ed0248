import {
  CopyImageCommand,
  CreateImageCommand,
  CreateTagsCommand,
  DeleteTagsCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  EC2Client,
  ModifyImageAttributeCommand,
  ModifySnapshotAttributeCommand,
  RegisterImageCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { EC2_ACCESS, EC2_ITEM_ACCESS, type Ec2AccessInput } from '../../local/ec2/access.js';
import { emptyRegion, kmsKeyArn } from '../../local/ec2/model.js';
import { requestsFor, UnmappedActionError, type AccessContext } from '../../local/iam/access-request.js';
import { createKmsKeyRegistry } from '../../local/kms/keys.js';
import {
  ACCOUNT,
  arn,
  base,
  BASE_IMAGE,
  BASE_SNAPSHOT,
  factoryTags,
  IMAGE,
  INSTANCE,
  REGION,
  requestTags,
  SNAPSHOT,
  VOLUME,
  world,
} from './access-fixtures.js';
import { capturingHandler, queryParams, TEST_CREDENTIALS } from './access-wire.js';

const client = new EC2Client({ region: REGION, credentials: TEST_CREDENTIALS, requestHandler: capturingHandler });

async function access(action: string, command: unknown, over: Partial<Ec2AccessInput> = {}): Promise<ReturnType<typeof requestsFor>> {
  const input: Ec2AccessInput = { params: await queryParams(client, command), state: world(), region: REGION, account: ACCOUNT, ...over };
  return requestsFor(EC2_ACCESS, 'ec2', action, input);
}

const managedImageContext: AccessContext = {
  'aws:ResourceTag/ami-factory:managed': 'true',
  'ec2:ResourceTag/ami-factory:managed': 'true',
  'aws:ResourceTag/ami-factory:family': 'web',
  'ec2:ResourceTag/ami-factory:family': 'web',
  'aws:ResourceTag/ami-factory:build-id': '3f2a1b2c',
  'ec2:ResourceTag/ami-factory:build-id': '3f2a1b2c',
  'ec2:ImageID': IMAGE,
  'ec2:ImageType': 'machine',
  'ec2:Owner': ACCOUNT,
  'ec2:Public': false,
  'ec2:RootDeviceType': 'ebs',
};

describe('EC2 access', () => {
  it('authorizes CreateImage of a tagged instance for the instance, image/*, snapshot/* and the tagging on create', async () => {
    // Prepare: the factory's call (functions/lib/ec2/images.ts)
    const command = new CreateImageCommand({
      InstanceId: INSTANCE,
      Name: 'web-20261123T0742Z-3f2a1b2c',
      NoReboot: false,
      TagSpecifications: [
        { ResourceType: 'image', Tags: factoryTags },
        { ResourceType: 'snapshot', Tags: factoryTags },
      ],
    });

    // Act
    const requests = await access('CreateImage', command);

    // Assess
    expect(requests).toEqual([
      {
        action: 'ec2:CreateImage',
        resource: arn.instance(INSTANCE),
        context: {
          ...base(),
          'aws:ResourceTag/Role': 'web',
          'ec2:ResourceTag/Role': 'web',
          'aws:ResourceTag/Golden': 'true',
          'ec2:ResourceTag/Golden': 'true',
          'ec2:InstanceID': INSTANCE,
          'ec2:InstanceType': 't3.small',
          'ec2:RootDeviceType': 'ebs',
          'ec2:AvailabilityZone': 'us-east-1a',
          'ec2:Tenancy': 'default',
          'ec2:InstanceMarketType': 'on-demand',
        },
      },
      { action: 'ec2:CreateImage', resource: 'arn:aws:ec2:us-east-1::image/*', context: { ...base(), ...requestTags } },
      {
        action: 'ec2:CreateImage',
        resource: 'arn:aws:ec2:us-east-1::snapshot/*',
        context: { ...base(), ...requestTags, 'ec2:ParentVolume': arn.volume(VOLUME), 'ec2:VolumeSize': 8 },
      },
      {
        action: 'ec2:CreateTags',
        resource: 'arn:aws:ec2:us-east-1::image/*',
        context: { ...base(), ...requestTags, 'ec2:CreateAction': 'CreateImage' },
      },
      {
        action: 'ec2:CreateTags',
        resource: 'arn:aws:ec2:us-east-1::snapshot/*',
        context: { ...base(), ...requestTags, 'ec2:CreateAction': 'CreateImage' },
      },
    ]);
  });

  it('authorizes CopyImage for the source image in its region, the new image and snapshots, and the destination key through EC2', async () => {
    // Prepare: a copy from us-east-1 into eu-west-1 with the family's key there
    const source = world();
    const command = new CopyImageCommand({
      SourceRegion: REGION,
      SourceImageId: IMAGE,
      Name: 'web-20261123T0742Z-3f2a1b2c',
      ClientToken: 'copy-3f2a1b2c-eu-west-1',
      Encrypted: true,
      KmsKeyId: 'alias/ami-factory',
      TagSpecifications: [
        { ResourceType: 'image', Tags: factoryTags },
        { ResourceType: 'snapshot', Tags: factoryTags },
      ],
    });
    const input: Ec2AccessInput = {
      params: await queryParams(client, command),
      state: emptyRegion(),
      region: 'eu-west-1',
      account: ACCOUNT,
      stateOf: (r) => (r === REGION ? source : undefined),
    };

    // Act
    const requests = requestsFor(EC2_ACCESS, 'ec2', 'CopyImage', input);

    // Assess
    const key = kmsKeyArn('eu-west-1', 'alias/ami-factory');
    const kms = (action: string, extra: AccessContext = {}) => ({
      action,
      resource: key,
      context: {
        'aws:RequestedRegion': 'eu-west-1',
        'aws:ViaAWSService': true,
        'kms:CallerAccount': ACCOUNT,
        // The key's aliases, as KMS evaluates kms:ResourceAliases.
        'kms:ResourceAliases': ['alias/ami-factory'],
        'kms:ViaService': 'ec2.eu-west-1.amazonaws.com',
        ...extra,
      },
    });
    expect(requests).toEqual([
      { action: 'ec2:CopyImage', resource: arn.image(IMAGE, REGION), context: { ...base('eu-west-1'), ...managedImageContext } },
      { action: 'ec2:CopyImage', resource: 'arn:aws:ec2:eu-west-1::image/*', context: { ...base('eu-west-1'), ...requestTags } },
      { action: 'ec2:CopyImage', resource: 'arn:aws:ec2:eu-west-1::snapshot/*', context: { ...base('eu-west-1'), ...requestTags } },
      {
        action: 'ec2:CreateTags',
        resource: 'arn:aws:ec2:eu-west-1::image/*',
        context: { ...base('eu-west-1'), ...requestTags, 'ec2:CreateAction': 'CopyImage' },
      },
      {
        action: 'ec2:CreateTags',
        resource: 'arn:aws:ec2:eu-west-1::snapshot/*',
        context: { ...base('eu-west-1'), ...requestTags, 'ec2:CreateAction': 'CopyImage' },
      },
      kms('kms:DescribeKey'),
      kms('kms:CreateGrant', { 'kms:GrantIsForAWSResource': true }),
      kms('kms:GenerateDataKeyWithoutPlaintext'),
    ]);
  });

  it('authorizes re-encrypting an encrypted source snapshot from its key in the source region', async () => {
    // Prepare: the source snapshot is encrypted with the source region's aws/ebs key
    const source = world();
    const sourceKey = kmsKeyArn(REGION, 'alias/aws/ebs');
    Object.assign(source.snapshots[SNAPSHOT] ?? {}, { encrypted: true, kmsKeyId: sourceKey });
    const mapping = source.images[IMAGE]?.blockDeviceMappings[0]?.ebs;
    if (mapping !== undefined) Object.assign(mapping, { encrypted: true, kmsKeyId: sourceKey });
    const command = new CopyImageCommand({
      SourceRegion: REGION,
      SourceImageId: IMAGE,
      Name: 'copy',
      Encrypted: true,
      KmsKeyId: 'alias/ami-factory',
    });
    const input: Ec2AccessInput = {
      params: await queryParams(client, command),
      state: emptyRegion(),
      region: 'eu-west-1',
      account: ACCOUNT,
      stateOf: () => source,
    };

    // Act
    const kms = requestsFor(EC2_ACCESS, 'ec2', 'CopyImage', input).filter((r) => r.action.startsWith('kms:'));

    // Assess
    expect(kms.map((r) => [r.action, r.resource, r.context?.['kms:ViaService']])).toEqual([
      ['kms:DescribeKey', kmsKeyArn('eu-west-1', 'alias/ami-factory'), 'ec2.eu-west-1.amazonaws.com'],
      ['kms:CreateGrant', kmsKeyArn('eu-west-1', 'alias/ami-factory'), 'ec2.eu-west-1.amazonaws.com'],
      ['kms:GenerateDataKeyWithoutPlaintext', kmsKeyArn('eu-west-1', 'alias/ami-factory'), 'ec2.eu-west-1.amazonaws.com'],
      ['kms:Decrypt', sourceKey, 'ec2.us-east-1.amazonaws.com'],
    ]);
  });

  it('authorizes the S3 reads of an instance-store copy as the caller', async () => {
    // Prepare: an image registered from a bundle (RegisterImage with ImageLocation)
    const source = world();
    const bundled = { ...(source.images[IMAGE] as NonNullable<(typeof source.images)[string]>) };
    Object.assign(bundled, {
      rootDeviceType: 'instance-store',
      imageLocation: 'bundles-bucket/web/image.manifest.xml',
      blockDeviceMappings: [],
    });
    source.images[IMAGE] = bundled;
    const command = new CopyImageCommand({ SourceRegion: REGION, SourceImageId: IMAGE, Name: 'copy' });
    const input: Ec2AccessInput = {
      params: await queryParams(client, command),
      state: emptyRegion(),
      region: 'us-west-2',
      account: ACCOUNT,
      stateOf: () => source,
    };

    // Act
    const requests = requestsFor(EC2_ACCESS, 'ec2', 'CopyImage', input);

    // Assess
    expect(requests.map((r) => [r.action, r.resource])).toEqual([
      ['ec2:CopyImage', arn.image(IMAGE)],
      ['ec2:CopyImage', 'arn:aws:ec2:us-west-2::image/*'],
      ['s3:ListAllMyBuckets', '*'],
      ['s3:GetBucketAcl', 'arn:aws:s3:::bundles-bucket'],
      ['s3:GetObject', 'arn:aws:s3:::bundles-bucket/web/image.manifest.xml'],
    ]);
  });

  it('authorizes RegisterImage for image/* and each snapshot it references', async () => {
    // Prepare
    const command = new RegisterImageCommand({
      Name: 'web-20261123T0742Z-3f2a1b2c',
      Architecture: 'x86_64',
      RootDeviceName: '/dev/xvda',
      BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: SNAPSHOT } }],
      TagSpecifications: [{ ResourceType: 'image', Tags: factoryTags }],
    });

    // Act
    const requests = await access('RegisterImage', command);

    // Assess
    expect(requests).toEqual([
      { action: 'ec2:RegisterImage', resource: 'arn:aws:ec2:us-east-1::image/*', context: { ...base(), ...requestTags } },
      {
        action: 'ec2:RegisterImage',
        resource: arn.snapshot(SNAPSHOT),
        context: {
          ...base(),
          'aws:ResourceTag/ami-factory:managed': 'true',
          'ec2:ResourceTag/ami-factory:managed': 'true',
          'aws:ResourceTag/ami-factory:family': 'web',
          'ec2:ResourceTag/ami-factory:family': 'web',
          'aws:ResourceTag/ami-factory:build-id': '3f2a1b2c',
          'ec2:ResourceTag/ami-factory:build-id': '3f2a1b2c',
          'ec2:SnapshotID': SNAPSHOT,
          'ec2:Owner': ACCOUNT,
          'ec2:ParentVolume': arn.volume(VOLUME),
          'ec2:SnapshotTime': '2026-11-23T07:45:00.000Z',
          'ec2:VolumeSize': 8,
          'ec2:Encrypted': false,
        },
      },
      {
        action: 'ec2:CreateTags',
        resource: 'arn:aws:ec2:us-east-1::image/*',
        context: { ...base(), ...requestTags, 'ec2:CreateAction': 'RegisterImage' },
      },
    ]);
  });

  it('authorizes RunInstances for every resource of the launch and passes the instance profile role to EC2', async () => {
    // Prepare: the factory's builder launch (functions/lib/ec2/builder.ts)
    const builderTags = [...factoryTags, { Key: 'ami-factory:role', Value: 'builder' }];
    const command = new RunInstancesCommand({
      ImageId: BASE_IMAGE,
      InstanceType: 't3.small',
      MinCount: 1,
      MaxCount: 1,
      ClientToken: 'builder-3f2a1b2c',
      UserData: Buffer.from('#!/bin/bash\nshutdown -h now\n').toString('base64'),
      InstanceInitiatedShutdownBehavior: 'stop',
      MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled' },
      IamInstanceProfile: { Arn: `arn:aws:iam::${ACCOUNT}:instance-profile/ami-factory-builder` },
      TagSpecifications: [
        { ResourceType: 'instance', Tags: builderTags },
        { ResourceType: 'volume', Tags: builderTags },
      ],
    });

    // Act
    const requests = await access('RunInstances', command);

    // Assess
    const builder: AccessContext = {
      ...requestTags,
      'aws:RequestTag/ami-factory:role': 'builder',
      'aws:TagKeys': [...(requestTags['aws:TagKeys'] as string[]), 'ami-factory:role'],
    };
    const vpc = `arn:aws:ec2:${REGION}:${ACCOUNT}:vpc/vpc-0a1b2c3d4e5f60789`;
    const subnet = `arn:aws:ec2:${REGION}:${ACCOUNT}:subnet/subnet-0a1b2c3d4e5f60700`;
    expect(requests).toEqual([
      {
        action: 'ec2:RunInstances',
        resource: arn.image(BASE_IMAGE),
        context: {
          ...base(),
          'ec2:ImageID': BASE_IMAGE,
          'ec2:ImageType': 'machine',
          'ec2:Owner': 'amazon',
          'ec2:Public': true,
          'ec2:RootDeviceType': 'ebs',
        },
      },
      {
        action: 'ec2:RunInstances',
        resource: `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/*`,
        context: {
          ...base(),
          ...builder,
          'ec2:InstanceType': 't3.small',
          'ec2:RootDeviceType': 'ebs',
          'ec2:EbsOptimized': false,
          'ec2:InstanceMarketType': 'on-demand',
          'ec2:MetadataHttpEndpoint': 'enabled',
          'ec2:MetadataHttpTokens': 'required',
          'ec2:MetadataHttpPutResponseHopLimit': 2,
          'ec2:Tenancy': 'default',
          'ec2:InstanceProfile': `arn:aws:iam::${ACCOUNT}:instance-profile/ami-factory-builder`,
        },
      },
      {
        action: 'ec2:RunInstances',
        resource: `arn:aws:ec2:${REGION}:${ACCOUNT}:volume/*`,
        context: {
          ...base(),
          ...builder,
          'ec2:Encrypted': false,
          'ec2:VolumeType': 'gp3',
          'ec2:VolumeSize': 8,
          'ec2:ParentSnapshot': arn.snapshot(BASE_SNAPSHOT),
        },
      },
      { action: 'ec2:RunInstances', resource: subnet, context: { ...base(), 'ec2:SubnetID': 'subnet-0a1b2c3d4e5f60700', 'ec2:Vpc': vpc } },
      {
        action: 'ec2:RunInstances',
        resource: `arn:aws:ec2:${REGION}:${ACCOUNT}:network-interface/*`,
        context: { ...base(), 'ec2:Subnet': subnet, 'ec2:Vpc': vpc },
      },
      {
        action: 'ec2:RunInstances',
        resource: `arn:aws:ec2:${REGION}:${ACCOUNT}:security-group/sg-0a1b2c3d4e5f60789`,
        context: { ...base(), 'ec2:SecurityGroupID': 'sg-0a1b2c3d4e5f60789', 'ec2:Vpc': vpc },
      },
      {
        action: 'ec2:CreateTags',
        resource: `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/*`,
        context: { ...base(), ...builder, 'ec2:CreateAction': 'RunInstances' },
      },
      {
        action: 'ec2:CreateTags',
        resource: `arn:aws:ec2:${REGION}:${ACCOUNT}:volume/*`,
        context: { ...base(), ...builder, 'ec2:CreateAction': 'RunInstances' },
      },
      {
        action: 'iam:PassRole',
        resource: `arn:aws:iam::${ACCOUNT}:role/ami-factory-builder`,
        context: { 'aws:RequestedRegion': REGION, 'aws:SecureTransport': false, 'iam:PassedToService': 'ec2.amazonaws.com' },
      },
    ]);
  });

  it('authorizes an encrypted launch volume for its key through EC2', async () => {
    // Prepare: a new encrypted data volume with a customer key
    const command = new RunInstancesCommand({
      ImageId: IMAGE,
      MinCount: 1,
      MaxCount: 1,
      BlockDeviceMappings: [{ DeviceName: '/dev/sdf', Ebs: { VolumeSize: 20, Encrypted: true, KmsKeyId: 'alias/data' } }],
    });

    // Act
    const requests = await access('RunInstances', command, {
      kms: createKmsKeyRegistry({ account: ACCOUNT, implicitCustomerKeys: false, customerKeys: { [REGION]: ['alias/data'] } }),
    });

    // Assess
    const key = kmsKeyArn(REGION, 'alias/data');
    expect(
      requests.filter((r) => r.resource.endsWith(':volume/*') && r.action === 'ec2:RunInstances').map((r) => r.context),
    ).toContainEqual({
      ...base(),
      'ec2:Encrypted': true,
      'ec2:VolumeType': 'gp3',
      'ec2:VolumeSize': 20,
      'ec2:KmsKeyId': 'alias/data',
    });
    expect(requests.filter((r) => r.action.startsWith('kms:')).map((r) => [r.action, r.resource])).toEqual([
      ['kms:DescribeKey', key],
      ['kms:CreateGrant', key],
      ['kms:GenerateDataKeyWithoutPlaintext', key],
    ]);
  });

  it('authorizes DeregisterImage for the image, and each associated snapshot separately for ec2:DeleteSnapshot', async () => {
    // Prepare: the retention's call (functions/lib/retention/actions.ts)
    const command = new DeregisterImageCommand({ ImageId: IMAGE, DeleteAssociatedSnapshots: true });
    const input: Ec2AccessInput = { params: await queryParams(client, command), state: world(), region: REGION, account: ACCOUNT };

    // Act
    const requests = requestsFor(EC2_ACCESS, 'ec2', 'DeregisterImage', input);
    const items = EC2_ITEM_ACCESS.DeregisterImage?.(input) ?? [];

    // Assess
    expect(requests).toEqual([
      { action: 'ec2:DeregisterImage', resource: arn.image(IMAGE), context: { ...base(), ...managedImageContext } },
    ]);
    expect(items).toEqual([
      {
        item: SNAPSHOT,
        deniedCode: 'missing-permissions',
        requests: [
          {
            action: 'ec2:DeleteSnapshot',
            resource: arn.snapshot(SNAPSHOT),
            context: expect.objectContaining({
              ...base(),
              'aws:ResourceTag/ami-factory:managed': 'true',
              'ec2:SnapshotID': SNAPSHOT,
            }) as AccessContext,
          },
        ],
      },
    ]);
  });

  it('checks no snapshot when DeregisterImage keeps them', async () => {
    // Prepare
    const input: Ec2AccessInput = {
      params: await queryParams(client, new DeregisterImageCommand({ ImageId: IMAGE })),
      state: world(),
      region: REGION,
      account: ACCOUNT,
    };

    // Act
    const items = EC2_ITEM_ACCESS.DeregisterImage?.(input);

    // Assess
    expect(items).toEqual([]);
  });

  it('authorizes sharing with the image attribute being changed', async () => {
    // Prepare
    const command = new ModifyImageAttributeCommand({ ImageId: IMAGE, LaunchPermission: { Add: [{ UserId: '444455556666' }] } });

    // Act
    const requests = await access('ModifyImageAttribute', command);

    // Assess
    expect(requests).toEqual([
      {
        action: 'ec2:ModifyImageAttribute',
        resource: arn.image(IMAGE),
        context: { ...base(), ...managedImageContext, 'ec2:Attribute': 'launchPermission' },
      },
    ]);
  });

  it('names the accounts a snapshot is shared with', async () => {
    // Prepare
    const command = new ModifySnapshotAttributeCommand({
      SnapshotId: SNAPSHOT,
      Attribute: 'createVolumePermission',
      CreateVolumePermission: { Add: [{ UserId: '444455556666' }] },
    });

    // Act
    const [request] = await access('ModifySnapshotAttribute', command);

    // Assess
    expect(request?.context).toMatchObject({
      'ec2:Attribute': 'createVolumePermission',
      'ec2:Add/userId': '444455556666',
      'aws:ResourceTag/ami-factory:managed': 'true',
    });
  });

  it('authorizes TerminateInstances per instance with its tags', async () => {
    // Prepare
    const command = new TerminateInstancesCommand({ InstanceIds: [INSTANCE, 'i-0000000000000000f'] });

    // Act
    const requests = await access('TerminateInstances', command);

    // Assess
    expect(requests.map((r) => [r.resource, r.context?.['aws:ResourceTag/Role']])).toEqual([
      [arn.instance(INSTANCE), 'web'],
      [arn.instance('i-0000000000000000f'), undefined],
    ]);
  });

  it('authorizes CreateTags and DeleteTags on each resource by the type its id names', async () => {
    // Prepare
    const create = new CreateTagsCommand({ Resources: [IMAGE, SNAPSHOT], Tags: [{ Key: 'ami-factory:deprecated', Value: 'true' }] });
    const remove = new DeleteTagsCommand({ Resources: [INSTANCE], Tags: [{ Key: 'Golden' }] });

    // Act
    const created = await access('CreateTags', create);
    const removed = await access('DeleteTags', remove);

    // Assess
    expect(
      created.map((r) => [r.action, r.resource, r.context?.['aws:RequestTag/ami-factory:deprecated'], r.context?.['aws:TagKeys']]),
    ).toEqual([
      ['ec2:CreateTags', arn.image(IMAGE), 'true', ['ami-factory:deprecated']],
      ['ec2:CreateTags', arn.snapshot(SNAPSHOT), 'true', ['ami-factory:deprecated']],
    ]);
    expect(created[0]?.context?.['ec2:CreateAction']).toBeUndefined();
    expect(removed).toEqual([
      {
        action: 'ec2:DeleteTags',
        resource: arn.instance(INSTANCE),
        context: expect.objectContaining({ 'aws:TagKeys': ['Golden'], 'aws:ResourceTag/Golden': 'true' }) as AccessContext,
      },
    ]);
  });

  it('authorizes Describe* on *', async () => {
    // Act
    const requests = await access('DescribeImages', new DescribeImagesCommand({ Owners: ['self'] }));

    // Assess
    expect(requests).toEqual([{ action: 'ec2:DescribeImages', resource: '*', context: base() }]);
  });

  it('refuses an action no descriptor describes', async () => {
    // Prepare
    const input: Ec2AccessInput = {
      params: await queryParams(client, new DescribeImagesCommand({})),
      state: world(),
      region: REGION,
      account: ACCOUNT,
    };

    // Act / Assess
    expect(() => requestsFor(EC2_ACCESS, 'ec2', 'DescribeSpotPriceHistory', input)).toThrow(UnmappedActionError);
  });
});
