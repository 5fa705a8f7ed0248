import { createHash, randomUUID } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { writeJsonAtomic } from '../persist.js';
import type { Acl } from './acl.js';
import type { ChecksumAlgorithm } from './checksums.js';

/**
 * What the local S3 keeps: buckets, objects and multipart uploads (metadata, in memory and,
 * with a root directory, on disk) and blobs (object data: memory buffers or files).
 *
 * On disk, per bucket:
 *   <root>/<bucket>/bucket.json              the bucket (its presence is the bucket's existence)
 *   <root>/<bucket>/objects/<sha256(key)>.json  one object's metadata, key included
 *   <root>/<bucket>/uploads/<uploadId>.json  one multipart upload in progress, parts included
 *   <root>/<bucket>/blobs/<id>               data: a whole object, or one part of a multipart object
 * Keys never become file names (they may hold `/`, `..`, any character, 1024 bytes).
 * Every write is data first (temp file, fsync, rename), then metadata (writeJsonAtomic), then
 * the removal of what it replaced, so a crash leaves the old object or the new one, never half
 * of one; blobs no metadata refers to are removed when the store is opened again.
 */

export interface Segment {
  blob: string;
  size: number;
}

export interface ObjectAttrs {
  contentType?: string;
  contentEncoding?: string;
  contentDisposition?: string;
  contentLanguage?: string;
  cacheControl?: string;
  expires?: string;
  /** User metadata, names lowercased without `x-amz-meta-`. */
  metadata: Record<string, string>;
  acl: Acl;
}

export type ChecksumType = 'FULL_OBJECT' | 'COMPOSITE';

export interface ObjectChecksum {
  algorithm: ChecksumAlgorithm;
  /** base64; a composite checksum ends with `-<parts>`. */
  value: string;
  type: ChecksumType;
}

export interface PartInfo {
  size: number;
  etag: string;
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
}

export interface ObjectMeta extends ObjectAttrs {
  key: string;
  size: number;
  /** Quoted, as S3 returns it. */
  etag: string;
  lastModifiedMs: number;
  checksum?: ObjectChecksum;
  /** The data, in order; a multipart object keeps one segment per part. */
  segments: Segment[];
  /** Set for objects made by CompleteMultipartUpload (one entry per part, segment i = part i + 1). */
  multipart?: { uploadId: string; parts: PartInfo[] };
}

export interface PartMeta extends PartInfo {
  partNumber: number;
  lastModifiedMs: number;
  blob: string;
}

export interface UploadMeta extends ObjectAttrs {
  uploadId: string;
  key: string;
  initiatedMs: number;
  checksumAlgorithm?: ChecksumAlgorithm;
  checksumType?: ChecksumType;
  /** By part number. */
  parts: Record<string, PartMeta>;
}

export interface BucketMeta {
  name: string;
  region: string;
  createdMs: number;
  ownerAccount: string;
  acl: Acl;
  objectOwnership?: 'BucketOwnerEnforced' | 'BucketOwnerPreferred' | 'ObjectWriter';
  /** Versioning, default encryption, public access block and lifecycle (configuration.ts). */
  configuration?: BucketConfiguration;
}

export interface BucketEncryption {
  algorithm: 'AES256' | 'aws:kms' | 'aws:kms:dsse';
  /** The key as configured (id, alias or ARN); unset means the AWS managed key `aws/s3`. */
  kmsKeyId?: string;
  bucketKeyEnabled: boolean;
}

export interface PublicAccessBlock {
  BlockPublicAcls: boolean;
  IgnorePublicAcls: boolean;
  BlockPublicPolicy: boolean;
  RestrictPublicBuckets: boolean;
}

/** One lifecycle rule, in the shape of S3's <Rule> (elements as S3 names them). */
export interface LifecycleRule {
  ID?: string;
  Status: 'Enabled' | 'Disabled';
  Prefix?: string;
  ExpirationDays?: number;
  ExpiredObjectDeleteMarker?: boolean;
  NoncurrentDays?: number;
  AbortIncompleteDays?: number;
}

export interface BucketConfiguration {
  versioning?: 'Enabled' | 'Suspended';
  encryption?: BucketEncryption;
  publicAccessBlock?: PublicAccessBlock;
  lifecycle?: LifecycleRule[];
}

export interface BucketState {
  meta: BucketMeta;
  objects: Map<string, ObjectMeta>;
  uploads: Map<string, UploadMeta>;
  /** Keys in S3 listing order (UTF-8 bytes). */
  sorted: string[];
}

