import { generateKeyPairSync, publicEncrypt, constants, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CertificateError, KeyMismatchError, Pkcs1PaddingError, WrongKeyError } from '../../functions/lib/bundle/errors.js';
import {
  assertKeyPair,
  generateBundleKey,
  loadPrivateKey,
  loadPublicKey,
  unpadPkcs1Type2,
  unwrapBundleKey,
  unwrapKeyHex,
  wrapBundleKey,
  wrapKeyHex,
} from '../../functions/lib/bundle/keys.js';
import { opensslKeyPair, removeDir, sh, tempDir, type KeyPairFiles } from '../fixtures/bundle/helpers.js';

let dir: string;
let user: KeyPairFiles;
let other: KeyPairFiles;
beforeAll(() => {
  dir = tempDir('keys');
  user = opensslKeyPair(dir, 'user');
  other = opensslKeyPair(dir, 'other');
});
afterAll(() => removeDir(dir));

describe('key wrapping', () => {
  it('wraps the 32-character hex string so that openssl pkeyutl -decrypt gives it back', () => {
    // Prepare
    const hex = randomBytes(16).toString('hex');
    // Act
    const wrapped = wrapKeyHex(hex, loadPublicKey(user.certPem));
    writeFileSync(join(dir, 'wrapped.bin'), Buffer.from(wrapped, 'hex'));
    // Assess
    expect(wrapped).toMatch(/^[0-9a-f]{512}$/);
    expect(sh(`openssl pkeyutl -decrypt -inkey '${user.keyPath}' -pkeyopt rsa_padding_mode:pkcs1 -in '${dir}/wrapped.bin'`)).toBe(hex);
  });

  it('unwraps what openssl pkeyutl -encrypt wrapped with the certificate', () => {
    const hex = randomBytes(16).toString('hex');
    sh(
      `printf %s ${hex} | openssl pkeyutl -encrypt -certin -inkey '${user.certPath}' -pkeyopt rsa_padding_mode:pkcs1 -out '${dir}/tools.bin'`,
    );
    const wrapped = readFileSync(join(dir, 'tools.bin')).toString('hex');
    expect(unwrapKeyHex(wrapped, loadPrivateKey(user.keyPem)).toString('hex')).toBe(hex);
  });

  it('round-trips key and IV for the user and for EC2', () => {
    const key = generateBundleKey();
    const wrapped = wrapBundleKey(key, loadPublicKey(user.certPem), loadPublicKey(other.certPem));
    expect(unwrapBundleKey(wrapped, user.keyPem)).toEqual(key);
    expect(unwrapBundleKey(wrapped, other.keyPem, 'ec2')).toEqual(key);
  });

  it('throws WrongKeyError, caused by a padding error, for another private key', () => {
    const wrapped = wrapBundleKey(generateBundleKey(), loadPublicKey(user.certPem), loadPublicKey(user.certPem));
    let caught: unknown;
    try {
      unwrapBundleKey(wrapped, other.keyPem);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(WrongKeyError);
    expect((caught as Error).name).toBe('WrongKeyError');
    expect((caught as Error).cause).toBeInstanceOf(Pkcs1PaddingError);
  });

  it('throws WrongKeyError for a key of another size and for a value that is not 32 hex characters', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const wrapped = wrapKeyHex(randomBytes(16).toString('hex'), loadPublicKey(user.certPem));
    expect(() => unwrapKeyHex(wrapped, small.privateKey)).toThrow(WrongKeyError);
    const notHex = publicEncrypt(
      { key: loadPublicKey(user.certPem), padding: constants.RSA_PKCS1_PADDING },
      Buffer.from('z'.repeat(32)),
    ).toString('hex');
    expect(() => unwrapKeyHex(notHex, loadPrivateKey(user.keyPem))).toThrow(/not 32 hex/);
    expect(() => unwrapKeyHex('xyz', loadPrivateKey(user.keyPem))).toThrow(WrongKeyError);
  });
});

describe('unpadPkcs1Type2', () => {
  const block = (mutate: (b: Buffer) => void): Buffer => {
    const b = Buffer.alloc(64, 0x5a);
    b[0] = 0;
    b[1] = 2;
    b[40] = 0;
    mutate(b);
    return b;
  };

  it('returns the message after the first zero separator', () => {
    expect(unpadPkcs1Type2(block(() => undefined)).length).toBe(23);
  });

  it.each([
    ['a first byte other than 0', (b: Buffer) => void (b[0] = 1)],
    ['a block type other than 2', (b: Buffer) => void (b[1] = 1)],
    ['no separator', (b: Buffer) => void (b[40] = 0x11)],
    ['padding shorter than 8 bytes', (b: Buffer) => void (b[5] = 0)],
  ])('refuses %s', (_label, mutate) => {
    expect(() => unpadPkcs1Type2(block(mutate))).toThrow(Pkcs1PaddingError);
  });
});

describe('loading keys', () => {
  it('throws CertificateError for garbage and for a non-RSA key', () => {
    expect(() => loadPublicKey('not a pem')).toThrow(CertificateError);
    expect(() => loadPrivateKey('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n')).toThrow(CertificateError);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(() => loadPublicKey(ec.publicKey)).toThrow(/RSA/);
  });

  it('reads the public key of a certificate, a public key PEM and a private key', () => {
    const fromCert = loadPublicKey(user.certPem);
    expect(loadPublicKey(fromCert.export({ type: 'spki', format: 'pem' })).equals(fromCert)).toBe(true);
    expect(loadPublicKey(loadPrivateKey(user.keyPem)).equals(fromCert)).toBe(true);
  });

  it('tells a private key that does not match the certificate', () => {
    expect(() => assertKeyPair(loadPrivateKey(user.keyPem), loadPublicKey(user.certPem))).not.toThrow();
    expect(() => assertKeyPair(loadPrivateKey(other.keyPem), loadPublicKey(user.certPem))).toThrow(KeyMismatchError);
  });
});
