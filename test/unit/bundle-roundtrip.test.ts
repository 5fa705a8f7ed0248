import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  bundleImage,
  directorySink,
  directorySource,
  parseManifest,
  partFileName,
  unbundle,
  verifyManifestSignature,
  verifyParts,
  type BundleResult,
  type Manifest,
  type BundleSink,
} from '../../functions/lib/bundle/index.js';
import {
  ACCOUNT,
  MIB,
  listDir,
  opensslKeyPair,
  randomFile,
  removeDir,
  sh,
  tempDir,
  textBytes,
  writeSparseFile,
  type KeyPairFiles,
} from '../fixtures/bundle/helpers.js';

let dir: string;
let user: KeyPairFiles;
let ec2: KeyPairFiles;
beforeAll(() => {
  dir = tempDir('roundtrip');
  user = opensslKeyPair(dir, 'user');
  ec2 = opensslKeyPair(dir, 'ec2');
});
afterAll(() => removeDir(dir));

function bundle(image: string, destination: string, extra: Partial<Parameters<typeof bundleImage>[0]> = {}): Promise<BundleResult> {
  return bundleImage({
    image,
    user: ACCOUNT,
    architecture: 'x86_64',
    userCertificate: user.certPem,
    privateKey: user.keyPem,
    ec2Certificate: ec2.certPem,
    sink: directorySink(destination),
    ...extra,
  });
}

/**
 * The tools' unbundle recipe with real binaries only: openssl pkeyutl unwraps key and IV, then
 * cat parts | openssl enc -d | gunzip | tar -x, hashing the tar stream. Returns the key hex and
 * the tar stream's SHA-1.
 */
function toolsUnbundle(
  bundleDir: string,
  manifestFile: string,
  keyPath: string,
  out: string,
  holder: 'user' | 'ec2' = 'user',
): { key: string; iv: string; tarSha1: string } {
  const xml = readFileSync(join(bundleDir, manifestFile), 'utf8');
  const field = (name: string): string => new RegExp(`<${name}[^>]*>([0-9a-f]+)</${name}>`).exec(xml)?.[1] ?? '';
  writeFileSync(join(out, 'key.bin'), Buffer.from(field(`${holder}_encrypted_key`), 'hex'));
  writeFileSync(join(out, 'iv.bin'), Buffer.from(field(`${holder}_encrypted_iv`), 'hex'));
  const key = sh(`openssl pkeyutl -decrypt -inkey '${keyPath}' -pkeyopt rsa_padding_mode:pkcs1 -in '${out}/key.bin'`);
  const iv = sh(`openssl pkeyutl -decrypt -inkey '${keyPath}' -pkeyopt rsa_padding_mode:pkcs1 -in '${out}/iv.bin'`);
  const parts = [...xml.matchAll(/<filename>([^<]+)<\/filename>/g)].map((m) => `'${bundleDir}/${m[1] as string}'`).join(' ');
  sh(
    `mkdir -p '${out}/x' && cat ${parts} | openssl enc -d -aes-128-cbc -K ${key} -iv ${iv} | gunzip | tee '${out}/stream.tar' | tar -x -C '${out}/x'`,
  );
  return { key, iv, tarSha1: sh(`sha1sum < '${out}/stream.tar' | cut -d' ' -f1`).trim() };
}

