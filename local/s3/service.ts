import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { VirtualClock } from '../clock.js';
import { headerValue, type LocalRequest, type LocalResponse, type LocalService } from '../http.js';
import { actionTable, withAccess, type AccessTable, type ActionTable, type Authorize } from '../protocols/access.js';
import { handleRestXml, type RestXmlService } from '../protocols/rest-xml.js';
import { EC2_BUNDLE_READER, aclName, grantsAllow, ownerForAccount, type Grant } from './acl.js';
import {
  createBucket,
  deleteBucket,
  getBucketAcl,
  getBucketLocation,
  headBucket,
  listBuckets,
  listObjects,
  listObjectsV2,
  putBucketAcl,
} from './buckets.js';
import { getBucketEncryption, getBucketLifecycleConfiguration, getBucketVersioning, getPublicAccessBlock } from './configuration.js';
import { S3Error, noSuchBucket } from './errors.js';
import {
  abortMultipartUpload,
  completeMultipartUpload,
  createMultipartUpload,
  listMultipartUploads,
  listParts,
  uploadPart,
} from './multipart.js';
import { copyObject, deleteObject, deleteObjects, getObject, getObjectAcl, putObject, putObjectAcl } from './objects.js';
import {
  isValidBucketName,
  presignedScope,
  requestId,
  target,
  virtualHostBucket,
  type S3Call,
  type S3Env,
  type S3Response,
} from './protocol.js';
import { Store, type BucketConfiguration } from './store.js';

/**
 * The local S3 endpoint: REST-XML as `@aws-sdk/client-s3` speaks it (path-style and
 * `bucket.localhost` virtual-host style), for the factory's state bucket and instance-store
 * bundles. Objects live under `rootDir/<bucket>/` (see store.ts), or in memory.
 *
 * `handle()` answers with the whole body in memory (the LocalService contract);
 * `handleStream()` answers GetObject from disk as a stream, for a server that can pipe it.
 */
export interface S3ServiceOptions {
  /** Objects on disk under it; undefined keeps everything in memory. */
  rootDir?: string;
  accountId: string;
  clock?: VirtualClock;
  /** Smallest part (except the last) CompleteMultipartUpload accepts; S3's 5 MiB by default. */
  minPartSize?: number;
  /**
   * New buckets get ObjectOwnership BucketOwnerEnforced (ACLs disabled), as in S3 since
   * April 2023, unless created with `x-amz-object-ownership`. Off by default: bundles need
   * `aws-exec-read`, which such a bucket refuses (AccessControlListNotSupported).
   */
  enforceObjectOwnership?: boolean;
  /** Authorization of each call (protocols/access.ts); default: every call is allowed. */
  authorize?: Authorize;
  /** The access requests of each operation, by operation name (default: `s3:<Operation>` on `*`). */
  access?: AccessTable<S3Context>;
}

/** What an S3 operation is given: the service's state and the decoded request. */
export interface S3Context {
  env: S3Env;
  call: S3Call;
}

/** An object as other local services read it in-process (the local EC2 reads bundles at RegisterImage). */
export interface S3ObjectView {
  body: Buffer;
  /** The canned ACL (`aws-exec-read`…), or the canned ACL its grants amount to, or `custom`. */
  acl: string;
  contentType?: string;
  grants: Grant[];
  /** EC2 may read it (its canonical user, or everyone, has READ): what `aws-exec-read` is for. */
  ec2Readable: boolean;
  etag: string;
  size: number;
  lastModified: Date;
  metadata: Record<string, string>;
}

/** A response whose body may be a stream (GetObject from disk). */
export type S3StreamingResponse = LocalResponse & { headers: Record<string, string>; stream?: Readable };

export interface S3Service extends LocalService {
  getObject(bucket: string, key: string): S3ObjectView | undefined;
  listKeys(bucket: string, prefix?: string): string[];
  /** Calls per operation (`PutObject`, `ListObjectsV2`…). */
  stats(): Record<string, number>;
  /** Sets a bucket's versioning, default encryption, public access block and lifecycle (a deployment's). */
  configureBucket(bucket: string, configuration: BucketConfiguration): void;
  /** Like handle(), but object data read from disk comes as `stream` (body unset) instead of being buffered. */
  handleStream(req: LocalRequest): Promise<S3StreamingResponse>;
  close(): void;
}

type Op = (env: S3Env, call: S3Call) => S3Response | Promise<S3Response>;

