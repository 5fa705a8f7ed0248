import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { LocalRequest } from '../../local/http.js';
import { requestsFor, type AccessContext, type AccessRequest } from '../../local/iam/access-request.js';
import { missingKeyCheck, S3_ACCESS, S3_ITEM_ACCESS, type S3AccessInput } from '../../local/s3/access.js';
import { target } from '../../local/s3/protocol.js';
import { createS3Service } from '../../local/s3/service.js';
import { capturingHandler, restRequest, TEST_CREDENTIALS } from './access-wire.js';

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const BUCKET = 'ami-factory-dev-factorystatebucket-1a2b3c';

const client = new S3Client({
  region: REGION,
  endpoint: 'http://localhost:4566',
  forcePathStyle: true,
  credentials: TEST_CREDENTIALS,
  requestHandler: capturingHandler,
});
const service = createS3Service({ accountId: ACCOUNT });

/**
 * The operation the local S3 routes the SDK's request to (read off its call counts, so the
 * names are the service's own) and the decoded request a descriptor gets.
 */
async function s3Call(command: unknown): Promise<{ op: string; input: S3AccessInput }> {
  const rest = await restRequest(client, command);
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
  const op = Object.keys(after).find((k) => (after[k] ?? 0) > (before[k] ?? 0));
  if (op === undefined) throw new Error('the local S3 counted no operation');
  const { bucket, key } = target(req);
  return {
    op,
    input: {
      bucket,
      key,
      method: rest.method,
      query: rest.query,
      headers: rest.headers,
      region: REGION,
      account: ACCOUNT,
      body: rest.body,
    },
  };
}

async function access(command: unknown): Promise<{ op: string; requests: AccessRequest[]; input: S3AccessInput }> {
  const { op, input } = await s3Call(command);
  return { op, input, requests: requestsFor(S3_ACCESS, 's3', op, input) };
}

/** What every SigV4 request of the SDK carries. */
function base(input: S3AccessInput): AccessContext {
  return {
    'aws:RequestedRegion': REGION,
    'aws:SecureTransport': false,
    's3:ResourceAccount': ACCOUNT,
    's3:authType': 'REST-HEADER',
    's3:signatureversion': 'AWS4-HMAC-SHA256',
    's3:x-amz-content-sha256': input.headers['x-amz-content-sha256'] as string,
  };
}

beforeAll(async () => {
  await s3Call(new CreateBucketCommand({ Bucket: BUCKET }));
});

