import { createHash, type Hash } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * The checksums S3 accepts on uploads (`x-amz-checksum-<alg>` headers or aws-chunked trailers)
 * and returns on downloads (`x-amz-checksum-mode: ENABLED`). Values travel as base64 of the
 * big-endian digest, exactly what the SDK's flexible-checksums middleware computes.
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
  digest(): Buffer;
}

export function createChecksum(alg: ChecksumAlgorithm): Checksummer {
  switch (alg) {
    case 'CRC32':
      return new Crc32();
    case 'CRC32C':
      return new Crc32c();
    case 'CRC64NVME':
      return new Crc64Nvme();
    case 'SHA1':
      return new HashChecksum(createHash('sha1'));
    case 'SHA256':
      return new HashChecksum(createHash('sha256'));
  }
}

/** base64 of `alg` over `data`. */
export function checksumOf(alg: ChecksumAlgorithm, ...data: Uint8Array[]): string {
  const c = createChecksum(alg);
  for (const d of data) c.update(d);
  return c.digest().toString('base64');
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
  digest(): Buffer {
    return this.hash.digest();
  }
}

class Crc32 implements Checksummer {
  private value = 0;
  update(data: Uint8Array): void {
    this.value = crc32(data, this.value);
  }
  digest(): Buffer {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(this.value >>> 0);
    return out;
  }
}

/** Reflected table for a 32-bit CRC polynomial. */
function table32(reflectedPoly: number): Uint32Array {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ reflectedPoly : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
}

const CRC32C_TABLE = table32(0x82f63b78);

/** CRC-32C (Castagnoli), as S3 and the SDK compute it. */
class Crc32c implements Checksummer {
  private crc = 0xffffffff;
  update(data: Uint8Array): void {
    let c = this.crc;
    for (let i = 0; i < data.length; i++) c = (CRC32C_TABLE[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
    this.crc = c;
  }
  digest(): Buffer {
    const out = Buffer.alloc(4);
    out.writeUInt32BE((this.crc ^ 0xffffffff) >>> 0);
    return out;
  }
}

/** CRC-64/NVME's reflected table, split into 32-bit halves so the inner loop stays in int32 arithmetic. */
const [CRC64_LO, CRC64_HI] = ((): [Uint32Array, Uint32Array] => {
  const poly = 0x9a6c9329ac4bc9b5n;
  const lo = new Uint32Array(256);
  const hi = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = BigInt(i);
    for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
    lo[i] = Number(c & 0xffffffffn);
    hi[i] = Number(c >> 32n);
  }
  return [lo, hi];
})();

/** CRC-64/NVME (the checksum S3 computes by default since 2025). */
class Crc64Nvme implements Checksummer {
  private lo = 0xffffffff;
  private hi = 0xffffffff;
  update(data: Uint8Array): void {
    let lo = this.lo;
    let hi = this.hi;
    for (let i = 0; i < data.length; i++) {
      const idx = (lo ^ (data[i] as number)) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ (CRC64_LO[idx] as number);
      hi = (hi >>> 8) ^ (CRC64_HI[idx] as number);
    }
    this.lo = lo;
    this.hi = hi;
  }
  digest(): Buffer {
    const out = Buffer.alloc(8);
    out.writeUInt32BE((this.hi ^ 0xffffffff) >>> 0, 0);
    out.writeUInt32BE((this.lo ^ 0xffffffff) >>> 0, 4);
    return out;
  }
}
