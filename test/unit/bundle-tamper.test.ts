import { cpSync, readFileSync, truncateSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BundleInputError,
  DigestMismatchError,
  EmptyImageError,
  ImageTooLargeError,
  KeyMismatchError,
  ManifestError,
  MissingPartError,
  PartDigestMismatchError,
  PartSizeMismatchError,
  SignatureMismatchError,
  TruncatedPartError,
  WrongKeyError,
  buildManifestXml,
  bundleImage,
  directorySink,
  directorySource,
  generateBundleKey,
  loadPublicKey,
  parseManifest,
  unbundle,
  verifyManifestSignature,
  verifyParts,
  wrapBundleKey,
  type BundleResult,
} from '../../functions/lib/bundle/index.js';
import {
  ACCOUNT,
  MIB,
  listDir,
  opensslKeyPair,
  randomFile,
  removeDir,
  tempDir,
  textBytes,
  writeSparseFile,
  type KeyPairFiles,
} from '../fixtures/bundle/helpers.js';

let dir: string;
let user: KeyPairFiles;
let other: KeyPairFiles;
let original: string;
let result: BundleResult;
let image: string;
let caseNo = 0;

beforeAll(async () => {
  dir = tempDir('tamper');
  user = opensslKeyPair(dir, 'user');
  other = opensslKeyPair(dir, 'other');
  image = join(dir, 'img.raw');
  // 22 MiB: random (3 parts) with a hole and some text
  writeSparseFile(image, 22 * MIB, [
    { offset: 0, bytes: randomFile(join(dir, 'noise'), 20 * MIB) },
    { offset: 21 * MIB, bytes: textBytes(300_000) },
  ]);
  original = join(dir, 'original');
  result = await bundleImage({
    image,
    user: ACCOUNT,
    architecture: 'i386',
    userCertificate: user.certPem,
    privateKey: user.keyPem,
    ec2Certificate: other.certPem,
    sink: directorySink(original),
  });
});
afterAll(() => removeDir(dir));

/** A fresh copy of the bundle and an empty destination for one case. */
function fresh(): { bundle: string; dest: string; manifestPath: string } {
  caseNo += 1;
  const bundle = join(dir, `case-${caseNo}`);
  cpSync(original, bundle, { recursive: true });
  return { bundle, dest: join(dir, `out-${caseNo}`), manifestPath: join(bundle, result.manifestFileName) };
}

function unbundleCase(bundle: string, dest: string, privateKeyPem = user.keyPem, manifestXml?: string): Promise<unknown> {
  return unbundle({
    manifest: manifestXml ?? readFileSync(join(bundle, result.manifestFileName), 'utf8'),
    source: directorySource(bundle),
    privateKey: privateKeyPem,
    destination: dest,
  });
}

async function caught(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a failure');
}

/** Re-signs a manifest with changed content, as someone holding the key could. */
function resign(xml: string, change: (m: ReturnType<typeof parseManifest>) => void): string {
  const m = parseManifest(xml);
  change(m);
  const { signature: _s, xml: _x, ...content } = m;
  return buildManifestXml(content, user.keyPem).xml;
}

describe('the untouched bundle', () => {
  it('verifies and unbundles (the tamper cases below start from it)', async () => {
    const { bundle, dest, manifestPath } = fresh();
    verifyManifestSignature(readFileSync(manifestPath, 'utf8'), user.certPem);
    await verifyParts(readFileSync(manifestPath, 'utf8'), directorySource(bundle));
    await unbundleCase(bundle, dest);
    expect(result.parts.length).toBe(3);
    expect(readFileSync(join(dest, 'img.raw')).equals(readFileSync(image))).toBe(true);
  });
});

