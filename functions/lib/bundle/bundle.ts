/**
 * Bundling an image file (ec2-bundle-image): tar (one member, sparse-aware) → SHA-1 of the tar
 * stream → parallel gzip → AES-128-CBC → 10 MiB parts (SHA-1 each) → signed manifest.
 * Everything streams through async generators with pull-based backpressure; the only buffers
 * are the reads (1 MiB) and the bounded gzip blocks in flight.
 */
import type { ImageReader } from './tar.js';
import { createCipheriv, createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import {
  CIPHER_ALGORITHM,
  DEFAULT_BLOCK_DEVICE_MAPPING,
  DEFAULT_BUNDLER,
  DIGEST_ALGORITHM,
  MANIFEST_VERSION,
  MAX_IMAGE_SIZE,
  PART_SIZE,
  ARCHITECTURES,
  IMAGE_TYPES,
  type Architecture,
  type BundlerInfo,
  type ImageType,
} from './constants.js';
import { BundleInputError, EmptyImageError, ImageChangedError, ImageTooLargeError } from './errors.js';
import { parallelGzip, type ParallelGzipOptions } from './gzip.js';
import { assertKeyPair, generateBundleKey, loadPrivateKey, loadPublicKey, wrapBundleKey, type BundleKey, type KeyInput } from './keys.js';
import {
  assertPlainName,
  buildManifestXml,
  manifestFileName,
  normalizeAccountId,
  partFileName,
  type Manifest,
  type ManifestPart,
} from './manifest.js';
import type { BundleSink, PartWriter } from './storage.js';
import { planTarMember, scanSparseMap, tarMemberStream, type SparseScanOptions } from './tar.js';

export interface BundleProgress {
  /** Image bytes processed so far (holes count when passed). */
  bytes: number;
  /** Image size. */
  total: number;
}

/** An image that is not a local file (an S3 object read by ranges): size, time, reader. */
export interface ImageObject {
  reader: ImageReader & { close?(): Promise<void> };
  size: number;
  mtimeMs: number;
  mode?: number;
  /** For messages and the default bundle name (e.g. `s3://bucket/key`). */
  label: string;
  /** Called after the last read: throws ImageChangedError if the object changed meanwhile. */
  verifyUnchanged?(): Promise<void>;
}

export interface BundleOptions {
  /** The image file (symlinks are followed, as `tar -h`), or an image object read by ranges. */
  image: string | ImageObject;
  /** Bundle name (`-p/--prefix`); default: the image's file name. */
  name?: string;
  /** 12-digit account number (dashes allowed). */
  user: string;
  architecture: Architecture;
  /** The user's X.509 certificate (PEM): wraps the key for the user. */
  userCertificate: KeyInput;
  /** The user's private key (PEM): signs the manifest. Must match the certificate. */
  privateKey: KeyInput;
  /** EC2's certificate for the target partition (PEM): wraps the key for EC2. */
  ec2Certificate: KeyInput;
  sink: BundleSink;
  /** virtual → device; default ami→sda1, root→/dev/sda1, ephemeral0→sda2, swap→sda3. */
  blockDeviceMapping?: Readonly<Record<string, string>>;
  imageType?: ImageType;
  kernelName?: string;
  kernelId?: string;
  ramdiskId?: string;
  productCodes?: readonly string[];
  ancestorAmiIds?: readonly string[];
  bundler?: BundlerInfo;
  gzip?: ParallelGzipOptions;
  sparse?: SparseScanOptions;
  /** Fixed key and IV (tests); default: 16 random bytes each. */
  key?: BundleKey;
  /** Part size; the format's is 10 MiB (change it only in tests). */
  partSize?: number;
  onProgress?: (progress: BundleProgress) => void;
  signal?: AbortSignal;
}

export interface BundlePartInfo extends ManifestPart {
  size: number;
}

export interface BundleResult {
  manifest: Manifest;
  manifestXml: string;
  manifestFileName: string;
  parts: BundlePartInfo[];
}

/** Parses `ami=sda1,root=/dev/sda1,...` (the tools' `-B` syntax). */
export function parseBlockDeviceMapping(spec: string): Record<string, string> {
  const mapping: Record<string, string> = {};
  for (const pair of spec.split(',')) {
    const m = /^\s*([^=\s]+)\s*=\s*([^=\s]+)\s*$/.exec(pair);
    if (m === null) throw new BundleInputError(`block device mapping "${pair}" is not virtual=device`);
    mapping[m[1] as string] = m[2] as string;
  }
  return mapping;
}

function validateOptions(o: BundleOptions): { name: string; user: string } {
  const name = o.name ?? basename(typeof o.image === 'string' ? o.image : o.image.label);
  assertPlainName(name, 'bundle name');
  if (!(ARCHITECTURES as readonly string[]).includes(o.architecture)) {
    throw new BundleInputError(`architecture must be one of ${ARCHITECTURES.join(', ')}, got "${o.architecture}"`);
  }
  const type = o.imageType ?? 'machine';
  if (!(IMAGE_TYPES as readonly string[]).includes(type)) throw new BundleInputError(`image type must be one of ${IMAGE_TYPES.join(', ')}`);
  if (type === 'kernel' && (o.kernelName === undefined || o.kernelName === ''))
    throw new BundleInputError('a kernel image needs a kernel name');
  for (const [virtual, device] of Object.entries(o.blockDeviceMapping ?? {})) {
    if (!/^[A-Za-z0-9_./-]+$/.test(virtual) || !/^[A-Za-z0-9_./-]+$/.test(device)) {
      throw new BundleInputError(`block device mapping ${virtual}=${device} has unexpected characters`);
    }
  }
  const partSize = o.partSize ?? PART_SIZE;
  if (!Number.isInteger(partSize) || partSize < 16) throw new BundleInputError(`part size must be an integer ≥ 16, got ${partSize}`);
  return { name, user: normalizeAccountId(o.user) };
}

/**
 * Cuts a stream into parts of `partSize` bytes, hashing each; a part opens only when bytes
 * arrive for it. One write is kept in flight behind the stream (awaited before the next one,
 * and before a part closes), so the next blocks are read and compressed while the previous one
 * is written: memory grows by one chunk at most.
 */
async function writeParts(
  ciphertext: AsyncIterable<Buffer>,
  sink: BundleSink,
  partSize: number,
): Promise<{ digest: string; size: number }[]> {
  const parts: { digest: string; size: number }[] = [];
  let writer: PartWriter | undefined;
  let hash = createHash('sha1');
  let filled = 0;
  let pending: Promise<void> | undefined;
  const settle = async (): Promise<void> => {
    const p = pending;
    pending = undefined;
    await p;
  };
  const write = async (w: PartWriter, piece: Buffer): Promise<void> => {
    await settle();
    const p = w.write(piece);
    p.catch(() => undefined); // observed by the next settle(); no unhandled rejection meanwhile
    pending = p;
  };
  const finish = async (): Promise<void> => {
    if (writer === undefined) return;
    await settle();
    await writer.close();
    parts.push({ digest: hash.digest('hex'), size: filled });
    writer = undefined;
    hash = createHash('sha1');
    filled = 0;
  };
  try {
    for await (const chunk of ciphertext) {
      let offset = 0;
      while (offset < chunk.length) {
        writer ??= await sink.openPart(parts.length);
        const piece = chunk.subarray(offset, offset + Math.min(partSize - filled, chunk.length - offset));
        hash.update(piece);
        await write(writer, piece);
        filled += piece.length;
        offset += piece.length;
        if (filled === partSize) await finish();
      }
    }
    await finish();
  } finally {
    // On a failure, the write in flight is done before the sink is told to abort.
    await pending?.catch(() => undefined);
  }
  return parts;
}

async function* tap(source: AsyncIterable<Buffer>, onChunk: (chunk: Buffer) => void): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    onChunk(chunk);
    yield chunk;
  }
}

