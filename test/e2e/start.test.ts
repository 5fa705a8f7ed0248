import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** `npm start` as a user runs it: the CLI in a child process, its own world, a free port. */
describe('ami-factory start', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ami-factory-start-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function start(...args: string[]): Promise<{ code: number; out: string }> {
    try {
      const r = await run(process.execPath, ['bin/ami-factory.js', 'start', '--port', '0', '--state-dir', dir, ...args], {
        env: { ...process.env, NODE_OPTIONS: '' },
        timeout: 60_000,
      });
      return { code: 0, out: r.stdout + r.stderr };
    } catch (e) {
      const err = e as { code?: number; stdout?: string; stderr?: string };
      return { code: err.code ?? 1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
    }
  }

  it('builds the demo family end to end and prints a summary with every region and the costs', async () => {
    const { code, out } = await start();
    expect(code).toBe(0);
    expect(out).toContain('BuildSucceeded');
    for (const region of ['us-east-1', 'us-west-2', 'eu-west-1'])
      expect(out).toMatch(new RegExp(`web\\s+${region}\\s+ami-[0-9a-f]{17}\\s+available`));
    expect(out).toMatch(/PublishHome +published to latest \(\/ami-factory\/web\/latest\)/);
    for (const region of ['us-east-1', 'us-west-2', 'eu-west-1'])
      expect(out).toMatch(new RegExp(`${region}\\s+ami-\\S+\\s+available.*\\slatest\\s`));
    expect(out).toMatch(/cost: \d+ state transitions · \d+ Lambda invocations · \d+ EC2 API calls/);
    expect(out).toMatch(/i-[0-9a-f]{17}\s+yes/);
    // Progress as the steps happen, each line with its wall and execution-clock times.
    expect(out).toMatch(/\[wall +[\dhms. ]+ · execution clock +[\dhms. ]+\] CreateImage +started ami-[0-9a-f]{17}/);
  });

  it('makes a second image in the same persisted world on a second run', async () => {
    const first = await start('--no-reboot');
    const second = await start('--no-reboot');
    const id = (out: string): string | undefined => /web\s+us-east-1\s+(ami-[0-9a-f]{17})/.exec(out)?.[1];
    expect(first.code).toBe(0);
    expect(second.code).toBe(0);
    expect(id(second.out)).toBeDefined();
    expect(id(second.out)).not.toBe(id(first.out));
    expect(second.out).toMatch(/us-east-1\s+ami-\S+\s+available\s+i-\S+\s+no/);
  });

  it('exits non-zero with a clear message for an unknown family', async () => {
    const { code, out } = await start('--family', 'nope');
    expect(code).toBe(1);
    expect(out).toContain('Unknown family "nope"');
  });
});

describe('ami-factory expire', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ami-factory-expire-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function cli(...args: string[]): Promise<{ code: number; out: string }> {
    try {
      const r = await run(process.execPath, ['bin/ami-factory.js', ...args, '--port', '0', '--state-dir', dir], {
        env: { ...process.env, NODE_OPTIONS: '' },
        timeout: 120_000,
      });
      return { code: 0, out: r.stdout + r.stderr };
    } catch (e) {
      const err = e as { code?: number; stdout?: string; stderr?: string };
      return { code: err.code ?? 1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
    }
  }

  it('prints the plan of a dry run over the images a build made, and changes nothing', async () => {
    const built = await cli('start');
    // On a failure the diff shows the child's output (a CI failure here once said only "exit 1").
    expect(built).toMatchObject({ code: 0 });
    const image = /web\s+us-east-1\s+(ami-[0-9a-f]{17})/.exec(built.out)?.[1] ?? 'missing';
    const expired = await cli('expire', 'web', '--dry-run', '--all');
    expect(expired).toMatchObject({ code: 0 });
    const { out } = expired;
    expect(out).toContain('plan: 3 images: 0 to deregister, 0 to disable, 0 to deprecate, 3 kept');
    expect(out).toMatch(new RegExp(`${image}\\s+us-east-1\\s+0\\s+keep\\s+newest 3`));
    expect(out).toMatch(/us-west-2\s+planned\s+1\s+0\s+0\s+0/);
    expect(out).toMatch(/\[wall +[\dhms. ]+ · execution clock +[\dhms. ]+\] PlanRegion /);
    // Two CLI runs one after the other, each allowed 120 s (cli()): the test allows both.
  }, 240_000);

  it('refuses a region the family has no images in, before starting anything', async () => {
    const { code, out } = await cli('expire', 'web', '--region', 'ap-south-1');
    expect(code).toBe(1);
    expect(out).toContain('Family web has no images in ap-south-1');
  });
});
