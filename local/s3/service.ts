// TEMPORARY minimal S3 (buckets, objects, ListObjectsV2) so the pipeline can be integrated;
// replaced by the full local S3 endpoint.
import { createHash, randomUUID } from 'node:crypto';
import type { LocalRequest, LocalResponse, LocalService } from '../http.js';
import type { VirtualClock } from '../clock.js';

export interface S3ServiceOptions {
  rootDir?: string;
  accountId: string;
  clock?: VirtualClock;
}

export interface S3Service extends LocalService {
  getObject(bucket: string, key: string): { body: Buffer; acl: string; contentType?: string } | undefined;
  listKeys(bucket: string, prefix?: string): string[];
  stats(): Record<string, number>;
  close(): void;
}

interface Obj {
  body: Buffer;
  acl: string;
  etag: string;
  modified: number;
  contentType?: string;
}

export function createS3Service(_opts: S3ServiceOptions): S3Service {
  const buckets = new Map<string, Map<string, Obj>>();
  const calls: Record<string, number> = {};
  const count = (op: string): void => {
    calls[op] = (calls[op] ?? 0) + 1;
  };
  const xml = (status: number, body: string): LocalResponse => ({ status, headers: { 'content-type': 'application/xml' }, body: `<?xml version="1.0" encoding="UTF-8"?>${body}` });
  const err = (status: number, code: string, message: string): LocalResponse => xml(status, `<Error><Code>${code}</Code><Message>${message}</Message><RequestId>${randomUUID()}</RequestId></Error>`);
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return {
    name: 's3',
    matches: (req) => req.service === 's3',
    async handle(req: LocalRequest): Promise<LocalResponse> {
      const parts = req.path.split('/').filter((p) => p !== '');
      const bucket = decodeURIComponent(parts[0] ?? '');
      const key = parts.slice(1).map(decodeURIComponent).join('/');
      if (bucket === '') return err(400, 'InvalidRequest', 'no bucket');
      const b = buckets.get(bucket);
      if (key === '') {
        if (req.method === 'PUT') {
          count('CreateBucket');
          if (b !== undefined) return err(409, 'BucketAlreadyOwnedByYou', 'exists');
          buckets.set(bucket, new Map());
          return { status: 200 };
        }
        if (b === undefined) return err(404, 'NoSuchBucket', 'The specified bucket does not exist');
        if (req.method === 'GET') {
          count('ListObjectsV2');
          const prefix = req.query.get('prefix') ?? '';
          const max = Number(req.query.get('max-keys') ?? '1000');
          const after = req.query.get('continuation-token') ?? req.query.get('start-after') ?? '';
          const keys = [...b.keys()].filter((k) => k.startsWith(prefix) && k > after).sort();
          const page = keys.slice(0, max);
          const truncated = keys.length > page.length;
          const contents = page
            .map((k) => {
              const o = b.get(k) as Obj;
              return `<Contents><Key>${esc(k)}</Key><LastModified>${new Date(o.modified).toISOString()}</LastModified><ETag>${o.etag}</ETag><Size>${o.body.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
            })
            .join('');
          return xml(
            200,
            `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${esc(bucket)}</Name><Prefix>${esc(prefix)}</Prefix><KeyCount>${page.length}</KeyCount><MaxKeys>${max}</MaxKeys><IsTruncated>${truncated}</IsTruncated>${contents}${truncated ? `<NextContinuationToken>${esc(page.at(-1) ?? '')}</NextContinuationToken>` : ''}</ListBucketResult>`,
          );
        }
        return err(405, 'MethodNotAllowed', req.method);
      }
      if (b === undefined) return err(404, 'NoSuchBucket', 'The specified bucket does not exist');
      if (req.method === 'PUT') {
        count('PutObject');
        const etag = `"${createHash('md5').update(req.body).digest('hex')}"`;
        const acl = typeof req.headers['x-amz-acl'] === 'string' ? req.headers['x-amz-acl'] : 'private';
        const o: Obj = { body: Buffer.from(req.body), acl, etag, modified: Date.now() };
        if (typeof req.headers['content-type'] === 'string') o.contentType = req.headers['content-type'];
        b.set(key, o);
        return { status: 200, headers: { etag } };
      }
      const o = b.get(key);
      if (req.method === 'DELETE') {
        count('DeleteObject');
        b.delete(key);
        return { status: 204 };
      }
      if (req.method === 'GET' || req.method === 'HEAD') {
        count(req.method === 'GET' ? 'GetObject' : 'HeadObject');
        if (o === undefined) return req.method === 'HEAD' ? { status: 404 } : err(404, 'NoSuchKey', 'The specified key does not exist.');
        return {
          status: 200,
          headers: { etag: o.etag, 'content-length': String(o.body.length), 'content-type': o.contentType ?? 'binary/octet-stream', 'last-modified': new Date(o.modified).toUTCString() },
          body: req.method === 'GET' ? o.body : '',
        };
      }
      return err(405, 'MethodNotAllowed', req.method);
    },
    getObject(bucket, key) {
      const o = buckets.get(bucket)?.get(key);
      return o === undefined ? undefined : { body: o.body, acl: o.acl, ...(o.contentType !== undefined ? { contentType: o.contentType } : {}) };
    },
    listKeys(bucket, prefix = '') {
      return [...(buckets.get(bucket)?.keys() ?? [])].filter((k) => k.startsWith(prefix)).sort();
    },
    stats: () => ({ ...calls }),
    close: () => undefined,
  };
}
