/**
 * The local cloud's EC2 certificate: the key pair bundles are wrapped for when no `--ec2cert`
 * is given, and that the local EC2 endpoint uses to unwrap bundle keys at RegisterImage. Also
 * the bundling user's pair of the local cloud (bundle-image's local branch, until the local
 * cloud serves SSM). Created once and kept under `<stateDir>/ec2-cert/{cert.pem,key.pem}`.
 *
 * The certificate is written by @peculiar/x509 (MIT) on WebCrypto: a self-signed X.509 v3
 * certificate of a 2048-bit RSA key, sha256WithRSAEncryption.
 */
import 'reflect-metadata'; // @peculiar/x509's dependency injection (tsyringe) needs the Reflect metadata API
import { createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509CertificateGenerator } from '@peculiar/x509';

export interface Ec2CertificatePair {
  certPem: string;
  keyPem: string;
  certPath: string;
  keyPath: string;
}

const RSA_SIGNING = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };

/** A fresh RSA key pair and a self-signed certificate for it (PEM both), valid from a minute ago for `days`. */
export async function selfSignedCertificate(opts: {
  commonName: string;
  days: number;
  now?: Date;
}): Promise<{ certPem: string; keyPem: string }> {
  const keys = (await webcrypto.subtle.generateKey(RSA_SIGNING, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const notBefore = new Date(Math.floor((opts.now ?? new Date()).getTime() / 1000) * 1000 - 60_000);
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f; // a positive INTEGER
  const cert = await X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial.toString('hex'),
      name: `CN=${opts.commonName}`,
      notBefore,
      notAfter: new Date(notBefore.getTime() + opts.days * 86_400_000),
      signingAlgorithm: RSA_SIGNING,
      keys,
    },
    webcrypto as unknown as Parameters<typeof X509CertificateGenerator.createSelfSigned>[1],
  );
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ type: 'pkcs8', format: 'pem' }).toString();
  return { certPem: cert.toString('pem'), keyPem };
}

function read(certPath: string, keyPath: string): Ec2CertificatePair {
  return { certPem: readFileSync(certPath, 'utf8'), keyPem: readFileSync(keyPath, 'utf8'), certPath, keyPath };
}

/** Returns the local EC2 certificate and key under `stateDir`, creating them on first use (atomically). */
export async function localEc2Certificate(stateDir = '.ami-factory'): Promise<Ec2CertificatePair> {
  const dir = join(stateDir, 'ec2-cert');
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  if (existsSync(certPath) && existsSync(keyPath)) return read(certPath, keyPath);
  const { certPem, keyPem } = await selfSignedCertificate({ commonName: 'ami-factory local EC2', days: 3650 });
  mkdirSync(stateDir, { recursive: true });
  const staging = mkdtempSync(join(stateDir, '.ec2-cert-'));
  try {
    writeFileSync(join(staging, 'key.pem'), keyPem, { mode: 0o600 });
    writeFileSync(join(staging, 'cert.pem'), certPem);
    try {
      renameSync(staging, dir);
    } catch (e) {
      // Another process (or call) created it first (the directory exists and is not empty): use theirs.
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return read(certPath, keyPath);
}
