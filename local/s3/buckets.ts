import { cannedAcl, isOwnerOnly, parseAclXml, renderAcl } from './acl.js';
import { checksumElement } from './checksums.js';
import { S3Error, invalidArgument } from './errors.js';
import {
  aclFromHeaders,
  header,
  isValidBucketName,
  isoDate,
  readPayload,
  requireBucket,
  xmlResponse,
  type S3Call,
  type S3Env,
  type S3Response,
} from './protocol.js';
import { compareKeys, lowerBound, type BucketMeta, type BucketState, type ObjectMeta } from './store.js';
import { malformedXml } from './errors.js';
import { continuationAfter, continuationToken, parseXmlBody } from '../protocols/rest-xml.js';
import { xmlChild, xmlChildText, type XmlElement } from '../protocols/xml.js';

const OWNERSHIPS = ['BucketOwnerEnforced', 'BucketOwnerPreferred', 'ObjectWriter'] as const;

export function createBucket(env: S3Env, call: S3Call): S3Response {
  const name = call.bucket;
  if (!isValidBucketName(name)) throw new S3Error('InvalidBucketName', 400, 'The specified bucket is not valid.', { BucketName: name });
  let region = 'us-east-1';
  if (call.req.body.length > 0) {
    const constraint = xmlChildText(
      xmlChild(parseXmlBody(call.req.body, [], malformedXml), 'CreateBucketConfiguration'),
      'LocationConstraint',
    );
    if (constraint === 'us-east-1') {
      throw new S3Error('InvalidLocationConstraint', 400, 'The specified location-constraint is not valid', {
        LocationConstraint: constraint,
      });
    }
    if (constraint !== undefined && constraint !== '') region = constraint === 'EU' ? 'eu-west-1' : constraint;
  }
  if (call.region !== 'us-east-1' && region !== call.region) {
    throw new S3Error(
      'IllegalLocationConstraintException',
      400,
      `The ${region} location constraint is incompatible for the region specific endpoint this request was sent to.`,
    );
  }
  const existing = env.store.buckets.get(name);
  if (
    existing !== undefined &&
    existing.meta.ownerAccount === env.accountId &&
    region === 'us-east-1' &&
    existing.meta.region === 'us-east-1'
  ) {
    // S3's legacy behaviour in us-east-1: re-creating a bucket you own answers 200 and resets its ACL.
    existing.meta.acl = aclFromHeaders(env, call, existing.meta.objectOwnership) ?? cannedAcl('private', env.owner);
    env.store.saveBucket(existing);
    return { status: 200, headers: { location: `/${name}` } };
  }
  if (existing !== undefined) {
    throw new S3Error(
      'BucketAlreadyOwnedByYou',
      409,
      'Your previous request to create the named bucket succeeded and you already own it.',
      { BucketName: name },
    );
  }
  const ownership = header(call, 'x-amz-object-ownership');
  if (ownership !== undefined && !(OWNERSHIPS as readonly string[]).includes(ownership))
    throw invalidArgument('Invalid x-amz-object-ownership header', 'x-amz-object-ownership', ownership);
  const meta: BucketMeta = {
    name,
    region,
    createdMs: env.nowMs(),
    ownerAccount: env.accountId,
    acl: cannedAcl('private', env.owner),
  };
  const objectOwnership = (ownership as BucketMeta['objectOwnership']) ?? (env.enforceObjectOwnership ? 'BucketOwnerEnforced' : undefined);
  if (objectOwnership !== undefined) meta.objectOwnership = objectOwnership;
  meta.acl = aclFromHeaders(env, call, objectOwnership) ?? meta.acl;
  env.store.createBucket(meta);
  return { status: 200, headers: { location: `/${name}` } };
}

export function headBucket(env: S3Env, call: S3Call): S3Response {
  const b = requireBucket(env, call);
  return { status: 200, headers: { 'x-amz-bucket-region': b.meta.region, 'x-amz-access-point-alias': 'false' } };
}

export function deleteBucket(env: S3Env, call: S3Call): S3Response {
  const b = requireBucket(env, call);
  if (b.objects.size > 0)
    throw new S3Error('BucketNotEmpty', 409, 'The bucket you tried to delete is not empty', { BucketName: b.meta.name });
  env.store.deleteBucket(b);
  return { status: 204, headers: {} };
}

