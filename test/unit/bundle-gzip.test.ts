import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import zlib, { gunzipSync } from 'node:zlib';
import { jest } from '@jest/globals';
import { BundleInputError } from '../../functions/lib/bundle/errors.js';
import { gzipHeader, gzipTrailer, looksIncompressible, parallelGzip, type ParallelGzipOptions } from '../../functions/lib/bundle/gzip.js';
import { MIB, removeDir, sh, tempDir, textBytes } from '../fixtures/bundle/helpers.js';

let dir: string;
beforeAll(() => {
  dir = tempDir('gzip');
});
afterAll(() => removeDir(dir));

async function* chunks(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function gz(data: Buffer, opts: ParallelGzipOptions = {}, chunkSize = 100_000): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of parallelGzip(chunks(data, chunkSize), opts)) out.push(c);
  return Buffer.concat(out);
}

describe('parallelGzip', () => {
  const mixed = Buffer.concat([randomBytes(700_000), textBytes(900_000), Buffer.alloc(300_000), textBytes(123_457, 5)]);

  it.each<[string, Buffer, ParallelGzipOptions]>([
    ['empty input', Buffer.alloc(0), {}],
    ['one byte', Buffer.from('x'), {}],
    ['exactly one block', textBytes(64 * 1024), { blockSize: 64 * 1024 }],
    ['exactly three blocks', textBytes(3 * 16 * 1024), { blockSize: 16 * 1024 }],
    ['mixed data over many blocks', mixed, { blockSize: 64 * 1024 }],
    ['mixed data without dictionaries', mixed, { blockSize: 64 * 1024, dictionary: false }],
    ['mixed data at level 1, one at a time', mixed, { blockSize: 128 * 1024, level: 1, concurrency: 1 }],
    ['blocks smaller than the 32 KiB dictionary', mixed, { blockSize: 5000 }],
    ['random blocks stored between text blocks, at level 1', mixed, { blockSize: 64 * 1024, level: 1 }],
    ['mixed data, every block searched', mixed, { blockSize: 64 * 1024, storeIncompressible: false }],
    ['random data only, ending in a partial block', randomBytes(5 * 64 * 1024 + 77), { blockSize: 64 * 1024 }],
  ])('makes one gzip stream that gzip -t accepts and gunzip restores: %s', async (label, input, opts) => {
    // Act
    const out = await gz(input, opts);
    const file = join(dir, `${label.replace(/\W+/g, '_')}.gz`);
    writeFileSync(file, out);
    // Assess
    expect(() => sh(`gzip -t '${file}'`)).not.toThrow();
    expect(gunzipSync(out).equals(input)).toBe(true);
    expect(sh(`gunzip -c '${file}' | sha1sum`)).toBe(sh(`sha1sum`, { input }));
    expect(out.subarray(0, 10).equals(gzipHeader(opts.level ?? 9))).toBe(true);
  });

  it('compresses about as well as gzip -9', async () => {
    const input = textBytes(4 * MIB);
    writeFileSync(join(dir, 'text'), input);
    const gnu = Number(sh(`gzip -9 -c '${dir}/text' | wc -c`));
    const ours = (await gz(input)).length;
    expect(ours).toBeLessThan(gnu * 1.05);
  });

  it('stores the blocks that look incompressible and searches the others', async () => {
    // Prepare: count the level-0 (stored) and the level-9 block deflates
    const spy = jest.spyOn(zlib, 'deflateRaw');
    const levels = (): (number | undefined)[] =>
      spy.mock.calls
        .map((c) => (c[1] as zlib.ZlibOptions).level)
        .filter((l) => l === 0 || l === 9)
        .sort();
    try {
      // Act: 4 blocks of random bytes, then 4 of text
      await gz(randomBytes(4 * 64 * 1024), { blockSize: 64 * 1024 });
      const random = levels();
      spy.mockClear();
      await gz(textBytes(4 * 64 * 1024), { blockSize: 64 * 1024 });
      const text = levels();
      spy.mockClear();
      await gz(randomBytes(4 * 64 * 1024), { blockSize: 64 * 1024, storeIncompressible: false });
      const searched = levels();
      // Assess: and the empty last block (Z_FINISH), too small to probe, is deflated at level 9
      expect(random).toEqual([0, 0, 0, 0, 9]);
      expect(text).toEqual([9, 9, 9, 9, 9]);
      expect(searched).toEqual([9, 9, 9, 9, 9]);
    } finally {
      spy.mockRestore();
    }
  });

  it.each<[string, () => Buffer, boolean]>([
    ['random bytes', () => randomBytes(256 * 1024), true],
    ['text', () => textBytes(256 * 1024), false],
    ['zeros', () => Buffer.alloc(256 * 1024), false],
    ['random bytes with text at one sampled place', () => Buffer.concat([textBytes(8 * 1024), randomBytes(248 * 1024)]), false],
    ['a block too small to sample', () => randomBytes(16 * 1024), false],
  ])('probes a block of %s as incompressible: %s', async (_label, make, expected) => {
    expect(await looksIncompressible(make())).toBe(expected);
  });

  it('stores random data at about its own size, as gzip -9 does', async () => {
    const input = randomBytes(2 * MIB);
    writeFileSync(join(dir, 'random'), input);
    const gnu = Number(sh(`gzip -9 -c '${dir}/random' | wc -c`));
    const ours = (await gz(input)).length;
    expect(ours).toBeLessThanOrEqual(gnu + 1024);
  });

  it('writes the CRC-32 and the length mod 2^32 in the trailer', () => {
    expect(gzipTrailer(0xdeadbeef, 2 ** 32 + 5).toString('hex')).toBe('efbeadde05000000');
  });

  it('never reads more than its in-flight blocks ahead of its consumer', async () => {
    // Prepare: a source that counts what was pulled
    const blockSize = 32 * 1024;
    const concurrency = 2;
    let pulled = 0;
    async function* source(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 200; i++) {
        pulled += 8 * 1024;
        yield textBytes(8 * 1024, i);
      }
    }
    const it = parallelGzip(source(), { blockSize, concurrency });
    // Act: take the header and one compressed block, then stop pulling
    await it.next();
    await it.next();
    const pulledAfterFirst = pulled;
    await it.return(undefined);
    // Assess: the consumer took one block; at most `concurrency` more (and one partial) were read
    expect(pulledAfterFirst).toBeLessThanOrEqual((concurrency + 2) * blockSize);
    expect(pulledAfterFirst).toBeLessThan(200 * 8 * 1024);
  });

  it('passes on a failure of its source', async () => {
    async function* failing(): AsyncGenerator<Buffer> {
      yield randomBytes(300_000);
      throw new Error('disk gone');
    }
    const drain = async (): Promise<void> => {
      for await (const _ of parallelGzip(failing(), { blockSize: 64 * 1024 })) {
        // consume
      }
    };
    await expect(drain()).rejects.toThrow('disk gone');
  });

  it.each([{ level: 10 }, { level: -1 }, { blockSize: 100 }, { concurrency: 0 }])('refuses options %j', async (opts) => {
    await expect(gz(Buffer.from('x'), opts)).rejects.toThrow(BundleInputError);
  });
});
