/**
 * Parallel gzip, the way pigz does it: the input is cut into fixed-size blocks, each block is
 * deflated on its own (zlib's async deflateRaw runs on the libuv thread pool) with the last
 * 32 KiB of the previous block as dictionary, ended with a sync flush (the last one with
 * Z_FINISH), and the raw deflate outputs are concatenated in order behind one gzip header.
 * The result is ONE standard gzip stream (`gunzip`, `gzip -t` accept it). At most
 * `concurrency` blocks are in flight, so memory stays flat whatever the input size.
 *
 * Incompressible blocks (random or already compressed data) are stored, not searched: deflate
 * at any level ends up storing them anyway (a stored block is smaller than a coded one when
 * nothing repeats), but finding that out costs as much CPU as compressing text. Each block is
 * first probed: a few 4 KiB samples spread over it, deflated together at level 1 on the thread
 * pool; when that saves less than 1 %, the block goes out as stored blocks (level 0, a copy).
 * The probe costs about 1 % of a level-9 block of text. Its blind spot is a block whose
 * samples are all incompressible while the rest of it is not: that block is stored, which
 * costs ratio, never correctness.
 */
import { availableParallelism } from 'node:os';
import zlib from 'node:zlib';
import { BundleInputError } from './errors.js';

export interface ParallelGzipOptions {
  /** 0–9, default 9 (`gzip -9`). */
  level?: number;
  /** Uncompressed bytes per block, default 256 KiB. */
  blockSize?: number;
  /** Blocks compressed or waiting to be handed on at once; default: cores + 1 (at most 8). */
  concurrency?: number;
  /** Prime each block with the previous block's last 32 KiB (better ratio, as pigz); default true. */
  dictionary?: boolean;
  /** Probe each block and store the incompressible ones (see above); default true. */
  storeIncompressible?: boolean;
}

export const DEFAULT_GZIP_BLOCK_SIZE = 256 * 1024;
const DICTIONARY_SIZE = 32 * 1024;
const PROBE_SAMPLES = 4;
const PROBE_SAMPLE_SIZE = 4 * 1024;
/** A probe that saves less than this share of its samples marks the block incompressible. */
const PROBE_MIN_SAVING = 0.01;
const GZIP_OS_UNIX = 3;

export function defaultConcurrency(): number {
  return Math.min(8, availableParallelism() + 1);
}

/** The 10-byte gzip header: deflate, no name, no mtime, XFL by level, OS Unix. */
export function gzipHeader(level: number): Buffer {
  const xfl = level === 9 ? 2 : level === 1 ? 4 : 0;
  return Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, GZIP_OS_UNIX]);
}

/** The 8-byte gzip trailer: CRC-32 of the input and its length mod 2^32, little-endian. */
export function gzipTrailer(crc: number, length: number): Buffer {
  const t = Buffer.alloc(8);
  t.writeUInt32LE(crc >>> 0, 0);
  t.writeUInt32LE(length % 2 ** 32, 4);
  return t;
}

function deflateBlock(input: Buffer, dictionary: Buffer | undefined, level: number, last: boolean, chunkSize: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    zlib.deflateRaw(
      input,
      {
        level,
        chunkSize,
        finishFlush: last ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH,
        ...(dictionary !== undefined && dictionary.length > 0 ? { dictionary } : {}),
      },
      (err, out) => (err === null ? resolve(out) : reject(err)),
    );
  });
}

/** The probe's samples of a block: PROBE_SAMPLES pieces spread from its start to its end (undefined for small blocks). */
export function probeSample(block: Buffer): Buffer | undefined {
  if (block.length < PROBE_SAMPLES * PROBE_SAMPLE_SIZE * 2) return undefined;
  const step = (block.length - PROBE_SAMPLE_SIZE) / (PROBE_SAMPLES - 1);
  return Buffer.concat(
    Array.from({ length: PROBE_SAMPLES }, (_, i) => {
      const offset = Math.floor(i * step);
      return block.subarray(offset, offset + PROBE_SAMPLE_SIZE);
    }),
  );
}

