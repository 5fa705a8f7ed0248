/**
 * Reading bundles: part checks (verify-bundle) and unbundling (ec2-unbundle, done carefully):
 * the signature and each part's digest are checked — a part's bytes reach the decryption only
 * after its digest held — then AES-128-CBC → gunzip → tar (one member, sparse honoured) → file,
 * hashing the tar stream against `image/digest`. The output is written under a temporary name
 * and renamed at the end; on any error it is removed.
 */
import { createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { PART_SIZE } from './constants.js';
import {
  DigestMismatchError,
  MissingPartError,
  PartDigestMismatchError,
  PartSizeMismatchError,
  TarFormatError,
  TruncatedPartError,
  WrongKeyError,
} from './errors.js';
import { loadPrivateKey, unwrapBundleKey, type BundleKey, type KeyInput } from './keys.js';
import { assertPlainName, expectedPartSize, parseManifest, verifyManifestSignature, type Manifest } from './manifest.js';
import type { BundleSource } from './storage.js';
import { extractSingleMember, type ExtractedMember } from './tar.js';

export interface PartCheck {
  index: number;
  filename: string;
  size: number;
  digest: string;
}

export interface VerifyPartsOptions {
  /** The format's 10 MiB unless the bundle was made with another (tests). */
  partSize?: number;
  /** Bundled bytes read so far. */
  onProgress?: (bytes: number, total: number) => void;
  signal?: AbortSignal;
}

function asManifest(manifest: Manifest | string): Manifest {
  return typeof manifest === 'string' ? parseManifest(manifest) : manifest;
}

/**
 * Checks that every part exists with the size the manifest implies (all parts but the last are
 * exactly one part size; together they make `bundled_size`). Reads nothing but sizes.
 */
export async function checkPartSizes(manifest: Manifest, source: BundleSource, partSize = PART_SIZE): Promise<void> {
  for (const part of manifest.image.parts) {
    const expected = expectedPartSize(manifest, part.index, partSize);
    const actual = await source.partSize(part.filename);
    if (actual === undefined) throw new MissingPartError(part.filename);
    if (actual < expected) throw new TruncatedPartError(part.filename, expected, actual);
    if (actual > expected) throw new PartSizeMismatchError(part.filename, expected, actual);
  }
}

/** Reads one part whole (at most one part size), checking its size and SHA-1. */
async function readVerifiedPart(
  manifest: Manifest,
  index: number,
  source: BundleSource,
  partSize: number,
  signal?: AbortSignal,
): Promise<Buffer[]> {
  const part = manifest.image.parts[index];
  if (part === undefined) throw new MissingPartError(`#${index}`);
  const expected = expectedPartSize(manifest, index, partSize);
  const hash = createHash('sha1');
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of source.readPart(part.filename)) {
      signal?.throwIfAborted();
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      size += buf.length;
      if (size > expected) throw new PartSizeMismatchError(part.filename, expected, size);
      hash.update(buf);
      chunks.push(buf);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new MissingPartError(part.filename, { cause: e });
    throw e;
  }
  if (size < expected) throw new TruncatedPartError(part.filename, expected, size);
  const digest = hash.digest('hex');
  if (digest !== part.digest) throw new PartDigestMismatchError(part.filename, part.digest, digest);
  return chunks;
}

/**
 * Verifies every part: present (MissingPartError), of the right size (TruncatedPartError,
 * PartSizeMismatchError) and with the manifest's SHA-1 (PartDigestMismatchError).
 */
export async function verifyParts(manifest: Manifest | string, source: BundleSource, opts: VerifyPartsOptions = {}): Promise<PartCheck[]> {
  const m = asManifest(manifest);
  const partSize = opts.partSize ?? PART_SIZE;
  await checkPartSizes(m, source, partSize);
  const checks: PartCheck[] = [];
  let bytes = 0;
  for (const part of m.image.parts) {
    const chunks = await readVerifiedPart(m, part.index, source, partSize, opts.signal);
    const size = chunks.reduce((n, c) => n + c.length, 0);
    bytes += size;
    opts.onProgress?.(bytes, m.image.bundledSize);
    checks.push({ index: part.index, filename: part.filename, size, digest: part.digest });
  }
  return checks;
}

export interface UnbundleOptions {
  manifest: Manifest | string;
  source: BundleSource;
  /** The key that unwraps the bundle key: the user's (default) or EC2's (`holder: 'ec2'`). */
  privateKey: KeyInput;
  holder?: 'user' | 'ec2';
  /** Directory of the output file (created if needed). */
  destination: string;
  /** Output file name; default: the manifest's image name. */
  outputName?: string;
  /**
   * Checks the manifest signature against this certificate. Default: against the public half of
   * `privateKey` when the holder is the user (the user signed it); `false` skips the check.
   */
  certificate?: KeyInput | false;
  partSize?: number;
  /** Bundled bytes read so far. */
  onProgress?: (bytes: number, total: number) => void;
  signal?: AbortSignal;
}

