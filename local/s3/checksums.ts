import { createHash, type Hash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { Crc32c, Crc64Nvme } from '@aws-sdk/checksums/crc';

/**
 * The checksums S3 accepts on uploads (`x-amz-checksum-<alg>` headers or aws-chunked trailers)
 * and returns on downloads (`x-amz-checksum-mode: ENABLED`). Values travel as base64 of the
 * big-endian digest, exactly what the SDK's flexible-checksums middleware computes — CRC32C and
 * CRC64NVME with the SDK's own implementations (`@aws-sdk/checksums`, at the version the S3
 * client uses), CRC32 with Node's zlib, SHA-1/SHA-256 with node:crypto. Digests are
 * asynchronous because the SDK's are.
 */
export const CHECKSUM_ALGORITHMS = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

export function isChecksumAlgorithm(s: string): s is ChecksumAlgorithm {
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(s);
}

/** `x-amz-checksum-crc32` for CRC32, and so on. */
export function checksumHeader(alg: ChecksumAlgorithm): string {
  return `x-amz-checksum-${alg.toLowerCase()}`;
}

/** The XML element name in listings and CompleteMultipartUpload (`ChecksumCRC32`). */
export function checksumElement(alg: ChecksumAlgorithm): string {
  return `Checksum${alg}`;
}

/** Digest length in bytes. */
export function checksumLength(alg: ChecksumAlgorithm): number {
  switch (alg) {
    case 'CRC32':
    case 'CRC32C':
      return 4;
    case 'CRC64NVME':
      return 8;
    case 'SHA1':
      return 20;
    case 'SHA256':
      return 32;
  }
}

export interface Checksummer {
  update(data: Uint8Array): void;
  /** The raw big-endian digest. */
  digest(): Promise<Buffer>;
}

export function createChecksum(alg: ChecksumAlgorithm): Checksummer {
  switch (alg) {
    case 'CRC32':
      return new Crc32();
    case 'CRC32C':
      return new SdkChecksum(new Crc32c());
    case 'CRC64NVME':
      return new SdkChecksum(new Crc64Nvme());
    case 'SHA1':
      return new HashChecksum(createHash('sha1'));
    case 'SHA256':
      return new HashChecksum(createHash('sha256'));
  }
}

/** base64 of `alg` over `data`. */
export async function checksumOf(alg: ChecksumAlgorithm, ...data: Uint8Array[]): Promise<string> {
  const c = createChecksum(alg);
  for (const d of data) c.update(d);
  return (await c.digest()).toString('base64');
}

/** True when `value` is base64 of exactly as many bytes as `alg` produces. */
export function isWellFormedChecksum(alg: ChecksumAlgorithm, value: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return false;
  const raw = Buffer.from(value, 'base64');
  return raw.length === checksumLength(alg) && raw.toString('base64') === value;
}

export function md5Base64(...data: Uint8Array[]): string {
  const h = createHash('md5');
  for (const d of data) h.update(d);
  return h.digest('base64');
}

export function md5Hex(...data: Uint8Array[]): string {
  const h = createHash('md5');
  for (const d of data) h.update(d);
  return h.digest('hex');
}

class HashChecksum implements Checksummer {
  constructor(private readonly hash: Hash) {}
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  async digest(): Promise<Buffer> {
    return this.hash.digest();
  }
}

class Crc32 implements Checksummer {
  private value = 0;
  update(data: Uint8Array): void {
    this.value = crc32(data, this.value);
  }
  async digest(): Promise<Buffer> {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(this.value >>> 0);
    return out;
  }
}

/** One of the SDK's checksums (its `Checksum` interface). */
class SdkChecksum implements Checksummer {
  constructor(private readonly sum: { update(data: Uint8Array): void; digest(): Promise<Uint8Array> }) {}
  update(data: Uint8Array): void {
    this.sum.update(data);
  }
  async digest(): Promise<Buffer> {
    return Buffer.from(await this.sum.digest());
  }
}
