import { createHash } from 'node:crypto';
import { isOwnerOnly, parseAclXml, renderAcl, type Acl } from './acl.js';
import { checksumElement, checksumHeader, createChecksum, isChecksumAlgorithm, md5Hex, type ChecksumAlgorithm } from './checksums.js';
import { S3Error, invalidArgument, invalidRequest, malformedXml, noSuchKey } from './errors.js';
import {
  aclFromHeaders,
  attrsFromHeaders,
  checksumHeaders,
  etagMatches,
  header,
  httpDate,
  isoDate,
  parseRange,
  readPayload,
  requireBucket,
  xmlResponse,
  type S3Call,
  type S3Env,
  type S3Response,
} from './protocol.js';
import { totalSize, type BucketState, type ObjectAttrs, type ObjectMeta } from './store.js';
import { parseXmlBody } from '../protocols/rest-xml.js';
import { xmlChild, xmlChildText, xmlChildren, type XmlElement } from '../protocols/xml.js';

const MAX_KEY_BYTES = 1024;
const MAX_SINGLE_PUT = 5 * 1024 * 1024 * 1024;

export function checkKey(key: string): void {
  if (key === '') throw invalidRequest('A key must be specified');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES)
    throw new S3Error('KeyTooLongError', 400, 'Your key is too long', {
      Size: String(Buffer.byteLength(key)),
      MaxSizeAllowed: String(MAX_KEY_BYTES),
    });
}

/** Conditional writes: `If-None-Match: *` (create only) and `If-Match: <etag>` (replace only that version). */
export function checkWriteConditions(call: S3Call, current: ObjectMeta | undefined): void {
  const noneMatch = header(call, 'if-none-match');
  if (noneMatch !== undefined) {
    if (noneMatch.trim() !== '*')
      throw new S3Error('NotImplemented', 501, 'A header you provided implies functionality that is not implemented', {
        Header: 'If-None-Match',
      });
    if (current !== undefined)
      throw new S3Error('PreconditionFailed', 412, 'At least one of the pre-conditions you specified did not hold', {
        Condition: 'If-None-Match',
      });
  }
  const match = header(call, 'if-match');
  if (match !== undefined) {
    if (current === undefined) throw noSuchKey(call.key);
    if (!etagMatches(match, current.etag))
      throw new S3Error('PreconditionFailed', 412, 'At least one of the pre-conditions you specified did not hold', {
        Condition: 'If-Match',
      });
  }
}

export async function putObject(env: S3Env, call: S3Call): Promise<S3Response> {
  const b = requireBucket(env, call);
  checkKey(call.key);
  const attrs = attrsFromHeaders(env, call, b);
  const payload = await readPayload(call);
  if (payload.data.length > MAX_SINGLE_PUT)
    throw new S3Error('EntityTooLarge', 400, 'Your proposed upload exceeds the maximum allowed size');
  checkWriteConditions(call, b.objects.get(call.key));
  const etag = `"${md5Hex(payload.data)}"`;
  const blob = env.store.writeBlob(b.meta.name, payload.data);
  const meta: ObjectMeta = {
    ...attrs,
    key: call.key,
    size: payload.data.length,
    etag,
    lastModifiedMs: env.nowMs(),
    segments: [{ blob, size: payload.data.length }],
  };
  if (payload.checksum !== undefined) meta.checksum = { ...payload.checksum, type: 'FULL_OBJECT' };
  env.store.putObject(b, meta);
  return { status: 200, headers: { etag, ...checksumHeaders(meta.checksum) } };
}

function objectOf(env: S3Env, call: S3Call): { b: BucketState; o: ObjectMeta } {
  const b = requireBucket(env, call);
  const o = b.objects.get(call.key);
  if (o === undefined) throw noSuchKey(call.key);
  return { b, o };
}

function preconditionFailed(condition: string): S3Error {
  return new S3Error('PreconditionFailed', 412, 'At least one of the pre-conditions you specified did not hold', { Condition: condition });
}