describe('a bundle made here', () => {
  it('unbundles with the tools recipe to the same sparse file, for the user and for EC2', async () => {
    // Prepare: 40 MiB + 1234 bytes, three data regions and holes around them
    const image = join(dir, 'sparse.img');
    const size = 40 * MIB + 1234;
    writeSparseFile(image, size, [
      { offset: MIB, bytes: textBytes(3 * MIB) },
      { offset: 20 * MIB, bytes: textBytes(100_000, 7) },
      { offset: size - 100, bytes: Buffer.alloc(100, 0x41) },
    ]);
    const dest = join(dir, 'sparse-bundle');
    const out = join(dir, 'sparse-out');
    const outEc2 = join(dir, 'sparse-out-ec2');
    sh(`mkdir -p '${out}' '${outEc2}'`);
    // Act
    const result = await bundle(image, dest);
    const tools = toolsUnbundle(dest, result.manifestFileName, user.keyPath, out);
    const toolsEc2 = toolsUnbundle(dest, result.manifestFileName, ec2.keyPath, outEc2, 'ec2');
    // Assess
    expect(listDir(dest)).toEqual(['sparse.img.manifest.xml', 'sparse.img.part.0']);
    expect(readFileSync(join(out, 'x', 'sparse.img')).equals(readFileSync(image))).toBe(true);
    expect(statSync(join(out, 'x', 'sparse.img')).blocks * 512).toBeLessThan(8 * MIB);
    expect(tools.tarSha1).toBe(result.manifest.image.digest);
    expect(toolsEc2).toEqual(tools);
    const tar = readFileSync(join(out, 'stream.tar'));
    expect(String.fromCharCode(tar[156] ?? 0)).toBe('S');
    expect(sh(`tar -tvf '${out}/stream.tar'`)).toMatch(/^-rw\S+ root\/root\s+41944274 .* sparse\.img\n$/);
    expect(result.manifest.image.size).toBe(size);
    expect(result.manifest.image.bundledSize).toBe(statSync(join(dest, 'sparse.img.part.0')).size);
  });

  it('spans several 10 MiB parts that the recipe and unbundle both restore', async () => {
    // Prepare: 25 MiB of random bytes do not compress: three parts
    const image = join(dir, 'random.img');
    const bytes = randomFile(image, 25 * MIB);
    const dest = join(dir, 'random-bundle');
    const out = join(dir, 'random-out');
    sh(`mkdir -p '${out}'`);
    // Act
    const result = await bundle(image, dest, { name: 'web-image' });
    const tools = toolsUnbundle(dest, result.manifestFileName, user.keyPath, out);
    const ours = await unbundle({
      manifest: readFileSync(join(dest, 'web-image.manifest.xml'), 'utf8'),
      source: directorySource(dest),
      privateKey: user.keyPem,
      destination: join(dir, 'random-ours'),
    });
    // Assess
    expect(result.parts.map((p) => [p.filename, p.size])).toEqual([
      ['web-image.part.0', 10 * MIB],
      ['web-image.part.1', 10 * MIB],
      ['web-image.part.2', result.manifest.image.bundledSize - 20 * MIB],
    ]);
    for (const p of result.parts) expect(sh(`sha1sum '${dest}/${p.filename}' | cut -d' ' -f1`).trim()).toBe(p.digest);
    expect(readFileSync(join(out, 'x', 'web-image')).equals(bytes)).toBe(true);
    expect(tools.tarSha1).toBe(result.manifest.image.digest);
    expect(readFileSync(ours.path).equals(bytes)).toBe(true);
    expect(ours.member.sparse).toBe(false);
  });

  it('fails with the error of a write that fails behind the stream, and tells the sink to abort', async () => {
    // Prepare: a sink whose fifth write fails
    const image = join(dir, 'failing.img');
    randomFile(image, 3 * MIB);
    const inner = directorySink(join(dir, 'failing-bundle'));
    let writes = 0;
    let aborted = false;
    const sink: BundleSink = {
      ...inner,
      async openPart(index) {
        const part = await inner.openPart(index);
        return {
          write: async (chunk) => {
            if (++writes === 5) throw new Error('disk full');
            await part.write(chunk);
          },
          close: () => part.close(),
        };
      },
      async abort() {
        aborted = true;
        await inner.abort();
      },
    };
    // Act
    const result = bundle(image, '', { sink, partSize: 1024 * 1024 });
    // Assess
    await expect(result).rejects.toThrow('disk full');
    expect(aborted).toBe(true);
    expect(writes).toBe(5);
  });

  it('names parts with the digits of the final count (12 parts: .part.00–.part.11)', async () => {
    // Prepare: small parts so that the count passes 10 without a big image
    const image = join(dir, 'twelve.img');
    const bytes = randomFile(image, 12 * 64 * 1024 - 1000);
    const dest = join(dir, 'twelve-bundle');
    const out = join(dir, 'twelve-out');
    sh(`mkdir -p '${out}'`);
    // Act
    const result = await bundle(image, dest, { partSize: 64 * 1024 });
    const tools = toolsUnbundle(dest, result.manifestFileName, user.keyPath, out);
    // Assess
    expect(result.parts.length).toBe(12);
    expect(listDir(dest)).toEqual(['twelve.img.manifest.xml', ...Array.from({ length: 12 }, (_, i) => partFileName('twelve.img', i, 12))]);
    expect(result.parts[11]?.filename).toBe('twelve.img.part.11');
    expect(readFileSync(join(out, 'x', 'twelve.img')).equals(bytes)).toBe(true);
    expect(tools.tarSha1).toBe(result.manifest.image.digest);
    await expect(verifyParts(result.manifest, directorySource(dest), { partSize: 64 * 1024 })).resolves.toHaveLength(12);
  });

  it('reports progress up to the image size', async () => {
    const image = join(dir, 'progress.img');
    writeSparseFile(image, 8 * MIB, [{ offset: 0, bytes: textBytes(3 * MIB) }]);
    const seen: number[] = [];
    await bundle(image, join(dir, 'progress-bundle'), { onProgress: (p) => seen.push(p.bytes) });
    expect(seen.at(-1)).toBe(8 * MIB);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
  });
});

