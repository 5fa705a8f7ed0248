import { XMLParser } from 'fast-xml-parser';
import {
  callerContext,
  uniqueRequests,
  type AccessContext,
  type AccessRequest,
  type AccessTable,
  type ItemAccess,
  type ItemAccessTable,
  kmsViaService,
} from '../iam/access-request.js';
import { createKmsKeyRegistry, type KmsKeyRegistry } from '../kms/keys.js';
import type { BucketEncryption } from './store.js';

/**
 * What S3 authorizes for each operation the local endpoint routes (service.ts's `route`, by the
 * operation names it counts), after the S3 user guide's "Required permissions for Amazon S3 API
 * operations" and the Service Authorization Reference for Amazon S3:
 *
 * - Bucket operations act on `arn:aws:s3:::<bucket>`, object operations on
 *   `arn:aws:s3:::<bucket>/<key>` (the key as stored, not URL-encoded); ListBuckets on `*`.
 * - ListObjects(V2) and HeadBucket are s3:ListBucket, with `s3:prefix` (empty when the request
 *   names none), `s3:delimiter` and `s3:max-keys` as the request gives them.
 * - Writes carry their headers as keys (`s3:x-amz-acl`, `s3:x-amz-grant-*`,
 *   `s3:x-amz-server-side-encryption`, `s3:x-amz-server-side-encryption-aws-kms-key-id`,
 *   `s3:x-amz-storage-class`, `s3:x-amz-metadata-directive`, `s3:x-amz-copy-source`,
 *   `s3:if-match`/`s3:if-none-match`, `s3:RequestObjectTag/<k>`); ACL headers on a write also
 *   need s3:PutObjectAcl (s3:PutBucketAcl on CreateBucket), `x-amz-tagging` s3:PutObjectTagging,
 *   `x-amz-object-ownership` on CreateBucket s3:PutBucketOwnershipControls. A `versionId` turns
 *   the object actions into their …Version forms.
 * - SSE-KMS writes call KMS as the caller through S3 (`kms:ViaService=s3.<region>.amazonaws.com`,
 *   encryption context `aws:s3:arn`: the object's ARN, the bucket's with a bucket key):
 *   kms:GenerateDataKey, and kms:Decrypt too for a multipart upload. A write without SSE headers
 *   to a bucket whose default encryption is SSE-KMS uses the default key; a GetObject of an
 *   existing object in such a bucket needs kms:Decrypt (objects are taken to be encrypted as the
 *   bucket's default says: the local S3 does not record each object's key).
 * - Every request carries `aws:SecureTransport=false` (the local cloud is plain http),
 *   `s3:ResourceAccount`, `s3:authType`/`s3:signatureversion` from how it was signed.
 *
 * Two checks depend on the outcome and are separate: a GET/HEAD (or CopyObject source) of a key
 * that does not exist answers 403 AccessDenied unless the caller may s3:ListBucket the bucket
 * (`missingKeyCheck`), and DeleteObjects authorizes each key on its own, reporting a denied key
 * as an `AccessDenied` error in its result (S3_ITEM_ACCESS).
 */

/** The decoded request, as the S3 protocol layer has it. */
export interface S3AccessInput {
  /** '' for ListBuckets. */
  bucket: string;
  /** '' for bucket operations. */
  key: string;
  method: string;
  query: { has(name: string): boolean; get(name: string): string | null };
  /** Lower-case names, as node's IncomingHttpHeaders. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  region: string;
  /** The account the bucket belongs to (every local bucket is the local account's). */
  account: string;
  /** The payload, decoded from aws-chunked: DeleteObjects' keys, CreateBucket's LocationConstraint. */
  body?: Buffer | string;
  kms?: KmsKeyRegistry;
  /** The bucket's default encryption, when it has one configured (local/s3/configuration.ts). */
  bucketEncryption?: BucketEncryption;
  /** Whether the object the request names exists (a GetObject of a missing key decrypts nothing). */
  objectExists?: boolean;
}

