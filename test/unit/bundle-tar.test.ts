import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { TarFormatError } from '../../functions/lib/bundle/errors.js';
import {
  TAR_BLOCK,
  TAR_RECORD,
  decodeNumeric,
  encodeHeader,
  encodeNumeric,
  extractSingleMember,
  planTarMember,
  scanSparseMap,
  tarMemberStream,
  trailerLength,
  type ExtractTarget,
} from '../../functions/lib/bundle/tar.js';
import { MIB, removeDir, sh, tempDir, textBytes, writeSparseFile } from '../fixtures/bundle/helpers.js';

const GIB = 1024 * MIB;

let dir: string;
beforeAll(() => {
  dir = tempDir('tar');
});
afterAll(() => removeDir(dir));

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of source) chunks.push(c);
  return Buffer.concat(chunks);
}

/** Our tar stream of a file, as GNU tar would write it. */
async function tarOf(path: string, name: string, opts: { maxHoles?: number } = {}): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const st = await fh.stat();
    const sparseMap = await scanSparseMap(fh, st.size, opts);
    const member = planTarMember({ name, size: st.size, mode: st.mode, mtime: Math.floor(st.mtimeMs / 1000), sparseMap });
    const bytes = await collect(tarMemberStream(fh, member));
    expect(bytes.length).toBe(member.length);
    return bytes;
  } finally {
    await fh.close();
  }
}

/** An extract target writing into memory. */
function memoryTarget(): ExtractTarget & { bytes(): Buffer; writes: number } {
  let buf = Buffer.alloc(0);
  const t = {
    writes: 0,
    async write(data: Buffer, position: number) {
      t.writes += 1;
      if (position + data.length > buf.length) buf = Buffer.concat([buf, Buffer.alloc(position + data.length - buf.length)]);
      data.copy(buf, position);
    },
    async truncate(length: number) {
      buf = length <= buf.length ? buf.subarray(0, length) : Buffer.concat([buf, Buffer.alloc(length - buf.length)]);
    },
    bytes: () => buf,
  };
  return t;
}

async function* chunked(data: Buffer, size = 7777): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

describe('tar numeric fields', () => {
  it('writes octal with a NUL terminator when the value fits', () => {
    const b = Buffer.alloc(12);
    encodeNumeric(b, 0, 12, 0o20000);
    expect(b.toString('latin1')).toBe('00000020000\0');
    encodeNumeric(b, 0, 12, 8 ** 11 - 1);
    expect(b.toString('latin1')).toBe('77777777777\0');
  });

  it('switches to GNU base-256 above 8 GiB - 1 and reads it back', () => {
    // Prepare
    const nineGiB = 9 * GIB + 123;
    const b = Buffer.alloc(12);
    // Act
    encodeNumeric(b, 0, 12, 8 ** 11);
    const eightGiB = Buffer.from(b);
    encodeNumeric(b, 0, 12, nineGiB);
    // Assess
    expect(eightGiB[0]).toBe(0x80);
    expect(decodeNumeric(eightGiB, 0, 12)).toBe(8 * GIB);
    expect(b[0]).toBe(0x80);
    expect(b.readBigUInt64BE(4)).toBe(BigInt(nineGiB));
    expect(decodeNumeric(b, 0, 12)).toBe(nineGiB);
  });

  it('reads space-padded octal and refuses garbage and negative base-256', () => {
    expect(decodeNumeric(Buffer.from(' 644 \0\0\0', 'latin1'), 0, 8)).toBe(0o644);
    expect(decodeNumeric(Buffer.alloc(8), 0, 8)).toBe(0);
    expect(() => decodeNumeric(Buffer.from('12x4567\0', 'latin1'), 0, 8)).toThrow(TarFormatError);
    expect(() => decodeNumeric(Buffer.alloc(12, 0xff), 0, 12)).toThrow(TarFormatError);
  });

  it('refuses values it cannot represent', () => {
    expect(() => encodeNumeric(Buffer.alloc(8), 0, 8, -1)).toThrow(RangeError);
    expect(() => encodeNumeric(Buffer.alloc(8), 0, 8, 2 ** 60)).toThrow(RangeError);
  });
});