/** If-Match / If-Unmodified-Since (412) and If-None-Match / If-Modified-Since (304), with S3's precedence. */
function readConditions(call: S3Call, o: ObjectMeta): 'ok' | 'not-modified' {
  const seconds = (ms: number): number => Math.floor(ms / 1000) * 1000;
  const date = (name: string): number | undefined => {
    const v = header(call, name);
    const t = v === undefined ? Number.NaN : Date.parse(v);
    return Number.isNaN(t) ? undefined : t;
  };
  const ifMatch = header(call, 'if-match');
  if (ifMatch !== undefined) {
    if (!etagMatches(ifMatch, o.etag)) throw preconditionFailed('If-Match');
  } else {
    const since = date('if-unmodified-since');
    if (since !== undefined && seconds(o.lastModifiedMs) > since) throw preconditionFailed('If-Unmodified-Since');
  }
  const ifNoneMatch = header(call, 'if-none-match');
  if (ifNoneMatch !== undefined) return etagMatches(ifNoneMatch, o.etag) ? 'not-modified' : 'ok';
  const since = date('if-modified-since');
  if (since !== undefined && seconds(o.lastModifiedMs) <= since) return 'not-modified';
  return 'ok';
}

function attrHeaders(o: ObjectAttrs): Record<string, string> {
  const h: Record<string, string> = { 'content-type': o.contentType ?? 'binary/octet-stream' };
  if (o.contentEncoding !== undefined) h['content-encoding'] = o.contentEncoding;
  if (o.contentDisposition !== undefined) h['content-disposition'] = o.contentDisposition;
  if (o.contentLanguage !== undefined) h['content-language'] = o.contentLanguage;
  if (o.cacheControl !== undefined) h['cache-control'] = o.cacheControl;
  if (o.expires !== undefined) h.expires = o.expires;
  for (const [k, v] of Object.entries(o.metadata)) h[`x-amz-meta-${k}`] = v;
  return h;
}

const RESPONSE_OVERRIDES: [string, string][] = [
  ['response-content-type', 'content-type'],
  ['response-content-language', 'content-language'],
  ['response-expires', 'expires'],
  ['response-cache-control', 'cache-control'],
  ['response-content-disposition', 'content-disposition'],
  ['response-content-encoding', 'content-encoding'],
];