export const bucketArn = (bucket: string): string => `arn:aws:s3:::${bucket}`;
export const objectArn = (bucket: string, key: string): string => `arn:aws:s3:::${bucket}/${key}`;

function header(input: S3AccessInput, name: string): string | undefined {
  const v = input.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function s3Context(input: S3AccessInput): AccessContext {
  const out: AccessContext = { ...callerContext(input.region), 's3:ResourceAccount': input.account };
  const auth = header(input, 'authorization');
  if (input.query.has('X-Amz-Signature') || input.query.has('Signature')) out['s3:authType'] = 'REST-QUERY-STRING';
  else if (auth !== undefined) out['s3:authType'] = 'REST-HEADER';
  if (auth?.startsWith('AWS4-HMAC-SHA256') === true || input.query.has('X-Amz-Signature')) out['s3:signatureversion'] = 'AWS4-HMAC-SHA256';
  else if (auth?.startsWith('AWS ') === true || input.query.has('Signature')) out['s3:signatureversion'] = 'AWS';
  const sha = header(input, 'x-amz-content-sha256');
  if (sha !== undefined) out['s3:x-amz-content-sha256'] = sha;
  return out;
}

function s3Request(input: S3AccessInput, action: string, resource: string, extra: AccessContext = {}): AccessRequest {
  return { action: `s3:${action}`, resource, context: { ...s3Context(input), ...extra } };
}

const ACL_HEADERS = [
  'x-amz-acl',
  'x-amz-grant-full-control',
  'x-amz-grant-read',
  'x-amz-grant-read-acp',
  'x-amz-grant-write',
  'x-amz-grant-write-acp',
];

/** Request headers that are condition keys of the same name (`s3:<header>`), and those renamed. */
const WRITE_HEADERS = [
  ...ACL_HEADERS,
  'x-amz-server-side-encryption',
  'x-amz-server-side-encryption-aws-kms-key-id',
  'x-amz-server-side-encryption-customer-algorithm',
  'x-amz-storage-class',
  'x-amz-website-redirect-location',
];
const RENAMED_HEADERS: Record<string, string> = {
  'if-match': 's3:if-match',
  'if-none-match': 's3:if-none-match',
  'x-amz-object-lock-mode': 's3:object-lock-mode',
  'x-amz-object-lock-retain-until-date': 's3:object-lock-retain-until-date',
  'x-amz-object-lock-legal-hold': 's3:object-lock-legal-hold',
};

function headerKeys(input: S3AccessInput, names: readonly string[]): AccessContext {
  const out: AccessContext = {};
  for (const n of names) {
    const v = header(input, n);
    if (v !== undefined) out[`s3:${n}`] = v;
  }
  return out;
}

const hasAcl = (input: S3AccessInput): boolean => ACL_HEADERS.some((h) => header(input, h) !== undefined);

/** `x-amz-tagging` (URL-encoded `k=v&…`) as s3:RequestObjectTag/<k> and s3:RequestObjectTagKeys. */
function taggingKeys(input: S3AccessInput): AccessContext {
  const raw = header(input, 'x-amz-tagging');
  if (raw === undefined || raw === '') return {};
  const out: AccessContext = {};
  const keys: string[] = [];
  for (const [k, v] of new URLSearchParams(raw)) {
    keys.push(k);
    out[`s3:RequestObjectTag/${k}`] = v;
  }
  out['s3:RequestObjectTagKeys'] = keys;
  return out;
}

function writeKeys(input: S3AccessInput): AccessContext {
  const out = { ...headerKeys(input, WRITE_HEADERS), ...taggingKeys(input) };
  for (const [h, key] of Object.entries(RENAMED_HEADERS)) {
    const v = header(input, h);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/** The key and encryption context S3 uses for an SSE-KMS object. */
function kmsUse(input: S3AccessInput, ref: string | undefined, bucketKey: boolean, actions: readonly string[]): AccessRequest[] {
  const registry = input.kms ?? createKmsKeyRegistry({ account: input.account });
  const key = ref !== undefined ? registry.resolve(input.region, ref) : registry.awsManaged(input.region, 'alias/aws/s3');
  if (key === undefined) return [];
  const contextArn = bucketKey ? bucketArn(input.bucket) : objectArn(input.bucket, input.key);
  return actions.map((action) =>
    kmsViaService('s3', key, input.account, action, {
      'kms:EncryptionContext:aws:s3:arn': contextArn,
      'kms:EncryptionContextKeys': ['aws:s3:arn'],
    }),
  );
}

const isKms = (algorithm: string | undefined): boolean => algorithm === 'aws:kms' || algorithm === 'aws:kms:dsse';

/**
 * The KMS use of a write: the request's SSE headers, else the bucket's default encryption
 * (nothing for SSE-S3). A bucket key is the header's choice, else the bucket's.
 */
function sseKms(input: S3AccessInput, actions: readonly string[]): AccessRequest[] {
  const sse = header(input, 'x-amz-server-side-encryption');
  const bucketKeyHeader = header(input, 'x-amz-server-side-encryption-bucket-key-enabled');
  const dflt = input.bucketEncryption;
  if (sse !== undefined) {
    if (!isKms(sse)) return [];
    const ref = header(input, 'x-amz-server-side-encryption-aws-kms-key-id');
    return kmsUse(input, ref, bucketKeyHeader === 'true', actions);
  }
  if (dflt === undefined || !isKms(dflt.algorithm)) return [];
  return kmsUse(input, dflt.kmsKeyId, bucketKeyHeader !== undefined ? bucketKeyHeader === 'true' : dflt.bucketKeyEnabled, actions);
}

/** GetObject of an object in an SSE-KMS bucket: S3 decrypts its data key as the caller (kms:Decrypt). */
function getObject(input: S3AccessInput): AccessRequest[] {
  const out = onObject('GetObject', 'GetObjectVersion')(input);
  const dflt = input.bucketEncryption;
  if (input.objectExists === true && dflt !== undefined && isKms(dflt.algorithm))
    out.push(...kmsUse(input, dflt.kmsKeyId, dflt.bucketKeyEnabled, ['Decrypt']));
  return out;
}

/** The object a write creates, with what its headers ask for besides s3:PutObject. */
function objectWrite(
  input: S3AccessInput,
  extra: AccessContext = {},
  kmsActions: readonly string[] = ['GenerateDataKey'],
): AccessRequest[] {
  const arn = objectArn(input.bucket, input.key);
  const out = [s3Request(input, 'PutObject', arn, { ...writeKeys(input), ...extra })];
  if (hasAcl(input)) out.push(s3Request(input, 'PutObjectAcl', arn, headerKeys(input, ACL_HEADERS)));
  if (header(input, 'x-amz-tagging') !== undefined) out.push(s3Request(input, 'PutObjectTagging', arn, taggingKeys(input)));
  out.push(...sseKms(input, kmsActions));
  return out;
}

/** Bucket and key of `x-amz-copy-source` (`[/]bucket/key[?versionId=…]`, URL-encoded). */
export function copySource(value: string | undefined): { bucket: string; key: string; versionId?: string } | undefined {
  if (value === undefined) return undefined;
  const [path = '', query = ''] = value.split('?');
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return undefined;
  }
  const rest = decoded.startsWith('/') ? decoded.slice(1) : decoded;
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1) return undefined;
  const out: { bucket: string; key: string; versionId?: string } = { bucket: rest.slice(0, slash), key: rest.slice(slash + 1) };
  const versionId = new URLSearchParams(query).get('versionId');
  if (versionId !== null) out.versionId = versionId;
  return out;
}

/** Reading the copy source: s3:GetObject (s3:GetObjectVersion for a version) on it. */
function copySourceRead(input: S3AccessInput): AccessRequest[] {
  const src = copySource(header(input, 'x-amz-copy-source'));
  if (src === undefined) return [];
  return [s3Request(input, src.versionId !== undefined ? 'GetObjectVersion' : 'GetObject', objectArn(src.bucket, src.key))];
}

function copySourceKey(input: S3AccessInput): AccessContext {
  const src = copySource(header(input, 'x-amz-copy-source'));
  return src === undefined ? {} : { 's3:x-amz-copy-source': `${src.bucket}/${src.key}` };
}

const onBucket =
  (action: string, extra: (input: S3AccessInput) => AccessContext = () => ({})) =>
  (input: S3AccessInput): AccessRequest[] => [s3Request(input, action, bucketArn(input.bucket), extra(input))];

/** An object action, or its …Version form when the request names a version. */
const onObject =
  (action: string, versioned?: string) =>
  (input: S3AccessInput): AccessRequest[] => [
    s3Request(input, versioned !== undefined && input.query.has('versionId') ? versioned : action, objectArn(input.bucket, input.key)),
  ];

function listBucket(input: S3AccessInput): AccessRequest[] {
  const q = input.query;
  const extra: AccessContext = { 's3:prefix': q.get('prefix') ?? '' };
  const delimiter = q.get('delimiter');
  if (delimiter !== null) extra['s3:delimiter'] = delimiter;
  const maxKeys = q.get('max-keys');
  if (maxKeys !== null && /^\d+$/.test(maxKeys)) extra['s3:max-keys'] = Number(maxKeys);
  return [s3Request(input, 'ListBucket', bucketArn(input.bucket), extra)];
}

const xml = new XMLParser({ ignoreAttributes: true, parseTagValue: false, isArray: (name) => name === 'Object' });

function bodyText(body: Buffer | string | undefined): string {
  return body === undefined ? '' : typeof body === 'string' ? body : body.toString('utf8');
}

function parseBody(body: Buffer | string | undefined): Record<string, unknown> {
  const text = bodyText(body);
  if (text.trim() === '') return {};
  try {
    return xml.parse(text) as Record<string, unknown>;
  } catch {
    return {};
  }
}

const asRecord = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

function createBucket(input: S3AccessInput): AccessRequest[] {
  const extra: AccessContext = headerKeys(input, [...ACL_HEADERS, 'x-amz-object-ownership']);
  const location = asRecord(parseBody(input.body).CreateBucketConfiguration)?.LocationConstraint;
  if (typeof location === 'string' && location !== '') extra['s3:locationconstraint'] = location;
  const arn = bucketArn(input.bucket);
  const out = [s3Request(input, 'CreateBucket', arn, extra)];
  if (hasAcl(input)) out.push(s3Request(input, 'PutBucketAcl', arn, headerKeys(input, ACL_HEADERS)));
  if (header(input, 'x-amz-object-ownership') !== undefined) out.push(s3Request(input, 'PutBucketOwnershipControls', arn));
  return out;
}

/** The keys of a DeleteObjects body (`<Delete><Object><Key>…`), with their versions. */
export function deleteObjectsKeys(body: Buffer | string | undefined): { key: string; versionId?: string }[] {
  const objects = asRecord(parseBody(body).Delete)?.Object;
  if (!Array.isArray(objects)) return [];
  return objects.flatMap((o) => {
    const r = asRecord(o);
    const key = r?.Key;
    if (typeof key !== 'string') return [];
    const versionId = r?.VersionId;
    return [typeof versionId === 'string' ? { key, versionId } : { key }];
  });
}

function deleteObjectsItems(input: S3AccessInput): ItemAccess[] {
  return deleteObjectsKeys(input.body).map(({ key, versionId }) => ({
    item: key,
    requests: [s3Request(input, versionId !== undefined ? 'DeleteObjectVersion' : 'DeleteObject', objectArn(input.bucket, key))],
    deniedCode: 'AccessDenied',
  }));
}

/**
 * The check behind S3's answer to a GET or HEAD of a key that does not exist (also a CopyObject
 * source): with s3:ListBucket on the bucket the caller learns 404 NoSuchKey, without it 403
 * AccessDenied (GetObject API reference). The listing it stands for is of the key itself, so it
 * carries `s3:prefix=<key>`: a ListBucket grant limited to a prefix covers the keys under it.
 */
export function missingKeyCheck(input: S3AccessInput, bucket: string = input.bucket, key: string = input.key): AccessRequest {
  return s3Request(input, 'ListBucket', bucketArn(bucket), { 's3:prefix': key });
}

/** Every operation of local/s3/service.ts's route → what S3 authorizes for it. */
export const S3_ACCESS: AccessTable<S3AccessInput> = {
  ListBuckets: (input) => [s3Request(input, 'ListAllMyBuckets', '*')],
  CreateBucket: createBucket,
  PutBucketAcl: onBucket('PutBucketAcl', (input) => headerKeys(input, ACL_HEADERS)),
  HeadBucket: onBucket('ListBucket'),
  DeleteBucket: onBucket('DeleteBucket'),
  GetBucketLocation: onBucket('GetBucketLocation'),
  GetBucketAcl: onBucket('GetBucketAcl'),
  GetBucketVersioning: onBucket('GetBucketVersioning'),
  GetBucketEncryption: onBucket('GetEncryptionConfiguration'),
  GetPublicAccessBlock: onBucket('GetBucketPublicAccessBlock'),
  GetBucketLifecycleConfiguration: onBucket('GetLifecycleConfiguration'),
  ListMultipartUploads: onBucket('ListBucketMultipartUploads'),
  ListObjectsV2: listBucket,
  ListObjects: listBucket,
  // Each key is authorized on its own (S3_ITEM_ACCESS); the request as a whole needs nothing.
  DeleteObjects: () => [],
  UploadPart: (input) => [s3Request(input, 'PutObject', objectArn(input.bucket, input.key))],
  PutObjectAcl: (input) => [
    s3Request(
      input,
      input.query.has('versionId') ? 'PutObjectVersionAcl' : 'PutObjectAcl',
      objectArn(input.bucket, input.key),
      headerKeys(input, ACL_HEADERS),
    ),
  ],
  CopyObject: (input) =>
    uniqueRequests([
      ...copySourceRead(input),
      ...objectWrite(input, { ...copySourceKey(input), ...headerKeys(input, ['x-amz-metadata-directive']) }),
    ]),
  PutObject: (input) => uniqueRequests(objectWrite(input)),
  GetObjectAcl: onObject('GetObjectAcl', 'GetObjectVersionAcl'),
  ListParts: onObject('ListMultipartUploadParts'),
  GetObject: getObject,
  HeadObject: onObject('GetObject', 'GetObjectVersion'),
  AbortMultipartUpload: onObject('AbortMultipartUpload'),
  DeleteObject: onObject('DeleteObject', 'DeleteObjectVersion'),
  CreateMultipartUpload: (input) => uniqueRequests(objectWrite(input, {}, ['GenerateDataKey', 'Decrypt'])),
  CompleteMultipartUpload: (input) => [s3Request(input, 'PutObject', objectArn(input.bucket, input.key), writeKeys(input))],
  // Subresources and methods the local S3 does not implement: it answers NotImplemented or
  // MethodNotAllowed whoever asks, so there is nothing to authorize.
};

/** DeleteObjects: s3:DeleteObject per key; a denied key is an `AccessDenied` <Error> in the DeleteResult. */
export const S3_ITEM_ACCESS: ItemAccessTable<S3AccessInput> = {
  DeleteObjects: deleteObjectsItems,
};
