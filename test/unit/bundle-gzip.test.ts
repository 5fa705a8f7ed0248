import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { BundleInputError } from '../../functions/lib/bundle/errors.js';
import { gzipHeader, gzipTrailer, parallelGzip, type ParallelGzipOptions } from '../../functions/lib/bundle/gzip.js';
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