describe('tar headers', () => {
  it('match what GNU tar -S --owner 0 --group 0 writes for a sparse file, byte for byte', () => {
    // Prepare: a sparse file GNU tar sees as sparse (holes on disk), data at 0 and at 1998848
    const file = join(dir, 'gnu.img');
    writeSparseFile(file, 3 * MIB, [
      { offset: 0, bytes: Buffer.from('hello') },
      { offset: 2_000_000, bytes: Buffer.from('X') },
    ]);
    const st = statSync(file);
    sh(`tar -c -S --owner 0 --group 0 -C '${dir}' -f '${dir}/gnu.tar' gnu.img`);
    const gnu = readFileSync(join(dir, 'gnu.tar'));
    // Act: the same header from GNU tar's map
    const ours = encodeHeader({
      name: 'gnu.img',
      mode: st.mode & 0o7777,
      uid: 0,
      gid: 0,
      size: 8192,
      mtime: Math.floor(st.mtimeMs / 1000),
      typeflag: 'S',
      uname: 'root',
      gname: 'root',
      sparse: {
        realSize: 3 * MIB,
        map: [
          { offset: 0, numbytes: 4096 },
          { offset: 1998848, numbytes: 4096 },
          { offset: 3 * MIB, numbytes: 0 },
        ],
      },
    });
    // Assess
    expect(ours.equals(gnu.subarray(0, TAR_BLOCK))).toBe(true);
  });

  it('are read by GNU tar with a 9 GiB real size and offsets in base-256', () => {
    // Prepare: a sparse member whose only data is 5 bytes at 9 GiB
    const real = 9 * GIB + 5;
    const header = encodeHeader({
      name: 'big.img',
      mode: 0o644,
      uid: 0,
      gid: 0,
      size: 5,
      mtime: 1_700_000_000,
      typeflag: 'S',
      uname: 'root',
      gname: 'root',
      sparse: {
        realSize: real,
        map: [
          { offset: 9 * GIB, numbytes: 5 },
          { offset: real, numbytes: 0 },
        ],
      },
    });
    const data = Buffer.alloc(TAR_BLOCK);
    data.write('hello');
    const archive = Buffer.concat([header, data, Buffer.alloc(trailerLength(header.length + data.length))]);
    writeFileSync(join(dir, 'big.tar'), archive);
    // Act
    const listing = sh(`tar -tvf '${dir}/big.tar'`);
    sh(`mkdir -p '${dir}/big' && tar -xf '${dir}/big.tar' -C '${dir}/big'`);
    // Assess
    expect(listing).toContain(String(real));
    expect(statSync(join(dir, 'big', 'big.img')).size).toBe(real);
    expect(sh(`tail -c 5 '${dir}/big/big.img'`)).toBe('hello');
    expect(archive.length % TAR_RECORD).toBe(0);
  });

  it('use a ././@LongLink entry for names over 100 bytes, as GNU tar does', () => {
    const name = 'n'.repeat(120);
    writeFileSync(join(dir, name), 'x');
    sh(`tar -c --owner 0 --group 0 --mtime=@0 -C '${dir}' -f '${dir}/long.tar' '${name}'`);
    const gnu = readFileSync(join(dir, 'long.tar'));
    const ours = encodeHeader({
      name,
      mode: statSync(join(dir, name)).mode & 0o7777,
      uid: 0,
      gid: 0,
      size: 1,
      mtime: 0,
      typeflag: '0',
      uname: 'root',
      gname: 'root',
    });
    expect(ours.equals(gnu.subarray(0, ours.length))).toBe(true);
  });
});

