/**
 * The tar layer of a bundle: one member, GNU format, as `tar -c -h -S --owner 0 --group 0`
 * writes it (GNU tar 1.34): an old-GNU sparse member ('S') when the image has all-zero
 * regions, a regular member otherwise; numbers that do not fit in octal use GNU base-256
 * (sizes over 8 GiB); long names use a `././@LongLink` entry; 10240-byte records.
 *
 * The reader takes what GNU tar writes in the gnu and posix formats (sparse 0.0, 0.1, 1.0).
 */
/**
 * Positional reads of an image: a local file (a FileHandle has this shape) or an object in
 * S3 read by ranges (s3-image.ts).
 */
export interface ImageReader {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}
import { ImageChangedError, TarFormatError } from './errors.js';

export const TAR_BLOCK = 512;
/** GNU tar's default record: 20 blocks (`-b20`). */
export const TAR_RECORD = 20 * TAR_BLOCK;

/** A data region of a sparse file: `numbytes` bytes stored for `[offset, offset + numbytes)`. */
export interface SparseRegion {
  offset: number;
  numbytes: number;
}

export interface TarHeader {
  name: string;
  /** Permission bits (`mode & 0o7777`). */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes stored in the archive for this member (for a sparse member: the data regions). */
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  typeflag: string;
  uname: string;
  gname: string;
  /** Old GNU sparse member ('S'): the file's real size and its data regions. */
  sparse?: { realSize: number; map: readonly SparseRegion[] };
}

const GNU_MAGIC = Buffer.from('ustar  \0', 'latin1');
const SPARSE_IN_HEADER = 4;
const SPARSE_IN_EXTENSION = 21;
const SPARSE_ENTRY = 24;

// --- numeric fields -------------------------------------------------------------------------

/**
 * Writes `value` in a numeric field of `length` bytes: octal with a NUL terminator when it fits
 * (`length - 1` digits), GNU base-256 otherwise (first byte 0x80, big-endian value after it).
 */
export function encodeNumeric(target: Buffer, offset: number, length: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`tar numeric field: ${value} is not a non-negative integer`);
  const digits = length - 1;
  if (value < 8 ** digits) {
    target.write(value.toString(8).padStart(digits, '0'), offset, digits, 'latin1');
    target[offset + digits] = 0;
    return;
  }
  let v = BigInt(value);
  for (let i = length - 1; i >= 1; i--) {
    target[offset + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  if (v !== 0n) throw new RangeError(`tar numeric field: ${value} does not fit in ${length} bytes`);
  target[offset] = 0x80;
}

/** Reads a numeric field written in octal (space/NUL padded) or GNU base-256. */
export function decodeNumeric(source: Buffer, offset: number, length: number, field = 'numeric field'): number {
  const first = source[offset] ?? 0;
  if (first & 0x80) {
    if (first === 0xff) throw new TarFormatError(`tar ${field}: negative base-256 value`);
    let v = BigInt(first & 0x7f);
    for (let i = 1; i < length; i++) v = (v << 8n) | BigInt(source[offset + i] ?? 0);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new TarFormatError(`tar ${field}: value too large`);
    return Number(v);
  }
  const raw = source
    .subarray(offset, offset + length)
    .toString('latin1')
    .replace(/^ +/, '');
  const digits = /^[0-7]*/.exec(raw)?.[0] ?? '';
  const rest = raw.slice(digits.length);
  if (rest !== '' && rest[0] !== ' ' && rest[0] !== '\0')
    throw new TarFormatError(`tar ${field}: "${raw.replace(/\0/g, '')}" is not octal`);
  if (digits === '') return 0;
  const value = parseInt(digits, 8);
  if (!Number.isSafeInteger(value)) throw new TarFormatError(`tar ${field}: value too large`);
  return value;
}

function writeString(target: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  bytes.copy(target, offset, 0, Math.min(length, bytes.length));
}

function readString(source: Buffer, offset: number, length: number): string {
  const field = source.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? length : end).toString('utf8');
}

function setChecksum(block: Buffer): void {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK; i++) sum += block[i] ?? 0;
  block.write(sum.toString(8).padStart(6, '0'), 148, 6, 'latin1');
  block[154] = 0;
  block[155] = 0x20;
}

