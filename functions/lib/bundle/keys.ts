/**
 * Keys of a bundle: the AES-128 key and IV (16 random bytes each), written as 32 lowercase hex
 * characters, and that ASCII string RSA-encrypted with PKCS#1 v1.5 for the user's and EC2's
 * certificates (stored as hex). Unwrapping decrypts with RSA_NO_PADDING and checks the PKCS#1
 * v1.5 type-2 padding here: Node ≥ 20.11 refuses privateDecrypt with RSA_PKCS1_PADDING
 * (CVE-2023-46809, the Marvin attack).
 */
import {
  X509Certificate,
  constants,
  createPrivateKey,
  createPublicKey,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { CertificateError, KeyMismatchError, Pkcs1PaddingError, WrongKeyError } from './errors.js';

/** A PEM string or buffer, or a key already loaded. */
export type KeyInput = string | Buffer | KeyObject;

export interface BundleKey {
  /** 16 bytes. */
  key: Buffer;
  /** 16 bytes. */
  iv: Buffer;
}

export function generateBundleKey(): BundleKey {
  return { key: randomBytes(16), iv: randomBytes(16) };
}

function isKeyObject(input: KeyInput): input is KeyObject {
  return typeof input === 'object' && !Buffer.isBuffer(input);
}

function requireRsa(key: KeyObject, what: string): KeyObject {
  if (key.asymmetricKeyType !== 'rsa')
    throw new CertificateError(`${what} is a ${key.asymmetricKeyType ?? 'non-asymmetric'} key; bundles need RSA`);
  return key;
}

/** The public key of an X.509 certificate (PEM), or a public key given as PEM or KeyObject. */
export function loadPublicKey(input: KeyInput, what = 'certificate'): KeyObject {
  if (isKeyObject(input)) {
    return requireRsa(input.type === 'private' ? createPublicKey(input) : input, what);
  }
  const text = input.toString();
  try {
    if (text.includes('-----BEGIN CERTIFICATE-----')) return requireRsa(new X509Certificate(text).publicKey, what);
    return requireRsa(createPublicKey(text), what);
  } catch (e) {
    if (e instanceof CertificateError) throw e;
    throw new CertificateError(`${what} is not a readable X.509 certificate or public key`, { cause: e });
  }
}

export function loadPrivateKey(input: KeyInput, what = 'private key'): KeyObject {
  if (isKeyObject(input)) {
    if (input.type !== 'private') throw new CertificateError(`${what} is not a private key`);
    return requireRsa(input, what);
  }
  try {
    return requireRsa(createPrivateKey(input.toString()), what);
  } catch (e) {
    if (e instanceof CertificateError) throw e;
    throw new CertificateError(`${what} is not a readable PEM private key`, { cause: e });
  }
}

/** Throws KeyMismatchError unless `privateKey` is the key of `publicKey` (sign and verify a probe). */
export function assertKeyPair(privateKey: KeyObject, publicKey: KeyObject): void {
  const probe = randomBytes(32);
  if (!verify('sha256', probe, publicKey, sign('sha256', probe, privateKey))) {
    throw new KeyMismatchError('the private key does not belong to the user certificate');
  }
}

/** RSA-encrypts the ASCII hex string with PKCS#1 v1.5 padding; returns lowercase hex. */
export function wrapKeyHex(hex: string, publicKey: KeyObject): string {
  return publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.from(hex, 'latin1')).toString('hex');
}

function modulusBytes(key: KeyObject): number {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (bits === undefined) throw new CertificateError('cannot tell the RSA modulus length of the key');
  return Math.ceil(bits / 8);
}

/**
 * Removes PKCS#1 v1.5 type-2 padding (`00 02 PS(≥8 non-zero) 00 M`). The whole block is scanned
 * whatever its content, and the checks are combined before one branch (constant-ish time).
 */