export function getBucketLocation(env: S3Env, call: S3Call): S3Response {
  const b = requireBucket(env, call);
  return xmlResponse('LocationConstraint', b.meta.region === 'us-east-1' ? '' : b.meta.region);
}

export function getBucketAcl(env: S3Env, call: S3Call): S3Response {
  const b = requireBucket(env, call);
  return { status: 200, headers: { 'content-type': 'application/xml' }, body: renderAcl(env.owner, b.meta.acl) };
}

export async function putBucketAcl(env: S3Env, call: S3Call): Promise<S3Response> {
  const b = requireBucket(env, call);
  const fromHeaders = aclFromHeaders(env, call, b.meta.objectOwnership);
  const { data } = await readPayload(call);
  const acl = fromHeaders ?? (data.length > 0 ? { grants: parseAclXml(data) } : undefined);
  if (acl === undefined)
    throw new S3Error('MissingSecurityHeader', 400, 'Your request was missing a required header', { MissingHeaderName: 'x-amz-acl' });
  if (b.meta.objectOwnership === 'BucketOwnerEnforced' && !isOwnerOnly(acl, env.owner)) {
    throw new S3Error('AccessControlListNotSupported', 400, 'The bucket does not allow ACLs');
  }
  b.meta.acl = acl;
  env.store.saveBucket(b);
  return { status: 200, headers: {} };
}

// ---- ListBuckets ----

export function listBuckets(env: S3Env, call: S3Call): S3Response {
  const q = call.req.query;
  const prefix = q.get('prefix') ?? '';
  const region = q.get('bucket-region');
  const max = intParam(q.get('max-buckets'), 10000, 'max-buckets', 1, 10000);
  const token = q.get('continuation-token');
  let after = '';
  if (token !== null) {
    const named = continuationAfter(token);
    if (named === undefined) throw invalidArgument('The continuation token provided is incorrect', 'continuation-token', token);
    after = named;
  }
  const names = [...env.store.buckets.values()]
    .filter((b) => b.meta.ownerAccount === env.accountId && b.meta.name.startsWith(prefix) && (region === null || b.meta.region === region))
    .map((b) => b.meta)
    .sort((a, b) => compareKeys(a.name, b.name))
    .filter((b) => after === '' || compareKeys(b.name, after) > 0);
  const page = names.slice(0, max);
  const truncated = names.length > page.length;
  const last = page.at(-1);
  return xmlResponse('ListAllMyBucketsResult', {
    Owner: ownerXml(env),
    Buckets: { Bucket: page.map((b) => ({ Name: b.name, CreationDate: isoDate(b.createdMs), BucketRegion: b.region })) },
    ContinuationToken: truncated && last !== undefined ? continuationToken(last.name) : undefined,
    Prefix: prefix !== '' ? prefix : undefined,
  });
}

// ---- ListObjectsV2 / ListObjects ----

export interface ListPage {
  contents: ObjectMeta[];
  prefixes: string[];
  truncated: boolean;
  /** The last key or common prefix returned (where the next page starts after). */
  last?: string;
}

/**
 * One page of a listing in UTF-8 key order: keys under `prefix` after `marker`, keys that
 * contain `delimiter` after the prefix rolled up into common prefixes (each counted once
 * towards `maxKeys`, and never repeated on a later page).
 */
export function listPage(b: BucketState, prefix: string, delimiter: string, marker: string, maxKeys: number): ListPage {
  const contents: ObjectMeta[] = [];
  const prefixes: string[] = [];
  let last: string | undefined;
  let count = 0;
  let truncated = false;
  const start = compareKeys(marker, prefix) >= 0 ? lowerBound(b.sorted, marker) : lowerBound(b.sorted, prefix, true);
  for (let i = start; i < b.sorted.length; i++) {
    const key = b.sorted[i] as string;
    if (!key.startsWith(prefix)) break;
    let item = key;
    let isPrefix = false;
    if (delimiter !== '') {
      const at = key.indexOf(delimiter, prefix.length);
      if (at !== -1) {
        item = key.slice(0, at + delimiter.length);
        isPrefix = true;
        if (item === last || compareKeys(item, marker) <= 0) continue;
      }
    }
    if (count === maxKeys) {
      truncated = maxKeys > 0; // S3 answers max-keys=0 with an empty, untruncated page
      break;
    }
    if (isPrefix) prefixes.push(item);
    else contents.push(b.objects.get(key) as ObjectMeta);
    last = item;
    count++;
  }
  return last === undefined ? { contents, prefixes, truncated } : { contents, prefixes, truncated, last };
}