/** True when the header's checksum holds (unsigned sum, or the signed sum some old tars wrote). */
export function checksumMatches(block: Buffer): boolean {
  const stored = decodeNumeric(block, 148, 8, 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < TAR_BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

// --- headers ------------------------------------------------------------------------------------

function basicHeader(name: string, h: Omit<TarHeader, 'name' | 'sparse'>): Buffer {
  const block = Buffer.alloc(TAR_BLOCK);
  writeString(block, 0, 100, name);
  encodeNumeric(block, 100, 8, h.mode);
  encodeNumeric(block, 108, 8, h.uid);
  encodeNumeric(block, 116, 8, h.gid);
  encodeNumeric(block, 124, 12, h.size);
  encodeNumeric(block, 136, 12, h.mtime);
  block.write(h.typeflag, 156, 1, 'latin1');
  GNU_MAGIC.copy(block, 257);
  writeString(block, 265, 32, h.uname);
  writeString(block, 297, 32, h.gname);
  return block;
}

function writeSparseEntry(block: Buffer, at: number, region: SparseRegion): void {
  encodeNumeric(block, at, 12, region.offset);
  encodeNumeric(block, at + 12, 12, region.numbytes);
}

/**
 * The header blocks of one member as GNU tar writes them: a `././@LongLink` entry when the
 * name is over 100 bytes, the header, and for a sparse member the extension blocks of its map.
 */
export function encodeHeader(h: TarHeader): Buffer {
  if (h.name === '' || h.name.includes('\0')) throw new RangeError('tar member name must be non-empty, without NUL');
  const blocks: Buffer[] = [];
  const nameBytes = Buffer.from(h.name, 'utf8');
  if (nameBytes.length > 100) {
    const longLink = basicHeader('././@LongLink', { ...h, mode: 0o644, size: nameBytes.length + 1, mtime: 0, typeflag: 'L' });
    setChecksum(longLink);
    const data = Buffer.alloc(Math.ceil((nameBytes.length + 1) / TAR_BLOCK) * TAR_BLOCK);
    nameBytes.copy(data);
    blocks.push(longLink, data);
  }
  const main = basicHeader(h.name, h);
  if (h.sparse === undefined) {
    setChecksum(main);
    blocks.push(main);
    return Buffer.concat(blocks);
  }
  const map = h.sparse.map;
  for (let i = 0; i < Math.min(SPARSE_IN_HEADER, map.length); i++) writeSparseEntry(main, 386 + i * SPARSE_ENTRY, map[i] as SparseRegion);
  encodeNumeric(main, 483, 12, h.sparse.realSize);
  main[482] = map.length > SPARSE_IN_HEADER ? 1 : 0;
  setChecksum(main);
  blocks.push(main);
  for (let start = SPARSE_IN_HEADER; start < map.length; start += SPARSE_IN_EXTENSION) {
    const ext = Buffer.alloc(TAR_BLOCK);
    const end = Math.min(start + SPARSE_IN_EXTENSION, map.length);
    for (let i = start; i < end; i++) writeSparseEntry(ext, (i - start) * SPARSE_ENTRY, map[i] as SparseRegion);
    ext[504] = end < map.length ? 1 : 0;
    blocks.push(ext);
  }
  return Buffer.concat(blocks);
}

/** Bytes of the end of archive (two zero blocks) and the padding that completes the last record. */
export function trailerLength(bytesBefore: number): number {
  const withEof = bytesBefore + 2 * TAR_BLOCK;
  return Math.ceil(withEof / TAR_RECORD) * TAR_RECORD - bytesBefore;
}

export function padLength(n: number): number {
  return (TAR_BLOCK - (n % TAR_BLOCK)) % TAR_BLOCK;
}

// --- sparse scan ----------------------------------------------------------------------------------

export interface SparseScanOptions {
  /** Granularity of the zero scan; holes start and end on multiples of it (default 4096, a file-system block). */
  granularity?: number;
  /** Above this many holes the minimum hole doubles, so the map (and the headers) stay small (default 65536). */
  maxHoles?: number;
  /** Bytes read at a time (default 1 MiB). */
  readSize?: number;
  signal?: AbortSignal;
}

/** Whether a buffer is all zeros (memcmp against a zero buffer, a block at a time). */
export function isAllZero(buf: Buffer, zeros: Buffer): boolean {
  for (let off = 0; off < buf.length; off += zeros.length) {
    const len = Math.min(zeros.length, buf.length - off);
    if (buf.compare(zeros, 0, len, off, off + len) !== 0) return false;
  }
  return true;
}

/**
 * The data regions of a file, holes being its all-zero runs (at `granularity`) of at least the
 * minimum hole size. Returns undefined when there is no hole (a regular member then). The map
 * ends with the zero-length entry at the real size that GNU tar always writes.
 */
export async function scanSparseMap(fh: ImageReader, size: number, opts: SparseScanOptions = {}): Promise<SparseRegion[] | undefined> {
  const granularity = opts.granularity ?? 4096;
  const maxHoles = opts.maxHoles ?? 65536;
  const readSize = Math.max(granularity, Math.floor((opts.readSize ?? 1 << 20) / granularity) * granularity);
  const zeros = Buffer.alloc(granularity);
  const buf = Buffer.allocUnsafe(readSize);
  let minHole = granularity;
  let holes: SparseRegion[] = [];
  let runStart = -1;
  const closeRun = (end: number): void => {
    if (runStart >= 0 && end - runStart >= minHole) {
      holes.push({ offset: runStart, numbytes: end - runStart });
      if (holes.length > maxHoles) {
        minHole *= 2;
        holes = holes.filter((h) => h.numbytes >= minHole);
      }
    }
    runStart = -1;
  };
  for (let pos = 0; pos < size;) {
    opts.signal?.throwIfAborted();
    const want = Math.min(readSize, size - pos);
    const { bytesRead } = await fh.read(buf, 0, want, pos);
    if (bytesRead === 0) throw new ImageChangedError(`the image shrank while it was being read (at byte ${pos} of ${size})`);
    for (let off = 0; off < bytesRead; off += granularity) {
      const len = Math.min(granularity, bytesRead - off);
      const zero = buf.compare(zeros, 0, len, off, off + len) === 0;
      if (zero) {
        if (runStart < 0) runStart = pos + off;
      } else if (runStart >= 0) {
        closeRun(pos + off);
      }
    }
    pos += bytesRead;
  }
  closeRun(size);
  if (holes.length === 0) return undefined;
  const map: SparseRegion[] = [];
  let cursor = 0;
  for (const hole of holes) {
    if (hole.offset > cursor) map.push({ offset: cursor, numbytes: hole.offset - cursor });
    cursor = hole.offset + hole.numbytes;
  }
  if (cursor < size) map.push({ offset: cursor, numbytes: size - cursor });
  map.push({ offset: size, numbytes: 0 });
  return map;
}

// --- writer -----------------------------------------------------------------------------------

export interface TarMember {
  header: TarHeader;
  /** The data regions to store, in order (one region covering the file for a regular member). */
  regions: readonly SparseRegion[];
  /** Exact length of the tar stream. */
  length: number;
}

/** Plans the tar stream of one file: header (regular or sparse) and its regions. */
export function planTarMember(opts: {
  name: string;
  size: number;
  mode: number;
  mtime: number;
  sparseMap?: readonly SparseRegion[];
}): TarMember {
  const base = { name: opts.name, mode: opts.mode & 0o7777, uid: 0, gid: 0, mtime: opts.mtime, uname: 'root', gname: 'root' };
  let header: TarHeader;
  let regions: readonly SparseRegion[];
  if (opts.sparseMap === undefined) {
    header = { ...base, size: opts.size, typeflag: '0' };
    regions = [{ offset: 0, numbytes: opts.size }];
  } else {
    const stored = opts.sparseMap.reduce((n, r) => n + r.numbytes, 0);
    header = { ...base, size: stored, typeflag: 'S', sparse: { realSize: opts.size, map: opts.sparseMap } };
    regions = opts.sparseMap.filter((r) => r.numbytes > 0);
  }
  const headerLength = encodeHeader(header).length;
  const dataLength = regions.reduce((n, r) => n + r.numbytes + padLength(r.numbytes), 0);
  return { header, regions, length: headerLength + dataLength + trailerLength(headerLength + dataLength) };
}

/**
 * Streams the tar bytes of a planned member, reading its regions from `fh` `readSize` bytes at a
 * time (fresh buffers: consumers may keep them). Each region is padded to a block, as GNU tar does.
 */
export async function* tarMemberStream(
  fh: ImageReader,
  member: TarMember,
  opts: { readSize?: number; signal?: AbortSignal; onPosition?: (filePosition: number) => void } = {},
): AsyncGenerator<Buffer> {
  const readSize = opts.readSize ?? 1 << 20;
  const header = encodeHeader(member.header);
  yield header;
  let written = header.length;
  for (const region of member.regions) {
    let pos = region.offset;
    const end = region.offset + region.numbytes;
    while (pos < end) {
      opts.signal?.throwIfAborted();
      const buf = Buffer.allocUnsafe(Math.min(readSize, end - pos));
      let filled = 0;
      while (filled < buf.length) {
        const { bytesRead } = await fh.read(buf, filled, buf.length - filled, pos + filled);
        if (bytesRead === 0) throw new ImageChangedError(`the image shrank while it was being read (at byte ${pos + filled})`);
        filled += bytesRead;
      }
      pos += buf.length;
      written += buf.length;
      opts.onPosition?.(pos);
      yield buf;
    }
    const pad = padLength(region.numbytes);
    if (pad > 0) {
      written += pad;
      yield Buffer.alloc(pad);
    }
  }
  yield Buffer.alloc(trailerLength(written));
}

// --- reader -------------------------------------------------------------------------------------

/** Pulls exact byte counts out of an async iterable of chunks. */
export class ByteReader {
  private readonly it: AsyncIterator<Uint8Array>;
  private buf: Buffer = Buffer.alloc(0);
  private ended = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    if (this.ended) return false;
    const next = await this.it.next();
    if (next.done === true) {
      this.ended = true;
      return false;
    }
    const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    return true;
  }

  /** Exactly `n` bytes, or undefined at the end of the stream (throws when it ends inside them). */
  async read(n: number): Promise<Buffer | undefined> {
    while (this.buf.length < n) {
      if (!(await this.fill())) {
        if (this.buf.length === 0) return undefined;
        throw new TarFormatError(`tar stream ends in the middle of a block (${this.buf.length} of ${n} bytes)`);
      }
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Streams the next `n` bytes as they arrive. */
  async *take(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0 && !(await this.fill()))
        throw new TarFormatError(`tar stream ends ${left} bytes before the end of the member`);
      const out = this.buf.subarray(0, Math.min(left, this.buf.length));
      this.buf = this.buf.subarray(out.length);
      left -= out.length;
      yield out;
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.take(n)) {
      // discard
    }
  }

  /** Everything left; each chunk is handed to `check`. */
  async drain(check: (chunk: Buffer) => void): Promise<void> {
    if (this.buf.length > 0) check(this.buf);
    this.buf = Buffer.alloc(0);
    while (await this.fill()) {
      check(this.buf);
      this.buf = Buffer.alloc(0);
    }
  }
}

/** The member found in a tar stream. */
export interface ExtractedMember {
  name: string;
  /** Size of the extracted file. */
  size: number;
  mode: number;
  mtime: number;
  sparse: boolean;
}

/** Where the member's bytes go: positioned writes, then the final length. */
export interface ExtractTarget {
  write(data: Buffer, position: number): Promise<void>;
  truncate(length: number): Promise<void>;
}

const MAX_SPARSE_ENTRIES = 1 << 22;

function parseSparseEntries(block: Buffer, at: number, count: number, map: SparseRegion[]): void {
  for (let i = 0; i < count; i++) {
    const o = at + i * SPARSE_ENTRY;
    if ((block[o] ?? 0) === 0 && (block[o + 12] ?? 0) === 0) break;
    map.push({ offset: decodeNumeric(block, o, 12, 'sparse offset'), numbytes: decodeNumeric(block, o + 12, 12, 'sparse numbytes') });
  }
  if (map.length > MAX_SPARSE_ENTRIES) throw new TarFormatError('sparse map too large');
}

function parsePax(data: Buffer): [string, string][] {
  const records: [string, string][] = [];
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break;
    const space = data.indexOf(0x20, pos);
    if (space === -1) throw new TarFormatError('malformed pax record');
    const len = Number(data.subarray(pos, space).toString('latin1'));
    if (!Number.isSafeInteger(len) || len <= space - pos + 1 || pos + len > data.length || data[pos + len - 1] !== 0x0a) {
      throw new TarFormatError('malformed pax record length');
    }
    const record = data.subarray(space + 1, pos + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq <= 0) throw new TarFormatError('malformed pax record');
    records.push([record.slice(0, eq), record.slice(eq + 1)]);
    pos += len;
  }
  return records;
}