/** Subresources this endpoint does not implement: answered NotImplemented rather than mistaken for another operation. */
const UNSUPPORTED = [
  'tagging',
  'attributes',
  'legal-hold',
  'retention',
  'torrent',
  'restore',
  'select',
  'versions',
  'policy',
  'policyStatus',
  'cors',
  'lifecycle',
  'website',
  'logging',
  'notification',
  'replication',
  'encryption',
  'ownershipControls',
  'publicAccessBlock',
  'accelerate',
  'requestPayment',
  'analytics',
  'inventory',
  'metrics',
  'intelligent-tiering',
  'object-lock',
  'session',
  'renameObject',
];

function notImplemented(): never {
  throw new S3Error('NotImplemented', 501, 'A header you provided implies functionality that is not implemented');
}

function methodNotAllowed(method: string): never {
  throw new S3Error('MethodNotAllowed', 405, 'The specified method is not allowed against this resource.', { Method: method });
}

/** The operations this endpoint serves, by name. */
const OPERATIONS: Record<string, Op> = {
  ListBuckets: listBuckets,
  CreateBucket: createBucket,
  PutBucketAcl: putBucketAcl,
  HeadBucket: headBucket,
  DeleteBucket: deleteBucket,
  GetBucketLocation: getBucketLocation,
  GetBucketAcl: getBucketAcl,
  GetBucketVersioning: getBucketVersioning,
  GetBucketEncryption: getBucketEncryption,
  GetPublicAccessBlock: getPublicAccessBlock,
  GetBucketLifecycleConfiguration: getBucketLifecycleConfiguration,
  ListMultipartUploads: listMultipartUploads,
  ListObjectsV2: listObjectsV2,
  ListObjects: listObjects,
  DeleteObjects: deleteObjects,
  UploadPart: uploadPart,
  PutObjectAcl: putObjectAcl,
  CopyObject: copyObject,
  PutObject: putObject,
  GetObjectAcl: getObjectAcl,
  ListParts: listParts,
  GetObject: (env, c) => getObject(env, c, true),
  HeadObject: (env, c) => getObject(env, c, false),
  AbortMultipartUpload: abortMultipartUpload,
  DeleteObject: deleteObject,
  CreateMultipartUpload: createMultipartUpload,
  CompleteMultipartUpload: completeMultipartUpload,
};

const ACTIONS: ActionTable<S3Context, S3Response> = actionTable<S3Context, S3Response>(
  Object.fromEntries(Object.entries(OPERATIONS).map(([name, op]) => [name, ({ env, call }: S3Context) => op(env, call)])),
);

/** The operation a request is (method, bucket or key, subresources); NotImplemented / MethodNotAllowed for the others. */
export function s3Operation(req: LocalRequest): string {
  const { bucket, key } = target(req);
  const q = req.query;
  const has = (n: string): boolean => q.has(n);
  const method = req.method.toUpperCase();
  // The bucket configuration the local S3 keeps (configuration.ts) is read-only: set by a deployment.
  if (method === 'GET' && bucket !== '' && key === '') {
    if (has('encryption')) return 'GetBucketEncryption';
    if (has('publicAccessBlock')) return 'GetPublicAccessBlock';
    if (has('lifecycle')) return 'GetBucketLifecycleConfiguration';
  }
  if (UNSUPPORTED.some(has)) notImplemented();
  if (bucket === '') {
    if (method === 'GET') return 'ListBuckets';
    methodNotAllowed(method);
  }
  if (key === '') {
    switch (method) {
      case 'PUT':
        if (has('acl')) return 'PutBucketAcl';
        if (has('versioning')) notImplemented();
        return 'CreateBucket';
      case 'HEAD':
        return 'HeadBucket';
      case 'DELETE':
        return 'DeleteBucket';
      case 'GET':
        if (has('location')) return 'GetBucketLocation';
        if (has('acl')) return 'GetBucketAcl';
        if (has('versioning')) return 'GetBucketVersioning';
        if (has('uploads')) return 'ListMultipartUploads';
        if (q.get('list-type') === '2') return 'ListObjectsV2';
        return 'ListObjects';
      case 'POST':
        if (has('delete')) return 'DeleteObjects';
        return notImplemented();
      default:
        return methodNotAllowed(method);
    }
  }
  const copy = headerValue(req.headers, 'x-amz-copy-source') !== undefined;
  switch (method) {
    case 'PUT':
      if (has('uploadId') || has('partNumber')) {
        if (copy) notImplemented(); // UploadPartCopy
        return 'UploadPart';
      }
      if (has('acl')) return 'PutObjectAcl';
      return copy ? 'CopyObject' : 'PutObject';
    case 'GET':
      if (has('acl')) return 'GetObjectAcl';
      if (has('uploadId')) return 'ListParts';
      return 'GetObject';
    case 'HEAD':
      return 'HeadObject';
    case 'DELETE':
      return has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
    case 'POST':
      if (has('uploads')) return 'CreateMultipartUpload';
      if (has('uploadId')) return 'CompleteMultipartUpload';
      return notImplemented();
    default:
      return methodNotAllowed(method);
  }
}

