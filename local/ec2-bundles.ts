/**
 * Wiring of instance-store registration for the local cloud: the local EC2 reads bundles from
 * the local S3 and unwraps their keys with the local EC2 certificate (localEc2Certificate), kept
 * under `<stateDir>/ec2-cert/`, or under a per-user temp directory when the cloud has no state
 * directory (`stateDir: null`), so that bundlers and tests find the same certificate.
 */
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { localEc2Certificate, type Ec2CertificatePair } from './ec2/certificate.js';
import { makeRegisterFromImageLocation, type RegisterFromImageLocation } from './ec2/register-location.js';
import type { S3Service } from './s3/service.js';

/** Where the EC2 certificate lives for a cloud with this state directory. */
export function localEc2CertificateDir(stateDir: string | null): string {
  if (stateDir !== null) return stateDir;
  let user = 'user';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry: keep the default
  }
  return join(tmpdir(), `ami-factory-local-${user}`);
}

/** The local EC2 certificate of a cloud with this state directory (created on first use). */
export function localEc2CertificateFor(stateDir: string | null): Promise<Ec2CertificatePair> {
  return localEc2Certificate(localEc2CertificateDir(stateDir));
}

/** The RegisterImage ImageLocation hook of a local cloud (the certificate is created at the first registration). */
export function localBundleRegistration(opts: { s3: S3Service | (() => S3Service); stateDir: string | null }): RegisterFromImageLocation {
  let keyPem: Promise<string> | undefined;
  return makeRegisterFromImageLocation({
    s3: opts.s3,
    ec2KeyPem: () => (keyPem ??= localEc2CertificateFor(opts.stateDir).then((p) => p.keyPem)),
  });
}
