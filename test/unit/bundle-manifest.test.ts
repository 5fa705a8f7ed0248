import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManifestError, SignatureMismatchError, BundleInputError } from '../../functions/lib/bundle/errors.js';
import { deleteBundleKeys } from '../../functions/lib/bundle/delete.js';
import {
  buildManifestXml,
  expectedPartSize,
  parseManifest,
  partFileName,
  signedText,
  verifyManifestSignature,
  type ManifestContent,
} from '../../functions/lib/bundle/manifest.js';
import { ACCOUNT, opensslKeyPair, removeDir, sh, tempDir, type KeyPairFiles } from '../fixtures/bundle/helpers.js';

let dir: string;
let user: KeyPairFiles;
let other: KeyPairFiles;
beforeAll(() => {
  dir = tempDir('manifest');
  user = opensslKeyPair(dir, 'user');
  other = opensslKeyPair(dir, 'other');
});
afterAll(() => removeDir(dir));

const sha = (c: string): string => c.repeat(40);

function content(overrides: Partial<ManifestContent['image']> = {}): ManifestContent {
  return {
    version: '2007-10-10',
    bundler: { name: 'ami-factory', version: '0.1.0', release: '0' },
    machineConfiguration: {
      architecture: 'x86_64',
      blockDeviceMapping: [
        { virtual: 'ami', device: 'sda1' },
        { virtual: 'root', device: '/dev/sda1' },
      ],
      productCodes: [],
    },
    image: {
      name: 'web.img',
      user: ACCOUNT,
      type: 'machine',
      ancestorAmiIds: [],
      digest: sha('a'),
      digestAlgorithm: 'SHA1',
      size: 25 * 1024 * 1024,
      bundledSize: 2 * 10485760 + 5,
      cipherAlgorithm: 'AES-128-CBC',
      ec2EncryptedKey: 'ab01',
      userEncryptedKey: 'cd02',
      ec2EncryptedIv: 'ef03',
      userEncryptedIv: '0405',
      parts: [0, 1, 2].map((index) => ({ index, filename: partFileName('web.img', index, 3), digest: sha(String(index)) })),
      ...overrides,
    },
  };
}

describe('buildManifestXml', () => {
  it('writes the compact serialization of the tools, elements in the spec order, signature last', () => {
    // Act
    const m = buildManifestXml(content(), user.keyPem);
    // Assess
    expect(m.xml.startsWith("<?xml version='1.0'?><manifest><version>2007-10-10</version><bundler><name>ami-factory</name>")).toBe(true);
    expect(m.xml).toContain(
      '<machine_configuration><architecture>x86_64</architecture><block_device_mapping><mapping><virtual>ami</virtual><device>sda1</device></mapping>',
    );
    expect(m.xml).toContain(
      `<image><name>web.img</name><user>${ACCOUNT}</user><type>machine</type><digest algorithm='SHA1'>${sha('a')}</digest>`,
    );
    expect(m.xml).toContain(
      "<size>26214400</size><bundled_size>20971525</bundled_size><ec2_encrypted_key algorithm='AES-128-CBC'>ab01</ec2_encrypted_key>",
    );
    expect(m.xml).toContain(
      `<parts count='3'><part index='0'><filename>web.img.part.0</filename><digest algorithm='SHA1'>${sha('0')}</digest></part>`,
    );
    expect(m.xml).toMatch(/<\/image><signature>[0-9a-f]{512}<\/signature><\/manifest>$/);
    // absent values are omitted entirely
    expect(m.xml).not.toMatch(/kernel_id|ramdisk_id|product_codes|ancestry|kernel_name/);
  });

  it('signs the literal machine_configuration and image text, as openssl dgst -sha1 verifies', () => {
    const m = buildManifestXml(content(), user.keyPem);
    writeFileSync(join(dir, 'signed.txt'), signedText(m.xml));
    writeFileSync(join(dir, 'sig.bin'), Buffer.from(m.signature, 'hex'));
    sh(`openssl x509 -in '${user.certPath}' -pubkey -noout > '${dir}/pub.pem'`);
    expect(sh(`openssl dgst -sha1 -verify '${dir}/pub.pem' -signature '${dir}/sig.bin' '${dir}/signed.txt'`)).toContain('Verified OK');
    expect(signedText(m.xml)).toMatch(/^<machine_configuration>.*<\/machine_configuration><image>.*<\/image>$/);
  });

  it('parses back to what it was built from', () => {
    const c = content({ ancestorAmiIds: ['ami-12345678'], type: 'kernel', kernelName: 'vmlinuz' });
    c.machineConfiguration = { ...c.machineConfiguration!, kernelId: 'aki-1', ramdiskId: 'ari-2', productCodes: ['abc', 'def'] };
    const m = buildManifestXml(c, user.keyPem);
    const { xml: _xml, signature: _sig, ...parsed } = parseManifest(m.xml);
    expect(parsed).toEqual(c);
  });

  it.each([
    ['a user that is not 12 digits', { user: '1234' }],
    ['a name with a slash', { name: 'a/b' }],
    ['a digest that is not SHA-1 hex', { digest: 'xyz' }],
    ['a kernel image without kernel name', { type: 'kernel' as const }],
  ])('refuses %s', (_label, overrides) => {
    expect(() => buildManifestXml(content(overrides), user.keyPem)).toThrow(BundleInputError);
  });
});

