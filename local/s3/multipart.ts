import { randomBytes } from 'node:crypto';
import {
  CHECKSUM_ALGORITHMS,
  checksumOf,
  checksumElement,
  checksumHeader,
  createChecksum,
  isChecksumAlgorithm,
  md5Hex,
  type ChecksumAlgorithm,
} from './checksums.js';
import { S3Error, invalidArgument, invalidRequest, malformedXml, noSuchUpload } from './errors.js';
import { checksumElements, ownerXml } from './buckets.js';
import { checkKey, checkWriteConditions } from './objects.js';
import {
  attrsFromHeaders,
  header,
  isoDate,
  readPayload,
  requireBucket,
  xmlResponse,
  type S3Call,
  type S3Env,
  type S3Response,
} from './protocol.js';
import { compareKeys, type BucketState, type ChecksumType, type ObjectMeta, type PartMeta, type UploadMeta } from './store.js';
import { parseXmlBody } from '../protocols/rest-xml.js';
import { xmlChild, xmlChildText, xmlChildren, type XmlElement } from '../protocols/xml.js';

/**
 * Multipart uploads. Parts are stored as blobs and, on completion, become the object's
 * segments as they are (no copy): completing a 10 GiB upload costs one metadata write.
 */
const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;
const MAX_PARTS = 10000;

/** Uploads being completed (a full-object checksum is computed asynchronously). */
const completing = new WeakSet<UploadMeta>();

function uploadOf(env: S3Env, call: S3Call): { b: BucketState; u: UploadMeta } {
  const b = requireBucket(env, call);
  const id = call.req.query.get('uploadId') ?? '';
  const u = b.uploads.get(id);
  if (u === undefined || u.key !== call.key) throw noSuchUpload(id);
  return { b, u };
}

function owners(env: S3Env): XmlElement {
  return { Initiator: ownerXml(env), Owner: ownerXml(env) };
}

export function createMultipartUpload(env: S3Env, call: S3Call): S3Response {
  const b = requireBucket(env, call);
  checkKey(call.key);
  const attrs = attrsFromHeaders(env, call, b);
  const alg = header(call, 'x-amz-checksum-algorithm')?.toUpperCase();
  const type = header(call, 'x-amz-checksum-type')?.toUpperCase();
  if (alg !== undefined && !isChecksumAlgorithm(alg)) throw invalidRequest('Checksum algorithm provided is unsupported.');
  if (type !== undefined && type !== 'COMPOSITE' && type !== 'FULL_OBJECT')
    throw invalidRequest('Value for x-amz-checksum-type header is invalid.');
  if (type !== undefined && alg === undefined)
    throw invalidRequest('The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.');
  let checksumType: ChecksumType | undefined;
  if (alg !== undefined) {
    checksumType = (type as ChecksumType | undefined) ?? (alg === 'CRC64NVME' ? 'FULL_OBJECT' : 'COMPOSITE');
    if (checksumType === 'FULL_OBJECT' && (alg === 'SHA1' || alg === 'SHA256')) {
      throw invalidRequest(`The ${alg} checksum algorithm does not support the FULL_OBJECT checksum type.`);
    }
    if (checksumType === 'COMPOSITE' && alg === 'CRC64NVME')
      throw invalidRequest('The CRC64NVME checksum algorithm only supports the FULL_OBJECT checksum type.');
  }
  const uploadId = randomBytes(36).toString('base64url');
  const u: UploadMeta = { ...attrs, uploadId, key: call.key, initiatedMs: env.nowMs(), parts: {} };
  if (alg !== undefined && checksumType !== undefined) {
    u.checksumAlgorithm = alg as ChecksumAlgorithm;
    u.checksumType = checksumType;
  }
  env.store.saveUpload(b, u);
  const headers: Record<string, string> = {};
  if (u.checksumAlgorithm !== undefined && u.checksumType !== undefined) {
    headers['x-amz-checksum-algorithm'] = u.checksumAlgorithm;
    headers['x-amz-checksum-type'] = u.checksumType;
  }
  return xmlResponse('InitiateMultipartUploadResult', { Bucket: b.meta.name, Key: call.key, UploadId: uploadId }, headers);
}

function partNumberOf(call: S3Call): number {
  const v = call.req.query.get('partNumber') ?? '';
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > MAX_PARTS) {
    throw new S3Error('InvalidArgument', 400, `Part number must be an integer between 1 and ${MAX_PARTS}, inclusive`, {
      ArgumentName: 'partNumber',
      ArgumentValue: v,
    });
  }
  return n;
}