/** GetObject and HeadObject (`withBody` false): ranges, `partNumber`, conditions, checksums on request. */
export function getObject(env: S3Env, call: S3Call, withBody: boolean): S3Response {
  const { b, o } = objectOf(env, call);
  const common: Record<string, string> = { etag: o.etag, 'last-modified': httpDate(o.lastModifiedMs) };
  if (readConditions(call, o) === 'not-modified') return { status: 304, headers: common };

  const headers: Record<string, string> = { ...attrHeaders(o), ...common, 'accept-ranges': 'bytes' };
  for (const [param, name] of RESPONSE_OVERRIDES) {
    const v = call.req.query.get(param);
    if (v !== null) headers[name] = v;
  }
  const partParam = call.req.query.get('partNumber');
  const rangeHeader = header(call, 'range');
  let start = 0;
  let end = o.size - 1;
  let partial = false;
  if (partParam !== null) {
    if (rangeHeader !== undefined) throw invalidRequest('Cannot specify both Range header and partNumber query parameter');
    const n = Number(partParam);
    const parts = o.multipart?.parts.length ?? 1;
    if (!/^\d+$/.test(partParam) || n < 1 || n > 10000)
      throw new S3Error('InvalidArgument', 400, 'Part number must be an integer between 1 and 10000, inclusive', {
        ArgumentName: 'partNumber',
        ArgumentValue: partParam,
      });
    if (n > parts)
      throw new S3Error('InvalidPartNumber', 416, 'The requested partnumber is not satisfiable', {
        PartNumberRequested: partParam,
        ActualPartCount: String(parts),
      });
    if (o.multipart !== undefined) {
      start = o.segments.slice(0, n - 1).reduce((s, seg) => s + seg.size, 0);
      end = start + (o.segments[n - 1]?.size ?? 0) - 1;
      partial = true;
    }
    headers['x-amz-mp-parts-count'] = String(parts);
  } else {
    const range = parseRange(rangeHeader, o.size);
    if (range !== undefined) {
      ({ start, end } = range);
      partial = true;
    }
  }
  if (o.multipart !== undefined && partParam === null) headers['x-amz-mp-parts-count'] = String(o.multipart.parts.length);
  // Checksums describe the whole object: S3 returns them on full reads only.
  if (header(call, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED' && !partial && o.checksum !== undefined)
    Object.assign(headers, checksumHeaders(o.checksum));
  if (partial) headers['content-range'] = `bytes ${start}-${end}/${o.size}`;
  const length = Math.max(0, end - start + 1);
  headers['content-length'] = String(length);
  const status = partial ? 206 : 200;
  if (!withBody || length === 0) return { status, headers };
  if (env.store.persistent) return { status, headers, stream: env.store.stream(b.meta.name, o.segments, start, end) };
  return { status, headers, body: env.store.read(b.meta.name, o.segments, start, end) };
}

export function deleteObject(env: S3Env, call: S3Call): S3Response {
  const b = requireBucket(env, call);
  checkKey(call.key);
  const current = b.objects.get(call.key);
  const ifMatch = header(call, 'if-match');
  if (ifMatch !== undefined && (current === undefined || !etagMatches(ifMatch, current.etag))) {
    if (current === undefined) throw noSuchKey(call.key);
    throw preconditionFailed('If-Match');
  }
  env.store.deleteObject(b, call.key);
  return { status: 204, headers: {} };
}

export async function deleteObjects(env: S3Env, call: S3Call): Promise<S3Response> {
  const b = requireBucket(env, call);
  const hasIntegrity =
    header(call, 'content-md5') !== undefined ||
    Object.keys(call.req.headers).some((h) => h.startsWith('x-amz-checksum-') && h !== 'x-amz-checksum-mode') ||
    header(call, 'x-amz-trailer') !== undefined;
  if (!hasIntegrity) throw invalidRequest('Missing required header for this request: Content-MD5 OR x-amz-checksum-*');
  const { data } = await readPayload(call);
  const doc = parseXmlBody(data, ['Object'], malformedXml);
  const del = xmlChild(doc, 'Delete');
  if (del === undefined) throw malformedXml();
  const objects = xmlChildren(del, 'Object');
  if (objects.length === 0 || objects.length > 1000) throw malformedXml();
  const quiet = xmlChildText(del, 'Quiet')?.trim() === 'true';
  const deleted: XmlElement[] = [];
  const errors: XmlElement[] = [];
  for (const obj of objects) {
    const key = xmlChildText(obj, 'Key');
    if (key === undefined) throw malformedXml();
    if (key === '' || Buffer.byteLength(key) > MAX_KEY_BYTES) {
      errors.push({ Key: key, Code: 'InvalidArgument', Message: 'Invalid key' });
      continue;
    }
    const refused = call.refused?.get(key);
    if (refused !== undefined) {
      errors.push({ Key: key, Code: refused, Message: 'Access Denied' });
      continue;
    }
    env.store.deleteObject(b, key);
    if (!quiet) deleted.push({ Key: key });
  }
  return xmlResponse('DeleteResult', { Deleted: deleted, Error: errors });
}

// ---- ACLs ----

export function getObjectAcl(env: S3Env, call: S3Call): S3Response {
  const { o } = objectOf(env, call);
  return { status: 200, headers: { 'content-type': 'application/xml' }, body: renderAcl(env.owner, o.acl) };
}

export async function putObjectAcl(env: S3Env, call: S3Call): Promise<S3Response> {
  const { b, o } = objectOf(env, call);
  const fromHeaders = aclFromHeaders(env, call, b.meta.objectOwnership);
  const { data } = await readPayload(call);
  let acl: Acl | undefined = fromHeaders;
  if (acl === undefined && data.length > 0) {
    acl = { grants: parseAclXml(data) };
    if (b.meta.objectOwnership === 'BucketOwnerEnforced' && !isOwnerOnly(acl, env.owner)) {
      throw new S3Error('AccessControlListNotSupported', 400, 'The bucket does not allow ACLs');
    }
  }
  if (acl === undefined)
    throw new S3Error('MissingSecurityHeader', 400, 'Your request was missing a required header', { MissingHeaderName: 'x-amz-acl' });
  const updated: ObjectMeta = { ...o, acl };
  env.store.putObject(b, updated);
  return { status: 200, headers: {} };
}

// ---- CopyObject ----

function copySource(call: S3Call): { bucket: string; key: string } {
  const raw = header(call, 'x-amz-copy-source') ?? '';
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw.split('?')[0] ?? '');
  } catch {
    throw invalidArgument('Invalid copy source encoding', 'x-amz-copy-source', raw);
  }
  const path = decoded.startsWith('/') ? decoded.slice(1) : decoded;
  const slash = path.indexOf('/');
  if (slash <= 0 || slash === path.length - 1) throw invalidArgument('Invalid copy source object key', 'x-amz-copy-source', raw);
  return { bucket: path.slice(0, slash), key: path.slice(slash + 1) };
}