describe('verifyManifestSignature', () => {
  it('accepts the signer certificate', () => {
    const m = buildManifestXml(content(), user.keyPem);
    expect(() => verifyManifestSignature(m.xml, user.certPem)).not.toThrow();
    expect(() => verifyManifestSignature(parseManifest(m.xml), user.certPem)).not.toThrow();
  });

  it('throws SignatureMismatchError for another certificate', () => {
    const m = buildManifestXml(content(), user.keyPem);
    expect(() => verifyManifestSignature(m, other.certPem)).toThrow(SignatureMismatchError);
  });

  it.each([
    ['image size', (x: string) => x.replace('<size>26214400</size>', '<size>26214401</size>')],
    ['a part digest', (x: string) => x.replace(sha('1'), sha('9'))],
    ['the architecture', (x: string) => x.replace('x86_64', 'i386')],
    ['the block device mapping', (x: string) => x.replace('<device>sda1</device>', '<device>sdb1</device>')],
  ])('throws SignatureMismatchError when %s is changed', (_label, tamper) => {
    const xml = tamper(buildManifestXml(content(), user.keyPem).xml);
    expect(() => verifyManifestSignature(xml, user.certPem)).toThrow(SignatureMismatchError);
  });

  it('is not fooled by whitespace outside the signed elements, and is by whitespace inside', () => {
    const xml = buildManifestXml(content(), user.keyPem).xml;
    expect(() => verifyManifestSignature(xml.replace('<manifest>', '<manifest>\n  '), user.certPem)).not.toThrow();
    expect(() => verifyManifestSignature(xml.replace('<image>', '<image>\n'), user.certPem)).toThrow(SignatureMismatchError);
  });
});