export async function uploadPart(env: S3Env, call: S3Call): Promise<S3Response> {
  const { b, u } = uploadOf(env, call);
  const partNumber = partNumberOf(call);
  if (completing.has(u))
    throw new S3Error(
      'OperationAborted',
      409,
      'A conflicting conditional operation is currently in progress against this resource. Please try again.',
    );
  const payload = await readPayload(call);
  if (payload.data.length > MAX_PART_SIZE)
    throw new S3Error('EntityTooLarge', 400, 'Your proposed upload exceeds the maximum allowed size');
  if (u.checksumAlgorithm !== undefined && payload.checksum !== undefined && payload.checksum.algorithm !== u.checksumAlgorithm) {
    throw invalidRequest(
      `Checksum Type mismatch occurred, expected checksum Type: ${u.checksumAlgorithm.toLowerCase()}, actual checksum Type: ${payload.checksum.algorithm.toLowerCase()}`,
    );
  }
  const checksums: PartMeta['checksums'] = {};
  if (payload.checksum !== undefined) checksums[payload.checksum.algorithm] = payload.checksum.value;
  if (u.checksumAlgorithm !== undefined && checksums[u.checksumAlgorithm] === undefined)
    checksums[u.checksumAlgorithm] = await checksumOf(u.checksumAlgorithm, payload.data);
  const etag = `"${md5Hex(payload.data)}"`;
  const blob = env.store.writeBlob(b.meta.name, payload.data);
  const old = u.parts[String(partNumber)];
  u.parts[String(partNumber)] = { partNumber, size: payload.data.length, etag, lastModifiedMs: env.nowMs(), blob, checksums };
  env.store.saveUpload(b, u);
  if (old !== undefined) env.store.freeBlob(b.meta.name, old.blob);
  const headers: Record<string, string> = { etag };
  for (const [alg, v] of Object.entries(checksums)) headers[checksumHeader(alg as ChecksumAlgorithm)] = v;
  return { status: 200, headers };
}

function completeResult(call: S3Call, o: ObjectMeta): S3Response {
  const host = header(call, 'host') ?? 'localhost';
  const location = `http://${host}/${encodeURIComponent(call.bucket)}/${call.key.split('/').map(encodeURIComponent).join('/')}`;
  const body: XmlElement = { Location: location, Bucket: call.bucket, Key: call.key, ETag: o.etag };
  if (o.checksum !== undefined) {
    body[checksumElement(o.checksum.algorithm)] = o.checksum.value;
    body.ChecksumType = o.checksum.type;
  }
  return xmlResponse(
    'CompleteMultipartUploadResult',
    body,
    o.checksum === undefined ? {} : { [checksumHeader(o.checksum.algorithm)]: o.checksum.value, 'x-amz-checksum-type': o.checksum.type },
  );
}

const bareEtag = (s: string): string => s.trim().replace(/^"|"$/g, '');