function intParam(v: string | null, dflt: number, name: string, min = 0, max = 1000): number {
  if (v === null || v === '') return dflt;
  if (!/^-?\d+$/.test(v) || Number(v) < min) throw invalidArgument(`Provided ${name} not an integer or within integer range`, name, v);
  return Math.min(Number(v), max);
}

function encoder(call: S3Call): (s: string) => string {
  const type = call.req.query.get('encoding-type');
  if (type === null) return (s) => s;
  if (type !== 'url') throw invalidArgument('Invalid Encoding Method specified in Request', 'encoding-type', type);
  return (s) => encodeURIComponent(s).replace(/%2F/g, '/');
}

/** `<Owner><ID/><DisplayName/></Owner>` of the account. */
export function ownerXml(env: S3Env): XmlElement {
  return { ID: env.owner.id, DisplayName: env.owner.displayName };
}

function contentsXml(env: S3Env, o: ObjectMeta, enc: (s: string) => string, owner: boolean): XmlElement {
  return {
    Key: enc(o.key),
    LastModified: isoDate(o.lastModifiedMs),
    ETag: o.etag,
    ChecksumAlgorithm: o.checksum?.algorithm,
    ChecksumType: o.checksum?.type,
    Size: o.size,
    Owner: owner ? ownerXml(env) : undefined,
    StorageClass: 'STANDARD',
  };
}

export function listObjectsV2(env: S3Env, call: S3Call): S3Response {
  const b = requireBucket(env, call);
  const q = call.req.query;
  const enc = encoder(call);
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const maxKeys = intParam(q.get('max-keys'), 1000, 'max-keys');
  const token = q.get('continuation-token');
  const startAfter = q.get('start-after');
  let marker = startAfter ?? '';
  if (token !== null) {
    const named = continuationAfter(token);
    if (named === undefined) throw invalidArgument('The continuation token provided is incorrect', 'continuation-token', token);
    marker = named;
  }
  const page = listPage(b, prefix, delimiter, marker, maxKeys);
  const fetchOwner = q.get('fetch-owner') === 'true';
  const next = page.truncated && page.last !== undefined ? continuationToken(page.last) : undefined;
  return xmlResponse('ListBucketResult', {
    Name: b.meta.name,
    Prefix: enc(prefix),
    Delimiter: delimiter !== '' ? enc(delimiter) : undefined,
    MaxKeys: maxKeys,
    KeyCount: page.contents.length + page.prefixes.length,
    IsTruncated: page.truncated,
    ContinuationToken: token ?? undefined,
    NextContinuationToken: next,
    StartAfter: startAfter !== null ? enc(startAfter) : undefined,
    EncodingType: q.get('encoding-type') === 'url' ? 'url' : undefined,
    Contents: page.contents.map((o) => contentsXml(env, o, enc, fetchOwner)),
    CommonPrefixes: page.prefixes.map((p) => ({ Prefix: enc(p) })),
  });
}

export function listObjects(env: S3Env, call: S3Call): S3Response {
  const b = requireBucket(env, call);
  const q = call.req.query;
  const enc = encoder(call);
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const maxKeys = intParam(q.get('max-keys'), 1000, 'max-keys');
  const marker = q.get('marker') ?? '';
  const page = listPage(b, prefix, delimiter, marker, maxKeys);
  return xmlResponse('ListBucketResult', {
    Name: b.meta.name,
    Prefix: enc(prefix),
    Marker: enc(marker),
    NextMarker: page.truncated && page.last !== undefined ? enc(page.last) : undefined,
    Delimiter: delimiter !== '' ? enc(delimiter) : undefined,
    MaxKeys: maxKeys,
    IsTruncated: page.truncated,
    EncodingType: q.get('encoding-type') === 'url' ? 'url' : undefined,
    Contents: page.contents.map((o) => contentsXml(env, o, enc, true)),
    CommonPrefixes: page.prefixes.map((p) => ({ Prefix: enc(p) })),
  });
}

/** The checksum elements of a listing entry or a part (`<ChecksumCRC32>…`). */
export function checksumElements(values: Partial<Record<string, string>>): XmlElement {
  const out: XmlElement = {};
  for (const [alg, v] of Object.entries(values)) {
    if (v !== undefined) out[checksumElement(alg as Parameters<typeof checksumElement>[0])] = v;
  }
  return out;
}
