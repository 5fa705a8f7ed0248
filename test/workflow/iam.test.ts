import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type BuildRequest } from '../../functions/lib/build-request.js';
import type { JsonObject, JsonValue } from '../../local/json.js';
import type { CfnTemplate } from '../../local/template/cfn.js';
import { runBuild, startHarness, type Harness, webBuildRequest } from './harness.js';

/**
 * IAM on the local cloud refuses what AWS refuses: a deployment whose role lacks one action
 * fails where it would fail in AWS, with AWS's error and the function and action named, and
 * S3 tells a caller without s3:ListBucket nothing about which keys exist.
 */
function request(): BuildRequest {
  return webBuildRequest();
}

/** The template with `action` taken out of every statement of `role`'s inline policies. */
function withoutAction(role: string, action: string): (t: CfnTemplate) => CfnTemplate {
  return (t) => {
    const policies = (t.Resources[role]?.Properties?.Policies ?? []) as JsonObject[];
    let removed = 0;
    for (const p of policies) {
      const doc = p.PolicyDocument as { Statement: JsonObject[] };
      doc.Statement = doc.Statement.flatMap((s) => {
        const actions = Array.isArray(s.Action) ? (s.Action as JsonValue[]) : [s.Action ?? null];
        const kept = actions.filter((a) => a !== action);
        removed += actions.length - kept.length;
        return kept.length === 0 ? [] : [{ ...s, Action: kept }];
      });
    }
    if (removed === 0) throw new Error(`${role} has no ${action} to remove`);
    return t;
  };
}

describe('IAM on the local cloud', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('does fail the build with UnauthorizedOperation naming the function and the action when its role lacks the action', async () => {
    // Prepare: the packaged template, with ec2:CreateImage taken from the createImage role.
    const denials: string[] = [];
    h = await startHarness({ editTemplate: withoutAction('CreateImageRole', 'ec2:CreateImage'), log: (l) => denials.push(l) });

    // Act
    const exec = await runBuild(h, request());

    // Assess: the step fails as EC2 refuses, and nothing was created.
    expect(exec.status).toBe('FAILED');
    expect(exec.error).toBe('UnauthorizedOperation');
    expect(exec.cause).toMatch(
      /assumed-role\/[^/]*CreateImageRole[^/]*\/ami-factory-dev-createImage is not authorized to perform: ec2:CreateImage/,
    );
    expect(
      denials.some((l) =>
        /DENIED createImage: ec2:CreateImage on arn:aws:ec2:us-east-1:111122223333:instance\/i-\w+ — no statement allows/.test(l),
      ),
    ).toBe(true);
    expect(h.cloud.authorizer.usage().createImage?.['ec2:CreateImage']).toEqual({ allowed: 0, denied: 1 });
    expect(h.cloud.ec2.images('us-east-1').filter((i) => i.tags['ami-factory:build-id'] !== undefined)).toEqual([]);
  });

  it('does build with the packaged template as it is', async () => {
    h = await startHarness();
    const exec = await runBuild(h, request());
    expect(exec.status).toBe('SUCCEEDED');
    expect(h.cloud.authorizer.denials).toEqual([]);
  });

  it('does answer 403 AccessDenied, not 404, for a missing key to a role without s3:ListBucket', async () => {
    // Prepare: two roles of the account, one with only s3:GetObject, one that may also list.
    h = await startHarness({ schedules: false });
    const bucket = h.cloud.stateBucket;
    const role = (name: string, actions: JsonObject[]): S3Client => {
      const arn = `arn:aws:iam::111122223333:role/${name}`;
      h?.cloud.identity.putRole({
        name,
        arn,
        path: '/',
        trustPolicy: {},
        policies: [{ name: `${name}/s3`, document: { Version: '2012-10-17', Statement: actions } }],
        managedPolicyArns: [],
      });
      const c = h?.cloud.identity.assumeRole(arn, 'test') ?? { accessKeyId: '', secretAccessKey: '', sessionToken: '' };
      return new S3Client({ region: 'us-east-1', endpoint: h?.cloud.endpoint, credentials: c, maxAttempts: 1 });
    };
    // The state bucket is SSE-KMS: reading an object also decrypts its data key with the bucket's key.
    const stateKey = h.cloud.stack.kmsKeys.find((k) => k.logicalId === 'FactoryStateKey')?.arn ?? '';
    const reader = role('GetOnly', [
      { Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` },
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: stateKey },
    ]);
    const lister = role('GetAndList', [
      { Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${bucket}` },
    ]);
    try {
      // Act / Assess
      await expect(reader.send(new GetObjectCommand({ Bucket: bucket, Key: 'missing.json' }))).rejects.toMatchObject({
        name: 'AccessDenied',
        $metadata: { httpStatusCode: 403 },
      });
      await expect(reader.send(new HeadObjectCommand({ Bucket: bucket, Key: 'missing.json' }))).rejects.toMatchObject({
        $metadata: { httpStatusCode: 403 },
      });
      await expect(lister.send(new GetObjectCommand({ Bucket: bucket, Key: 'missing.json' }))).rejects.toMatchObject({
        name: 'NoSuchKey',
        $metadata: { httpStatusCode: 404 },
      });
      // The reader reads what exists, and may not write.
      const admin = new S3Client({
        region: 'us-east-1',
        endpoint: h.cloud.endpoint,
        credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      });
      await admin.send(new PutObjectCommand({ Bucket: bucket, Key: 'there.json', Body: '{}' }));
      admin.destroy();
      await expect(reader.send(new GetObjectCommand({ Bucket: bucket, Key: 'there.json' }))).resolves.toMatchObject({ ContentLength: 2 });
      await expect(reader.send(new PutObjectCommand({ Bucket: bucket, Key: 'x.json', Body: '{}' }))).rejects.toMatchObject({
        name: 'AccessDenied',
      });
    } finally {
      reader.destroy();
      lister.destroy();
    }
  });
});