export async function completeMultipartUpload(env: S3Env, call: S3Call): Promise<S3Response> {
  const b = requireBucket(env, call);
  const uploadId = call.req.query.get('uploadId') ?? '';
  const u = b.uploads.get(uploadId);
  if (u === undefined || u.key !== call.key) {
    // A retried completion of an upload that did complete answers as the first one did.
    const done = b.objects.get(call.key);
    if (done?.multipart?.uploadId === uploadId) return completeResult(call, done);
    throw noSuchUpload(uploadId);
  }
  if (completing.has(u))
    throw new S3Error(
      'OperationAborted',
      409,
      'A conflicting conditional operation is currently in progress against this resource. Please try again.',
    );
  // On CompleteMultipartUpload, x-amz-checksum-<alg> is the expected checksum of the object, not of this body.
  const expectedChecksum = CHECKSUM_ALGORITHMS.map((alg) => ({ alg, value: header(call, checksumHeader(alg)) })).find(
    (c) => c.value !== undefined,
  );
  const expectedType = header(call, 'x-amz-checksum-type')?.toUpperCase();
  if (expectedType !== undefined && expectedType !== (u.checksumType ?? 'COMPOSITE')) {
    throw invalidRequest(
      `The upload was created using the ${u.checksumType ?? 'null'} checksum mode. The complete request must use the same checksum mode.`,
    );
  }
  if (expectedChecksum !== undefined && expectedChecksum.alg !== u.checksumAlgorithm) {
    throw invalidRequest(
      `The upload was created using a ${u.checksumAlgorithm?.toLowerCase() ?? 'null'} checksum. The complete request must use the same checksum algorithm.`,
    );
  }
  const doc = parseXmlBody(call.req.body, ['Part'], malformedXml);
  const root = xmlChild(doc, 'CompleteMultipartUpload');
  if (root === undefined) throw malformedXml();
  const requested = xmlChildren(root, 'Part');
  if (requested.length === 0)
    throw new S3Error('MalformedXML', 400, 'The XML you provided was not well-formed or did not validate against our published schema');
  const chosen: PartMeta[] = [];
  let previous = 0;
  for (const p of requested) {
    const n = Number(xmlChildText(p, 'PartNumber')?.trim());
    if (!Number.isInteger(n) || n < 1 || n > MAX_PARTS) throw malformedXml();
    if (n <= previous)
      throw new S3Error('InvalidPartOrder', 400, 'The list of parts was not in ascending order. Parts must be ordered by part number.', {
        UploadId: uploadId,
      });
    previous = n;
    const stored = u.parts[String(n)];
    const etag = xmlChildText(p, 'ETag');
    const invalidPart = (): S3Error =>
      new S3Error(
        'InvalidPart',
        400,
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
        {
          UploadId: uploadId,
          PartNumber: String(n),
          ...(etag !== undefined ? { ETag: etag } : {}),
        },
      );
    if (stored === undefined || etag === undefined || bareEtag(etag) !== bareEtag(stored.etag)) throw invalidPart();
    for (const alg of CHECKSUM_ALGORITHMS) {
      const given = xmlChildText(p, checksumElement(alg))?.trim();
      if (given === undefined) continue;
      const have = stored.checksums[alg];
      if (have === undefined) {
        if (u.checksumAlgorithm === undefined) continue; // the upload keeps no checksum: nothing to check against, as in S3
        throw invalidRequest(
          `The upload was created using a ${u.checksumAlgorithm.toLowerCase()} checksum. The complete request must use the same checksum algorithm.`,
        );
      }
      if (have !== given) throw invalidPart();
    }
    chosen.push(stored);
  }
  chosen.forEach((p, i) => {
    if (i < chosen.length - 1 && p.size < env.minPartSize) {
      throw new S3Error('EntityTooSmall', 400, 'Your proposed upload is smaller than the minimum allowed size', {
        ProposedSize: String(p.size),
        MinSizeAllowed: String(env.minPartSize),
        PartNumber: String(p.partNumber),
        ETag: bareEtag(p.etag),
      });
    }
  });
  const size = chosen.reduce((s, p) => s + p.size, 0);
  const declared = header(call, 'x-amz-mp-object-size');
  if (declared !== undefined && Number(declared) !== size) {
    throw invalidRequest(`The provided 'x-amz-mp-object-size' header value ${declared} does not match what was computed: ${size}`);
  }
  checkWriteConditions(call, b.objects.get(call.key));

  const etag = `"${md5Hex(...chosen.map((p) => Buffer.from(bareEtag(p.etag), 'hex')))}-${chosen.length}"`;
  const segments = chosen.map((p) => ({ blob: p.blob, size: p.size }));
  let checksum: ObjectMeta['checksum'];
  if (u.checksumAlgorithm !== undefined) {
    const alg = u.checksumAlgorithm;
    if (u.checksumType === 'FULL_OBJECT') {
      const sum = createChecksum(alg);
      completing.add(u);
      try {
        await env.store.scan(b.meta.name, segments, (chunk) => sum.update(chunk));
      } finally {
        completing.delete(u);
      }
      if (env.store.buckets.get(b.meta.name) !== b || b.uploads.get(uploadId) !== u) throw noSuchUpload(uploadId);
      checksum = { algorithm: alg, value: (await sum.digest()).toString('base64'), type: 'FULL_OBJECT' };
    } else {
      const raw = chosen.map((p) => Buffer.from(p.checksums[alg] as string, 'base64'));
      checksum = { algorithm: alg, value: `${await checksumOf(alg, ...raw)}-${chosen.length}`, type: 'COMPOSITE' };
    }
  }
  const { uploadId: _id, key: _key, initiatedMs: _at, checksumAlgorithm: _alg, checksumType: _type, parts: _parts, ...attrs } = u;
  if (checksum !== undefined && expectedChecksum?.value !== undefined) {
    const given = expectedChecksum.value.trim();
    if (given !== checksum.value && `${given}-${chosen.length}` !== checksum.value) {
      throw new S3Error('BadDigest', 400, `The ${checksum.algorithm} you specified did not match the calculated checksum.`);
    }
  }
  const meta: ObjectMeta = {
    ...attrs,
    key: call.key,
    size,
    etag,
    lastModifiedMs: env.nowMs(),
    segments,
    multipart: { uploadId, parts: chosen.map((p) => ({ size: p.size, etag: p.etag, checksums: p.checksums })) },
  };
  if (checksum !== undefined) meta.checksum = checksum;
  env.store.putObject(b, meta);
  env.store.deleteUpload(b, u, new Set(segments.map((s) => s.blob)));
  return completeResult(call, meta);
}

