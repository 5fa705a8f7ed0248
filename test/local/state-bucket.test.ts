import {
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetPublicAccessBlockCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { startLocalCloud, type LocalCloud } from '../../local/server.js';

/**
 * The state bucket as the template deploys it: SSE-KMS with the stack's own key (bucket key on),
 * versioning, the public access block and the lifecycle rules, served as S3 serves them; writes
 * and reads use the key as the caller, so a role without kms:GenerateDataKey/kms:Decrypt on it
 * is refused although its S3 grants allow the object.
 */
const s3 = (cloud: LocalCloud, credentials = { accessKeyId: 'admin', secretAccessKey: 'x' }): S3Client =>
  new S3Client({ region: 'us-east-1', endpoint: cloud.endpoint, forcePathStyle: true, credentials, maxAttempts: 1 });

describe('local cloud: the state bucket', () => {
  let cloud: LocalCloud;
  let admin: S3Client;

  beforeAll(async () => {
    cloud = await startLocalCloud({ port: 0, stateDir: null, timeScale: 1, seed: false, schedules: false });
    admin = s3(cloud);
  });
  afterAll(async () => {
    admin.destroy();
    await cloud.close();
  });

  const functionClient = (shortName: string): S3Client => {
    const env = cloud.lambda.lookup(shortName)?.environment ?? {};
    return s3(cloud, {
      accessKeyId: env.AWS_ACCESS_KEY_ID ?? '',
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? '',
      sessionToken: env.AWS_SESSION_TOKEN ?? '',
    } as { accessKeyId: string; secretAccessKey: string });
  };

  it('does encrypt with the stack key (bucket key enabled), version objects and block public access', async () => {
    // Prepare
    const key = cloud.stack.kmsKeys.find((k) => k.logicalId === 'FactoryStateKey');
    const Bucket = cloud.stateBucket;

    // Act
    const encryption = await admin.send(new GetBucketEncryptionCommand({ Bucket }));
    const versioning = await admin.send(new GetBucketVersioningCommand({ Bucket }));
    const pab = await admin.send(new GetPublicAccessBlockCommand({ Bucket }));

    // Assess
    expect(key?.arn).toMatch(/^arn:aws:kms:us-east-1:\d{12}:key\/[0-9a-f-]{36}$/);
    expect(encryption.ServerSideEncryptionConfiguration?.Rules).toEqual([
      { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: key?.arn }, BucketKeyEnabled: true },
    ]);
    expect(versioning.Status).toBe('Enabled');
    expect(pab.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      IgnorePublicAcls: true,
      BlockPublicPolicy: true,
      RestrictPublicBuckets: true,
    });
    expect(cloud.stack.kmsAliases.map((a) => a.name)).toEqual(['alias/ami-factory-dev-state']);
  });

  it('does expire waits, ChatOps records, retention runs and noncurrent versions, and keeps the retention ledger', async () => {
    // Act
    const { Rules = [] } = await admin.send(new GetBucketLifecycleConfigurationCommand({ Bucket: cloud.stateBucket }));

    // Assess
    const byPrefix = Object.fromEntries(
      Rules.filter((r) => r.Filter?.Prefix !== undefined).map((r) => [r.Filter?.Prefix, r.Expiration?.Days]),
    );
    expect(byPrefix).toEqual({ 'waits/': 7, 'chatops/': 7, 'approvals/': 30, 'retention/runs/': 90 });
    expect(Rules.every((r) => r.Status === 'Enabled')).toBe(true);
    expect(Rules.find((r) => r.NoncurrentVersionExpiration !== undefined)?.NoncurrentVersionExpiration?.NoncurrentDays).toBe(30);
  });

  it('does let a function whose role may use the key write and read its records', async () => {
    // Prepare
    const waits = functionClient('registerWait');
    const Key = 'waits/us-east-1/ami-0123456789abcdef0.json';

    try {
      // Act
      await waits.send(new PutObjectCommand({ Bucket: cloud.stateBucket, Key, Body: '{"token":"t"}' }));
      const got = await waits.send(new GetObjectCommand({ Bucket: cloud.stateBucket, Key }));

      // Assess
      expect(await got.Body?.transformToString()).toBe('{"token":"t"}');
    } finally {
      waits.destroy();
    }
  });

  it('does refuse a write and a read to a role allowed the objects but not the key', async () => {
    // Prepare: a role with the S3 grants of the waits and no KMS grant
    const arn = `arn:aws:iam::${cloud.accountId}:role/no-key`;
    const bucketArn = `arn:aws:s3:::${cloud.stateBucket}`;
    cloud.identity.putRole({
      name: 'no-key',
      arn,
      path: '/',
      trustPolicy: { Version: '2012-10-17', Statement: [] },
      policies: [
        {
          name: 'no-key/s3',
          document: {
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:ListBucket'], Resource: [bucketArn, `${bucketArn}/*`] },
            ],
          },
        },
      ],
      managedPolicyArns: [],
    });
    const c = cloud.identity.assumeRole(arn, 'no-key');
    const client = s3(cloud, c as { accessKeyId: string; secretAccessKey: string });
    const Key = 'waits/us-east-1/ami-0fedcba9876543210.json';
    await admin.send(new PutObjectCommand({ Bucket: cloud.stateBucket, Key, Body: '{}' }));

    try {
      // Act
      const put = await client
        .send(new PutObjectCommand({ Bucket: cloud.stateBucket, Key: 'waits/x.json', Body: '{}' }))
        .catch((e: unknown) => e);
      const get = await client.send(new GetObjectCommand({ Bucket: cloud.stateBucket, Key })).catch((e: unknown) => e);

      // Assess
      expect(put).toMatchObject({ name: 'AccessDenied', message: expect.stringContaining('kms:GenerateDataKey') });
      expect(get).toMatchObject({ name: 'AccessDenied', message: expect.stringContaining('kms:Decrypt') });
    } finally {
      client.destroy();
    }
  });
});