describe('a bundle made with the shell tools', () => {
  let bundleDir: string;
  let image: string;
  let manifest: Manifest;

  beforeAll(() => {
    // Prepare: a sparse file (holes on disk) and the tools' pipeline, parts split at 10 MiB
    const src = join(dir, 'tools-src');
    bundleDir = join(dir, 'tools-bundle');
    sh(`mkdir -p '${src}' '${bundleDir}'`);
    image = join(src, 'legacy.img');
    writeSparseFile(image, 30 * MIB + 77, [
      { offset: 2 * MIB, bytes: randomBytes(12 * MIB) },
      { offset: 30 * MIB, bytes: textBytes(77) },
    ]);
    const key = '00112233445566778899aabbccddeeff';
    const iv = 'ffeeddccbbaa99887766554433221100';
    sh(
      `tar -c -h -S --owner 0 --group 0 -C '${src}' legacy.img > '${src}/legacy.tar' && ` +
        `gzip -9 < '${src}/legacy.tar' | openssl enc -e -aes-128-cbc -K ${key} -iv ${iv} > '${src}/legacy.enc'`,
    );
    const tarSha1 = sh(`sha1sum < '${src}/legacy.tar' | cut -d' ' -f1`).trim();
    const encSize = statSync(join(src, 'legacy.enc')).size;
    const count = Math.ceil(encSize / (10 * MIB));
    sh(`split -b 10485760 -d -a ${String(count).length} '${src}/legacy.enc' '${bundleDir}/legacy.img.part.'`);
    const wrap = (hex: string, cert: string): string => {
      sh(`printf %s ${hex} | openssl pkeyutl -encrypt -certin -inkey '${cert}' -pkeyopt rsa_padding_mode:pkcs1 -out '${src}/w.bin'`);
      return readFileSync(join(src, 'w.bin')).toString('hex');
    };
    const parts = Array.from({ length: count }, (_, i) => {
      const filename = `legacy.img.part.${String(i).padStart(String(count).length, '0')}`;
      const digest = sh(`sha1sum '${bundleDir}/${filename}' | cut -d' ' -f1`).trim();
      return `<part index='${i}'><filename>${filename}</filename><digest algorithm='SHA1'>${digest}</digest></part>`;
    });
    // The manifest as ec2-bundle-image 1.5 writes it (REXML, compact, single quotes)
    const unsigned =
      `<?xml version='1.0'?><manifest><version>2007-10-10</version><bundler><name>ec2-ami-tools</name><version>1.5.7</version><release>0</release></bundler>` +
      `<machine_configuration><architecture>i386</architecture><block_device_mapping><mapping><virtual>ami</virtual><device>sda1</device></mapping>` +
      `<mapping><virtual>root</virtual><device>/dev/sda1</device></mapping></block_device_mapping><kernel_id>aki-12345678</kernel_id></machine_configuration>` +
      `<image><name>legacy.img</name><user>${ACCOUNT}</user><type>machine</type><digest algorithm='SHA1'>${tarSha1}</digest>` +
      `<size>${30 * MIB + 77}</size><bundled_size>${encSize}</bundled_size>` +
      `<ec2_encrypted_key algorithm='AES-128-CBC'>${wrap(key, ec2.certPath)}</ec2_encrypted_key>` +
      `<user_encrypted_key algorithm='AES-128-CBC'>${wrap(key, user.certPath)}</user_encrypted_key>` +
      `<ec2_encrypted_iv>${wrap(iv, ec2.certPath)}</ec2_encrypted_iv><user_encrypted_iv>${wrap(iv, user.certPath)}</user_encrypted_iv>` +
      `<parts count='${count}'>${parts.join('')}</parts></image></manifest>`;
    const signed =
      /<machine_configuration>.*<\/machine_configuration>/s.exec(unsigned)?.[0] + (/<image>.*<\/image>/s.exec(unsigned)?.[0] ?? '');
    writeFileSync(join(src, 'signed.txt'), signed);
    const signature = sh(`openssl dgst -sha1 -sign '${user.keyPath}' '${src}/signed.txt' | od -An -v -tx1 | tr -d ' \\n'`);
    const xml = unsigned.replace('</manifest>', `<signature>${signature}</signature></manifest>`);
    writeFileSync(join(bundleDir, 'legacy.img.manifest.xml'), xml);
    manifest = parseManifest(xml);
  });

  it('has a manifest that parses and verifies', () => {
    expect(manifest.image.parts.length).toBe(2);
    expect(manifest.machineConfiguration?.kernelId).toBe('aki-12345678');
    expect(() => verifyManifestSignature(manifest, user.certPem)).not.toThrow();
  });

  it('has parts that verify', async () => {
    await expect(verifyParts(manifest, directorySource(bundleDir))).resolves.toHaveLength(2);
  });

  it('unbundles here to the same bytes, with the user key and with the EC2 key', async () => {
    const a = await unbundle({
      manifest,
      source: directorySource(bundleDir),
      privateKey: user.keyPem,
      destination: join(dir, 'legacy-out'),
    });
    const b = await unbundle({
      manifest,
      source: directorySource(bundleDir),
      privateKey: ec2.keyPem,
      holder: 'ec2',
      certificate: user.certPem,
      destination: join(dir, 'legacy-out-ec2'),
    });
    expect(readFileSync(a.path).equals(readFileSync(image))).toBe(true);
    expect(readFileSync(b.path).equals(readFileSync(image))).toBe(true);
    expect(a.member.sparse).toBe(true);
    expect(statSync(a.path).blocks * 512).toBeLessThan(20 * MIB);
    expect(listDir(join(dir, 'legacy-out'))).toEqual(['legacy.img']);
  });
});