describe('scanSparseMap', () => {
  it('maps all-zero 4 KiB blocks to holes and ends with the zero-length entry GNU tar writes', async () => {
    // Prepare: zeros written explicitly (not holes on disk): still holes in the map
    const file = join(dir, 'zeros.img');
    const content = Buffer.alloc(64 * 1024);
    content.fill(1, 8192, 8192 + 100);
    content.fill(2, 40960, 40960 + 5000);
    writeFileSync(file, content);
    const fh = await open(file, 'r');
    // Act
    const map = await scanSparseMap(fh, content.length);
    await fh.close();
    // Assess
    expect(map).toEqual([
      { offset: 8192, numbytes: 4096 },
      { offset: 40960, numbytes: 8192 },
      { offset: 65536, numbytes: 0 },
    ]);
  });

  it('returns undefined when the file has no hole, and only the end entry when it is all zeros', async () => {
    const full = join(dir, 'full.img');
    writeFileSync(full, textBytes(10_000));
    const zeros = join(dir, 'allzero.img');
    writeFileSync(zeros, Buffer.alloc(10_000));
    const a = await open(full, 'r');
    const b = await open(zeros, 'r');
    expect(await scanSparseMap(a, 10_000)).toBeUndefined();
    expect(await scanSparseMap(b, 10_000)).toEqual([{ offset: 10_000, numbytes: 0 }]);
    await a.close();
    await b.close();
  });

  it('keeps the map bounded by raising the minimum hole size', async () => {
    // Prepare: 64 data blocks separated by 1-block holes, and one 64 KiB hole
    const content = Buffer.alloc(128 * 4096 + 65536 + 4096);
    for (let i = 0; i < 128; i += 2) content.fill(7, i * 4096, i * 4096 + 10);
    content.fill(9, content.length - 4096);
    const file = join(dir, 'fragmented.img');
    writeFileSync(file, content);
    const fh = await open(file, 'r');
    // Act
    const map = (await scanSparseMap(fh, content.length, { maxHoles: 8 })) ?? [];
    await fh.close();
    // Assess: the small holes are merged into data; the big hole stays
    expect(map.length).toBeLessThanOrEqual(10);
    expect(map).toContainEqual({ offset: 0, numbytes: 127 * 4096 });
    expect(map.at(-2)).toEqual({ offset: content.length - 4096, numbytes: 4096 });
  });
});

