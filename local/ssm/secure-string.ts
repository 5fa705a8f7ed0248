import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * SecureString values as the local Parameter Store keeps them: encrypted under a key derived
 * from the account, region and KMS key id (no real KMS: the local cloud has none, and a local
 * secret needs no protection beyond not being stored or answered in clear). The ciphertext
 * is what GetParameter answers without decryption — base64 of a KMS-style blob (it starts
 * `AQICAH…`, as KMS ciphertexts do), never the value.
 */
const HEADER = Buffer.from([0x01, 0x02, 0x02, 0x00, 0x78]);
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_REF_BYTES = 16;

function dataKey(account: string, region: string, keyId: string): Buffer {
  return createHash('sha256').update(`ami-factory-local-kms|${account}|${region}|${keyId}`).digest();
}

export function encryptSecureString(plaintext: string, ref: { account: string; region: string; keyId: string }): string {
  const key = dataKey(ref.account, ref.region, ref.keyId);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const encrypted = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const keyRef = createHash('sha256').update(key).digest().subarray(0, KEY_REF_BYTES);
  return Buffer.concat([HEADER, keyRef, iv, cipher.getAuthTag(), encrypted]).toString('base64');
}

export function decryptSecureString(ciphertext: string, ref: { account: string; region: string; keyId: string }): string {
  const blob = Buffer.from(ciphertext, 'base64');
  const at = HEADER.length + KEY_REF_BYTES;
  const iv = blob.subarray(at, at + IV_BYTES);
  const tag = blob.subarray(at + IV_BYTES, at + IV_BYTES + TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', dataKey(ref.account, ref.region, ref.keyId), iv);
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(blob.subarray(at + IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
}
