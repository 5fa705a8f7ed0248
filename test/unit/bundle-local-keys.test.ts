import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleKeys } from '../../functions/lib/bundle/signing.js';
import { installLocalKeyPairs } from '../../functions/lib/bundle/local-keys.js';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

const noSsm = () => {
  throw new Error('SSM is not asked for on the local branch');
};

describe('bundleKeys on the local branch', () => {
  it('does name the missing local cloud instead of guessing keys', async () => {
    await expect(bundleKeys(noSsm, { AMI_FACTORY_LOCAL_KEYS_DIR: '/tmp/keys' })).rejects.toMatchObject({ name: 'ConfigurationError' });
  });

  it("does sign with the local cloud's user pair and wrap for its EC2 certificate", async () => {
    const asked: string[] = [];
    installLocalKeyPairs(async (dir) => {
      asked.push(dir);
      return { certPem: `cert of ${dir}`, keyPem: `key of ${dir}` };
    });
    await expect(bundleKeys(noSsm, { AMI_FACTORY_LOCAL_KEYS_DIR: '/tmp/keys' })).resolves.toEqual({
      userCertificate: 'cert of /tmp/keys/bundle-user',
      privateKey: 'key of /tmp/keys/bundle-user',
      ec2Certificate: 'cert of /tmp/keys',
    });
    expect(asked.sort()).toEqual(['/tmp/keys', '/tmp/keys/bundle-user']);
  });
});

describe('product code', () => {
  it('does import nothing from local/', () => {
    const offenders = sourceFiles('functions').filter((f) => /from '(\.\.\/)+local\//.test(readFileSync(f, 'utf8')));
    expect(offenders).toEqual([]);
  });
});