export function unpadPkcs1Type2(em: Buffer): Buffer {
  let good = ((em[0] ?? 1) === 0 ? 1 : 0) & ((em[1] ?? 0) === 2 ? 1 : 0);
  let separator = 0;
  let found = 0;
  for (let i = 2; i < em.length; i++) {
    const b = em[i] ?? 0;
    const isZero = ((b | -b) >>> 31) ^ 1;
    const take = isZero & (found ^ 1);
    separator |= -take & i;
    found |= isZero;
  }
  good &= found & (separator >= 10 ? 1 : 0);
  if (good !== 1) throw new Pkcs1PaddingError('invalid PKCS#1 v1.5 padding');
  return em.subarray(separator + 1);
}

/** RSA PKCS#1 v1.5 decryption done as raw RSA plus our own unpadding (see the module comment). */
export function rsaDecryptPkcs1(privateKey: KeyObject, ciphertext: Buffer): Buffer {
  const k = modulusBytes(privateKey);
  if (ciphertext.length > k) throw new Pkcs1PaddingError(`ciphertext is ${ciphertext.length} bytes, longer than the ${k}-byte modulus`);
  const input = ciphertext.length === k ? ciphertext : Buffer.concat([Buffer.alloc(k - ciphertext.length), ciphertext]);
  let em: Buffer;
  try {
    em = privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, input);
  } catch (e) {
    throw new Pkcs1PaddingError('raw RSA decryption failed', { cause: e });
  }
  const block = em.length === k ? em : Buffer.concat([Buffer.alloc(k - em.length), em]);
  return unpadPkcs1Type2(block);
}

/** Unwraps one hex-encoded wrapped value back to its 16 bytes; WrongKeyError when it does not unwrap. */
export function unwrapKeyHex(wrappedHex: string, privateKey: KeyObject, what = 'key'): Buffer {
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(wrappedHex)) throw new WrongKeyError(`the encrypted ${what} is not hex`);
  let plain: Buffer;
  try {
    plain = rsaDecryptPkcs1(privateKey, Buffer.from(wrappedHex, 'hex'));
  } catch (e) {
    throw new WrongKeyError(`the private key does not unwrap the bundle ${what}`, { cause: e });
  }
  const text = plain.toString('latin1');
  if (!/^[0-9a-fA-F]{32}$/.test(text)) throw new WrongKeyError(`the unwrapped ${what} is not 32 hex characters: wrong private key`);
  return Buffer.from(text, 'hex');
}

export interface WrappedKeys {
  userEncryptedKey: string;
  userEncryptedIv: string;
  ec2EncryptedKey: string;
  ec2EncryptedIv: string;
}

/** Wraps key and IV for the user's certificate and for EC2's. */
export function wrapBundleKey(bundleKey: BundleKey, userPublicKey: KeyObject, ec2PublicKey: KeyObject): WrappedKeys {
  const keyHex = bundleKey.key.toString('hex');
  const ivHex = bundleKey.iv.toString('hex');
  return {
    userEncryptedKey: wrapKeyHex(keyHex, userPublicKey),
    userEncryptedIv: wrapKeyHex(ivHex, userPublicKey),
    ec2EncryptedKey: wrapKeyHex(keyHex, ec2PublicKey),
    ec2EncryptedIv: wrapKeyHex(ivHex, ec2PublicKey),
  };
}

/** Unwraps key and IV from a manifest's user (default) or EC2 fields. */
export function unwrapBundleKey(
  image: Pick<WrappedKeys, 'userEncryptedKey' | 'userEncryptedIv' | 'ec2EncryptedKey' | 'ec2EncryptedIv'>,
  privateKey: KeyInput,
  holder: 'user' | 'ec2' = 'user',
): BundleKey {
  const keyObject = loadPrivateKey(privateKey);
  const wrappedKey = holder === 'user' ? image.userEncryptedKey : image.ec2EncryptedKey;
  const wrappedIv = holder === 'user' ? image.userEncryptedIv : image.ec2EncryptedIv;
  return { key: unwrapKeyHex(wrappedKey, keyObject, 'key'), iv: unwrapKeyHex(wrappedIv, keyObject, 'IV') };
}