/** Compares two keys the way S3 orders them: by their UTF-8 bytes. */
export function compareKeys(a: string, b: string): number {
  // UTF-16 order equals UTF-8 byte order unless a surrogate pair meets a char in U+E000..U+FFFF.
  if (!/[\ud800-\udfff]/.test(a) && !/[\ud800-\udfff]/.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Index of the first key in `sorted` that is > `after` (or >= when `inclusive`). */
export function lowerBound(sorted: string[], after: string, inclusive = false): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareKeys(sorted[mid] as string, after);
    if (c < 0 || (c === 0 && !inclusive)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const COPY_CHUNK = 1024 * 1024;

export class Store {
  readonly buckets = new Map<string, BucketState>();
  private readonly memBlobs = new Map<string, Buffer>();
  /** Blobs being read (streamed responses); their removal waits for the readers. */
  private readonly pins = new Map<string, number>();
  private readonly deferred = new Set<string>();

  constructor(private readonly rootDir: string | undefined) {
    if (rootDir !== undefined) this.load(rootDir);
  }

  get persistent(): boolean {
    return this.rootDir !== undefined;
  }

  // ---- buckets ----

  createBucket(meta: BucketMeta): BucketState {
    const state: BucketState = { meta, objects: new Map(), uploads: new Map(), sorted: [] };
    if (this.rootDir !== undefined) {
      const dir = join(this.rootDir, meta.name);
      for (const sub of ['objects', 'uploads', 'blobs']) mkdirSync(join(dir, sub), { recursive: true });
      writeJsonAtomic(join(dir, 'bucket.json'), meta);
    }
    this.buckets.set(meta.name, state);
    return state;
  }

  saveBucket(b: BucketState): void {
    if (this.rootDir !== undefined) writeJsonAtomic(join(this.rootDir, b.meta.name, 'bucket.json'), b.meta);
  }

  deleteBucket(b: BucketState): void {
    for (const u of b.uploads.values()) for (const p of Object.values(u.parts)) this.freeBlob(b.meta.name, p.blob);
    this.buckets.delete(b.meta.name);
    if (this.rootDir !== undefined) {
      const dir = join(this.rootDir, b.meta.name);
      unlinkSync(join(dir, 'bucket.json')); // from here on the bucket is gone, even if the rest is interrupted
      rmSync(dir, { recursive: true, force: true });
    } else {
      for (const id of [...this.memBlobs.keys()]) if (id.startsWith(`${b.meta.name}/`)) this.memBlobs.delete(id);
    }
  }

  // ---- objects ----

  /** Stores `meta` (its blobs already written), replacing any object under the key. */
  putObject(b: BucketState, meta: ObjectMeta): void {
    const old = b.objects.get(meta.key);
    if (this.rootDir !== undefined) writeJsonAtomic(this.objectFile(b.meta.name, meta.key), meta);
    b.objects.set(meta.key, meta);
    if (old === undefined) {
      b.sorted.splice(lowerBound(b.sorted, meta.key, true), 0, meta.key);
    } else {
      const keep = new Set(meta.segments.map((s) => s.blob));
      for (const s of old.segments) if (!keep.has(s.blob)) this.freeBlob(b.meta.name, s.blob);
    }
  }

  deleteObject(b: BucketState, key: string): boolean {
    const old = b.objects.get(key);
    if (old === undefined) return false;
    if (this.rootDir !== undefined) rmSync(this.objectFile(b.meta.name, key), { force: true });
    b.objects.delete(key);
    const i = lowerBound(b.sorted, key, true);
    if (b.sorted[i] === key) b.sorted.splice(i, 1);
    for (const s of old.segments) this.freeBlob(b.meta.name, s.blob);
    return true;
  }

  // ---- multipart uploads ----

  saveUpload(b: BucketState, u: UploadMeta): void {
    if (this.rootDir !== undefined) writeJsonAtomic(join(this.rootDir, b.meta.name, 'uploads', `${u.uploadId}.json`), u);
    b.uploads.set(u.uploadId, u);
  }

  /** Forgets the upload and frees the blobs of its parts, except those in `keep` (now an object's). */
  deleteUpload(b: BucketState, u: UploadMeta, keep: ReadonlySet<string> = new Set()): void {
    if (this.rootDir !== undefined) rmSync(join(this.rootDir, b.meta.name, 'uploads', `${u.uploadId}.json`), { force: true });
    b.uploads.delete(u.uploadId);
    for (const p of Object.values(u.parts)) if (!keep.has(p.blob)) this.freeBlob(b.meta.name, p.blob);
  }

  // ---- blobs ----

  /** Writes data as a new blob (temp file, fsync, rename) and returns its id. */
  writeBlob(bucket: string, data: Buffer): string {
    const id = randomUUID();
    if (this.rootDir === undefined) {
      this.memBlobs.set(`${bucket}/${id}`, Buffer.from(data));
      return id;
    }
    const dir = join(this.rootDir, bucket, 'blobs');
    const tmp = join(dir, `.${id}.tmp`);
    const fd = openSync(tmp, 'w');
    try {
      let off = 0;
      while (off < data.length) off += writeSync(fd, data, off, data.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(dir, id));
    return id;
  }

  /**
   * Writes the concatenation of `segments` (of `fromBucket`) as one new blob of `bucket`,
   * handing every chunk to `observe` (hashing) on the way; asynchronous, in 1 MiB chunks.
   */
  async copyBlob(fromBucket: string, segments: Segment[], bucket: string, observe: (chunk: Buffer) => void): Promise<string> {
    const release = this.pin(fromBucket, segments);
    try {
      if (this.rootDir === undefined) {
        const parts = segments.map((s) => this.memBlob(fromBucket, s.blob));
        for (const p of parts) observe(p);
        return this.writeBlob(bucket, Buffer.concat(parts));
      }
      const id = randomUUID();
      const dir = join(this.rootDir, bucket, 'blobs');
      const tmp = join(dir, `.${id}.tmp`);
      const out = await open(tmp, 'w');
      try {
        for await (const chunk of this.stream(fromBucket, segments, 0, totalSize(segments) - 1)) {
          observe(chunk as Buffer);
          await out.write(chunk as Buffer);
        }
        await out.sync();
      } finally {
        await out.close();
      }
      renameSync(tmp, join(dir, id));
      return id;
    } finally {
      release();
    }
  }

  /** Feeds the bytes of `segments` to `observe` without keeping them (full-object checksums). */
  async scan(bucket: string, segments: Segment[], observe: (chunk: Buffer) => void): Promise<void> {
    const release = this.pin(bucket, segments);
    try {
      if (this.rootDir === undefined) {
        for (const s of segments) observe(this.memBlob(bucket, s.blob));
        return;
      }
      for await (const chunk of this.stream(bucket, segments, 0, totalSize(segments) - 1)) observe(chunk as Buffer);
    } finally {
      release();
    }
  }

  /** Bytes `start..end` (inclusive) of the concatenation of `segments`, read now. */
  read(bucket: string, segments: Segment[], start = 0, end = totalSize(segments) - 1): Buffer {
    const out: Buffer[] = [];
    for (const { blob, from, to } of slices(segments, start, end)) {
      if (this.rootDir === undefined) {
        out.push(this.memBlob(bucket, blob).subarray(from, to + 1));
        continue;
      }
      const buf = Buffer.allocUnsafe(to - from + 1);
      const fd = openSync(this.blobFile(bucket, blob), 'r');
      try {
        let off = 0;
        while (off < buf.length) {
          const n = readSync(fd, buf, off, Math.min(COPY_CHUNK * 16, buf.length - off), from + off);
          if (n === 0) throw new Error(`local S3: blob ${bucket}/${blob} is shorter than its metadata says`);
          off += n;
        }
      } finally {
        closeSync(fd);
      }
      out.push(buf);
    }
    return out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out);
  }

  /**
   * Bytes `start..end` (inclusive) as a stream read from disk as it is consumed; the blobs
   * stay readable until the stream ends, even if the object is overwritten or deleted meanwhile.
   */
  stream(bucket: string, segments: Segment[], start: number, end: number): Readable {
    const pieces = slices(segments, start, end);
    if (this.rootDir === undefined) {
      return Readable.from(
        pieces.map(({ blob, from, to }) => this.memBlob(bucket, blob).subarray(from, to + 1)),
        { objectMode: false },
      );
    }
    const release = this.pin(bucket, segments);
    const files = pieces.map((p) => ({ path: this.blobFile(bucket, p.blob), from: p.from, to: p.to }));
    async function* chunks(): AsyncGenerator<Buffer> {
      for (const f of files) {
        for await (const c of createReadStream(f.path, { start: f.from, end: f.to, highWaterMark: COPY_CHUNK })) yield c as Buffer;
      }
    }
    const out = Readable.from(chunks(), { objectMode: false });
    let released = false;
    const done = (): void => {
      if (!released) {
        released = true;
        release();
      }
    };
    out.once('end', done);
    out.once('close', done);
    out.once('error', done);
    return out;
  }

  freeBlob(bucket: string, id: string): void {
    const k = `${bucket}/${id}`;
    if ((this.pins.get(k) ?? 0) > 0) {
      this.deferred.add(k);
      return;
    }
    if (this.rootDir === undefined) this.memBlobs.delete(k);
    else rmSync(this.blobFile(bucket, id), { force: true });
  }

  private pin(bucket: string, segments: Segment[]): () => void {
    const keys = segments.map((s) => `${bucket}/${s.blob}`);
    for (const k of keys) this.pins.set(k, (this.pins.get(k) ?? 0) + 1);
    return () => {
      for (const k of keys) {
        const n = (this.pins.get(k) ?? 1) - 1;
        if (n > 0) {
          this.pins.set(k, n);
          continue;
        }
        this.pins.delete(k);
        if (this.deferred.delete(k)) {
          const slash = k.indexOf('/');
          this.freeBlob(k.slice(0, slash), k.slice(slash + 1));
        }
      }
    };
  }

  private memBlob(bucket: string, id: string): Buffer {
    const b = this.memBlobs.get(`${bucket}/${id}`);
    if (b === undefined) throw new Error(`local S3: blob ${bucket}/${id} is missing`);
    return b;
  }

  private blobFile(bucket: string, id: string): string {
    return join(this.rootDir as string, bucket, 'blobs', id);
  }

  private objectFile(bucket: string, key: string): string {
    return join(this.rootDir as string, bucket, 'objects', `${createHash('sha256').update(key, 'utf8').digest('hex')}.json`);
  }

  // ---- startup ----

  /** Reads the world back; removes what an interrupted write or delete left behind. */
  private load(root: string): void {
    mkdirSync(root, { recursive: true });
    for (const entry of readdirSync(root, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const dir = join(root, entry.name);
      const bucketFile = join(dir, 'bucket.json');
      if (!existsSync(bucketFile)) {
        // A bucket whose deletion (or creation) was interrupted: remove it if it is one of ours.
        const inside = readdirSync(dir);
        if (inside.every((n) => ['objects', 'uploads', 'blobs'].includes(n))) rmSync(dir, { recursive: true, force: true });
        continue;
      }
      const meta = JSON.parse(readFileSync(bucketFile, 'utf8')) as BucketMeta;
      const state: BucketState = { meta, objects: new Map(), uploads: new Map(), sorted: [] };
      const used = new Set<string>();
      for (const sub of ['objects', 'uploads', 'blobs']) mkdirSync(join(dir, sub), { recursive: true });
      for (const f of readdirSync(join(dir, 'objects'))) {
        const path = join(dir, 'objects', f);
        if (!f.endsWith('.json') || f.startsWith('.')) {
          rmSync(path, { force: true }); // a temp file of an interrupted atomic write
          continue;
        }
        const o = JSON.parse(readFileSync(path, 'utf8')) as ObjectMeta;
        state.objects.set(o.key, o);
        for (const s of o.segments) used.add(s.blob);
      }
      for (const f of readdirSync(join(dir, 'uploads'))) {
        const path = join(dir, 'uploads', f);
        if (!f.endsWith('.json') || f.startsWith('.')) {
          rmSync(path, { force: true });
          continue;
        }
        const u = JSON.parse(readFileSync(path, 'utf8')) as UploadMeta;
        state.uploads.set(u.uploadId, u);
        for (const p of Object.values(u.parts)) used.add(p.blob);
      }
      for (const f of readdirSync(join(dir, 'blobs'))) if (!used.has(f)) rmSync(join(dir, 'blobs', f), { force: true });
      state.sorted = [...state.objects.keys()].sort(compareKeys);
      this.buckets.set(meta.name, state);
    }
  }
}

export function totalSize(segments: Segment[]): number {
  return segments.reduce((n, s) => n + s.size, 0);
}

/** The pieces of `segments` that bytes `start..end` (inclusive) cover, with offsets inside each blob. */
function slices(segments: Segment[], start: number, end: number): { blob: string; from: number; to: number }[] {
  const out: { blob: string; from: number; to: number }[] = [];
  let base = 0;
  for (const s of segments) {
    const segEnd = base + s.size - 1;
    if (s.size > 0 && segEnd >= start && base <= end)
      out.push({ blob: s.blob, from: Math.max(start, base) - base, to: Math.min(end, segEnd) - base });
    base += s.size;
  }
  return out;
}
