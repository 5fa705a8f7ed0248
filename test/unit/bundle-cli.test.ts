import { jest } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run as bundle } from '../../bin/commands/bundle.js';
import { run as unbundle } from '../../bin/commands/unbundle.js';
import { run as verifyBundle } from '../../bin/commands/verify-bundle.js';
import {
  ACCOUNT,
  MIB,
  listDir,
  opensslKeyPair,
  removeDir,
  tempDir,
  textBytes,
  writeSparseFile,
  type KeyPairFiles,
} from '../fixtures/bundle/helpers.js';

let dir: string;
let user: KeyPairFiles;
let ec2: KeyPairFiles;
let image: string;
let out: string[];
let err: string[];

beforeAll(() => {
  dir = tempDir('cli');
  user = opensslKeyPair(dir, 'user');
  ec2 = opensslKeyPair(dir, 'ec2');
  image = join(dir, 'disk.img');
  writeSparseFile(image, 12 * MIB, [{ offset: MIB, bytes: textBytes(2 * MIB) }]);
});
afterAll(() => removeDir(dir));

beforeEach(() => {
  out = [];
  err = [];
  jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void out.push(args.join(' ')));
  jest.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void err.push(args.join(' ')));
});
afterEach(() => jest.restoreAllMocks());

const bundleArgs = (dest: string, ...extra: string[]): string[] => [
  '-i',
  image,
  '-c',
  user.certPath,
  '-k',
  user.keyPath,
  '-u',
  ACCOUNT,
  '-r',
  'x86_64',
  '-d',
  dest,
  '--ec2cert',
  ec2.certPath,
  ...extra,
];

describe('ami-factory bundle / verify-bundle / unbundle', () => {
  it('bundle, verify-bundle and unbundle a sparse image end to end', async () => {
    // Prepare
    const dest = join(dir, 'bundle');
    const restored = join(dir, 'restored');
    // Act
    const bundled = await bundle(bundleArgs(dest, '-p', 'golden', '-B', 'ami=sda1,root=/dev/sda1'));
    const verified = await verifyBundle(['-m', join(dest, 'golden.manifest.xml'), '-c', user.certPath]);
    const unbundled = await unbundle(['-m', join(dest, 'golden.manifest.xml'), '-k', user.keyPath, '-d', restored]);
    // Assess
    expect([bundled, verified, unbundled]).toEqual([0, 0, 0]);
    expect(err).toEqual([]);
    expect(out[0]).toMatch(/^bundled .*disk\.img \(12\.0 MiB\) in [0-9.]+ s, [0-9.]+ MB\/s: 1 part, .* → .*golden\.manifest\.xml$/);
    expect(out[1]).toMatch(/^OK .*: signature verified, 1 part/);
    expect(out[2]).toMatch(/^unbundled .*golden \(12\.0 MiB, sparse\)/);
    expect(listDir(dest)).toEqual(['golden.manifest.xml', 'golden.part.0']);
    expect(readFileSync(join(dest, 'golden.manifest.xml'), 'utf8')).toContain(
      '<block_device_mapping><mapping><virtual>ami</virtual><device>sda1</device></mapping><mapping><virtual>root</virtual><device>/dev/sda1</device></mapping></block_device_mapping>',
    );
    expect(readFileSync(join(restored, 'golden')).equals(readFileSync(image))).toBe(true);
  });

  it('verify-bundle exits non-zero on a tampered part and names the error', async () => {
    const dest = join(dir, 'tampered');
    expect(await bundle(bundleArgs(dest))).toBe(0);
    const part = join(dest, 'disk.img.part.0');
    const bytes = readFileSync(part);
    bytes[100] = (bytes[100] ?? 0) ^ 0x01;
    writeFileSync(part, bytes);
    expect(await verifyBundle(['-m', join(dest, 'disk.img.manifest.xml'), '-c', user.certPath])).toBe(1);
    expect(err.join('\n')).toMatch(/^FAILED .*PartDigestMismatchError: part disk\.img\.part\.0/);
    expect(await unbundle(['-m', join(dest, 'disk.img.manifest.xml'), '-k', user.keyPath, '-d', join(dir, 'tampered-out')])).toBe(1);
    expect(listDir(join(dir, 'tampered-out'))).toEqual([]);
  });

  it('verify-bundle exits non-zero for another certificate', async () => {
    const dest = join(dir, 'othercert');
    expect(await bundle(bundleArgs(dest))).toBe(0);
    expect(await verifyBundle(['-m', join(dest, 'disk.img.manifest.xml'), '-c', ec2.certPath])).toBe(1);
    expect(err.join('\n')).toContain('SignatureMismatchError');
  });

  it.each([
    ['bundle without flags', () => bundle([]), /missing --image, --cert, --privatekey, --user, --arch, --destination/],
    ['bundle with an unknown flag', () => bundle(['--bogus']), /Unknown option '--bogus'/],
    ['bundle with a bad account', () => bundle(bundleArgs(join(dir, 'x1'), '-u', '42')), /12-digit/],
    [
      'bundle with a bad architecture',
      () => bundle([...bundleArgs(join(dir, 'x2')), '-r', 'sparc']),
      /architecture must be one of i386, x86_64/,
    ],
    ['bundle with a bad mapping', () => bundle(bundleArgs(join(dir, 'x3'), '-B', 'ami')), /not virtual=device/],
    ['bundle with a missing image', () => bundle(bundleArgs(join(dir, 'x4'), '-i', join(dir, 'nope.img'))), /cannot read image/],
    [
      'bundle with a missing cert file',
      () => bundle(bundleArgs(join(dir, 'x5'), '-c', join(dir, 'nope.pem'))),
      /cannot read --cert .*ENOENT/,
    ],
    ['bundle with a bad level', () => bundle(bundleArgs(join(dir, 'x6'), '--level', '11')), /--level must be 0-9/],
    ['unbundle without a key', () => unbundle(['-m', 'x.manifest.xml']), /missing --privatekey/],
    ['verify-bundle without a cert', () => verifyBundle(['-m', 'x.manifest.xml']), /missing --cert/],
  ])('%s exits 2 with a clear message', async (_label, act, message) => {
    expect(await act()).toBe(2);
    expect(err.join('\n')).toMatch(message);
  });

  it('prints its help and exits 0', async () => {
    expect(await bundle(['--help'])).toBe(0);
    expect(await unbundle(['-h'])).toBe(0);
    expect(await verifyBundle(['--help'])).toBe(0);
    expect(out.join('\n')).toContain('usage: ami-factory bundle -i IMAGE');
  });
});