export interface UnbundleResult {
  path: string;
  member: ExtractedMember;
  /** SHA-1 of the tar stream (equals `image/digest`). */
  digest: string;
  manifest: Manifest;
}

function isZlibError(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('Z_');
}

async function* verifiedCiphertext(m: Manifest, source: BundleSource, partSize: number, opts: UnbundleOptions): AsyncGenerator<Buffer> {
  let bytes = 0;
  for (const part of m.image.parts) {
    for (const chunk of await readVerifiedPart(m, part.index, source, partSize, opts.signal)) {
      bytes += chunk.length;
      yield chunk;
    }
    opts.onProgress?.(bytes, m.image.bundledSize);
  }
}

async function* decrypt(source: AsyncIterable<Buffer>, key: BundleKey): AsyncGenerator<Buffer> {
  const decipher = createDecipheriv('aes-128-cbc', key.key, key.iv);
  for await (const chunk of source) {
    const out = decipher.update(chunk);
    if (out.length > 0) yield out;
  }
  let last: Buffer;
  try {
    last = decipher.final();
  } catch (e) {
    throw new WrongKeyError('the parts do not decrypt with the unwrapped key (bad padding)', { cause: e });
  }
  if (last.length > 0) yield last;
}

/**
 * Unbundles: unwrap the key (WrongKeyError), check the signature (SignatureMismatchError), part
 * sizes (MissingPartError, TruncatedPartError) and, part by part, digests
 * (PartDigestMismatchError); decrypt, gunzip (WrongKeyError when either fails), extract the single
 * tar member, and compare the tar stream's SHA-1 with `image/digest` (DigestMismatchError).
 */
export async function unbundle(opts: UnbundleOptions): Promise<UnbundleResult> {
  const m = asManifest(opts.manifest);
  const partSize = opts.partSize ?? PART_SIZE;
  const outputName = opts.outputName ?? m.image.name;
  assertPlainName(outputName, 'output file name');
  const privateKey = loadPrivateKey(opts.privateKey);
  const holder = opts.holder ?? 'user';
  const bundleKey = unwrapBundleKey(m.image, privateKey, holder);
  const certificate = opts.certificate ?? (holder === 'user' ? privateKey : false);
  if (certificate !== false) verifyManifestSignature(m, certificate);
  await checkPartSizes(m, opts.source, partSize);

  await mkdir(opts.destination, { recursive: true });
  const finalPath = join(opts.destination, outputName);
  const tmpPath = join(opts.destination, `.${outputName}.unbundle-${randomBytes(6).toString('hex')}`);
  const fh = await open(tmpPath, 'wx');
  let closed = false;
  try {
    const tarHash = createHash('sha1');
    let member: ExtractedMember | undefined;
    const gunzip = createGunzip({ chunkSize: 256 * 1024 });
    try {
      await pipeline(
        Readable.from(decrypt(verifiedCiphertext(m, opts.source, partSize, opts), bundleKey), { highWaterMark: 2 }),
        gunzip,
        async (tarBytes: AsyncIterable<Buffer>) => {
          async function* hashed(): AsyncGenerator<Buffer> {
            try {
              for await (const chunk of tarBytes) {
                tarHash.update(chunk);
                yield chunk;
              }
            } catch (e) {
              if (isZlibError(e)) throw new WrongKeyError('the decrypted parts are not gzip data: wrong key', { cause: e });
              throw e;
            }
          }
          member = await extractSingleMember(hashed(), {
            write: async (data, position) => {
              let offset = 0;
              while (offset < data.length) {
                const { bytesWritten } = await fh.write(data, offset, data.length - offset, position + offset);
                offset += bytesWritten;
              }
            },
            truncate: (length) => fh.truncate(length),
          });
        },
        ...(opts.signal === undefined ? [] : [{ signal: opts.signal }]),
      );
    } catch (e) {
      if (isZlibError(e)) throw new WrongKeyError('the decrypted parts are not gzip data: wrong key', { cause: e });
      throw e;
    }
    if (member === undefined) throw new TarFormatError('the tar stream holds no member');
    const extracted: ExtractedMember = member;
    if (extracted.size !== m.image.size) {
      throw new TarFormatError(`the tar member is ${extracted.size} bytes, the manifest says ${m.image.size}`);
    }
    const digest = tarHash.digest('hex');
    if (digest !== m.image.digest) throw new DigestMismatchError(m.image.digest, digest);
    await fh.chmod(extracted.mode & 0o777 || 0o644);
    await fh.close();
    closed = true;
    await rename(tmpPath, finalPath);
    return { path: finalPath, member: extracted, digest, manifest: m };
  } catch (e) {
    if (!closed) await fh.close().catch(() => undefined);
    await unlink(tmpPath).catch(() => undefined);
    throw e;
  }
}