/**
 * True for requests this endpoint should answer: SigV4-signed for `s3` (header or presigned
 * query), and unsigned requests that can only be S3 (virtual-host style, or a path-style
 * `/<valid-bucket>[/key]` that is not a Query-protocol form, a JSON-protocol target or `/_local/`).
 */
export function isS3Request(req: LocalRequest): boolean {
  if (req.service !== undefined) return req.service === 's3';
  const presigned = presignedScope(req);
  if (presigned !== undefined) return presigned.service === 's3';
  const auth = headerValue(req.headers, 'authorization');
  if (auth !== undefined) return auth.startsWith('AWS '); // SigV2, which only S3 still accepts
  if (headerValue(req.headers, 'x-amz-target') !== undefined || req.query.has('Action') || req.path.startsWith('/_local/')) return false;
  if ((headerValue(req.headers, 'content-type') ?? '').startsWith('application/x-www-form-urlencoded')) return false;
  if (virtualHostBucket(req) !== undefined) return true;
  const first = req.path.split('/')[1] ?? '';
  return isValidBucketName(first);
}

export function createS3Service(opts: S3ServiceOptions): S3Service {
  const store = new Store(opts.rootDir);
  const env: S3Env = {
    store,
    accountId: opts.accountId,
    owner: ownerForAccount(opts.accountId),
    nowMs: () => opts.clock?.nowMs() ?? Date.now(),
    minPartSize: opts.minPartSize ?? 5 * 1024 * 1024,
    enforceObjectOwnership: opts.enforceObjectOwnership ?? false,
  };
  const calls: Record<string, number> = {};

  const protocol: RestXmlService<S3Context> = {
    iamPrefix: 's3',
    actions: withAccess(ACTIONS, opts.access),
    authorize: opts.authorize,
    route: (req) => {
      try {
        const operation = s3Operation(req);
        calls[operation] = (calls[operation] ?? 0) + 1;
        return operation;
      } catch (e) {
        calls.Unsupported = (calls.Unsupported ?? 0) + 1;
        throw e;
      }
    },
    context: ({ req, requestId }) => {
      const { bucket, key } = target(req);
      return { env, call: { req, bucket, key, region: presignedScope(req)?.region ?? req.region, requestId, refused: new Map() } };
    },
    internalError: (e) =>
      new S3Error(
        'InternalError',
        500,
        `We encountered an internal error. Please try again. (${e instanceof Error ? e.message : String(e)})`,
      ),
  };

  const handleStream = async (req: LocalRequest): Promise<S3StreamingResponse> => {
    const id = requestId();
    const r = await handleRestXml(req, protocol, id);
    const headers = { ...r.headers, 'x-amz-request-id': id, 'x-amz-id-2': randomBytes(24).toString('base64'), server: 'AmazonS3' };
    const out: S3StreamingResponse = { status: r.status, headers };
    if (r.body !== undefined) out.body = r.body;
    if (r.stream !== undefined) out.stream = r.stream;
    return out;
  };

  return {
    name: 's3',
    actionNames: () => Object.keys(ACTIONS),
    matches: isS3Request,
    handleStream,
    async handle(req) {
      const r = await handleStream(req);
      if (r.stream === undefined) return r;
      const chunks: Buffer[] = [];
      for await (const c of r.stream) chunks.push(c as Buffer);
      const { stream: _stream, ...rest } = r;
      return { ...rest, body: Buffer.concat(chunks) };
    },
    getObject(bucket, key) {
      const o = store.buckets.get(bucket)?.objects.get(key);
      if (o === undefined) return undefined;
      return {
        body: store.read(bucket, o.segments),
        acl: aclName(o.acl, env.owner),
        contentType: o.contentType,
        grants: o.acl.grants,
        ec2Readable: grantsAllow(o.acl, EC2_BUNDLE_READER.id, 'READ'),
        etag: o.etag,
        size: o.size,
        lastModified: new Date(o.lastModifiedMs),
        metadata: { ...o.metadata },
      };
    },
    listKeys(bucket, prefix = '') {
      return (store.buckets.get(bucket)?.sorted ?? []).filter((k) => k.startsWith(prefix));
    },
    stats: () => ({ ...calls }),
    configureBucket(bucket, configuration) {
      const b = store.buckets.get(bucket);
      if (b === undefined) throw noSuchBucket(bucket);
      b.meta.configuration = configuration;
      store.saveBucket(b);
    },
    close: () => undefined,
  };
}