function paxNumber(value: string, key: string): number {
  if (!/^[0-9]+$/.test(value)) throw new TarFormatError(`pax ${key}: "${value}" is not a number`);
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new TarFormatError(`pax ${key}: value too large`);
  return n;
}

interface PaxState {
  path?: string;
  size?: number;
  sparseMajor?: number;
  sparseMinor?: number;
  sparseName?: string;
  sparseRealSize?: number;
  sparseMap?: SparseRegion[];
}

function applyPax(records: [string, string][]): PaxState {
  const pax: PaxState = {};
  let pendingOffset: number | undefined;
  for (const [key, value] of records) {
    switch (key) {
      case 'path':
        pax.path = value;
        break;
      case 'size':
        pax.size = paxNumber(value, key);
        break;
      case 'GNU.sparse.major':
        pax.sparseMajor = paxNumber(value, key);
        break;
      case 'GNU.sparse.minor':
        pax.sparseMinor = paxNumber(value, key);
        break;
      case 'GNU.sparse.name':
        pax.sparseName = value;
        break;
      case 'GNU.sparse.realsize':
      case 'GNU.sparse.size':
        pax.sparseRealSize = paxNumber(value, key);
        break;
      case 'GNU.sparse.map': {
        const nums = value === '' ? [] : value.split(',').map((v) => paxNumber(v, key));
        if (nums.length % 2 !== 0) throw new TarFormatError('pax GNU.sparse.map has an odd number of values');
        pax.sparseMap = [];
        for (let i = 0; i < nums.length; i += 2) pax.sparseMap.push({ offset: nums[i] as number, numbytes: nums[i + 1] as number });
        pax.sparseMajor ??= 0;
        pax.sparseMinor ??= 1;
        break;
      }
      case 'GNU.sparse.offset':
        pendingOffset = paxNumber(value, key);
        break;
      case 'GNU.sparse.numbytes':
        if (pendingOffset === undefined) throw new TarFormatError('pax GNU.sparse.numbytes without an offset');
        (pax.sparseMap ??= []).push({ offset: pendingOffset, numbytes: paxNumber(value, key) });
        pendingOffset = undefined;
        pax.sparseMajor ??= 0;
        pax.sparseMinor ??= 0;
        break;
      default:
        break;
    }
  }
  return pax;
}