export async function copyObject(env: S3Env, call: S3Call): Promise<S3Response> {
  const dest = requireBucket(env, call);
  checkKey(call.key);
  const src = copySource(call);
  const sb = env.store.buckets.get(src.bucket);
  if (sb === undefined) throw new S3Error('NoSuchBucket', 404, 'The specified bucket does not exist', { BucketName: src.bucket });
  const so = sb.objects.get(src.key);
  if (so === undefined) throw noSuchKey(src.key);
  const h = (n: string): string | undefined => header(call, n);
  const ifMatch = h('x-amz-copy-source-if-match');
  if (ifMatch !== undefined && !etagMatches(ifMatch, so.etag)) throw preconditionFailed('x-amz-copy-source-If-Match');
  const ifNoneMatch = h('x-amz-copy-source-if-none-match');
  if (ifNoneMatch !== undefined && etagMatches(ifNoneMatch, so.etag)) throw preconditionFailed('x-amz-copy-source-If-None-Match');
  const directive = (h('x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE')
    throw invalidArgument('Unknown metadata directive.', 'x-amz-metadata-directive', directive);
  const wantAlg = h('x-amz-checksum-algorithm')?.toUpperCase();
  if (wantAlg !== undefined && !isChecksumAlgorithm(wantAlg)) throw invalidRequest('Checksum algorithm provided is unsupported.');
  const changesAcl = h('x-amz-acl') !== undefined || Object.keys(call.req.headers).some((n) => n.startsWith('x-amz-grant-'));
  if (
    src.bucket === dest.meta.name &&
    src.key === call.key &&
    directive === 'COPY' &&
    wantAlg === undefined &&
    !changesAcl &&
    h('x-amz-storage-class') === undefined
  ) {
    throw invalidRequest(
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }
  checkWriteConditions(call, dest.objects.get(call.key));
  const replaced = attrsFromHeaders(env, call, dest);
  const attrs: ObjectAttrs =
    directive === 'REPLACE'
      ? replaced
      : {
          ...(so.contentType !== undefined ? { contentType: so.contentType } : {}),
          ...(so.contentEncoding !== undefined ? { contentEncoding: so.contentEncoding } : {}),
          ...(so.contentDisposition !== undefined ? { contentDisposition: so.contentDisposition } : {}),
          ...(so.contentLanguage !== undefined ? { contentLanguage: so.contentLanguage } : {}),
          ...(so.cacheControl !== undefined ? { cacheControl: so.cacheControl } : {}),
          ...(so.expires !== undefined ? { expires: so.expires } : {}),
          metadata: { ...so.metadata },
          acl: replaced.acl, // S3 never copies the ACL: the request's, or private
        };
  const algorithm: ChecksumAlgorithm | undefined = (wantAlg as ChecksumAlgorithm | undefined) ?? so.checksum?.algorithm;
  const md5 = createHash('md5');
  const sum = algorithm === undefined ? undefined : createChecksum(algorithm);
  const blob = await env.store.copyBlob(sb.meta.name, so.segments, dest.meta.name, (chunk) => {
    md5.update(chunk);
    sum?.update(chunk);
  });
  if (env.store.buckets.get(dest.meta.name) !== dest) {
    env.store.freeBlob(dest.meta.name, blob);
    throw new S3Error('NoSuchBucket', 404, 'The specified bucket does not exist', { BucketName: dest.meta.name });
  }
  const size = totalSize(so.segments);
  const meta: ObjectMeta = {
    ...attrs,
    key: call.key,
    size,
    etag: `"${md5.digest('hex')}"`,
    lastModifiedMs: env.nowMs(),
    segments: [{ blob, size }],
  };
  if (algorithm !== undefined && sum !== undefined)
    meta.checksum = { algorithm, value: (await sum.digest()).toString('base64'), type: 'FULL_OBJECT' };
  env.store.putObject(dest, meta);
  const result: XmlElement = { ETag: meta.etag, LastModified: isoDate(meta.lastModifiedMs) };
  if (meta.checksum !== undefined) {
    result[checksumElement(meta.checksum.algorithm)] = meta.checksum.value;
    result.ChecksumType = meta.checksum.type;
  }
  return xmlResponse('CopyObjectResult', result, {
    ...(meta.checksum !== undefined ? { [checksumHeader(meta.checksum.algorithm)]: meta.checksum.value } : {}),
  });
}
