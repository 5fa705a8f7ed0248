import { createHash, randomBytes } from 'node:crypto';
import { headerValue, requestScope, type LocalRequest } from '../http.js';
import { cannedAcl, grantsFromHeaders, isCannedAcl, isOwnerOnly, type Acl, type Owner } from './acl.js';
import {
  CHECKSUM_ALGORITHMS,
  checksumHeader,
  checksumOf,
  isChecksumAlgorithm,
  isWellFormedChecksum,
  md5Base64,
  type ChecksumAlgorithm,
} from './checksums.js';
import { decodeAwsChunked } from './chunked.js';
import { S3Error, invalidArgument, invalidRequest, noSuchBucket } from './errors.js';
import type { RestXmlResponse } from '../protocols/rest-xml.js';
import type { BucketMeta, BucketState, ObjectAttrs, ObjectChecksum, Store } from './store.js';

export { xmlResponse } from '../protocols/rest-xml.js';

/** A response of the local S3: a body in memory, or a stream (object data read from disk). */
export type S3Response = RestXmlResponse;

/** What every operation gets: the service's state and the decoded request. */
export interface S3Env {
  store: Store;
  accountId: string;
  owner: Owner;
  nowMs(): number;
  minPartSize: number;
  enforceObjectOwnership: boolean;
}

export interface S3Call {
  req: LocalRequest;
  /** '' for ListBuckets. */
  bucket: string;
  /** '' for bucket operations. */
  key: string;
  region: string;
  requestId: string;
  /** Keys of a DeleteObjects the caller may not delete → the error code, set by the authorization. */
  refused?: Map<string, string>;
}

export function header(call: S3Call, name: string): string | undefined {
  return headerValue(call.req.headers, name);
}

export function requestId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}

export function requireBucket(env: S3Env, call: S3Call): BucketState {
  const b = env.store.buckets.get(call.bucket);
  if (b === undefined) throw noSuchBucket(call.bucket);
  const expected = header(call, 'x-amz-expected-bucket-owner');
  if (expected !== undefined && expected !== b.meta.ownerAccount) throw new S3Error('AccessDenied', 403, 'Access Denied');
  return b;
}

// ---- where a request goes ----

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function isValidBucketName(name: string): boolean {
  return (
    BUCKET_NAME.test(name) &&
    !name.includes('..') &&
    !/^\d+\.\d+\.\d+\.\d+$/.test(name) &&
    !name.startsWith('xn--') &&
    !name.endsWith('-s3alias')
  );
}

/** The bucket in a virtual-host style Host (`bucket.localhost[:port]`, `bucket.s3.localhost`), if any. */
export function virtualHostBucket(req: LocalRequest): string | undefined {
  const host = (headerValue(req.headers, 'host') ?? '').toLowerCase().replace(/:\d+$/, '');
  const m = /^(.+?)\.(?:s3\.)?localhost$/.exec(host);
  return m?.[1];
}

/** Bucket and key of a request, path-style (`/bucket/key`) or virtual-host style. */
export function target(req: LocalRequest): { bucket: string; key: string } {
  const vh = virtualHostBucket(req);
  let bucket: string;
  let rawKey: string;
  if (vh !== undefined) {
    bucket = vh;
    rawKey = req.path.slice(1);
  } else {
    const rest = req.path.slice(1);
    const slash = rest.indexOf('/');
    bucket = slash === -1 ? rest : rest.slice(0, slash);
    rawKey = slash === -1 ? '' : rest.slice(slash + 1);
  }
  try {
    return { bucket: decodeURIComponent(bucket), key: decodeURIComponent(rawKey) };
  } catch {
    throw new S3Error('InvalidURI', 400, "Couldn't parse the specified URI.");
  }
}

/** Region and service of a presigned URL (`X-Amz-Credential=AKID/date/region/service/aws4_request`). */
export function presignedScope(req: LocalRequest): { region: string; service: string } | undefined {
  const { region, service } = requestScope(undefined, req.query);
  return region === undefined || service === undefined ? undefined : { region, service };
}

// ---- request bodies ----

export interface Payload {
  data: Buffer;
  /** The checksum the client sent (header or trailer), verified. */
  checksum?: { algorithm: ChecksumAlgorithm; value: string };
}