/** Reads the decimal sparse map at the start of a PAX 1.0 sparse member's data. */
async function readPax1Map(reader: ByteReader): Promise<{ map: SparseRegion[]; consumed: number }> {
  let text = '';
  let consumed = 0;
  const numbers: number[] = [];
  let expected: number | undefined;
  while (expected === undefined || numbers.length < 1 + expected * 2) {
    const block = await reader.read(TAR_BLOCK);
    if (block === undefined) throw new TarFormatError('tar stream ends inside a sparse map');
    consumed += TAR_BLOCK;
    text += block.toString('latin1');
    const lines = text.split('\n');
    text = lines.pop() ?? '';
    for (const line of lines) {
      numbers.push(paxNumber(line, 'sparse map'));
      if (numbers.length === 1) {
        expected = numbers[0] as number;
        if (expected > MAX_SPARSE_ENTRIES) throw new TarFormatError('sparse map too large');
      }
      if (expected !== undefined && numbers.length === 1 + expected * 2) break;
    }
  }
  const map: SparseRegion[] = [];
  for (let i = 1; i < numbers.length; i += 2) map.push({ offset: numbers[i] as number, numbytes: numbers[i + 1] as number });
  return { map, consumed };
}

function checkMap(map: readonly SparseRegion[], realSize: number): void {
  let cursor = 0;
  for (const r of map) {
    if (r.offset < cursor || r.offset + r.numbytes > realSize)
      throw new TarFormatError(`sparse map region ${r.offset}+${r.numbytes} is out of order or past the end`);
    cursor = r.offset + r.numbytes;
  }
}