describe('unbundle refuses, leaving no output file', () => {
  it('a wrong private key: WrongKeyError', async () => {
    const { bundle, dest } = fresh();
    const e = await caught(unbundleCase(bundle, dest, other.keyPem));
    expect(e).toBeInstanceOf(WrongKeyError);
    expect(listDir(dest)).toEqual([]);
  });

  it('a missing part: MissingPartError', async () => {
    const { bundle, dest } = fresh();
    const { unlinkSync } = await import('node:fs');
    unlinkSync(join(bundle, 'img.raw.part.1'));
    const e = await caught(unbundleCase(bundle, dest));
    expect(e).toBeInstanceOf(MissingPartError);
    expect(e.message).toContain('img.raw.part.1');
    expect(listDir(dest)).toEqual([]);
  });

  it('a truncated part: TruncatedPartError', async () => {
    const { bundle, dest } = fresh();
    truncateSync(join(bundle, 'img.raw.part.2'), 1000);
    const e = await caught(unbundleCase(bundle, dest));
    expect(e).toBeInstanceOf(TruncatedPartError);
    expect(listDir(dest)).toEqual([]);
  });

  it('a part with bytes appended: PartSizeMismatchError', async () => {
    const { bundle, dest } = fresh();
    appendFileSync(join(bundle, 'img.raw.part.2'), 'x');
    expect(await caught(unbundleCase(bundle, dest))).toBeInstanceOf(PartSizeMismatchError);
    expect(listDir(dest)).toEqual([]);
  });

  it('a tampered part (one byte flipped in the middle part): PartDigestMismatchError, after output began', async () => {
    const { bundle, dest } = fresh();
    const path = join(bundle, 'img.raw.part.1');
    const bytes = readFileSync(path);
    bytes[5000] = (bytes[5000] ?? 0) ^ 0xff;
    writeFileSync(path, bytes);
    const e = await caught(unbundleCase(bundle, dest));
    expect(e).toBeInstanceOf(PartDigestMismatchError);
    expect(e.name).toBe('PartDigestMismatchError');
    expect(listDir(dest)).toEqual([]);
  });

  it('a tampered manifest field: SignatureMismatchError', async () => {
    const { bundle, dest, manifestPath } = fresh();
    const xml = readFileSync(manifestPath, 'utf8').replace('<architecture>i386</architecture>', '<architecture>x86_64</architecture>');
    writeFileSync(manifestPath, xml);
    expect(await caught(unbundleCase(bundle, dest))).toBeInstanceOf(SignatureMismatchError);
    expect(() => verifyManifestSignature(xml, user.certPem)).toThrow(SignatureMismatchError);
    expect(listDir(dest)).toEqual([]);
  });

  it('bad manifest XML and a missing field: ManifestError', async () => {
    const { bundle, dest, manifestPath } = fresh();
    const xml = readFileSync(manifestPath, 'utf8');
    expect(await caught(unbundleCase(bundle, dest, user.keyPem, xml.slice(0, 200)))).toBeInstanceOf(ManifestError);
    const e = await caught(
      unbundleCase(bundle, dest, user.keyPem, xml.replace(/<user_encrypted_key[^>]*>[0-9a-f]+<\/user_encrypted_key>/, '')),
    );
    expect(e).toBeInstanceOf(ManifestError);
    expect((e as ManifestError).field).toBe('manifest/image/user_encrypted_key');
    expect(listDir(dest)).toEqual([]);
  });

  it('a signed manifest whose image digest is wrong: DigestMismatchError once the image was written', async () => {
    const { bundle, dest, manifestPath } = fresh();
    const xml = resign(readFileSync(manifestPath, 'utf8'), (m) => {
      m.image.digest = '0'.repeat(40);
    });
    expect(await caught(unbundleCase(bundle, dest, user.keyPem, xml))).toBeInstanceOf(DigestMismatchError);
    expect(listDir(dest)).toEqual([]);
  });

  it('a signed manifest whose key unwraps but does not decrypt the parts: WrongKeyError', async () => {
    const { bundle, dest, manifestPath } = fresh();
    const xml = resign(readFileSync(manifestPath, 'utf8'), (m) => {
      Object.assign(m.image, wrapBundleKey(generateBundleKey(), loadPublicKey(user.certPem), loadPublicKey(other.certPem)));
    });
    const e = await caught(unbundleCase(bundle, dest, user.keyPem, xml));
    expect(e).toBeInstanceOf(WrongKeyError);
    expect(listDir(dest)).toEqual([]);
  });
});

describe('verifyParts', () => {
  it('names the tampered part', async () => {
    const { bundle, manifestPath } = fresh();
    const path = join(bundle, 'img.raw.part.0');
    const bytes = readFileSync(path);
    bytes[0] = (bytes[0] ?? 0) ^ 1;
    writeFileSync(path, bytes);
    const e = await caught(verifyParts(readFileSync(manifestPath, 'utf8'), directorySource(bundle)));
    expect(e).toBeInstanceOf(PartDigestMismatchError);
    expect((e as PartDigestMismatchError).part).toBe('img.raw.part.0');
  });

  it('checks sizes against bundled_size before reading', async () => {
    const { bundle, manifestPath } = fresh();
    truncateSync(join(bundle, 'img.raw.part.0'), 10);
    expect(await caught(verifyParts(readFileSync(manifestPath, 'utf8'), directorySource(bundle)))).toBeInstanceOf(TruncatedPartError);
  });
});

describe('bundleImage refuses, leaving nothing behind', () => {
  const opts = (over: Partial<Parameters<typeof bundleImage>[0]>): Parameters<typeof bundleImage>[0] => ({
    image,
    user: ACCOUNT,
    architecture: 'x86_64',
    userCertificate: user.certPem,
    privateKey: user.keyPem,
    ec2Certificate: other.certPem,
    sink: directorySink(join(dir, `refused-${++caseNo}`)),
    ...over,
  });

  it('an empty image: EmptyImageError', async () => {
    writeFileSync(join(dir, 'empty.img'), '');
    expect(await caught(bundleImage(opts({ image: join(dir, 'empty.img') })))).toBeInstanceOf(EmptyImageError);
  });

  it('an image over 10 GiB: ImageTooLargeError, before reading it', async () => {
    writeSparseFile(join(dir, 'huge.img'), 10 * 1024 * MIB + 1, []);
    expect(await caught(bundleImage(opts({ image: join(dir, 'huge.img') })))).toBeInstanceOf(ImageTooLargeError);
  });

  it('a bad account, architecture or bundle name: BundleInputError', async () => {
    expect(await caught(bundleImage(opts({ user: '12345' })))).toBeInstanceOf(BundleInputError);
    expect(await caught(bundleImage(opts({ architecture: 'arm64' as 'x86_64' })))).toBeInstanceOf(BundleInputError);
    expect(await caught(bundleImage(opts({ name: '../escape' })))).toBeInstanceOf(BundleInputError);
  });

  it('a private key that is not the certificate’s: KeyMismatchError', async () => {
    expect(await caught(bundleImage(opts({ privateKey: other.keyPem })))).toBeInstanceOf(KeyMismatchError);
  });

  it('an abort midway: the parts written so far are removed', async () => {
    const dest = join(dir, 'aborted');
    const controller = new AbortController();
    const e = await caught(
      bundleImage(
        opts({
          sink: directorySink(dest),
          signal: controller.signal,
          onProgress: (p) => {
            if (p.bytes >= 12 * MIB) controller.abort();
          },
        }),
      ),
    );
    expect(e.name).toBe('AbortError');
    expect(listDir(dest)).toEqual([]);
  });
});
