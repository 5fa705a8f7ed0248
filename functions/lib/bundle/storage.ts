/**
 * Where bundle parts go and come from. The bundler writes through a BundleSink, the reader
 * reads through a BundleSource; a local directory implements both here, an S3 bucket/prefix
 * can implement the same interfaces (PutObject/multipart per part, GetObject/HeadObject).
 *
 * Part names depend on the part count (`<name>.part.<i>`, `i` padded to the count's digits),
 * which is known only once the whole image is compressed, so a sink receives parts by index
 * and learns their final names in `commitParts`. The directory sink writes them under a hidden
 * staging directory and renames them; an S3 sink may upload under staging keys and copy
 * (server-side) in `commitParts`, or upload under the final names when it can tell the digits
 * from an upper bound of the part count.
 */
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';

export interface PartWriter {
  /** Appends bytes to the part; resolves once the sink has taken them (backpressure). */
  write(chunk: Uint8Array): Promise<void>;
  /** The part is complete. */
  close(): Promise<void>;
}

export interface BundleSink {
  /** Opens part `index` (0, 1, …, in order; one open at a time). */
  openPart(index: number): Promise<PartWriter>;
  /** Every part is written: give them their final names (`names[i]` for part i). */
  commitParts(names: readonly string[]): Promise<void>;
  /** Stores the manifest (after the parts, as ec2-upload-bundle does). */
  writeManifest(fileName: string, xml: string): Promise<void>;
  /** Removes whatever this bundling wrote (staged or committed parts, the manifest). Never throws. */
  abort(): Promise<void>;
}

export interface BundleSource {
  /** Size of a part in bytes, or undefined when it does not exist. */
  partSize(fileName: string): Promise<number | undefined>;
  /** The part's bytes, in order. */
  readPart(fileName: string): AsyncIterable<Uint8Array>;
}

async function writeFully(fh: Awaited<ReturnType<typeof open>>, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await fh.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}

/** A sink writing `<dir>/<name>.part.<i>` and `<dir>/<name>.manifest.xml`. */
export function directorySink(dir: string): BundleSink {
  let staging: string | undefined;
  const staged: string[] = [];
  const committed: string[] = [];
  let manifestPath: string | undefined;
  return {
    async openPart(index) {
      if (staging === undefined) {
        await mkdir(dir, { recursive: true });
        staging = await mkdtemp(join(dir, '.bundle-staging-'));
      }
      const path = join(staging, `part.${index}`);
      staged[index] = path;
      const fh = await open(path, 'w');
      return {
        write: (chunk) => writeFully(fh, chunk),
        close: () => fh.close(),
      };
    },
    async commitParts(names) {
      if (names.length !== staged.length) throw new RangeError(`commitParts got ${names.length} names for ${staged.length} parts`);
      for (const [i, from] of staged.entries()) {
        const to = join(dir, basename(names[i] as string));
        await rename(from, to);
        committed.push(to);
      }
      if (staging !== undefined) await rm(staging, { recursive: true, force: true });
      staging = undefined;
    },
    async writeManifest(fileName, xml) {
      await mkdir(dir, { recursive: true });
      const to = join(dir, basename(fileName));
      const tmp = join(dir, `.${basename(fileName)}.${process.pid}.tmp`);
      await writeFile(tmp, xml);
      await rename(tmp, to);
      manifestPath = to;
    },
    async abort() {
      const paths = [...committed, ...(manifestPath === undefined ? [] : [manifestPath])];
      await Promise.allSettled(paths.map((p) => unlink(p)));
      if (staging !== undefined) await rm(staging, { recursive: true, force: true }).catch(() => undefined);
    },
  };
}

/** A source reading parts from a local directory. */
export function directorySource(dir: string, readSize = 1 << 20): BundleSource {
  return {
    async partSize(fileName) {
      try {
        const s = await stat(join(dir, basename(fileName)));
        return s.isFile() ? s.size : undefined;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
    },
    readPart(fileName) {
      return createReadStream(join(dir, basename(fileName)), { highWaterMark: readSize });
    },
  };
}
