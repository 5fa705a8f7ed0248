import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectAclCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type ChecksumAlgorithm,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import type { LocalRequest, LocalService } from '../../local/http.js';
import { serveLocalServices } from '../../local/server.js';
import { createS3Service, type S3Service, type S3ServiceOptions } from '../../local/s3/service.js';
import { failure } from '../fixtures.js';

const ACCOUNT = '123456789012';
const MiB = 1024 * 1024;

interface Harness {
  service: S3Service;
  endpoint: string;
  /** Headers of every request received, in order. */
  seen: IncomingHttpHeaders[];
  s3: S3Client;
  close(): Promise<void>;
}

/** The local S3 behind node:http on a free port (object data streamed from disk), with an SDK client. */
async function startS3(opts: Partial<S3ServiceOptions> = {}): Promise<Harness> {
  const service = createS3Service({ accountId: ACCOUNT, ...opts });
  const seen: IncomingHttpHeaders[] = [];
  // The service, recording the headers of every request it receives.
  const recording: LocalService & Pick<S3Service, 'handleStream'> = {
    name: service.name,
    matches: (req) => service.matches(req),
    handle: (req) => service.handle(req),
    handleStream: (req) => {
      seen.push(req.headers);
      return service.handleStream(req);
    },
  };
  const served = await serveLocalServices([recording]);
  const endpoint = served.endpoint;
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  return {
    service,
    endpoint,
    seen,
    s3,
    close: async () => {
      s3.destroy();
      service.close();
      await served.close();
    },
  };
}

const SIGNED = 'AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0';

