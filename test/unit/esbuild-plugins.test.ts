import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/** Bundles `contents` with the plugins into a fresh directory; returns the bundle's path. */
async function bundleProbe(dir: string, name: string, contents: string): Promise<string> {
  const outfile = join(dir, `${name}.mjs`);
  await build({
    plugins: plugins(),
    stdin: { contents, resolveDir: process.cwd(), loader: 'js' },
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: true,
    mainFields: ['module', 'main'],
    logLevel: 'error',
  });
  return outfile;
}

function runProbe(bundle: string, env: Record<string, string> = {}): Record<string, unknown> {
  const r = spawnSync(process.execPath, [bundle], {
    env: { PATH: process.env.PATH ?? '', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
    encoding: 'utf8',
  });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

describe('esbuild plugins: modeled SDK errors left out', () => {
  // An SSM endpoint answering with the errors the test queues, in SSM's JSON protocol.
  const SSM_PROBE = `
import { createServer } from 'node:http';
import { SSMClient, GetParameterCommand } from '@aws-sdk/client-ssm';
const answers = JSON.parse(process.env.ANSWERS);
let calls = 0;
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const a = answers[Math.min(calls++, answers.length - 1)];
    res.writeHead(a.status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'req-' + calls, ...(a.type ? { 'x-amzn-query-error': a.type + ';Sender' } : {}) });
    res.end(JSON.stringify(a.body));
  });
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const ssm = new SSMClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:' + server.address().port, maxAttempts: 3, retryStrategy: undefined,
  credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' } });
try {
  const out = await ssm.send(new GetParameterCommand({ Name: '/p' }));
  console.log(JSON.stringify({ value: out.Parameter.Value, calls }));
} catch (e) {
  console.log(JSON.stringify({ name: e.name, message: e.message, fault: e.$fault, status: e.$metadata?.httpStatusCode, requestId: e.$metadata?.requestId, calls }));
}
server.close();
`;
  let dir: string;
  let bundle: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ami-factory-plugins-'));
    bundle = await bundleProbe(dir, 'ssm', SSM_PROBE);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('does leave the classes of the errors out of the bundle', () => {
    const text = readFileSync(bundle, 'utf8');
    expect(text).not.toContain('AutomationDefinitionNotApprovedException');
    expect(text).not.toContain('OpsItemRelatedItemAssociationNotFoundException');
  });

  it('does still throw a service error named by its code, with the message and metadata', () => {
    const answers = [{ status: 400, body: { __type: 'com.amazonaws.ssm#ParameterNotFound', message: 'no /p' } }];
    expect(runProbe(bundle, { ANSWERS: JSON.stringify(answers) })).toEqual({
      name: 'ParameterNotFound',
      message: 'no /p',
      fault: 'client',
      status: 400,
      requestId: 'req-1',
      calls: 1,
    });
  });

  it('does still retry a throttled call (the retry strategy reads the error’s name)', () => {
    const answers = [
      { status: 400, body: { __type: 'ThrottlingException', message: 'Rate exceeded' } },
      { status: 200, body: { Parameter: { Name: '/p', Value: 'ami-0123456789abcdef0' } } },
    ];
    expect(runProbe(bundle, { ANSWERS: JSON.stringify(answers) })).toEqual({ value: 'ami-0123456789abcdef0', calls: 2 });
  });
});

describe('esbuild plugins: zod without JSON Schema generation, yaml as JSON', () => {
  const PROBE = `
import { z } from 'zod';
import { parse } from 'yaml';
const out = {};
const schema = z.object({ name: z.string().min(2), count: z.number().int() }).strict();
out.ok = schema.safeParse({ name: 'web', count: 2 }).success;
out.issues = schema.safeParse({ name: 'w', count: 1.5, extra: 1 }).error.issues.map((i) => i.code).sort();
try { z.toJSONSchema(schema); out.jsonSchema = 'generated'; } catch (e) { out.jsonSchema = e.message; }
out.json = parse('{"families": {"web": {"region": "us-east-1"}}}');
try { parse('families:\\n  web: {}\\n'); out.yaml = 'parsed'; } catch (e) { out.yaml = e.name + ': ' + e.message; }
console.log(JSON.stringify(out));
`;
  let dir: string;
  let bundle: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ami-factory-plugins-'));
    bundle = await bundleProbe(dir, 'zod-yaml', PROBE);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('does validate with zod as before', () => {
    expect(runProbe(bundle)).toMatchObject({ ok: true, issues: ['invalid_type', 'too_small', 'unrecognized_keys'] });
  });

  it('does refuse JSON Schema generation by saying why, and leaves its code out', () => {
    expect(runProbe(bundle).jsonSchema).toContain('zod JSON Schema generation is not in this bundle');
    expect(readFileSync(bundle, 'utf8')).not.toContain('Unprocessed schema. This is a bug in Zod.');
  });

  it('does parse the packaged (JSON) config and refuses YAML by name', () => {
    const out = runProbe(bundle);
    expect(out.json).toEqual({ families: { web: { region: 'us-east-1' } } });
    expect(out.yaml).toMatch(/^PackagedConfigError: the packaged factory.config.yml must be its JSON rendering/);
  });
});

describe('deploy/config-json.cjs', () => {
  const { configAsJson, rewriteConfig, ConfigJsonError } = createRequire(join(process.cwd(), 'package.json'))(
    './deploy/config-json.cjs',
  ) as {
    configAsJson(text: string, file?: string): string;
    rewriteConfig(dir: string): boolean;
    ConfigJsonError: new (message: string) => Error;
  };

  it('does render the YAML document’s data as JSON (comments and anchors gone)', () => {
    const yaml = '# a comment\nbase: &b { region: us-east-1 }\nfamilies:\n  web:\n    <<: *b\n    copies: [us-west-2]\n';
    expect(JSON.parse(configAsJson(yaml))).toEqual({
      base: { region: 'us-east-1' },
      families: { web: { '<<': { region: 'us-east-1' }, copies: ['us-west-2'] } },
    });
  });

  it('does refuse a file that is not YAML by name', () => {
    expect(() => configAsJson('families: [unclosed', 'x.yml')).toThrow(ConfigJsonError);
    expect(() => configAsJson('families: [unclosed', 'x.yml')).toThrow(/^x.yml is not valid YAML/);
  });

  it('does rewrite a directory’s factory.config.yml in place, and says when there is none', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ami-factory-config-json-'));
    try {
      expect(rewriteConfig(dir)).toBe(false);
      writeFileSync(join(dir, 'factory.config.yml'), 'families:\n  web:\n    region: us-east-1\n');
      expect(rewriteConfig(dir)).toBe(true);
      expect(JSON.parse(readFileSync(join(dir, 'factory.config.yml'), 'utf8'))).toEqual({ families: { web: { region: 'us-east-1' } } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('esbuild plugins: no event stream codec', () => {
  const S3_PROBE = `
import { createServer } from 'node:http';
import { S3Client, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.method === 'PUT') { res.writeHead(200, { etag: '"e1"' }); res.end(); return; }
    if (req.url.startsWith('/b/missing')) { res.writeHead(404, { 'content-type': 'application/xml' }); res.end('<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>'); return; }
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5' }); res.end('hello');
  });
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const s3 = new S3Client({ region: 'us-east-1', endpoint: 'http://127.0.0.1:' + server.address().port, forcePathStyle: true, maxAttempts: 1,
  credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' } });
const out = {};
out.put = (await s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: 'x' }))).ETag;
out.get = await (await s3.send(new GetObjectCommand({ Bucket: 'b', Key: 'k' }))).Body.transformToString();
try { await s3.send(new GetObjectCommand({ Bucket: 'b', Key: 'missing' })); } catch (e) { out.missing = e.name; }
try { s3.config.eventStreamMarshaller.deserialize(); } catch (e) { out.eventStreams = e.message; }
console.log(JSON.stringify(out));
server.close();
`;
  let dir: string;
  let bundle: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ami-factory-plugins-'));
    bundle = await bundleProbe(dir, 's3', S3_PROBE);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('does leave the codec out, and an S3 client still puts, gets and names its errors', () => {
    expect(readFileSync(bundle, 'utf8')).not.toContain(':message-type');
    expect(runProbe(bundle)).toEqual({
      put: '"e1"',
      get: 'hello',
      missing: 'NoSuchKey',
      eventStreams: 'event streams are not in this bundle (deploy/esbuild-plugins.cjs)',
    });
  });
});
