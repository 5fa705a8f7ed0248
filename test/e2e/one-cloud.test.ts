import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { ListExecutionsCommand, ListStateMachinesCommand, SFNClient } from '@aws-sdk/client-sfn';

const run = promisify(execFile);

/**
 * One cloud per state folder, as users run the CLI: commands started at once against one state
 * folder all reach the one cloud that owns it (none starts a second cloud on the folder), a
 * second `ami-factory cloud` on the folder is refused with the owner's name, a command pointed
 * at a port where nothing listens fails instead of starting its own, and after the owner is
 * killed (-9) its executions are still there for `ami-factory status`.
 */
describe('one local cloud per state folder', () => {
  let dir: string;
  let owner: ChildProcess | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ami-factory-one-cloud-'));
  });
  afterAll(() => {
    owner?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  async function cli(args: string[], timeout = 120_000): Promise<{ code: number; out: string }> {
    try {
      const r = await run(process.execPath, ['bin/ami-factory.js', ...args], { env: { ...process.env, NODE_OPTIONS: '' }, timeout });
      return { code: 0, out: r.stdout + r.stderr };
    } catch (e) {
      const err = e as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof err.code === 'number' ? err.code : 1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
    }
  }

  /** `ami-factory cloud` in the background; resolves with its endpoint once it listens. */
  function startCloud(stateDir: string): Promise<{ child: ChildProcess; endpoint: string }> {
    const child = spawn(process.execPath, ['bin/ami-factory.js', 'cloud', '--port', '0', '--state-dir', stateDir], {
      env: { ...process.env, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    return new Promise((resolve, reject) => {
      const onData = (b: Buffer): void => {
        out += b.toString();
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m?.[1] !== undefined) resolve({ child, endpoint: m[1] });
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', (b: Buffer) => (out += b.toString()));
      child.once('exit', (code) => reject(new Error(`ami-factory cloud exited (${code}) before listening:\n${out}`)));
    });
  }

  function clients(endpoint: string): { sfn: SFNClient; ec2: EC2Client } {
    const config = { region: 'us-east-1', endpoint, credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' } };
    return { sfn: new SFNClient(config), ec2: new EC2Client(config) };
  }

  async function worldOf(endpoint: string): Promise<{ executions: string[]; buildIds: string[] }> {
    const { sfn, ec2 } = clients(endpoint);
    try {
      const machines = await sfn.send(new ListStateMachinesCommand({}));
      const factory = machines.stateMachines?.find((m) => m.name?.endsWith('image-factory'));
      const executions = await sfn.send(new ListExecutionsCommand({ stateMachineArn: factory?.stateMachineArn }));
      const images = await ec2.send(
        new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'tag:ami-factory:family', Values: ['web'] }] }),
      );
      const buildIds = (images.Images ?? []).map((i) => i.Tags?.find((t) => t.Key === 'ami-factory:build-id')?.Value ?? '(untagged)');
      return { executions: (executions.executions ?? []).map((e) => e.name ?? ''), buildIds };
    } finally {
      sfn.destroy();
      ec2.destroy();
    }
  }

  it('ten builds started at once against a running cloud make ten executions and ten images in that cloud', async () => {
    const cloud = await startCloud(dir);
    owner = cloud.child;
    const lock = JSON.parse(readFileSync(join(dir, 'cloud.lock'), 'utf8')) as { pid: number; endpoint: string };
    expect(lock).toMatchObject({ pid: cloud.child.pid, endpoint: cloud.endpoint });

    const builds = await Promise.all(
      Array.from({ length: 10 }, () => cli(['build', 'web', '--no-reboot', '--regions', 'us-east-1', '--state-dir', dir], 300_000)),
    );
    for (const b of builds) {
      expect(b.out).toContain(`local cloud  ${cloud.endpoint} (joined the cloud of this state folder`);
      expect(b.out).toContain('BuildSucceeded');
      expect(b.code).toBe(0);
    }
    const world = await worldOf(cloud.endpoint);
    expect(world.executions).toHaveLength(10);
    expect(new Set(world.executions).size).toBe(10);
    // One image per build in the build region, each tagged with its build.
    expect(world.buildIds).toHaveLength(10);
    expect(new Set(world.buildIds).size).toBe(10);
    expect(world.buildIds).not.toContain('(untagged)');
  }, 600_000);

  it('refuses a second cloud on the folder, naming the one that holds it', async () => {
    const second = await cli(['cloud', '--port', '0', '--state-dir', dir]);
    expect(second.code).toBe(1);
    expect(second.out).toContain(`belongs to the local cloud of process ${owner?.pid}`);
  });

  it('fails, starting nothing, when pointed at a port where no cloud listens', async () => {
    const port = await freePort();
    const other = mkdtempSync(join(tmpdir(), 'ami-factory-no-cloud-'));
    try {
      const r = await cli(['build', 'web', '--endpoint', `http://127.0.0.1:${port}`, '--state-dir', other]);
      expect(r.code).toBe(1);
      expect(r.out).toContain(`no local cloud answers at http://127.0.0.1:${port}`);
      expect(existsSync(join(other, 'cloud.lock'))).toBe(false);
      expect(existsSync(join(other, 'ec2.json'))).toBe(false);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('after the owner is killed (-9), the next command takes the folder over and `status` shows the executions', async () => {
    const before = await worldOf((JSON.parse(readFileSync(join(dir, 'cloud.lock'), 'utf8')) as { endpoint: string }).endpoint);
    owner?.kill('SIGKILL');
    await new Promise((r) => owner?.once('exit', r));
    owner = undefined;
    const name = before.executions[0] ?? '';
    const status = await cli(['status', name, '--state-dir', dir]);
    expect(status.out).toContain('took over the state folder of process');
    expect(status.out).toMatch(/status\s+SUCCEEDED/);
    expect(status.out).toMatch(/outcome\s+BuildSucceeded/);
    expect(status.out).toMatch(/us-east-1\s+ami-[0-9a-f]{17}\s+succeeded/);
    expect(status.code).toBe(0);
    const missing = await cli(['status', 'web-no-such-build', '--state-dir', dir]);
    expect(missing.code).toBe(1);
    expect(missing.out).toContain('no execution "web-no-such-build"');
  }, 180_000);

  it('two builds started at once with no cloud running: one starts the cloud, the other joins it, both land', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'ami-factory-race-'));
    try {
      const both = await Promise.all(
        [0, 1].map(() => cli(['build', 'web', '--no-reboot', '--regions', 'us-east-1', '--port', '0', '--state-dir', fresh], 300_000)),
      );
      for (const b of both) {
        expect(b.out).toContain('BuildSucceeded');
        expect(b.code).toBe(0);
      }
      expect(both.filter((b) => b.out.includes('started in this process'))).toHaveLength(1);
      expect(both.filter((b) => b.out.includes('joined the cloud of this state folder'))).toHaveLength(1);
      const cloud = await startCloud(fresh);
      try {
        const world = await worldOf(cloud.endpoint);
        expect(world.executions).toHaveLength(2);
        expect(new Set(world.buildIds).size).toBe(2);
      } finally {
        cloud.child.kill('SIGTERM');
        await new Promise((r) => cloud.child.once('exit', r));
      }
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  }, 600_000);
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}