async function* encrypt(source: AsyncIterable<Buffer>, key: BundleKey): AsyncGenerator<Buffer> {
  const cipher = createCipheriv('aes-128-cbc', key.key, key.iv);
  for await (const chunk of source) {
    const out = cipher.update(chunk);
    if (out.length > 0) yield out;
  }
  yield cipher.final();
}

/**
 * Bundles an image into `opts.sink`: parts first, then the signed manifest. On any failure the
 * sink is told to remove what it wrote, and the error is rethrown.
 */
export async function bundleImage(opts: BundleOptions): Promise<BundleResult> {
  const { name, user } = validateOptions(opts);
  const userPublicKey = loadPublicKey(opts.userCertificate, 'user certificate');
  const privateKey = loadPrivateKey(opts.privateKey, 'user private key');
  const ec2PublicKey = loadPublicKey(opts.ec2Certificate, 'EC2 certificate');
  assertKeyPair(privateKey, userPublicKey);
  const partSize = opts.partSize ?? PART_SIZE;

  const image = typeof opts.image === 'string' ? undefined : opts.image;
  const label = image?.label ?? String(opts.image);
  const before =
    image !== undefined
      ? { size: image.size, isFile: () => true }
      : await stat(opts.image as string).catch((e: unknown) => {
          throw new BundleInputError(`cannot read image ${label}: ${(e as Error).message}`, { cause: e });
        });
  if (!before.isFile()) throw new BundleInputError(`image ${label} is not a regular file`);
  if (before.size === 0) throw new EmptyImageError(`image ${label} is empty`);
  if (before.size > MAX_IMAGE_SIZE) throw new ImageTooLargeError(before.size, MAX_IMAGE_SIZE);

  const bundleKey = opts.key ?? generateBundleKey();
  const wrapped = wrapBundleKey(bundleKey, userPublicKey, ec2PublicKey);
  const fh: ImageReader & { close?(): Promise<void>; stat?(): Promise<{ size: number; mode: number; mtimeMs: number }> } =
    image !== undefined ? image.reader : await open(opts.image as string, 'r');
  const statOf = async (): Promise<{ size: number; mode: number; mtimeMs: number }> =>
    image !== undefined
      ? { size: image.size, mode: image.mode ?? 0o644, mtimeMs: image.mtimeMs }
      : ((await fh.stat?.()) as { size: number; mode: number; mtimeMs: number });
  try {
    const st = await statOf();
    if (st.size !== before.size) throw new ImageChangedError(`image ${label} changed while it was being opened`);
    const sparseMap = await scanSparseMap(fh, st.size, { ...opts.sparse, ...(opts.signal === undefined ? {} : { signal: opts.signal }) });
    const member = planTarMember({ name, size: st.size, mode: st.mode, mtime: Math.floor(st.mtimeMs / 1000), sparseMap });

    // Progress is the file position reached, so holes count once they are passed.
    const onPosition = (position: number): void => opts.onProgress?.({ bytes: position, total: st.size });
    const tarHash = createHash('sha1');
    const tarStream = tap(tarMemberStream(fh, member, { ...(opts.signal === undefined ? {} : { signal: opts.signal }), onPosition }), (c) =>
      tarHash.update(c),
    );
    const partList = await writeParts(encrypt(parallelGzip(tarStream, opts.gzip), bundleKey), opts.sink, partSize);

    const after = await statOf();
    if (after.size !== st.size || after.mtimeMs !== st.mtimeMs)
      throw new ImageChangedError(`image ${label} changed while it was being bundled`);
    await image?.verifyUnchanged?.();
    opts.onProgress?.({ bytes: st.size, total: st.size });

    const names = partList.map((_, i) => partFileName(name, i, partList.length));
    await opts.sink.commitParts(names);
    const parts: BundlePartInfo[] = partList.map((p, index) => ({
      index,
      filename: names[index] as string,
      digest: p.digest,
      size: p.size,
    }));
    const bdm = opts.blockDeviceMapping ?? DEFAULT_BLOCK_DEVICE_MAPPING;
    const type = opts.imageType ?? 'machine';
    const manifest = buildManifestXml(
      {
        version: MANIFEST_VERSION,
        bundler: opts.bundler ?? { ...DEFAULT_BUNDLER },
        machineConfiguration: {
          architecture: opts.architecture,
          blockDeviceMapping: Object.keys(bdm)
            .sort()
            .map((virtual) => ({ virtual, device: bdm[virtual] as string })),
          ...(opts.kernelId === undefined ? {} : { kernelId: opts.kernelId }),
          ...(opts.ramdiskId === undefined ? {} : { ramdiskId: opts.ramdiskId }),
          productCodes: [...(opts.productCodes ?? [])],
        },
        image: {
          name,
          user,
          type,
          ...(type === 'kernel' && opts.kernelName !== undefined ? { kernelName: opts.kernelName } : {}),
          ancestorAmiIds: [...(opts.ancestorAmiIds ?? [])],
          digest: tarHash.digest('hex'),
          digestAlgorithm: DIGEST_ALGORITHM,
          size: st.size,
          bundledSize: parts.reduce((n, p) => n + p.size, 0),
          cipherAlgorithm: CIPHER_ALGORITHM,
          ...wrapped,
          parts: parts.map(({ index, filename, digest }) => ({ index, filename, digest })),
        },
      },
      privateKey,
    );
    const fileName = manifestFileName(name);
    await opts.sink.writeManifest(fileName, manifest.xml);
    return { manifest, manifestXml: manifest.xml, manifestFileName: fileName, parts };
  } catch (e) {
    await opts.sink.abort();
    throw e;
  } finally {
    await fh.close?.();
  }
}