describe('S3 access', () => {
  it('authorizes the wait record PutObject on the object ARN', async () => {
    // Prepare: the callback token record of a wait (waits/<region>/<image>)
    const command = new PutObjectCommand({
      Bucket: BUCKET,
      Key: 'waits/us-east-1/ami-0123456789abcdef0.json',
      Body: '{"token":"AQ..."}',
      ContentType: 'application/json',
    });

    // Act
    const { op, input, requests } = await access(command);

    // Assess
    expect(op).toBe('PutObject');
    expect(requests).toEqual([
      { action: 's3:PutObject', resource: `arn:aws:s3:::${BUCKET}/waits/us-east-1/ami-0123456789abcdef0.json`, context: base(input) },
    ]);
  });

  it('also needs s3:PutObjectAcl when the write sets an ACL (a bundle manifest with aws-exec-read)', async () => {
    // Prepare
    const command = new PutObjectCommand({
      Bucket: BUCKET,
      Key: 'bundles/web/image.manifest.xml',
      Body: '<manifest/>',
      ACL: 'aws-exec-read',
    });

    // Act
    const { input, requests } = await access(command);

    // Assess
    const resource = `arn:aws:s3:::${BUCKET}/bundles/web/image.manifest.xml`;
    expect(requests).toEqual([
      { action: 's3:PutObject', resource, context: { ...base(input), 's3:x-amz-acl': 'aws-exec-read' } },
      { action: 's3:PutObjectAcl', resource, context: { ...base(input), 's3:x-amz-acl': 'aws-exec-read' } },
    ]);
  });

  it('authorizes ListObjectsV2 on the bucket with the prefix', async () => {
    // Prepare: the retention's listing of a run's results
    const command = new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'retention/runs/r1/results/us-east-1/', MaxKeys: 100 });

    // Act
    const { op, input, requests } = await access(command);

    // Assess
    expect(op).toBe('ListObjectsV2');
    expect(requests).toEqual([
      {
        action: 's3:ListBucket',
        resource: `arn:aws:s3:::${BUCKET}`,
        context: { ...base(input), 's3:prefix': 'retention/runs/r1/results/us-east-1/', 's3:max-keys': 100 },
      },
    ]);
  });

  it('supplies an empty s3:prefix to a listing without one', async () => {
    // Act
    const { requests } = await access(new ListObjectsV2Command({ Bucket: BUCKET, Delimiter: '/' }));

    // Assess
    expect(requests[0]?.context).toMatchObject({ 's3:prefix': '', 's3:delimiter': '/' });
    expect(requests[0]?.context?.['s3:max-keys']).toBeUndefined();
  });

  it('authorizes GetObject on the object, and a missing key separately for s3:ListBucket with the key as prefix', async () => {
    // Prepare: the retention ledger that does not exist yet (issue 10)
    const command = new GetObjectCommand({ Bucket: BUCKET, Key: 'retention/ledger/web.json' });

    // Act
    const { op, input, requests } = await access(command);
    const second = missingKeyCheck(input);

    // Assess
    expect(op).toBe('GetObject');
    expect(requests).toEqual([
      { action: 's3:GetObject', resource: `arn:aws:s3:::${BUCKET}/retention/ledger/web.json`, context: base(input) },
    ]);
    expect(second).toEqual({
      action: 's3:ListBucket',
      resource: `arn:aws:s3:::${BUCKET}`,
      context: { ...base(input), 's3:prefix': 'retention/ledger/web.json' },
    });
  });

  it('authorizes HeadBucket as s3:ListBucket', async () => {
    // Act
    const { op, requests } = await access(new HeadBucketCommand({ Bucket: BUCKET }));

    // Assess
    expect(op).toBe('HeadBucket');
    expect(requests.map((r) => [r.action, r.resource])).toEqual([['s3:ListBucket', `arn:aws:s3:::${BUCKET}`]]);
  });

  it('authorizes CopyObject for reading the source and writing the destination', async () => {
    // Prepare: a staged bundle part copied to its final name
    await s3Call(new PutObjectCommand({ Bucket: BUCKET, Key: 'bundles/web/image.part.0.bundle-staging-1', Body: 'x' }));
    const command = new CopyObjectCommand({
      Bucket: BUCKET,
      Key: 'bundles/web/image.part.0',
      CopySource: `${BUCKET}/bundles/web/image.part.0.bundle-staging-1`,
    });

    // Act
    const { op, input, requests } = await access(command);

    // Assess
    expect(op).toBe('CopyObject');
    expect(requests).toEqual([
      { action: 's3:GetObject', resource: `arn:aws:s3:::${BUCKET}/bundles/web/image.part.0.bundle-staging-1`, context: base(input) },
      {
        action: 's3:PutObject',
        resource: `arn:aws:s3:::${BUCKET}/bundles/web/image.part.0`,
        context: { ...base(input), 's3:x-amz-copy-source': `${BUCKET}/bundles/web/image.part.0.bundle-staging-1` },
      },
    ]);
  });

  it('authorizes each key of DeleteObjects on its own, and nothing for the request as a whole', async () => {
    // Prepare
    const command = new DeleteObjectsCommand({
      Bucket: BUCKET,
      Delete: { Objects: [{ Key: 'bundles/web/image.part.0' }, { Key: 'bundles/web/image.manifest.xml' }] },
    });

    // Act
    const { op, input, requests } = await access(command);
    const items = S3_ITEM_ACCESS.DeleteObjects?.(input);

    // Assess
    expect(op).toBe('DeleteObjects');
    expect(requests).toEqual([]);
    expect(items).toEqual([
      {
        item: 'bundles/web/image.part.0',
        deniedCode: 'AccessDenied',
        requests: [{ action: 's3:DeleteObject', resource: `arn:aws:s3:::${BUCKET}/bundles/web/image.part.0`, context: base(input) }],
      },
      {
        item: 'bundles/web/image.manifest.xml',
        deniedCode: 'AccessDenied',
        requests: [{ action: 's3:DeleteObject', resource: `arn:aws:s3:::${BUCKET}/bundles/web/image.manifest.xml`, context: base(input) }],
      },
    ]);
  });

  it('authorizes an SSE-KMS write for kms:GenerateDataKey through S3 with the object as encryption context', async () => {
    // Prepare
    const command = new PutObjectCommand({ Bucket: BUCKET, Key: 'secret.json', Body: '{}', ServerSideEncryption: 'aws:kms' });

    // Act
    const { requests } = await access(command);

    // Assess
    expect(requests[0]?.context).toMatchObject({ 's3:x-amz-server-side-encryption': 'aws:kms' });
    expect(requests[1]).toMatchObject({
      action: 'kms:GenerateDataKey',
      context: { 'kms:ViaService': 's3.us-east-1.amazonaws.com', 'kms:EncryptionContext:aws:s3:arn': `arn:aws:s3:::${BUCKET}/secret.json` },
    });
    expect(requests[1]?.resource).toMatch(/^arn:aws:kms:us-east-1:111122223333:key\/[0-9a-f-]{36}$/);
  });

  it('authorizes CreateBucket with an ownership header for s3:PutBucketOwnershipControls too', async () => {
    // Prepare
    const command = new CreateBucketCommand({
      Bucket: 'another-bucket-1',
      ObjectOwnership: 'BucketOwnerEnforced',
      CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' },
    });

    // Act
    const { op, requests } = await access(command);

    // Assess
    expect(op).toBe('CreateBucket');
    expect(requests.map((r) => [r.action, r.context?.['s3:x-amz-object-ownership'], r.context?.['s3:locationconstraint']])).toEqual([
      ['s3:CreateBucket', 'BucketOwnerEnforced', 'eu-west-1'],
      ['s3:PutBucketOwnershipControls', undefined, undefined],
    ]);
  });
});
