/**
 * The local cloud's EC2 certificate: the key pair bundles are wrapped for when no `--ec2cert`
 * is given, and that the local EC2 endpoint uses to unwrap bundle keys at RegisterImage.
 * Created once and kept under `<stateDir>/ec2-cert/{cert.pem,key.pem}`.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { selfSignedCertificate } from './x509.js';

export interface Ec2CertificatePair {
  certPem: string;
  keyPem: string;
  certPath: string;
  keyPath: string;
}

/** Returns the local EC2 certificate and key, creating them on first use (atomically). */
export function localEc2Certificate(stateDir = '.ami-factory'): Ec2CertificatePair {
  const dir = join(stateDir, 'ec2-cert');
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  if (!existsSync(certPath) || !existsSync(keyPath)) {
    mkdirSync(stateDir, { recursive: true });
    const staging = mkdtempSync(join(stateDir, '.ec2-cert-'));
    try {
      const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const certPem = selfSignedCertificate({ publicKey, privateKey, commonName: 'ami-factory local EC2', days: 3650 });
      writeFileSync(join(staging, 'key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
      writeFileSync(join(staging, 'cert.pem'), certPem);
      try {
        renameSync(staging, dir);
      } catch (e) {
        // Another process created it first (the directory exists and is not empty): use theirs.
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
      }
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }
  return { certPem: readFileSync(certPath, 'utf8'), keyPem: readFileSync(keyPath, 'utf8'), certPath, keyPath };
}
