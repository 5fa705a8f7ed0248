import { X509Certificate } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { localEc2Certificate } from '../../functions/lib/bundle/ec2-cert.js';
import { generateBundleKey, loadPublicKey, unwrapBundleKey, wrapBundleKey } from '../../functions/lib/bundle/keys.js';
import { formatBytes, formatRate, progressLine } from '../../functions/lib/bundle/progress.js';
import { removeDir, sh, tempDir } from '../fixtures/bundle/helpers.js';

let dir: string;
beforeAll(() => {
  dir = tempDir('ec2cert');
});
afterAll(() => removeDir(dir));

describe('localEc2Certificate', () => {
  it('creates the local EC2 key pair once under <stateDir>/ec2-cert and returns the same one afterwards', () => {
    // Act
    const first = localEc2Certificate(join(dir, 'state'));
    const second = localEc2Certificate(join(dir, 'state'));
    // Assess
    expect(first.certPath).toBe(join(dir, 'state', 'ec2-cert', 'cert.pem'));
    expect(first.keyPath).toBe(join(dir, 'state', 'ec2-cert', 'key.pem'));
    expect(second).toEqual(first);
    expect(statSync(first.keyPath).mode & 0o777).toBe(0o600);
  });

  it('is an X.509 certificate openssl reads, whose key unwraps what was wrapped for it', () => {
    const pair = localEc2Certificate(join(dir, 'state'));
    const cert = new X509Certificate(pair.certPem);
    expect(cert.subject).toBe('CN=ami-factory local EC2');
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(sh(`openssl x509 -in '${pair.certPath}' -noout -subject`)).toContain('ami-factory local EC2');
    const key = generateBundleKey();
    const wrapped = wrapBundleKey(key, loadPublicKey(pair.certPem), loadPublicKey(pair.certPem));
    expect(unwrapBundleKey(wrapped, pair.keyPem, 'ec2')).toEqual(key);
  });

  it('gives another state directory another key pair', () => {
    expect(localEc2Certificate(join(dir, 'other')).certPem).not.toBe(localEc2Certificate(join(dir, 'state')).certPem);
  });
});

describe('progressLine', () => {
  it('draws bytes, percentage and MB/s on a TTY, and nothing elsewhere', () => {
    let t = 0;
    const tty = {
      isTTY: true,
      text: '',
      write(s: string) {
        this.text += s;
        return true;
      },
    };
    const pipe = {
      isTTY: false,
      text: '',
      write(s: string) {
        this.text += s;
        return true;
      },
    };
    const a = progressLine(tty, 'bundling', 200, () => t);
    const b = progressLine(pipe, 'bundling', 200, () => t);
    t = 2000;
    a.update(100e6, 400e6);
    b.update(100e6, 400e6);
    t = 2100;
    a.update(150e6, 400e6); // within the redraw interval: skipped
    expect(tty.text).toBe('\r\x1b[2Kbundling 95.4 MiB / 381.5 MiB (25%)  50.0 MB/s');
    expect(a.done()).toBe(2100);
    expect(pipe.text).toBe('');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatRate(0, 0)).toBe('0.0 MB/s');
  });
});