/** Whether a block looks incompressible: its probe sample, deflated at level 1, saves less than 1 %. */
export function looksIncompressible(block: Buffer): Promise<boolean> {
  const sample = probeSample(block);
  if (sample === undefined) return Promise.resolve(false);
  return new Promise((resolve, reject) => {
    zlib.deflateRaw(sample, { level: 1 }, (err, out) =>
      err === null ? resolve(out.length >= sample.length * (1 - PROBE_MIN_SAVING)) : reject(err),
    );
  });
}

function validate(opts: ParallelGzipOptions): Required<ParallelGzipOptions> {
  const level = opts.level ?? 9;
  const blockSize = opts.blockSize ?? DEFAULT_GZIP_BLOCK_SIZE;
  const concurrency = opts.concurrency ?? defaultConcurrency();
  if (!Number.isInteger(level) || level < 0 || level > 9) throw new BundleInputError(`gzip level must be 0–9, got ${level}`);
  if (!Number.isInteger(blockSize) || blockSize < 1024 || blockSize > 64 * 1024 * 1024) {
    throw new BundleInputError(`gzip block size must be 1 KiB–64 MiB, got ${blockSize}`);
  }
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64)
    throw new BundleInputError(`gzip concurrency must be 1–64, got ${concurrency}`);
  return { level, blockSize, concurrency, dictionary: opts.dictionary ?? true, storeIncompressible: opts.storeIncompressible ?? true };
}

/** Gzips an async iterable of chunks with parallel block compression; yields the gzip stream. */
export async function* parallelGzip(source: AsyncIterable<Uint8Array>, options: ParallelGzipOptions = {}): AsyncGenerator<Buffer> {
  const { level, blockSize, concurrency, dictionary, storeIncompressible } = validate(options);
  const chunkSize = Math.max(16 * 1024, blockSize + 1024);
  const inFlight: Promise<Buffer>[] = [];
  let crc = 0;
  let length = 0;
  let previousTail: Buffer | undefined;
  const dispatch = (block: Buffer, last: boolean): void => {
    crc = zlib.crc32(block, crc);
    length += block.length;
    const tail = previousTail;
    const job =
      storeIncompressible && level > 0
        ? looksIncompressible(block).then((stored) =>
            stored ? deflateBlock(block, undefined, 0, last, chunkSize) : deflateBlock(block, tail, level, last, chunkSize),
          )
        : deflateBlock(block, tail, level, last, chunkSize);
    job.catch(() => undefined); // observed when its turn comes; no unhandled rejection meanwhile
    inFlight.push(job);
    if (dictionary) {
      previousTail =
        block.length >= DICTIONARY_SIZE
          ? block.subarray(block.length - DICTIONARY_SIZE)
          : Buffer.concat([previousTail ?? Buffer.alloc(0), block]).subarray(-DICTIONARY_SIZE);
    }
  };
  try {
    yield gzipHeader(level);
    let block = Buffer.allocUnsafe(blockSize);
    let fill = 0;
    for await (const chunk of source) {
      let offset = 0;
      while (offset < chunk.length) {
        const n = Math.min(blockSize - fill, chunk.length - offset);
        block.set(chunk.subarray(offset, offset + n), fill);
        fill += n;
        offset += n;
        if (fill === blockSize) {
          dispatch(block, false);
          block = Buffer.allocUnsafe(blockSize);
          fill = 0;
          while (inFlight.length >= concurrency) yield await (inFlight.shift() as Promise<Buffer>);
        }
      }
    }
    dispatch(block.subarray(0, fill), true);
    while (inFlight.length > 0) yield await (inFlight.shift() as Promise<Buffer>);
    yield gzipTrailer(crc, length);
  } finally {
    // On an early exit, let the thread pool finish what it has before the buffers go.
    await Promise.allSettled(inFlight.splice(0));
  }
}
