import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, type Plugin } from 'esbuild';

/**
 * deploy/esbuild-plugins.cjs as the bundles use it: an EC2 client bundled with the plugins
 * reads the execution role's credentials from the environment, as Lambda sets them, carries no
 * other link of the default chain, and refuses AWS_PROFILE by name.
 */
const plugins = createRequire(join(process.cwd(), 'package.json'))('./deploy/esbuild-plugins.cjs') as () => Plugin[];

const PROBE = `
import { EC2Client } from '@aws-sdk/client-ec2';
const client = new EC2Client({ region: 'us-east-1' });
try {
  const c = await client.config.credentials();
  console.log(JSON.stringify({ accessKeyId: c.accessKeyId, sessionToken: c.sessionToken }));
} catch (e) {
  console.log(JSON.stringify({ error: e.name, message: e.message, tryNextLink: e.tryNextLink }));
}
`;

describe('esbuild plugins: Lambda credentials', () => {
  let dir: string;
  let bundle: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ami-factory-plugins-'));
    bundle = join(dir, 'probe.mjs');
    await build({
      plugins: plugins(),
      stdin: { contents: PROBE, resolveDir: process.cwd(), loader: 'js' },
      outfile: bundle,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      minify: true,
      keepNames: true,
      mainFields: ['module', 'main'],
      logLevel: 'error',
    });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const probe = (env: Record<string, string>): Record<string, unknown> => {
    // A home without AWS files: nothing but the environment could supply credentials.
    const r = spawnSync(process.execPath, [bundle], {
      env: { PATH: process.env.PATH ?? '', HOME: dir, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };

  it('does read the role credentials Lambda puts in the environment', () => {
    expect(probe({ AWS_ACCESS_KEY_ID: 'ASIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret', AWS_SESSION_TOKEN: 'token' })).toEqual({
      accessKeyId: 'ASIAEXAMPLE',
      sessionToken: 'token',
    });
  });

  it('does refuse AWS_PROFILE by name instead of looking for profile files', () => {
    const r = probe({ AWS_PROFILE: 'dev', AWS_ACCESS_KEY_ID: 'ASIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' });
    expect(r).toMatchObject({ error: 'CredentialsProviderError', tryNextLink: false });
    expect(String(r.message)).toContain('AWS_PROFILE is set (dev)');
  });

  it('does fail with the SDK’s CredentialsProviderError without environment credentials', () => {
    expect(probe({})).toMatchObject({ error: 'CredentialsProviderError' });
  });

  it('does leave the rest of the default chain out of the bundle', () => {
    const text = readFileSync(bundle, 'utf8');
    expect(text).not.toContain('Skipping SSO provider in default chain');
    expect(text).not.toContain('AWS_WEB_IDENTITY_TOKEN_FILE');
    expect(text).not.toContain('AWS_CONTAINER_CREDENTIALS_FULL_URI');
    expect(text).not.toContain('credential_process');
  });
});
