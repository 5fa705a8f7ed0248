import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The CLI in a child process, as a user runs it: exit code, stdout and stderr apart. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, ['bin/ami-factory.js', ...args], { env: { ...process.env, NODE_OPTIONS: '' }, timeout: 240_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

const commands = readdirSync('bin/commands')
  .filter((f) => f.endsWith('.ts') && !f.startsWith('_'))
  .map((f) => f.slice(0, -3));

describe('ami-factory --help', () => {
  it.each([...commands.map((c) => [c]), ['config', 'check'], ['config', 'schema']])(
    'does print the usage of `%s %s` on stdout and exit 0',
    async (...words: string[]) => {
      const r = await cli(...words.filter((w) => w !== undefined), '--help');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage: ami-factory ${words[0]}`));
      expect(r.stderr).toBe('');
    },
  );

  it('does list every command in the top-level help', async () => {
    const r = await cli('--help');
    expect(r.code).toBe(0);
    for (const c of commands) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
  });
});

describe('ami-factory config check', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ami-factory-config-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('does accept the repository config', async () => {
    const r = await cli('config', 'check');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/valid \(3 families: web, al2023-base, al2023-public\)/);
  });

  it('does refuse a region of the right shape that no AWS partition lists, naming where it is', async () => {
    // Prepare: us-west-9 matches the aws partition's pattern but is not one of its regions.
    const file = join(dir, 'unknown-region.yml');
    writeFileSync(file, readFileSync('factory.config.yml', 'utf8').replace(/us-west-2/g, 'us-west-9'));
    // Act
    const r = await cli('config', 'check', '--config', file);
    // Assess
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('families.web.copies.0.region: "us-west-9" is not a region of any AWS partition the SDK knows');
  });

  it('does refuse a family whose regions span partitions', async () => {
    const file = join(dir, 'two-partitions.yml');
    writeFileSync(file, readFileSync('factory.config.yml', 'utf8').replace(/us-west-2/g, 'cn-north-1'));
    const r = await cli('config', 'check', '--config', file);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/families\.web: its regions are in more than one partition \(aws, aws-cn\)/);
  });
});

describe('ami-factory event', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ami-factory-event-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const event = (name: string, value: unknown): string => {
    const file = join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify(value));
    return file;
  };
  const send = (file: string): Promise<{ code: number; stdout: string; stderr: string }> =>
    cli('event', file, '--port', '0', '--state-dir', join(dir, 'state'));

  it('does name the execution a Build Requested event started and exit 0', async () => {
    const r = await send('examples/events/build-requested.json');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/✓ started execution arn:aws:states:[a-z0-9-]+:\d{12}:execution:[\w-]*image-factory[\w-]*:web-\S+/);
  }, 300_000);

  it('does say why the factory rejected a request, start nothing and exit 1', async () => {
    const r = await send(event('unknown-family', { source: 'ami-factory', 'detail-type': 'Build Requested', detail: { family: 'nope' } }));
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('✗ rejected: Unknown family "nope"');
    expect(r.stdout).not.toContain('started execution');
    expect(r.stderr).toContain('✗ no execution started: the factory rejected the request');
  }, 300_000);

  it('does say that an event matched no rule and exit 1', async () => {
    const r = await send(event('no-rule', { source: 'someone.else', 'detail-type': 'Something Happened', detail: {} }));
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/: matched no rule/);
    expect(r.stderr).toContain('✗ no execution started: no rule matched');
  }, 300_000);
});

describe('ami-factory distribute', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cli-distribute-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const inCloud = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    cli(...args, '--port', '0', '--state-dir', join(dir, 'state'));

  it('does distribute a built image again, leaving every published region alone, and exit 0', async () => {
    const built = await inCloud('build', 'web', '--no-reboot');
    expect(built.code).toBe(0);
    const imageId = /^us-east-1\s+(ami-[0-9a-f]+)/m.exec(built.stdout)?.[1] ?? '';
    expect(imageId).toMatch(/^ami-/);
    // Act
    const r = await inCloud('distribute', imageId, '--family', 'web', '--wait');
    // Assess
    expect([r.code, r.stderr.includes('✗')]).toEqual([0, false]);
    expect(r.stdout).toContain(`distributing ${imageId}`);
    for (const region of ['us-east-1', 'us-west-2', 'eu-west-1']) {
      expect(r.stdout).toMatch(new RegExp(`^${region}\\s+ami-[0-9a-f]+\\s+untouched\\s+succeeded$`, 'm'));
    }
    expect(r.stdout).toMatch(/BuildSucceeded · web-/);
  }, 600_000);

  it('does refuse an image that is not the family’s with a named error, starting nothing, and exit 1', async () => {
    const r = await inCloud('distribute', 'ami-0123456789abcdef0', '--family', 'web');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ImageNotDistributableError: Image ami-0123456789abcdef0 is not an image of this account in us-east-1/);
    expect(r.stdout).not.toContain('started');
  }, 300_000);

  it('does refuse a malformed image id and a missing family as usage errors (exit 2)', async () => {
    expect((await cli('distribute', 'i-0123456789abcdef0', '--family', 'web')).code).toBe(2);
    expect((await cli('distribute', 'ami-0123456789abcdef0')).code).toBe(2);
  });
});
