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
    for (const region of ['us-east-1', 'us-west-2', 'eu-west-1']) expect(out).toMatch(new RegExp(`web\\s+${region}\\s+ami-[0-9a-f]{17}\\s+available`));
    expect(out).toMatch(/cost: \d+ state transitions · \d+ Lambda invocations · \d+ EC2 API calls/);
    expect(out).toMatch(/i-[0-9a-f]{17}\s+yes/);
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