export function abortMultipartUpload(env: S3Env, call: S3Call): S3Response {
  const { b, u } = uploadOf(env, call);
  env.store.deleteUpload(b, u);
  return { status: 204, headers: {} };
}

function intParam(call: S3Call, name: string, dflt: number): number {
  const v = call.req.query.get(name);
  if (v === null || v === '') return dflt;
  if (!/^\d+$/.test(v)) throw invalidArgument(`Provided ${name} not an integer or within integer range`, name, v);
  return Math.min(Number(v), 1000);
}

export function listParts(env: S3Env, call: S3Call): S3Response {
  const { b, u } = uploadOf(env, call);
  const max = intParam(call, 'max-parts', 1000);
  const marker = intParam(call, 'part-number-marker', 0);
  const all = Object.values(u.parts)
    .filter((p) => p.partNumber > marker)
    .sort((x, y) => x.partNumber - y.partNumber);
  const page = all.slice(0, max);
  const truncated = all.length > page.length;
  return xmlResponse('ListPartsResult', {
    Bucket: b.meta.name,
    Key: u.key,
    UploadId: u.uploadId,
    PartNumberMarker: marker,
    NextPartNumberMarker: page.at(-1)?.partNumber,
    MaxParts: max,
    IsTruncated: truncated,
    Part: page.map((p) => ({
      PartNumber: p.partNumber,
      LastModified: isoDate(p.lastModifiedMs),
      ETag: p.etag,
      ...checksumElements(p.checksums),
      Size: p.size,
    })),
    ...owners(env),
    StorageClass: 'STANDARD',
    ChecksumAlgorithm: u.checksumAlgorithm,
    ChecksumType: u.checksumType,
  });
}

export function listMultipartUploads(env: S3Env, call: S3Call): S3Response {
  const b = requireBucket(env, call);
  const q = call.req.query;
  const prefix = q.get('prefix') ?? '';
  const keyMarker = q.get('key-marker') ?? '';
  const idMarker = q.get('upload-id-marker') ?? '';
  const max = intParam(call, 'max-uploads', 1000);
  const all = [...b.uploads.values()]
    .filter((u) => u.key.startsWith(prefix))
    .sort((x, y) => compareKeys(x.key, y.key) || x.initiatedMs - y.initiatedMs || compareKeys(x.uploadId, y.uploadId))
    .filter((u) => {
      if (keyMarker === '') return true;
      const c = compareKeys(u.key, keyMarker);
      return c > 0 || (c === 0 && idMarker !== '' && compareKeys(u.uploadId, idMarker) > 0);
    });
  const page = all.slice(0, max);
  const truncated = all.length > page.length;
  const last = page.at(-1);
  return xmlResponse('ListMultipartUploadsResult', {
    Bucket: b.meta.name,
    KeyMarker: keyMarker,
    UploadIdMarker: idMarker,
    NextKeyMarker: truncated ? last?.key : undefined,
    NextUploadIdMarker: truncated ? last?.uploadId : undefined,
    Prefix: prefix,
    MaxUploads: max,
    IsTruncated: truncated,
    Upload: page.map((u) => ({
      Key: u.key,
      UploadId: u.uploadId,
      ...owners(env),
      StorageClass: 'STANDARD',
      Initiated: isoDate(u.initiatedMs),
      ChecksumAlgorithm: u.checksumAlgorithm,
      ChecksumType: u.checksumType,
    })),
  });
}