/** A hand-made signed-scope request, for wire formats the SDK does not produce on demand. */
function raw(
  endpoint: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<{ status: number; body: string }> {
  const u = new URL(endpoint);
  return new Promise((resolve, reject) => {
    const r = httpRequest({ host: u.hostname, port: u.port, method, path, headers: { authorization: SIGNED, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

const crc32b64 = (data: Buffer): string => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(crc32(data));
  return b.toString('base64');
};
const md5b64 = (data: Buffer | string): string => createHash('md5').update(data).digest('base64');
const md5hex = (data: Buffer): string => createHash('md5').update(data).digest('hex');

/** The whole body of a GetObject answer (read through the SDK, so its checksum validation runs). */
async function bodyOf(r: { Body?: { transformToByteArray(): Promise<Uint8Array> } }): Promise<Buffer> {
  return Buffer.from((await r.Body?.transformToByteArray()) ?? []);
}

/** Byte equality without jest's element-by-element diff (slow on megabytes). */
function expectBytes(actual: Buffer, expected: Buffer | undefined): void {
  expect(actual.length).toBe(expected?.length);
  expect(md5hex(actual)).toBe(md5hex(expected ?? Buffer.alloc(0)));
}

/** `size` deterministic pseudo-random bytes. */
function bytes(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size);
  let x = seed * 2654435761;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** aws-chunked framing of `data` in `chunk`-byte chunks, with optional chunk signatures and trailer lines. */
function awsChunked(data: Buffer, chunk: number, trailers: string[], signed = false): Buffer {
  const parts: Buffer[] = [];
  const sig = signed ? `;chunk-signature=${'0'.repeat(64)}` : '';
  for (let i = 0; i < data.length; i += chunk) {
    const piece = data.subarray(i, i + chunk);
    parts.push(Buffer.from(`${piece.length.toString(16)}${sig}\r\n`), piece, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`0${sig}\r\n`));
  for (const t of trailers) parts.push(Buffer.from(`${t}\r\n`));
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

describe('local S3 endpoint: integrity, streaming, multipart, persistence', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startS3({ minPartSize: 1024 });
    await h.s3.send(new CreateBucketCommand({ Bucket: 'bundles' }));
  });
  afterEach(async () => {
    await h.close();
  });

  describe('upload integrity', () => {
    it('verifies Content-MD5: BadDigest when it does not match, InvalidDigest when it is not an MD5', async () => {
      await h.s3.send(new PutObjectCommand({ Bucket: 'bundles', Key: 'm', Body: 'data', ContentMD5: md5b64('data') }));
      expect(h.service.getObject('bundles', 'm')?.body.toString()).toBe('data');
      expect(
        await failure(h.s3.send(new PutObjectCommand({ Bucket: 'bundles', Key: 'm2', Body: 'data', ContentMD5: md5b64('other') }))),
      ).toEqual({ name: 'BadDigest', status: 400 });
      expect(
        await failure(h.s3.send(new PutObjectCommand({ Bucket: 'bundles', Key: 'm2', Body: 'data', ContentMD5: 'bm90LW1kNQ==' }))),
      ).toEqual({ name: 'InvalidDigest', status: 400 });
      expect(h.service.getObject('bundles', 'm2')).toBeUndefined();
      const r = await raw(h.endpoint, 'PUT', '/bundles/m3', { 'content-md5': md5b64('other') }, Buffer.from('data'));
      expect(r.body).toContain(`<ExpectedDigest>${md5b64('other')}</ExpectedDigest><CalculatedDigest>${md5b64('data')}</CalculatedDigest>`);
    });

    it("verifies, stores and returns the SDK's default CRC32; a wrong one is BadDigest", async () => {
      const body = Buffer.from('hello, bundle');
      const put = await h.s3.send(new PutObjectCommand({ Bucket: 'bundles', Key: 'c', Body: body }));
      expect(h.seen.at(-1)?.['x-amz-checksum-crc32']).toBe(crc32b64(body));
      expect(put.ChecksumCRC32).toBe(crc32b64(body));
      const got = await h.s3.send(new GetObjectCommand({ Bucket: 'bundles', Key: 'c' })); // the SDK asks for (and validates) checksums by default
      expect(h.seen.at(-1)?.['x-amz-checksum-mode']).toBe('ENABLED');
      expect(got).toMatchObject({ ChecksumCRC32: crc32b64(body), ChecksumType: 'FULL_OBJECT' });
      expectBytes(await bodyOf(got), body);
      const ranged = await h.s3.send(new GetObjectCommand({ Bucket: 'bundles', Key: 'c', Range: 'bytes=0-4' }));
      expect(ranged.ChecksumCRC32).toBeUndefined(); // a checksum describes the whole object only
      expect(await ranged.Body?.transformToString()).toBe('hello');
      const wrong = h.s3.send(
        new PutObjectCommand({ Bucket: 'bundles', Key: 'c2', Body: body, ChecksumCRC32: crc32b64(Buffer.from('other')) }),
      );
      expect(await failure(wrong)).toEqual({ name: 'BadDigest', status: 400 });
    });

    it.each(['CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as ChecksumAlgorithm[])(
      'round-trips a %s checksum computed by the SDK',
      async (alg) => {
        const body = bytes(300_000, 7);
        const put = await h.s3.send(new PutObjectCommand({ Bucket: 'bundles', Key: `k-${alg}`, Body: body, ChecksumAlgorithm: alg }));
        const field = `Checksum${alg}` as 'ChecksumCRC32C';
        expect(put[field]).toBe(h.seen.at(-1)?.[`x-amz-checksum-${alg.toLowerCase()}`]);
        const got = await h.s3.send(new GetObjectCommand({ Bucket: 'bundles', Key: `k-${alg}`, ChecksumMode: 'ENABLED' }));
        expect(got[field]).toBe(put[field]);
        expectBytes(await bodyOf(got), body);
      },
    );

    it('rejects a payload hash or algorithm header that disagrees with the body', async () => {
      const sha = await raw(
        h.endpoint,
        'PUT',
        '/bundles/s',
        { 'x-amz-content-sha256': createHash('sha256').update('other').digest('hex') },
        Buffer.from('data'),
      );
      expect(sha.status).toBe(400);
      expect(sha.body).toContain('<Code>XAmzContentSHA256Mismatch</Code>');
      const alg = await raw(
        h.endpoint,
        'PUT',
        '/bundles/s',
        { 'x-amz-sdk-checksum-algorithm': 'SHA256', 'x-amz-checksum-crc32': crc32b64(Buffer.from('data')) },
        Buffer.from('data'),
      );
      expect(alg.body).toContain('<Code>InvalidRequest</Code>');
      const malformed = await raw(h.endpoint, 'PUT', '/bundles/s', { 'x-amz-checksum-crc32': 'not base64!' }, Buffer.from('data'));
      expect(malformed.body).toContain('<Code>InvalidRequest</Code>');
      expect(h.service.listKeys('bundles')).toEqual([]);
    });
  });

  describe('aws-chunked uploads', () => {
    it('decodes a Readable body the SDK sends aws-chunked with a CRC32 trailer', async () => {
      const body = bytes(3 * MiB + 123, 3);
      const pieces = [];
      for (let i = 0; i < body.length; i += 64 * 1024) pieces.push(body.subarray(i, i + 64 * 1024));
      const put = await h.s3.send(
        new PutObjectCommand({ Bucket: 'bundles', Key: 'streamed', Body: Readable.from(pieces), ContentLength: body.length }),
      );
      const sent = h.seen.at(-1);
      expect(sent).toMatchObject({
        'content-encoding': 'aws-chunked',
        'x-amz-trailer': 'x-amz-checksum-crc32',
        'x-amz-decoded-content-length': String(body.length),
      });
      expect(sent?.['x-amz-content-sha256']).toBe('STREAMING-UNSIGNED-PAYLOAD-TRAILER');
      expect(put).toMatchObject({ ETag: `"${md5hex(body)}"`, ChecksumCRC32: crc32b64(body) });
      const got = await h.s3.send(new GetObjectCommand({ Bucket: 'bundles', Key: 'streamed' }));
      expect(got.ContentEncoding).toBeUndefined(); // aws-chunked is transport, not the object's encoding
      expectBytes(await bodyOf(got), body);
    });

    it('decodes signed chunks (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) and verifies trailers', async () => {
      const data = bytes(20_000, 5);
      const signed = awsChunked(data, 8192, [], true);
      const ok = await raw(
        h.endpoint,
        'PUT',
        '/bundles/signed',
        {
          'content-encoding': 'aws-chunked',
          'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
          'x-amz-decoded-content-length': String(data.length),
          'content-md5': md5b64(data),
        },
        signed,
      );
      expect(ok.status).toBe(200);
      expectBytes(h.service.getObject('bundles', 'signed')?.body ?? Buffer.alloc(0), data);

      const trailerHeaders = {
        'content-encoding': 'aws-chunked',
        'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        'x-amz-trailer': 'x-amz-checksum-crc32',
        'x-amz-decoded-content-length': String(data.length),
      };
      const good = await raw(
        h.endpoint,
        'PUT',
        '/bundles/trailer',
        trailerHeaders,
        awsChunked(data, 4096, [`x-amz-checksum-crc32:${crc32b64(data)}`]),
      );
      expect(good.status).toBe(200);
      const bad = await raw(
        h.endpoint,
        'PUT',
        '/bundles/bad-trailer',
        trailerHeaders,
        awsChunked(data, 4096, [`x-amz-checksum-crc32:${crc32b64(Buffer.from('x'))}`]),
      );
      expect(bad.status).toBe(400);
      expect(bad.body).toContain('<Code>BadDigest</Code>');
      const missing = await raw(h.endpoint, 'PUT', '/bundles/no-trailer', trailerHeaders, awsChunked(data, 4096, []));
      expect(missing.body).toContain('<Code>MalformedTrailerError</Code>');
      const short = await raw(
        h.endpoint,
        'PUT',
        '/bundles/short',
        { ...trailerHeaders, 'x-amz-decoded-content-length': String(data.length + 1) },
        awsChunked(data, 4096, [`x-amz-checksum-crc32:${crc32b64(data)}`]),
      );
      expect(short.body).toContain('<Code>IncompleteBody</Code>');
      const truncated = await raw(h.endpoint, 'PUT', '/bundles/truncated', trailerHeaders, awsChunked(data, 4096, []).subarray(0, 5000));
      expect(truncated.status).toBe(400);
      expect(h.service.listKeys('bundles')).toEqual(['signed', 'trailer']);
    });
  });

  describe('multipart uploads', () => {
    async function upload(
      key: string,
      parts: Buffer[],
      extra: { ChecksumAlgorithm?: ChecksumAlgorithm } = {},
    ): Promise<{ uploadId: string; completed: CompletedPart[] }> {
      const created = await h.s3.send(new CreateMultipartUploadCommand({ Bucket: 'bundles', Key: key, ...extra }));
      const uploadId = created.UploadId ?? '';
      const completed: CompletedPart[] = [];
      for (const [i, Body] of parts.entries()) {
        const r = await h.s3.send(
          new UploadPartCommand({ Bucket: 'bundles', Key: key, UploadId: uploadId, PartNumber: i + 1, Body, ...extra }),
        );
        completed.push({
          PartNumber: i + 1,
          ETag: r.ETag,
          ...(extra.ChecksumAlgorithm === 'CRC32' ? { ChecksumCRC32: r.ChecksumCRC32 } : {}),
        });
      }
      return { uploadId, completed };
    }

    it('round-trips parts (Buffers and a stream) into one object: ETag, ListParts, partNumber reads, ACL', async () => {
      const parts = [bytes(300_000, 1), bytes(300_000, 2), bytes(1234, 3)];
      const whole = Buffer.concat(parts);
      const created = await h.s3.send(
        new CreateMultipartUploadCommand({
          Bucket: 'bundles',
          Key: 'img/x.img',
          ContentType: 'application/octet-stream',
          Metadata: { family: 'web' },
          ACL: 'aws-exec-read',
        }),
      );
      const UploadId = created.UploadId;
      expect(UploadId).toMatch(/^[A-Za-z0-9_-]{40,}$/);
      const etags: string[] = [];
      for (const [i, part] of parts.entries()) {
        const Body = i === 1 ? Readable.from([part.subarray(0, 100_000), part.subarray(100_000)]) : part;
        const r = await h.s3.send(
          new UploadPartCommand({ Bucket: 'bundles', Key: 'img/x.img', UploadId, PartNumber: i + 1, Body, ContentLength: part.length }),
        );
        expect(r.ETag).toBe(`"${md5hex(part)}"`);
        etags.push(r.ETag ?? '');
      }
      const listed = await h.s3.send(new ListPartsCommand({ Bucket: 'bundles', Key: 'img/x.img', UploadId }));
      expect(listed.Parts?.map((p) => [p.PartNumber, p.Size, p.ETag])).toEqual(parts.map((p, i) => [i + 1, p.length, etags[i]]));
      const page = await h.s3.send(new ListPartsCommand({ Bucket: 'bundles', Key: 'img/x.img', UploadId, MaxParts: 2 }));
      expect(page).toMatchObject({ IsTruncated: true, NextPartNumberMarker: '2' });
      expect((await h.s3.send(new ListMultipartUploadsCommand({ Bucket: 'bundles' }))).Uploads?.map((u) => [u.Key, u.UploadId])).toEqual([
        ['img/x.img', UploadId],
      ]);
      expect(h.service.listKeys('bundles')).toEqual([]); // invisible until completed

      const done = await h.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'bundles',
          Key: 'img/x.img',
          UploadId,
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
        }),
      );
      const expected = `"${md5hex(Buffer.concat(parts.map((p) => createHash('md5').update(p).digest())))}-3"`;
      expect(done).toMatchObject({ Bucket: 'bundles', Key: 'img/x.img', ETag: expected });
      const got = await h.s3.send(new GetObjectCommand({ Bucket: 'bundles', Key: 'img/x.img' }));
      expect(got).toMatchObject({
        ETag: expected,
        ContentLength: whole.length,
        ContentType: 'application/octet-stream',
        Metadata: { family: 'web' },
      });
      expectBytes(await bodyOf(got), whole);
      const second = await h.s3.send(new GetObjectCommand({ Bucket: 'bundles', Key: 'img/x.img', PartNumber: 2 }));
      expect(second.PartsCount).toBe(3);
      expectBytes(await bodyOf(second), parts[1]);
      const across = await h.s3.send(new GetObjectCommand({ Bucket: 'bundles', Key: 'img/x.img', Range: 'bytes=299990-300009' }));
      expectBytes(await bodyOf(across), whole.subarray(299_990, 300_010));
      const view = h.service.getObject('bundles', 'img/x.img');
      expect(view).toMatchObject({ acl: 'aws-exec-read', etag: expected, size: whole.length });
      expectBytes(view?.body ?? Buffer.alloc(0), whole);
      expect((await h.s3.send(new ListMultipartUploadsCommand({ Bucket: 'bundles' }))).Uploads).toBeUndefined();
      // A retried completion (Lambda retries) answers as the first one did.
      const again = await h.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'bundles',
          Key: 'img/x.img',
          UploadId,
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
        }),
      );
      expect(again.ETag).toBe(expected);
    });

    it('validates completions (InvalidPart, InvalidPartOrder) and aborts (NoSuchUpload)', async () => {
      const { uploadId: UploadId, completed } = await upload('v', [bytes(2000, 1), bytes(2000, 2)]);
      const complete = (Parts: CompletedPart[]): Promise<unknown> =>
        h.s3.send(new CompleteMultipartUploadCommand({ Bucket: 'bundles', Key: 'v', UploadId, MultipartUpload: { Parts } }));
      expect(await failure(complete([{ ...completed[0], ETag: '"00000000000000000000000000000000"' }]))).toEqual({
        name: 'InvalidPart',
        status: 400,
      });
      expect(await failure(complete([{ PartNumber: 3, ETag: completed[0]?.ETag }]))).toEqual({ name: 'InvalidPart', status: 400 });
      expect(await failure(complete([completed[1] ?? {}, completed[0] ?? {}]))).toEqual({ name: 'InvalidPartOrder', status: 400 });
      await h.s3.send(new AbortMultipartUploadCommand({ Bucket: 'bundles', Key: 'v', UploadId }));
      expect(await failure(complete(completed))).toEqual({ name: 'NoSuchUpload', status: 404 });
      expect(await failure(h.s3.send(new ListPartsCommand({ Bucket: 'bundles', Key: 'v', UploadId })))).toEqual({
        name: 'NoSuchUpload',
        status: 404,
      });
      const badPart = h.s3.send(new UploadPartCommand({ Bucket: 'bundles', Key: 'v', UploadId: 'nope', PartNumber: 1, Body: 'x' }));
      expect(await failure(badPart)).toEqual({ name: 'NoSuchUpload', status: 404 });
    });

    it("refuses parts below S3's 5 MiB minimum except the last (EntityTooSmall)", async () => {
      const strict = await startS3();
      try {
        await strict.s3.send(new CreateBucketCommand({ Bucket: 'bundles' }));
        const created = await strict.s3.send(new CreateMultipartUploadCommand({ Bucket: 'bundles', Key: 'k' }));
        const Parts: CompletedPart[] = [];
        for (const [i, size] of [5 * MiB - 1, 10].entries()) {
          const r = await strict.s3.send(
            new UploadPartCommand({
              Bucket: 'bundles',
              Key: 'k',
              UploadId: created.UploadId,
              PartNumber: i + 1,
              Body: Buffer.alloc(size, i),
            }),
          );
          Parts.push({ PartNumber: i + 1, ETag: r.ETag });
        }
        const done = strict.s3.send(
          new CompleteMultipartUploadCommand({ Bucket: 'bundles', Key: 'k', UploadId: created.UploadId, MultipartUpload: { Parts } }),
        );
        expect(await failure(done)).toEqual({ name: 'EntityTooSmall', status: 400 });
      } finally {
        await strict.close();
      }
    });

    it('verifies part checksums and builds composite (CRC32) and full-object (CRC64NVME) object checksums', async () => {
      const parts = [bytes(5000, 1), bytes(5000, 2), bytes(10, 3)];
      const { uploadId, completed } = await upload('composite', parts, { ChecksumAlgorithm: 'CRC32' });
      const done = await h.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'bundles',
          Key: 'composite',
          UploadId: uploadId,
          MultipartUpload: { Parts: completed },
        }),
      );
      const rawCrcs = Buffer.concat(parts.map((p) => Buffer.from(crc32b64(p), 'base64')));
      expect(done).toMatchObject({ ChecksumCRC32: `${crc32b64(rawCrcs)}-3`, ChecksumType: 'COMPOSITE' });
      const got = await h.s3.send(new GetObjectCommand({ Bucket: 'bundles', Key: 'composite' }));
      expectBytes(await bodyOf(got), Buffer.concat(parts));

      const created = await h.s3.send(
        new CreateMultipartUploadCommand({ Bucket: 'bundles', Key: 'full', ChecksumAlgorithm: 'CRC64NVME', ChecksumType: 'FULL_OBJECT' }),
      );
      const Parts: CompletedPart[] = [];
      for (const [i, Body] of parts.entries()) {
        const r = await h.s3.send(
          new UploadPartCommand({
            Bucket: 'bundles',
            Key: 'full',
            UploadId: created.UploadId,
            PartNumber: i + 1,
            Body,
            ChecksumAlgorithm: 'CRC64NVME',
          }),
        );
        Parts.push({ PartNumber: i + 1, ETag: r.ETag, ChecksumCRC64NVME: r.ChecksumCRC64NVME });
      }
      const full = await h.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'bundles',
          Key: 'full',
          UploadId: created.UploadId,
          ChecksumType: 'FULL_OBJECT',
          MultipartUpload: { Parts },
        }),
      );
      expect(full.ChecksumType).toBe('FULL_OBJECT');
      // Single-part reference: the same bytes uploaded whole, checksummed by the SDK itself.
      const reference = await h.s3.send(
        new PutObjectCommand({ Bucket: 'bundles', Key: 'whole', Body: Buffer.concat(parts), ChecksumAlgorithm: 'CRC64NVME' }),
      );
      expect(full.ChecksumCRC64NVME).toBe(reference.ChecksumCRC64NVME);
      const read = await h.s3.send(new GetObjectCommand({ Bucket: 'bundles', Key: 'full' })); // validated by the SDK
      expectBytes(await bodyOf(read), Buffer.concat(parts));

      const { uploadId: u3 } = await upload('wrong', [], { ChecksumAlgorithm: 'CRC32' });
      const badPart = h.s3.send(
        new UploadPartCommand({
          Bucket: 'bundles',
          Key: 'wrong',
          UploadId: u3,
          PartNumber: 1,
          Body: 'abc',
          ChecksumCRC32: crc32b64(Buffer.from('xyz')),
        }),
      );
      expect(await failure(badPart)).toEqual({ name: 'BadDigest', status: 400 });
      const mismatch = h.s3.send(
        new UploadPartCommand({ Bucket: 'bundles', Key: 'wrong', UploadId: u3, PartNumber: 1, Body: 'abc', ChecksumAlgorithm: 'SHA256' }),
      );
      expect(await failure(mismatch)).toEqual({ name: 'InvalidRequest', status: 400 });
    });
  });

  describe('on disk', () => {
    let root: string;
    let d: Harness;
    beforeEach(async () => {
      root = mkdtempSync(join(tmpdir(), 'ami-factory-s3-'));
      d = await startS3({ rootDir: root, minPartSize: 1024 });
      await d.s3.send(new CreateBucketCommand({ Bucket: 'bundles' }));
    });
    afterEach(async () => {
      await d.close();
      rmSync(root, { recursive: true, force: true });
    });

    const files = (dir: string): string[] =>
      readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => relative(root, join(e.parentPath, e.name)))
        .sort();

    it('persists buckets, objects, ACLs and uploads in progress across a restart', async () => {
      const manifest = Buffer.from('<manifest>…</manifest>');
      await d.s3.send(
        new PutObjectCommand({
          Bucket: 'bundles',
          Key: 'b/x.manifest.xml',
          Body: manifest,
          ACL: 'aws-exec-read',
          ContentType: 'text/xml',
          ContentMD5: md5b64(manifest),
        }),
      );
      const created = await d.s3.send(new CreateMultipartUploadCommand({ Bucket: 'bundles', Key: 'b/big' }));
      const p1 = await d.s3.send(
        new UploadPartCommand({ Bucket: 'bundles', Key: 'b/big', UploadId: created.UploadId, PartNumber: 1, Body: bytes(4096, 1) }),
      );
      await d.close();

      d = await startS3({ rootDir: root, minPartSize: 1024 });
      expect(d.service.getObject('bundles', 'b/x.manifest.xml')).toMatchObject({
        body: manifest,
        acl: 'aws-exec-read',
        contentType: 'text/xml',
      });
      const acl = await d.s3.send(new GetObjectAclCommand({ Bucket: 'bundles', Key: 'b/x.manifest.xml' }));
      expect(acl.Grants?.map((g) => g.Permission).sort()).toEqual(['FULL_CONTROL', 'READ']);
      const p2 = await d.s3.send(
        new UploadPartCommand({ Bucket: 'bundles', Key: 'b/big', UploadId: created.UploadId, PartNumber: 2, Body: bytes(10, 2) }),
      );
      await d.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'bundles',
          Key: 'b/big',
          UploadId: created.UploadId,
          MultipartUpload: {
            Parts: [
              { PartNumber: 1, ETag: p1.ETag },
              { PartNumber: 2, ETag: p2.ETag },
            ],
          },
        }),
      );
      await d.close();

      d = await startS3({ rootDir: root, minPartSize: 1024 });
      expect((await d.s3.send(new ListObjectsV2Command({ Bucket: 'bundles' }))).Contents?.map((c) => [c.Key, c.Size])).toEqual([
        ['b/big', 4106],
        ['b/x.manifest.xml', manifest.length],
      ]);
      const big = await d.s3.send(new GetObjectCommand({ Bucket: 'bundles', Key: 'b/big' }));
      expectBytes(await bodyOf(big), Buffer.concat([bytes(4096, 1), bytes(10, 2)]));
    });

    it('never turns a key into a path, and keeps one data file per object (per part when multipart)', async () => {
      for (const Key of ['../../escape', 'a/b/c', 'x/../../y', '.'])
        await d.s3.send(new PutObjectCommand({ Bucket: 'bundles', Key, Body: Key }));
      await d.s3.send(new PutObjectCommand({ Bucket: 'bundles', Key: 'a/b/c', Body: 'overwritten' }));
      const all = files(root);
      expect(all.every((f) => f.startsWith('bundles/'))).toBe(true);
      expect(all.filter((f) => f.startsWith('bundles/objects/'))).toHaveLength(4);
      expect(all.filter((f) => f.startsWith('bundles/objects/')).every((f) => /^bundles\/objects\/[0-9a-f]{64}\.json$/.test(f))).toBe(true);
      expect(all.filter((f) => f.startsWith('bundles/blobs/'))).toHaveLength(4); // the overwritten data is gone
      expect(d.service.getObject('bundles', '../../escape')?.body.toString()).toBe('../../escape');
      expect(d.service.getObject('bundles', 'a/b/c')?.body.toString()).toBe('overwritten');
    });

    it('cleans up after an interrupted write or delete when it opens again', async () => {
      await d.s3.send(new PutObjectCommand({ Bucket: 'bundles', Key: 'keep', Body: 'kept' }));
      await d.close();
      writeFileSync(join(root, 'bundles', 'blobs', '.half-written.tmp'), 'partial data');
      writeFileSync(join(root, 'bundles', 'blobs', 'orphan-blob'), 'data whose metadata never landed');
      writeFileSync(join(root, 'bundles', 'objects', '.123.tmp'), '{"key":"half');
      mkdirSync(join(root, 'deleted-bucket', 'blobs'), { recursive: true }); // bucket.json already removed
      writeFileSync(join(root, 'deleted-bucket', 'blobs', 'b'), 'x');

      d = await startS3({ rootDir: root, minPartSize: 1024 });
      expect(existsSync(join(root, 'deleted-bucket'))).toBe(false);
      expect(files(root).filter((f) => f.includes('tmp') || f.includes('orphan'))).toEqual([]);
      expect(d.service.listKeys('bundles')).toEqual(['keep']);
      expect(d.service.getObject('bundles', 'keep')?.body.toString()).toBe('kept');
    });

    it('streams GetObject from disk; a read in progress survives the object being overwritten', async () => {
      const v1 = bytes(3 * MiB, 1);
      await d.s3.send(new PutObjectCommand({ Bucket: 'bundles', Key: 'img', Body: v1 }));
      const get: LocalRequest = {
        method: 'GET',
        path: '/bundles/img',
        query: new URLSearchParams(),
        headers: {},
        body: Buffer.alloc(0),
        region: 'us-east-1',
        service: 's3',
        accessKeyId: 'AKIDTEST',
      };
      const streamed = await d.service.handleStream(get);
      expect(streamed.body).toBeUndefined();
      expect(streamed.stream).toBeDefined();
      expect(streamed.headers['content-length']).toBe(String(v1.length));
      await d.s3.send(new PutObjectCommand({ Bucket: 'bundles', Key: 'img', Body: 'v2' }));
      const chunks: Buffer[] = [];
      for await (const c of streamed.stream ?? Readable.from([])) chunks.push(c as Buffer);
      expectBytes(Buffer.concat(chunks), v1);
      const blobs = readdirSync(join(root, 'bundles', 'blobs'));
      expect(blobs).toHaveLength(1); // v1's data went once its reader finished
      expect(statSync(join(root, 'bundles', 'blobs', blobs[0] ?? '')).size).toBe(2);
      const buffered = await d.service.handle(get);
      expect(buffered.body).toEqual(Buffer.from('v2'));
    });

    it("lets the SDK's response checksum validation catch data corrupted on disk", async () => {
      const body = bytes(10_000, 9);
      await d.s3.send(new PutObjectCommand({ Bucket: 'bundles', Key: 'fragile', Body: body }));
      const [blob] = readdirSync(join(root, 'bundles', 'blobs'));
      const corrupted = Buffer.from(body);
      corrupted[5000] = (corrupted[5000] ?? 0) ^ 0xff;
      writeFileSync(join(root, 'bundles', 'blobs', blob ?? ''), corrupted);
      const got = await d.s3.send(new GetObjectCommand({ Bucket: 'bundles', Key: 'fragile' }));
      await expect(got.Body?.transformToByteArray()).rejects.toThrow(/Checksum mismatch/);
      expect((await d.s3.send(new HeadObjectCommand({ Bucket: 'bundles', Key: 'fragile', ChecksumMode: 'ENABLED' }))).ChecksumCRC32).toBe(
        crc32b64(body),
      );
    });
  });
});