describe('tar writer and reader', () => {
  let sparseFile: string;
  let sparseContent: Buffer;

  beforeAll(() => {
    // 30 data regions (more than fit in the header: extension blocks) and an unaligned size
    sparseFile = join(dir, 'many.img');
    const size = 4 * MIB + 1234;
    const data = Array.from({ length: 30 }, (_, i) => ({ offset: i * 131072 + 4096, bytes: textBytes(3000 + i, i + 1) }));
    data.push({ offset: size - 10, bytes: Buffer.from('0123456789') });
    writeSparseFile(sparseFile, size, data);
    sparseContent = readFileSync(sparseFile);
  });

  it('writes a sparse member GNU tar extracts to the same bytes, with holes', async () => {
    // Act
    const tar = await tarOf(sparseFile, 'many.img');
    writeFileSync(join(dir, 'many.tar'), tar);
    sh(`mkdir -p '${dir}/x' && tar -xf '${dir}/many.tar' -C '${dir}/x'`);
    // Assess
    expect(String.fromCharCode(tar[156] ?? 0)).toBe('S');
    expect(tar.length % TAR_RECORD).toBe(0);
    expect(readFileSync(join(dir, 'x', 'many.img')).equals(sparseContent)).toBe(true);
    expect(statSync(join(dir, 'x', 'many.img')).blocks * 512).toBeLessThan(sparseContent.length / 2);
  });

  it('writes a regular member for a file without holes', async () => {
    const file = join(dir, 'plain.img');
    writeFileSync(file, textBytes(50_000));
    const tar = await tarOf(file, 'renamed.img');
    writeFileSync(join(dir, 'plain.tar'), tar);
    expect(String.fromCharCode(tar[156] ?? 0)).toBe('0');
    expect(sh(`tar -tvf '${dir}/plain.tar'`)).toMatch(/^-rw\S+ root\/root\s+50000 .* renamed\.img\n$/);
  });

  it('reads back its own sparse member through small chunks', async () => {
    const tar = await tarOf(sparseFile, 'many.img');
    const target = memoryTarget();
    const member = await extractSingleMember(chunked(tar), target);
    expect(member).toMatchObject({ name: 'many.img', size: sparseContent.length, sparse: true });
    expect(target.bytes().equals(sparseContent)).toBe(true);
  });

  it.each([
    ['gnu', '--format=gnu'],
    ['posix sparse 0.0', '--format=posix --sparse-version=0.0'],
    ['posix sparse 0.1', '--format=posix --sparse-version=0.1'],
    ['posix sparse 1.0', '--format=posix --sparse-version=1.0'],
  ])('extracts a sparse member GNU tar wrote in %s format', async (_label, flags) => {
    // Prepare
    const tarPath = join(dir, `gnu-${flags.replace(/\W+/g, '_')}.tar`);
    sh(`tar -c -S ${flags} --owner 0 --group 0 -C '${dir}' -f '${tarPath}' many.img`);
    const target = memoryTarget();
    // Act
    const member = await extractSingleMember(createReadStream(tarPath, { highWaterMark: 10_000 }), target);
    // Assess
    expect(member.name).toBe('many.img');
    expect(member.size).toBe(sparseContent.length);
    expect(target.bytes().equals(sparseContent)).toBe(true);
  });

  it('extracts a long-named regular member GNU tar wrote', async () => {
    const name = `${'long-'.repeat(30)}.img`;
    const content = textBytes(20_000, 9);
    writeFileSync(join(dir, name), content);
    sh(`tar -c --owner 0 --group 0 -C '${dir}' -f '${dir}/longname.tar' '${name}'`);
    const target = memoryTarget();
    const member = await extractSingleMember(createReadStream(join(dir, 'longname.tar')), target);
    expect(member).toMatchObject({ name, size: 20_000, sparse: false });
    expect(target.bytes().equals(content)).toBe(true);
  });

  describe('refuses', () => {
    beforeAll(() => {
      writeFileSync(join(dir, 'a.txt'), 'a');
      writeFileSync(join(dir, 'b.txt'), 'b');
      sh(`mkdir -p '${dir}/d'`);
    });

    it.each([
      ['two members', () => sh(`tar -c -C '${dir}' -f - a.txt b.txt | base64 -w0`), /more than one member/],
      ['a directory', () => sh(`tar -c -C '${dir}' -f - d | base64 -w0`), /not a regular file/],
      ['an empty archive', () => Buffer.alloc(TAR_RECORD).toString('base64'), /no member/],
    ])('%s', async (_label, make, message) => {
      const tar = Buffer.from(make(), 'base64');
      await expect(extractSingleMember(chunked(tar), memoryTarget())).rejects.toThrow(message);
    });

    it('a header with a bad checksum, a truncated member and data after the end', async () => {
      const good = Buffer.from(sh(`tar -c -C '${dir}' -f - a.txt | base64 -w0`), 'base64');
      const badSum = Buffer.from(good);
      badSum[0] = 0x41;
      await expect(extractSingleMember(chunked(badSum), memoryTarget())).rejects.toThrow(/checksum/);
      await expect(extractSingleMember(chunked(good.subarray(0, TAR_BLOCK + 100)), memoryTarget())).rejects.toThrow(TarFormatError);
      const trailing = Buffer.concat([good, Buffer.from('junk')]);
      await expect(extractSingleMember(chunked(trailing), memoryTarget())).rejects.toThrow(/after the end/);
    });
  });

  it('hashes like sha1sum over the whole stream', async () => {
    const tar = await tarOf(sparseFile, 'many.img');
    writeFileSync(join(dir, 'hash.tar'), tar);
    expect(sh(`sha1sum '${dir}/hash.tar' | cut -d' ' -f1`).trim()).toBe(createHash('sha1').update(tar).digest('hex'));
  });
});