/**
 * The request's data, decoded from aws-chunked when it is, with every integrity check the
 * client asked for verified: `x-amz-content-sha256` (a hex payload hash), `Content-MD5`,
 * one `x-amz-checksum-<alg>` header or trailer (and `x-amz-sdk-checksum-algorithm` agreeing).
 */
export async function readPayload(call: S3Call): Promise<Payload> {
  const h = (n: string): string | undefined => header(call, n);
  const sha = h('x-amz-content-sha256');
  const encodings = (h('content-encoding') ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
  const chunked = encodings.includes('aws-chunked') || (sha?.startsWith('STREAMING-') ?? false);
  let data = call.req.body;
  let trailers = new Map<string, string>();
  if (chunked) {
    ({ data, trailers } = decodeAwsChunked(call.req.body));
    const declared = h('x-amz-decoded-content-length');
    if (declared !== undefined && Number(declared) !== data.length) {
      throw new S3Error(
        'IncompleteBody',
        400,
        'You did not provide the number of bytes specified by the x-amz-decoded-content-length HTTP header',
      );
    }
  } else if (sha !== undefined && /^[0-9a-f]{64}$/.test(sha)) {
    const actual = createHash('sha256').update(data).digest('hex');
    if (actual !== sha) {
      throw new S3Error('XAmzContentSHA256Mismatch', 400, "The provided 'x-amz-content-sha256' header does not match what was computed.", {
        ClientComputedContentSHA256: sha,
        S3ComputedContentSHA256: actual,
      });
    }
  }

  const provided: { algorithm: ChecksumAlgorithm; value: string }[] = [];
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    const v = h(checksumHeader(algorithm));
    if (v !== undefined) provided.push({ algorithm, value: v.trim() });
  }
  const trailer = h('x-amz-trailer')?.trim().toLowerCase();
  if (trailer !== undefined && trailer !== '' && chunked) {
    const algorithm = CHECKSUM_ALGORITHMS.find((a) => checksumHeader(a) === trailer);
    if (algorithm === undefined) throw invalidRequest(`The value specified in the x-amz-trailer header is not supported`);
    const v = trailers.get(trailer);
    if (v === undefined) {
      throw new S3Error(
        'MalformedTrailerError',
        400,
        'The request contained trailing data that was not well-formed or did not conform to our published schema.',
      );
    }
    provided.push({ algorithm, value: v });
  }
  if (provided.length > 1) throw invalidRequest('Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
  const sdkAlgorithm = h('x-amz-sdk-checksum-algorithm')?.toUpperCase();
  const first = provided[0];
  if (sdkAlgorithm !== undefined) {
    if (first === undefined) {
      throw invalidRequest(
        'x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.',
      );
    }
    if (!isChecksumAlgorithm(sdkAlgorithm) || sdkAlgorithm !== first.algorithm)
      throw invalidRequest('Value for x-amz-sdk-checksum-algorithm header is invalid.');
  }
  if (first !== undefined) {
    if (!isWellFormedChecksum(first.algorithm, first.value))
      throw invalidRequest(`Value for ${checksumHeader(first.algorithm)} header is invalid.`);
    if ((await checksumOf(first.algorithm, data)) !== first.value) {
      throw new S3Error('BadDigest', 400, `The ${first.algorithm} you specified did not match the calculated checksum.`);
    }
  }

  const md5 = h('content-md5');
  if (md5 !== undefined) {
    const raw = Buffer.from(md5, 'base64');
    if (raw.length !== 16 || raw.toString('base64') !== md5.trim())
      throw new S3Error('InvalidDigest', 400, 'The Content-MD5 you specified is not valid.');
    const calculated = md5Base64(data);
    if (calculated !== md5.trim()) {
      throw new S3Error('BadDigest', 400, 'The Content-MD5 you specified did not match what we received.', {
        ExpectedDigest: md5.trim(),
        CalculatedDigest: calculated,
      });
    }
  }
  return first === undefined ? { data } : { data, checksum: first };
}

// ---- object attributes from request headers ----

const MAX_METADATA_BYTES = 2048;

/** Content-* headers, user metadata and the ACL of a PutObject / CreateMultipartUpload / CopyObject (REPLACE). */
export function attrsFromHeaders(env: S3Env, call: S3Call, bucket: BucketState): ObjectAttrs {
  const h = (n: string): string | undefined => header(call, n);
  const metadata: Record<string, string> = {};
  let size = 0;
  for (const [name, value] of Object.entries(call.req.headers)) {
    if (!name.startsWith('x-amz-meta-') || value === undefined) continue;
    const v = Array.isArray(value) ? value.join(',') : value;
    const n = name.slice('x-amz-meta-'.length);
    metadata[n] = v;
    size += Buffer.byteLength(n) + Buffer.byteLength(v);
  }
  if (size > MAX_METADATA_BYTES) {
    throw new S3Error('MetadataTooLarge', 400, 'Your metadata headers exceed the maximum allowed metadata size', {
      Size: String(size),
      MaxSizeAllowed: String(MAX_METADATA_BYTES),
    });
  }
  const contentEncoding = (h('content-encoding') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s.toLowerCase() !== 'aws-chunked')
    .join(',');
  const attrs: ObjectAttrs = { metadata, acl: aclFromHeaders(env, call, bucket.meta.objectOwnership) ?? cannedAcl('private', env.owner) };
  const set = (k: Exclude<keyof ObjectAttrs, 'metadata' | 'acl'>, v: string | undefined): void => {
    if (v !== undefined && v !== '') attrs[k] = v;
  };
  set('contentType', h('content-type'));
  set('contentEncoding', contentEncoding);
  set('contentDisposition', h('content-disposition'));
  set('contentLanguage', h('content-language'));
  set('cacheControl', h('cache-control'));
  set('expires', h('expires'));
  return attrs;
}

/**
 * The ACL a request asks for (`x-amz-acl` or `x-amz-grant-*`), undefined when it asks for none.
 * A bucket with ObjectOwnership BucketOwnerEnforced has ACLs disabled: only
 * `bucket-owner-full-control` (or none) is accepted, as in S3.
 */
export function aclFromHeaders(env: S3Env, call: S3Call, ownership: BucketMeta['objectOwnership']): Acl | undefined {
  const canned = header(call, 'x-amz-acl');
  const grants = grantsFromHeaders(call.req.headers);
  if (canned !== undefined && grants !== undefined) throw invalidRequest('Specifying both Canned ACLs and Header Grants is not allowed');
  let acl: Acl | undefined;
  if (canned !== undefined) {
    if (!isCannedAcl(canned)) throw invalidArgument('', 'x-amz-acl', canned);
    acl = cannedAcl(canned, env.owner);
  } else if (grants !== undefined) {
    acl = { grants };
  }
  if (acl !== undefined && ownership === 'BucketOwnerEnforced' && !isOwnerOnly(acl, env.owner)) {
    throw new S3Error('AccessControlListNotSupported', 400, 'The bucket does not allow ACLs');
  }
  return acl;
}

// ---- response headers ----

export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

export function isoDate(ms: number): string {
  return new Date(ms).toISOString();
}

export function checksumHeaders(c: ObjectChecksum | undefined): Record<string, string> {
  return c === undefined ? {} : { [checksumHeader(c.algorithm)]: c.value, 'x-amz-checksum-type': c.type };
}

/** ETag comparison for If-Match / If-None-Match / CompleteMultipartUpload (quotes optional, `*` matches anything). */
export function etagMatches(condition: string, etag: string): boolean {
  const bare = (s: string): string => s.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
  return condition.split(',').some((c) => c.trim() === '*' || bare(c) === bare(etag));
}

/** A `Range: bytes=…` header against an object of `size` bytes: inclusive bounds, or undefined (whole object). */
export function parseRange(value: string | undefined, size: number): { start: number; end: number } | undefined {
  if (value === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (m === null || (m[1] === '' && m[2] === '')) return undefined; // S3 ignores a range it cannot parse (and multiple ranges)
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) throw invalidRange(value, size);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return undefined;
  }
  if (start >= size) throw invalidRange(value, size);
  return { start, end };
}

function invalidRange(value: string, size: number): S3Error {
  return new S3Error('InvalidRange', 416, 'The requested range is not satisfiable', {
    RangeRequested: value,
    ActualObjectSize: String(size),
  });
}
