import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ImageObject } from './bundle.js';
import { BundleInputError, ImageChangedError } from './errors.js';
import { S3_ERROR } from '../error-codes.js';
import { hasErrorName } from '../errors.js';

/** Bytes fetched per ranged GET; reads inside the window are served from memory. */
export const S3_READ_WINDOW = 8 * 1024 * 1024;

/**
 * An image object in S3 as a positional reader for the bundler: ranged GETs pinned to the
 * object's ETag (`If-Match`), so an object replaced while it is being bundled fails the
 * bundle with ImageChangedError instead of mixing two images. Memory: one read window.
 */
export async function s3ImageObject(s3: S3Client, bucket: string, key: string, window = S3_READ_WINDOW): Promise<ImageObject> {
  let head;
  try {
    head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  } catch (e) {
    throw new BundleInputError(`cannot read image s3://${bucket}/${key}: ${e instanceof Error ? e.name : String(e)}`, { cause: e });
  }
  const size = head.ContentLength ?? 0;
  const etag = head.ETag;
  let cache: { start: number; data: Buffer } | undefined;

  const fetch = async (start: number): Promise<{ start: number; data: Buffer }> => {
    const end = Math.min(size, start + window) - 1;
    try {
      const r = await s3.send(
        new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end}`, ...(etag ? { IfMatch: etag } : {}) }),
      );
      const data = Buffer.from((await r.Body?.transformToByteArray()) ?? new Uint8Array());
      return { start, data };
    } catch (e) {
      if (hasErrorName(e, S3_ERROR.preconditionFailed, S3_ERROR.noSuchKey)) {
        throw new ImageChangedError(`image s3://${bucket}/${key} changed or disappeared while it was being bundled`, { cause: e });
      }
      throw e;
    }
  };

  return {
    label: `s3://${bucket}/${key}`,
    size,
    mtimeMs: head.LastModified?.getTime() ?? 0,
    reader: {
      async read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }> {
        if (position >= size || length === 0) return { bytesRead: 0 };
        if (cache === undefined || position < cache.start || position >= cache.start + cache.data.length) cache = await fetch(position);
        const from = position - cache.start;
        const n = Math.min(length, cache.data.length - from);
        cache.data.copy(buffer, offset, from, from + n);
        return { bytesRead: n };
      },
    },
    async verifyUnchanged(): Promise<void> {
      const now = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      if (now.ETag !== etag) throw new ImageChangedError(`image s3://${bucket}/${key} changed while it was being bundled`);
    },
  };
}
