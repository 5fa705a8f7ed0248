import { X509Certificate } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { generateBundleKey, loadPublicKey, unwrapBundleKey, wrapBundleKey } from '../../functions/lib/bundle/keys.js';
import { localEc2Certificate, selfSignedCertificate } from '../../local/ec2/certificate.js';
import { removeDir, sh, tempDir } from '../fixtures/bundle/helpers.js';

let dir: string;
beforeAll(() => {
  dir = tempDir('ec2cert');
});
afterAll(() => removeDir(dir));

describe('localEc2Certificate', () => {
  it('creates the local EC2 key pair once under <stateDir>/ec2-cert and returns the same one afterwards', async () => {
    // Act
    const first = await localEc2Certificate(join(dir, 'state'));
    const second = await localEc2Certificate(join(dir, 'state'));
    // Assess
    expect(first.certPath).toBe(join(dir, 'state', 'ec2-cert', 'cert.pem'));
    expect(first.keyPath).toBe(join(dir, 'state', 'ec2-cert', 'key.pem'));
    expect(second).toEqual(first);
    expect(statSync(first.keyPath).mode & 0o777).toBe(0o600);
  });

  it('is a self-signed X.509 certificate openssl reads and verifies, whose key unwraps what was wrapped for it', async () => {
    const pair = await localEc2Certificate(join(dir, 'state'));
    const cert = new X509Certificate(pair.certPem);
    expect(cert.subject).toBe('CN=ami-factory local EC2');
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(sh(`openssl x509 -in '${pair.certPath}' -noout -subject`)).toContain('ami-factory local EC2');
    expect(sh(`openssl verify -CAfile '${pair.certPath}' '${pair.certPath}'`)).toContain(': OK');
    expect(sh(`openssl x509 -in '${pair.certPath}' -noout -text`)).toMatch(/sha256WithRSAEncryption[\s\S]*Public-Key: \(2048 bit\)/);
    const key = generateBundleKey();
    const wrapped = wrapBundleKey(key, loadPublicKey(pair.certPem), loadPublicKey(pair.certPem));
    expect(unwrapBundleKey(wrapped, pair.keyPem, 'ec2')).toEqual(key);
  });

  it('gives another state directory another key pair', async () => {
    // Act
    const other = await localEc2Certificate(join(dir, 'other'));
    const state = await localEc2Certificate(join(dir, 'state'));
    // Assess: both are real certificates of the local EC2, with different keys.
    for (const pair of [other, state]) expect(new X509Certificate(pair.certPem).subject).toBe('CN=ami-factory local EC2');
    expect(new X509Certificate(other.certPem).publicKey.export({ type: 'spki', format: 'pem' })).not.toBe(
      new X509Certificate(state.certPem).publicKey.export({ type: 'spki', format: 'pem' }),
    );
    expect(other.certPath).toBe(join(dir, 'other', 'ec2-cert', 'cert.pem'));
  });

  it('dates the certificate from a minute before now, for the days asked', async () => {
    const now = new Date('2026-11-23T08:00:00.000Z');
    const cert = new X509Certificate((await selfSignedCertificate({ commonName: 'x', days: 10, now })).certPem);
    expect(new Date(cert.validFrom).toISOString()).toBe('2026-11-23T07:59:00.000Z');
    expect(new Date(cert.validTo).toISOString()).toBe('2026-12-03T07:59:00.000Z');
  });
});