describe('parseManifest', () => {
  let good: string;
  beforeAll(() => {
    good = buildManifestXml(content(), user.keyPem).xml;
  });

  it('reads a manifest written by the tools, with double quotes and whitespace', () => {
    const pretty = good.replace(/'/g, '"').replace(/></g, '>\n  <');
    const m = parseManifest(pretty);
    expect(m.image.parts.map((p) => p.filename)).toEqual(['web.img.part.0', 'web.img.part.1', 'web.img.part.2']);
    expect(m.machineConfiguration?.blockDeviceMapping).toEqual([
      { virtual: 'ami', device: 'sda1' },
      { virtual: 'root', device: '/dev/sda1' },
    ]);
  });

  it.each([
    ['not XML', () => 'hello', 'manifest'],
    ['a DOCTYPE', (x: string) => x.replace('<manifest>', '<!DOCTYPE manifest [<!ENTITY a "b">]><manifest>'), 'manifest'],
    ['another root element', (x: string) => x.replace(/manifest>/g, 'other>'), 'manifest'],
    ['an unclosed element', (x: string) => x.replace('</image>', ''), 'manifest/image'],
    ['an unknown entity', (x: string) => x.replace('<name>web.img', '<name>&bogus;web.img'), 'manifest/image/name'],
    ['another version', (x: string) => x.replace('2007-10-10', '2006-01-01'), 'manifest/version'],
    ['no image', (x: string) => x.replace(/<image>.*<\/image>/s, ''), 'manifest/image'],
    ['no image digest', (x: string) => x.replace(/<digest algorithm='SHA1'>a+<\/digest>/, ''), 'manifest/image/digest'],
    ['an image digest that is not hex', (x: string) => x.replace(sha('a'), 'z'.repeat(40)), 'manifest/image/digest'],
    [
      'a digest algorithm other than SHA1',
      (x: string) => x.replace(`'SHA1'>${sha('a')}`, `'MD5'>${sha('a')}`),
      'manifest/image/digest/@algorithm',
    ],
    [
      'a cipher other than AES-128-CBC',
      (x: string) => x.replace("ec2_encrypted_key algorithm='AES-128-CBC'", "ec2_encrypted_key algorithm='DES'"),
      'manifest/image/ec2_encrypted_key/@algorithm',
    ],
    ['a bad account', (x: string) => x.replace(`<user>${ACCOUNT}</user>`, '<user>12-34</user>'), 'manifest/image/user'],
    ['an unknown architecture', (x: string) => x.replace('x86_64', 'arm64'), 'manifest/machine_configuration/architecture'],
    ['an unknown image type', (x: string) => x.replace('<type>machine</type>', '<type>disk</type>'), 'manifest/image/type'],
    ['a size that is not a number', (x: string) => x.replace('<size>26214400</size>', '<size>25M</size>'), 'manifest/image/size'],
    [
      'an empty bundled size',
      (x: string) => x.replace('<bundled_size>20971525</bundled_size>', '<bundled_size></bundled_size>'),
      'manifest/image/bundled_size',
    ],
    ['a missing user IV', (x: string) => x.replace('<user_encrypted_iv>0405</user_encrypted_iv>', ''), 'manifest/image/user_encrypted_iv'],
    ['a part count that disagrees', (x: string) => x.replace("count='3'", "count='4'"), 'manifest/image/parts/@count'],
    ['a duplicate part index', (x: string) => x.replace("index='1'", "index='0'"), 'manifest/image/parts/part[1]/@index'],
    [
      'a part without digest',
      (x: string) => x.replace(`<digest algorithm='SHA1'>${sha('2')}</digest>`, ''),
      'manifest/image/parts/part[2]/digest',
    ],
    [
      'a part file name with a path',
      (x: string) => x.replace('<filename>web.img.part.1', '<filename>../web.img.part.1'),
      'manifest/image/parts/part[1]/filename',
    ],
    ['two names', (x: string) => x.replace('<name>web.img</name>', '<name>a</name><name>b</name>'), 'manifest/image/name'],
    ['no signature', (x: string) => x.replace(/<signature>.*<\/signature>/, ''), 'manifest/signature'],
  ])('throws ManifestError naming the field for %s', (_label, tamper, field) => {
    let caught: unknown;
    try {
      parseManifest(tamper(good));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ManifestError);
    expect((caught as ManifestError).name).toBe('ManifestError');
    expect((caught as ManifestError).field).toBe(field);
  });
});

describe('part names and sizes', () => {
  it('pads the index to the digits of the part count', () => {
    expect([0, 8].map((i) => partFileName('img', i, 9))).toEqual(['img.part.0', 'img.part.8']);
    expect([0, 9].map((i) => partFileName('img', i, 10))).toEqual(['img.part.00', 'img.part.09']);
    expect(partFileName('img', 7, 100)).toBe('img.part.007');
  });

  it('derives each part size from bundled_size', () => {
    const m = { image: content().image };
    expect(expectedPartSize(m, 0)).toBe(10485760);
    expect(expectedPartSize(m, 2)).toBe(5);
    expect(() => expectedPartSize({ image: { ...m.image, bundledSize: 10 } }, 0)).toThrow(ManifestError);
  });
});

describe('deleteBundleKeys', () => {
  it('by manifest: every listed part under the manifest prefix, then the manifest', () => {
    const m = buildManifestXml(content(), user.keyPem);
    expect(deleteBundleKeys({ manifestKey: 'images/web/web.img.manifest.xml', manifest: m })).toEqual([
      'images/web/web.img.part.0',
      'images/web/web.img.part.1',
      'images/web/web.img.part.2',
      'images/web/web.img.manifest.xml',
    ]);
    expect(deleteBundleKeys({ manifestKey: 'web.img.manifest.xml', manifest: m.xml })[0]).toBe('web.img.part.0');
  });

  it('by prefix: only .part.<n> and .manifest(.xml) remainders, manifests last', () => {
    const keys = [
      'images/web.img.manifest.xml',
      'images/web.img.part.00',
      'images/web.img.part.11',
      'images/web.img.manifest',
      'images/web.img.part.x',
      'images/web.img.part.1.bak',
      'images/web.img2.part.0',
      'images/web.img.parts',
      'other/web.img.part.0',
    ];
    expect(deleteBundleKeys({ prefix: 'images/web.img', keys })).toEqual([
      'images/web.img.part.00',
      'images/web.img.part.11',
      'images/web.img.manifest.xml',
      'images/web.img.manifest',
    ]);
  });
});
