import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketAclCommand,
  PutBucketAclCommand,
  GetBucketLocationCommand,
  GetObjectAclCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectAclCommand,
  PutObjectCommand,
  S3Client,
  paginateListObjectsV2,
  type Grant,
} from '@aws-sdk/client-s3';
import type { LocalRequest } from '../../local/http.js';
import { serveLocalServices } from '../../local/server.js';
import { createS3Service, type S3Service, type S3ServiceOptions } from '../../local/s3/service.js';
import { failure } from '../fixtures.js';

const ACCOUNT = '123456789012';
const ZA_TEAM = '6aa5a366c34c1cbe25dc49211496e913e0351eb0e8c37aa3477e40942ec6b97c';

interface Harness {
  service: S3Service;
  endpoint: string;
  client(region?: string): S3Client;
  close(): Promise<void>;
}

/** The local S3 behind node:http on a free port, requests built as the local cloud builds them. */
async function startS3(opts: Partial<S3ServiceOptions> = {}): Promise<Harness> {
  const service = createS3Service({ accountId: ACCOUNT, ...opts });
  const served = await serveLocalServices([service]);
  const endpoint = served.endpoint;
  const clients: S3Client[] = [];
  return {
    service,
    endpoint,
    client: (region = 'us-east-1') => {
      const c = new S3Client({
        region,
        endpoint,
        forcePathStyle: true,
        credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' },
        maxAttempts: 1,
      });
      clients.push(c);
      return c;
    },
    close: async () => {
      for (const c of clients) c.destroy();
      service.close();
      await served.close();
    },
  };
}