async function writeRegion(reader: ByteReader, target: ExtractTarget, region: SparseRegion): Promise<void> {
  let pos = region.offset;
  for await (const chunk of reader.take(region.numbytes)) {
    await target.write(chunk, pos);
    pos += chunk.length;
  }
}

/**
 * Extracts the single member of a tar stream into `target` (regular or sparse; holes are left
 * unwritten and the length set at the end). The stream must hold exactly one member followed by
 * the end of archive; everything after it must be zeros. Consumes the whole stream.
 */
export async function extractSingleMember(source: AsyncIterable<Uint8Array>, target: ExtractTarget): Promise<ExtractedMember> {
  const reader = new ByteReader(source);
  let member: ExtractedMember | undefined;
  let longName: string | undefined;
  let pax: PaxState = {};
  for (;;) {
    const block = await reader.read(TAR_BLOCK);
    if (block === undefined) {
      if (member === undefined) throw new TarFormatError('the tar stream holds no member');
      break;
    }
    if (block.every((b) => b === 0)) {
      if (member === undefined) throw new TarFormatError('the tar stream holds no member');
      break;
    }
    if (!checksumMatches(block)) throw new TarFormatError('tar header checksum mismatch');
    const typeflag = String.fromCharCode(block[156] ?? 0);
    const size = decodeNumeric(block, 124, 12, 'size');
    if (typeflag === 'L' || typeflag === 'K') {
      const data = await reader.read(size + padLength(size));
      if (data === undefined) throw new TarFormatError('tar stream ends inside a long name');
      if (typeflag === 'L') longName = readString(data, 0, size);
      continue;
    }
    if (typeflag === 'x' || typeflag === 'g') {
      const data = await reader.read(size + padLength(size));
      if (data === undefined) throw new TarFormatError('tar stream ends inside a pax header');
      if (typeflag === 'x') pax = applyPax(parsePax(data.subarray(0, size)));
      continue;
    }
    if (member !== undefined) throw new TarFormatError('the tar stream holds more than one member');
    if (typeflag !== '0' && typeflag !== '\0' && typeflag !== '7' && typeflag !== 'S') {
      throw new TarFormatError(`the tar member is not a regular file (type "${typeflag === '\0' ? '\\0' : typeflag}")`);
    }
    const ustarPrefix = block.subarray(257, 263).toString('latin1') === 'ustar\0' ? readString(block, 345, 155) : '';
    const headerName = ustarPrefix !== '' ? `${ustarPrefix}/${readString(block, 0, 100)}` : readString(block, 0, 100);
    const stored = pax.size ?? size;
    const base = { mode: decodeNumeric(block, 100, 8, 'mode'), mtime: decodeNumeric(block, 136, 12, 'mtime') };
    let consumed = 0;
    if (typeflag === 'S') {
      const map: SparseRegion[] = [];
      parseSparseEntries(block, 386, SPARSE_IN_HEADER, map);
      let extended = block[482] !== 0;
      while (extended) {
        const ext = await reader.read(TAR_BLOCK);
        if (ext === undefined) throw new TarFormatError('tar stream ends inside a sparse header');
        parseSparseEntries(ext, 0, SPARSE_IN_EXTENSION, map);
        extended = ext[504] !== 0;
      }
      const realSize = decodeNumeric(block, 483, 12, 'realsize');
      checkMap(map, realSize);
      member = { name: longName ?? headerName, size: realSize, ...base, sparse: true };
      for (const region of map) {
        await writeRegion(reader, target, region);
        const pad = padLength(region.numbytes);
        await reader.skip(pad);
        consumed += region.numbytes + pad;
      }
    } else if (pax.sparseMajor !== undefined) {
      const realSize = pax.sparseRealSize;
      if (realSize === undefined) throw new TarFormatError('pax sparse member without a real size');
      let map = pax.sparseMap ?? [];
      if (pax.sparseMajor === 1) {
        const read = await readPax1Map(reader);
        map = read.map;
        consumed += read.consumed;
      }
      checkMap(map, realSize);
      member = { name: pax.sparseName ?? pax.path ?? longName ?? headerName, size: realSize, ...base, sparse: true };
      for (const region of map) {
        await writeRegion(reader, target, region);
        const pad = padLength(region.numbytes);
        await reader.skip(pad);
        consumed += region.numbytes + pad;
      }
    } else {
      member = { name: pax.path ?? longName ?? headerName, size: stored, ...base, sparse: false };
      await writeRegion(reader, target, { offset: 0, numbytes: stored });
      consumed = stored;
    }
    const padded = stored + padLength(stored);
    if (consumed > padded) throw new TarFormatError('the sparse data of the tar member runs past its size');
    await reader.skip(padded - consumed);
    await target.truncate(member.size);
    longName = undefined;
    pax = {};
  }
  await reader.drain((chunk) => {
    if (!chunk.every((b) => b === 0)) throw new TarFormatError('data after the end of the tar archive');
  });
  return member;
}