/** An unsigned request (raw HTTP), for what the SDK hides: error XML, virtual-host style. */
function raw(
  endpoint: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Buffer,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const u = new URL(endpoint);
  return new Promise((resolve, reject) => {
    const r = httpRequest({ host: u.hostname, port: u.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

describe('local S3 endpoint: buckets, objects, listings, ACLs', () => {
  let h: Harness;
  let s3: S3Client;
  beforeEach(async () => {
    h = await startS3();
    s3 = h.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'bundles' }));
  });
  afterEach(async () => {
    await h.close();
  });

  describe('buckets', () => {
    it('creates, lists, heads and deletes buckets', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'another-bucket' }));
      const list = await s3.send(new ListBucketsCommand({}));
      expect(list.Buckets?.map((b) => b.Name)).toEqual(['another-bucket', 'bundles']);
      expect(list.Owner?.ID).toMatch(/^[0-9a-f]{64}$/);
      const head = await s3.send(new HeadBucketCommand({ Bucket: 'bundles' }));
      expect(head.BucketRegion).toBe('us-east-1');
      await s3.send(new DeleteBucketCommand({ Bucket: 'another-bucket' }));
      expect(await failure(s3.send(new HeadBucketCommand({ Bucket: 'another-bucket' })))).toEqual({ name: 'NotFound', status: 404 });
    });

    it('re-creating a bucket you own answers 200 in us-east-1 (resetting its ACL) and BucketAlreadyOwnedByYou elsewhere, as S3 does', async () => {
      // Prepare
      await s3.send(new PutBucketAclCommand({ Bucket: 'bundles', ACL: 'public-read' }));
      const eu = h.client('eu-west-1');
      await eu.send(new CreateBucketCommand({ Bucket: 'eu-bundles' }));
      // Act
      const again = await s3.send(new CreateBucketCommand({ Bucket: 'bundles' }));
      const euAgain = await failure(eu.send(new CreateBucketCommand({ Bucket: 'eu-bundles' })));
      // Assess
      expect(again.$metadata.httpStatusCode).toBe(200);
      expect(again.Location).toBe('/bundles');
      const grants = (await s3.send(new GetBucketAclCommand({ Bucket: 'bundles' }))).Grants ?? [];
      expect(grants.map((g) => g.Permission)).toEqual(['FULL_CONTROL']);
      expect(euAgain).toEqual({ name: 'BucketAlreadyOwnedByYou', status: 409 });
    });

    it('keeps the LocationConstraint the SDK sends outside us-east-1 and rejects a mismatched one', async () => {
      const eu = h.client('eu-west-1');
      await eu.send(new CreateBucketCommand({ Bucket: 'eu-bundles' }));
      expect((await eu.send(new GetBucketLocationCommand({ Bucket: 'eu-bundles' }))).LocationConstraint).toBe('eu-west-1');
      expect((await s3.send(new GetBucketLocationCommand({ Bucket: 'bundles' }))).LocationConstraint).toBeUndefined();
      expect((await eu.send(new HeadBucketCommand({ Bucket: 'eu-bundles' }))).BucketRegion).toBe('eu-west-1');
      const mismatch = eu.send(
        new CreateBucketCommand({ Bucket: 'odd-bucket', CreateBucketConfiguration: { LocationConstraint: 'us-west-2' } }),
      );
      expect(await failure(mismatch)).toEqual({ name: 'IllegalLocationConstraintException', status: 400 });
    });

    it('refuses invalid names and deleting a bucket that holds objects (BucketNotEmpty)', async () => {
      const bad = await raw(h.endpoint, 'PUT', '/Bad_Name', {
        authorization: 'AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0',
      });
      expect(bad.status).toBe(400);
      expect(bad.body).toContain('<Code>InvalidBucketName</Code>');
      await s3.send(new PutObjectCommand({ Bucket: 'bundles', Key: 'a', Body: 'x' }));
      expect(await failure(s3.send(new DeleteBucketCommand({ Bucket: 'bundles' })))).toEqual({ name: 'BucketNotEmpty', status: 409 });
      await s3.send(new DeleteObjectCommand({ Bucket: 'bundles', Key: 'a' }));
      await s3.send(new DeleteBucketCommand({ Bucket: 'bundles' }));
      expect(await failure(s3.send(new PutObjectCommand({ Bucket: 'bundles', Key: 'a', Body: 'x' })))).toEqual({
        name: 'NoSuchBucket',
        status: 404,
      });
    });
  });

  describe('objects', () => {
    it('round-trips data, ETag, Content-Type and user metadata through Put/Get/HeadObject', async () => {
      const put = await s3.send(
        new PutObjectCommand({
          Bucket: 'bundles',
          Key: 'img/a.manifest.xml',
          Body: '<manifest/>',
          ContentType: 'text/xml',
          Metadata: { family: 'web', build: '42' },
        }),
      );
      expect(put.ETag).toBe(`"${createHash('md5').update('<manifest/>').digest('hex')}"`);
      const got = await s3.send(new GetObjectCommand({ Bucket: 'bundles', Key: 'img/a.manifest.xml' }));
      expect(await got.Body?.transformToString()).toBe('<manifest/>');
      expect(got).toMatchObject({ ETag: put.ETag, ContentType: 'text/xml', ContentLength: 11, Metadata: { family: 'web', build: '42' } });
      expect(got.LastModified).toBeInstanceOf(Date);
      const head = await s3.send(new HeadObjectCommand({ Bucket: 'bundles', Key: 'img/a.manifest.xml' }));
      expect(head).toMatchObject({ ETag: put.ETag, ContentLength: 11, ContentType: 'text/xml', Metadata: { family: 'web', build: '42' } });
      const plain = await s3.send(new HeadObjectCommand({ Bucket: 'bundles', Key: 'img/a.manifest.xml' }));
      expect(plain.AcceptRanges).toBe('bytes');
    });

    it('answers NoSuchKey / NoSuchBucket with S3 error XML, and HeadObject with a bodiless 404', async () => {
      expect(await failure(s3.send(new GetObjectCommand({ Bucket: 'bundles', Key: 'missing' })))).toEqual({
        name: 'NoSuchKey',
        status: 404,
      });
      expect(await failure(s3.send(new GetObjectCommand({ Bucket: 'nobucket', Key: 'k' })))).toEqual({ name: 'NoSuchBucket', status: 404 });
      expect(await failure(s3.send(new HeadObjectCommand({ Bucket: 'bundles', Key: 'missing' })))).toEqual({
        name: 'NotFound',
        status: 404,
      });
      const r = await raw(h.endpoint, 'GET', '/bundles/some%20dir/missing.xml');
      expect(r.status).toBe(404);
      expect(r.headers['content-type']).toBe('application/xml');
      expect(r.body).toMatch(
        /<Error><Code>NoSuchKey<\/Code><Message>The specified key does not exist.<\/Message><Key>some dir\/missing.xml<\/Key><RequestId>[0-9A-F]{16}<\/RequestId><\/Error>/,
      );
      expect(r.headers['x-amz-request-id']).toMatch(/^[0-9A-F]{16}$/);
      const head = await raw(h.endpoint, 'HEAD', '/bundles/missing');
      expect(head).toMatchObject({ status: 404, body: '' });
    });

    it('serves byte ranges (206 + Content-Range) and refuses unsatisfiable ones (InvalidRange 416)', async () => {
      await s3.send(new PutObjectCommand({ Bucket: 'bundles', Key: 'r', Body: '0123456789' }));
      const mid = await s3.send(new GetObjectCommand({ Bucket: 'bundles', Key: 'r', Range: 'bytes=2-5' }));
      expect(await mid.Body?.transformToString()).toBe('2345');
      expect(mid).toMatchObject({ ContentRange: 'bytes 2-5/10', ContentLength: 4 });
      expect(mid.$metadata.httpStatusCode).toBe(206);
      const tail = await s3.send(new GetObjectCommand({ Bucket: 'bundles', Key: 'r', Range: 'bytes=-3' }));
      expect(await tail.Body?.transformToString()).toBe('789');
      const open = await s3.send(new GetObjectCommand({ Bucket: 'bundles', Key: 'r', Range: 'bytes=7-100' }));
      expect(await open.Body?.transformToString()).toBe('789');
      expect(open.ContentRange).toBe('bytes 7-9/10');
      expect(await failure(s3.send(new GetObjectCommand({ Bucket: 'bundles', Key: 'r', Range: 'bytes=10-' })))).toEqual({
        name: 'InvalidRange',
        status: 416,
      });
    });

    it('honours If-None-Match (304) and If-Match (PreconditionFailed), on reads and conditional writes', async () => {
      const put = await s3.send(new PutObjectCommand({ Bucket: 'bundles', Key: 'c', Body: 'v1' }));
      const same = await failure(s3.send(new GetObjectCommand({ Bucket: 'bundles', Key: 'c', IfNoneMatch: put.ETag })));
      expect(same.status).toBe(304);
      const changed = await s3.send(new GetObjectCommand({ Bucket: 'bundles', Key: 'c', IfNoneMatch: '"0000"' }));
      expect(await changed.Body?.transformToString()).toBe('v1');
      expect(await failure(s3.send(new GetObjectCommand({ Bucket: 'bundles', Key: 'c', IfMatch: '"0000"' })))).toEqual({
        name: 'PreconditionFailed',
        status: 412,
      });
      const ok = await s3.send(new GetObjectCommand({ Bucket: 'bundles', Key: 'c', IfMatch: put.ETag }));
      expect(await ok.Body?.transformToString()).toBe('v1');
      // Conditional writes: create-only, and replace-only-this-version.
      expect(await failure(s3.send(new PutObjectCommand({ Bucket: 'bundles', Key: 'c', Body: 'v2', IfNoneMatch: '*' })))).toEqual({
        name: 'PreconditionFailed',
        status: 412,
      });
      expect(await failure(s3.send(new PutObjectCommand({ Bucket: 'bundles', Key: 'c', Body: 'v2', IfMatch: '"0000"' })))).toEqual({
        name: 'PreconditionFailed',
        status: 412,
      });
      await s3.send(new PutObjectCommand({ Bucket: 'bundles', Key: 'c', Body: 'v2', IfMatch: put.ETag }));
      expect(h.service.getObject('bundles', 'c')?.body.toString()).toBe('v2');
    });

    it('deletes idempotently, and in batches (quiet or verbose) with odd keys', async () => {
      const keys = ['x/1', 'x/2 with space', 'x/ü&<>"\'', 'x/3'];
      for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket: 'bundles', Key, Body: Key }));
      await s3.send(new DeleteObjectCommand({ Bucket: 'bundles', Key: 'x/3' }));
      await s3.send(new DeleteObjectCommand({ Bucket: 'bundles', Key: 'x/3' })); // again: still 204
      const verbose = await s3.send(
        new DeleteObjectsCommand({
          Bucket: 'bundles',
          Delete: { Objects: [{ Key: 'x/1' }, { Key: 'x/ü&<>"\'' }, { Key: 'never-existed' }] },
        }),
      );
      expect(verbose.Deleted?.map((d) => d.Key)).toEqual(['x/1', 'x/ü&<>"\'', 'never-existed']);
      expect(verbose.Errors).toBeUndefined();
      const quiet = await s3.send(
        new DeleteObjectsCommand({ Bucket: 'bundles', Delete: { Quiet: true, Objects: [{ Key: 'x/2 with space' }] } }),
      );
      expect(quiet.Deleted).toBeUndefined();
      expect(h.service.listKeys('bundles')).toEqual([]);
    });

    it('stores keys with any characters and lists them in UTF-8 byte order', async () => {
      const keys = [
        'plain',
        'a b+c',
        'pct%20not-decoded',
        'q?x=1#frag',
        '/leading',
        'double//slash',
        'trailing/',
        'ünï',
        '\u{1F600}',
        '\uFF5E',
        'quote\'"',
        'dot/./seg',
        'up/../x',
      ];
      for (const Key of keys) {
        await s3.send(new PutObjectCommand({ Bucket: 'bundles', Key, Body: `body of ${Key}` }));
        const got = await s3.send(new GetObjectCommand({ Bucket: 'bundles', Key }));
        expect(await got.Body?.transformToString()).toBe(`body of ${Key}`);
      }
      const listed = (await s3.send(new ListObjectsV2Command({ Bucket: 'bundles' }))).Contents?.map((c) => c.Key);
      const byUtf8 = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      expect(listed).toEqual(byUtf8);
      // U+FF5E sorts before U+1F600 in UTF-8 (EF BD 9E < F0 9F 98 80) though not in UTF-16.
      expect(listed?.indexOf('\uFF5E')).toBeLessThan(listed?.indexOf('\u{1F600}') ?? -1);
    });

    it('copies objects (metadata COPY or REPLACE) and refuses a no-op copy onto itself', async () => {
      await s3.send(
        new PutObjectCommand({ Bucket: 'bundles', Key: 'src/obj', Body: 'payload', ContentType: 'text/plain', Metadata: { a: '1' } }),
      );
      const copy = await s3.send(new CopyObjectCommand({ Bucket: 'bundles', Key: 'dst/obj', CopySource: 'bundles/src/obj' }));
      expect(copy.CopyObjectResult?.ETag).toBe((await s3.send(new HeadObjectCommand({ Bucket: 'bundles', Key: 'src/obj' }))).ETag);
      expect(await s3.send(new HeadObjectCommand({ Bucket: 'bundles', Key: 'dst/obj' }))).toMatchObject({
        ContentType: 'text/plain',
        Metadata: { a: '1' },
      });
      await s3.send(
        new CopyObjectCommand({
          Bucket: 'bundles',
          Key: 'dst/obj2',
          CopySource: 'bundles/src/obj',
          MetadataDirective: 'REPLACE',
          Metadata: { b: '2' },
        }),
      );
      const replaced = await s3.send(new HeadObjectCommand({ Bucket: 'bundles', Key: 'dst/obj2' }));
      expect(replaced.Metadata).toEqual({ b: '2' });
      expect(h.service.getObject('bundles', 'dst/obj2')?.body.toString()).toBe('payload');
      expect(await failure(s3.send(new CopyObjectCommand({ Bucket: 'bundles', Key: 'src/obj', CopySource: 'bundles/src/obj' })))).toEqual({
        name: 'InvalidRequest',
        status: 400,
      });
      expect(await failure(s3.send(new CopyObjectCommand({ Bucket: 'bundles', Key: 'x', CopySource: 'bundles/none' })))).toEqual({
        name: 'NoSuchKey',
        status: 404,
      });
    });
  });

  describe('listings', () => {
    const layout = [
      'a.txt',
      'img/one/x.part.0',
      'img/one/x.part.1',
      'img/one/x.manifest.xml',
      'img/two/y.part.0',
      'img/z.txt',
      'logs/1',
      'logs/2',
      'top.txt',
    ];
    beforeEach(async () => {
      for (const Key of layout) await s3.send(new PutObjectCommand({ Bucket: 'bundles', Key, Body: Key }));
    });

    it('lists with prefix and delimiter: Contents, CommonPrefixes, KeyCount', async () => {
      const root = await s3.send(new ListObjectsV2Command({ Bucket: 'bundles', Delimiter: '/' }));
      expect(root.Contents?.map((c) => c.Key)).toEqual(['a.txt', 'top.txt']);
      expect(root.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['img/', 'logs/']);
      expect(root).toMatchObject({ KeyCount: 4, IsTruncated: false, Delimiter: '/', MaxKeys: 1000, Name: 'bundles' });
      const img = await s3.send(new ListObjectsV2Command({ Bucket: 'bundles', Prefix: 'img/', Delimiter: '/' }));
      expect(img.Contents?.map((c) => c.Key)).toEqual(['img/z.txt']);
      expect(img.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['img/one/', 'img/two/']);
      const one = await s3.send(new ListObjectsV2Command({ Bucket: 'bundles', Prefix: 'img/one/' }));
      expect(one.Contents?.map((c) => [c.Key, c.Size, c.StorageClass])).toEqual([
        ['img/one/x.manifest.xml', 22, 'STANDARD'],
        ['img/one/x.part.0', 16, 'STANDARD'],
        ['img/one/x.part.1', 16, 'STANDARD'],
      ]);
      expect(one.Contents?.[0]?.ETag).toMatch(/^"[0-9a-f]{32}"$/);
    });

    it('paginates with max-keys and continuation tokens, common prefixes counted once and never repeated', async () => {
      const pages: { keys: string[]; prefixes: string[]; count: number | undefined; truncated: boolean | undefined }[] = [];
      let token: string | undefined;
      do {
        const r = await s3.send(new ListObjectsV2Command({ Bucket: 'bundles', Delimiter: '/', MaxKeys: 1, ContinuationToken: token }));
        pages.push({
          keys: (r.Contents ?? []).map((c) => c.Key ?? ''),
          prefixes: (r.CommonPrefixes ?? []).map((p) => p.Prefix ?? ''),
          count: r.KeyCount,
          truncated: r.IsTruncated,
        });
        token = r.NextContinuationToken;
      } while (token !== undefined);
      expect(pages.map((p) => [...p.keys, ...p.prefixes])).toEqual([['a.txt'], ['img/'], ['logs/'], ['top.txt']]);
      expect(pages.map((p) => p.truncated)).toEqual([true, true, true, false]);
      expect(pages.every((p) => p.count === 1)).toBe(true);
      const all: string[] = [];
      for await (const page of paginateListObjectsV2({ client: s3, pageSize: 2 }, { Bucket: 'bundles', Prefix: 'img/' })) {
        all.push(...(page.Contents ?? []).map((c) => c.Key ?? ''));
      }
      expect(all).toEqual(layout.filter((k) => k.startsWith('img/')).sort());
      const after = await s3.send(new ListObjectsV2Command({ Bucket: 'bundles', StartAfter: 'logs/1' }));
      expect(after.Contents?.map((c) => c.Key)).toEqual(['logs/2', 'top.txt']);
      expect(after.StartAfter).toBe('logs/1');
      expect(await failure(s3.send(new ListObjectsV2Command({ Bucket: 'bundles', ContinuationToken: 'bogus' })))).toEqual({
        name: 'InvalidArgument',
        status: 400,
      });
    });

    it('serves ListObjects (v1) with Marker and NextMarker', async () => {
      const first = await s3.send(new ListObjectsCommand({ Bucket: 'bundles', Delimiter: '/', MaxKeys: 2 }));
      expect(first.Contents?.map((c) => c.Key)).toEqual(['a.txt']);
      expect(first.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['img/']);
      expect(first).toMatchObject({ IsTruncated: true, NextMarker: 'img/' });
      const second = await s3.send(new ListObjectsCommand({ Bucket: 'bundles', Delimiter: '/', MaxKeys: 2, Marker: first.NextMarker }));
      expect([...(second.Contents ?? []).map((c) => c.Key), ...(second.CommonPrefixes ?? []).map((p) => p.Prefix)]).toEqual([
        'top.txt',
        'logs/',
      ]);
      expect(second.IsTruncated).toBe(false);
      expect(second.Contents?.[0]?.Owner?.ID).toMatch(/^[0-9a-f]{64}$/);
    });
  });

  describe('ACLs', () => {
    const grantsOf = (grants: Grant[] | undefined): string[] =>
      (grants ?? []).map((g) => `${g.Grantee?.Type}:${g.Grantee?.ID ?? g.Grantee?.URI}:${g.Permission}`).sort();

    it('expands aws-exec-read into owner FULL_CONTROL + EC2 (za-team) READ, visible through GetObjectAcl and getObject()', async () => {
      await s3.send(new PutObjectCommand({ Bucket: 'bundles', Key: 'b/img.part.0', Body: 'part', ACL: 'aws-exec-read' }));
      const acl = await s3.send(new GetObjectAclCommand({ Bucket: 'bundles', Key: 'b/img.part.0' }));
      const owner = acl.Owner?.ID;
      expect(owner).toMatch(/^[0-9a-f]{64}$/);
      expect(grantsOf(acl.Grants)).toEqual([`CanonicalUser:${ZA_TEAM}:READ`, `CanonicalUser:${owner}:FULL_CONTROL`].sort());
      expect(acl.Grants?.find((g) => g.Grantee?.ID === ZA_TEAM)?.Grantee?.DisplayName).toBe('za-team');
      const view = h.service.getObject('bundles', 'b/img.part.0');
      expect(view).toMatchObject({ acl: 'aws-exec-read', body: Buffer.from('part'), ec2Readable: true });
      expect(view?.grants.some((g) => g.grantee.type === 'CanonicalUser' && g.grantee.id === ZA_TEAM && g.permission === 'READ')).toBe(
        true,
      );
    });

    it('defaults to private, and PutObjectAcl replaces the ACL with a canned one or explicit grants', async () => {
      await s3.send(new PutObjectCommand({ Bucket: 'bundles', Key: 'k', Body: 'x' }));
      expect(h.service.getObject('bundles', 'k')).toMatchObject({ acl: 'private', ec2Readable: false });
      await s3.send(new PutObjectAclCommand({ Bucket: 'bundles', Key: 'k', ACL: 'public-read' }));
      expect(grantsOf((await s3.send(new GetObjectAclCommand({ Bucket: 'bundles', Key: 'k' }))).Grants)).toContain(
        'Group:http://acs.amazonaws.com/groups/global/AllUsers:READ',
      );
      expect(h.service.getObject('bundles', 'k')?.acl).toBe('public-read');
      const current = await s3.send(new GetObjectAclCommand({ Bucket: 'bundles', Key: 'k' }));
      await s3.send(
        new PutObjectAclCommand({
          Bucket: 'bundles',
          Key: 'k',
          AccessControlPolicy: {
            Owner: current.Owner,
            Grants: [
              { Grantee: { Type: 'CanonicalUser', ID: current.Owner?.ID }, Permission: 'FULL_CONTROL' },
              { Grantee: { Type: 'CanonicalUser', ID: ZA_TEAM }, Permission: 'READ' },
            ],
          },
        }),
      );
      expect(h.service.getObject('bundles', 'k')?.acl).toBe('aws-exec-read'); // the grants amount to it
      await s3.send(
        new PutObjectAclCommand({
          Bucket: 'bundles',
          Key: 'k',
          GrantRead: 'uri="http://acs.amazonaws.com/groups/global/AuthenticatedUsers"',
        }),
      );
      expect(grantsOf((await s3.send(new GetObjectAclCommand({ Bucket: 'bundles', Key: 'k' }))).Grants)).toEqual([
        'Group:http://acs.amazonaws.com/groups/global/AuthenticatedUsers:READ',
      ]);
      expect(h.service.getObject('bundles', 'k')?.acl).toBe('custom');
      expect(await failure(s3.send(new PutObjectAclCommand({ Bucket: 'bundles', Key: 'nope', ACL: 'private' })))).toEqual({
        name: 'NoSuchKey',
        status: 404,
      });
    });

    it('accepts every canned ACL the bundler may use and rejects unknown ones', async () => {
      for (const ACL of ['private', 'public-read', 'aws-exec-read', 'authenticated-read', 'bucket-owner-full-control'] as const) {
        await s3.send(new PutObjectCommand({ Bucket: 'bundles', Key: `acl/${ACL}`, Body: 'x', ACL }));
        expect(h.service.getObject('bundles', `acl/${ACL}`)?.acl).toBe(ACL);
      }
      const bad = await raw(h.endpoint, 'PUT', '/bundles/acl/bad', { 'x-amz-acl': 'everyone-rw' }, Buffer.from('x'));
      expect(bad.status).toBe(400);
      expect(bad.body).toContain('<Code>InvalidArgument</Code>');
      expect((await s3.send(new GetBucketAclCommand({ Bucket: 'bundles' }))).Grants?.[0]?.Permission).toBe('FULL_CONTROL');
    });

    it('refuses ACLs in a bucket with ObjectOwnership BucketOwnerEnforced, as S3 does', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'enforced', ObjectOwnership: 'BucketOwnerEnforced' }));
      const put = s3.send(new PutObjectCommand({ Bucket: 'enforced', Key: 'm.manifest.xml', Body: 'x', ACL: 'aws-exec-read' }));
      expect(await failure(put)).toEqual({ name: 'AccessControlListNotSupported', status: 400 });
      await s3.send(new PutObjectCommand({ Bucket: 'enforced', Key: 'ok', Body: 'x', ACL: 'bucket-owner-full-control' }));
    });
  });

  describe('routing', () => {
    it('matches SigV4 s3 requests, presigned ones and unambiguous unsigned ones; leaves other services alone', () => {
      const req = (over: Partial<LocalRequest>): LocalRequest => ({
        method: 'GET',
        path: '/',
        query: new URLSearchParams(),
        headers: {},
        body: Buffer.alloc(0),
        region: 'us-east-1',
        service: undefined,
        accessKeyId: undefined,
        ...over,
      });
      expect(h.service.matches(req({ service: 's3' }))).toBe(true);
      expect(h.service.matches(req({ service: 'ec2', path: '/bundles' }))).toBe(false);
      expect(
        h.service.matches(
          req({ path: '/bundles/k', query: new URLSearchParams('X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fs3%2Faws4_request') }),
        ),
      ).toBe(true);
      expect(h.service.matches(req({ path: '/bundles/key' }))).toBe(true);
      expect(h.service.matches(req({ path: '/k', headers: { host: 'bundles.localhost:4566' } }))).toBe(true);
      expect(h.service.matches(req({ method: 'POST', path: '/', headers: { 'content-type': 'application/x-www-form-urlencoded' } }))).toBe(
        false,
      );
      expect(h.service.matches(req({ method: 'POST', path: '/', headers: { 'x-amz-target': 'AWSStepFunctions.StartExecution' } }))).toBe(
        false,
      );
      expect(h.service.matches(req({ path: '/', query: new URLSearchParams('Action=DescribeImages') }))).toBe(false);
      expect(h.service.matches(req({ path: '/_local/health' }))).toBe(false);
    });

    it('serves virtual-host style requests (bucket.localhost)', async () => {
      const put = await raw(h.endpoint, 'PUT', '/vh/key.txt', { host: 'bundles.localhost' }, Buffer.from('virtual'));
      expect(put.status).toBe(200);
      const get = await raw(h.endpoint, 'GET', '/vh/key.txt', { host: 'bundles.localhost' });
      expect(get).toMatchObject({ status: 200, body: 'virtual' });
      expect(h.service.listKeys('bundles', 'vh/')).toEqual(['vh/key.txt']);
    });

    it('counts calls per operation and answers unsupported subresources NotImplemented', async () => {
      await s3.send(new PutObjectCommand({ Bucket: 'bundles', Key: 'k', Body: 'x' }));
      await s3.send(new GetObjectCommand({ Bucket: 'bundles', Key: 'k' }));
      await s3.send(new ListObjectsV2Command({ Bucket: 'bundles' }));
      const r = await raw(h.endpoint, 'GET', '/bundles/k?tagging');
      expect(r.status).toBe(501);
      expect(r.body).toContain('<Code>NotImplemented</Code>');
      expect(h.service.stats()).toMatchObject({ CreateBucket: 1, PutObject: 1, GetObject: 1, ListObjectsV2: 1 });
    });
  });
});
