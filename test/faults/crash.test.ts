import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand, type DescribeExecutionCommandOutput } from '@aws-sdk/client-sfn';
import { DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { randomUUID } from 'node:crypto';
import { buildRequestFor, loadFactoryConfig } from '../../functions/lib/config.js';
import { PROJECT_ROOT, startLocalCloud } from '../../local/server.js';
import { baseline, checkBuildInvariants, type Baseline } from './invariants.js';
import { invariantsCell, outcomeOf, resultsTable, type ScenarioRow } from './scenario.js';

/**
 * `kill -9` of the local cloud mid-run: the cloud runs as a child process (`ami-factory cloud`
 * on a state folder), is killed with SIGKILL at several points of a build and restarted on the
 * same folder; the execution is re-driven from its input (local/sfn resumes executions left
 * RUNNING) and must complete, and the world read back from the folder must hold the build
 * invariants.
 */
const rows: ScenarioRow[] = [];
const creds = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' };

const t0 = Date.now();
const progress = (what: string): void => void process.stderr.write(`[crash ${((Date.now() - t0) / 1000).toFixed(1)} s] ${what}\n`);

afterAll(() => {
  process.stdout.write(`\n${resultsTable('kill -9 of the local cloud mid-run', rows)}\n\n`);
});

interface Child {
  proc: ChildProcess;
  endpoint: string;
}

/** Starts `ami-factory cloud` on the folder and resolves with its endpoint once it listens. */
function startChild(stateDir: string): Promise<Child> {
  const proc = spawn(
    process.execPath,
    [join(PROJECT_ROOT, 'bin', 'ami-factory.js'), 'cloud', '--port', '0', '--state-dir', stateDir, '--time-scale', '600'],
    { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    let listening = false;
    const early = (code: number | null): void => {
      clearTimeout(timer);
      reject(new Error(`the cloud exited (${String(code)}) before listening:\n${out}`));
    };
    const timer = setTimeout(() => reject(new Error(`the cloud did not start in 60 s:\n${out}`)), 60_000);
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(out);
      if (m?.[1] !== undefined && !listening) {
        listening = true;
        proc.off('exit', early);
        clearTimeout(timer);
        progress(`cloud ${String(proc.pid)} listening`);
        resolve({ proc, endpoint: m[1] });
      }
    });
    proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    proc.once('exit', early);
  });
}

function kill9(child: Child): Promise<void> {
  return new Promise((resolve) => {
    child.proc.once('exit', () => resolve());
    child.proc.kill('SIGKILL');
  });
}

function stop(child: Child): Promise<void> {
  return new Promise((resolve) => {
    child.proc.once('exit', () => resolve());
    child.proc.kill('SIGTERM');
  });
}

async function describe_(endpoint: string, executionArn: string): Promise<DescribeExecutionCommandOutput> {
  const sfn = new SFNClient({ region: 'us-east-1', endpoint, credentials: creds });
  try {
    return await sfn.send(new DescribeExecutionCommand({ executionArn }));
  } finally {
    sfn.destroy();
  }
}

/** Polls (bounded) until `check` says the point is reached. */
async function reach(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function imagesOf(endpoint: string, region: string, buildId: string): Promise<string[]> {
  const ec2 = new EC2Client({ region, endpoint, credentials: creds });
  try {
    const r = await ec2.send(
      new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'tag:ami-factory:build-id', Values: [buildId] }] }),
    );
    return (r.Images ?? []).map((i) => i.State ?? '');
  } finally {
    ec2.destroy();
  }
}

describe('kill -9 of the local cloud mid-run', () => {
  let stateDir: string;
  let before: Baseline;
  let stateMachineArn: string;
  beforeAll(async () => {
    progress('seeding the state folder');
    stateDir = mkdtempSync(join(tmpdir(), 'ami-factory-crash-'));
    // Seed the folder and record the world before the build.
    const cloud = await startLocalCloud({ port: 0, stateDir, timeScale: 600, familySchedules: false });
    before = baseline(cloud);
    stateMachineArn = cloud.stateMachineArn('image-factory');
    await cloud.close();
  }, 120_000);
  afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

  // This scenario found that a SIGKILL a second after StartExecution answered could lose the
  // execution; the local SFN now writes an accepted execution before it answers.
  it('completes the build and keeps the world intact across SIGKILLs at three points', async () => {
    // The child cloud's functions read the project's config: the request is one it allows.
    const request = buildRequestFor(loadFactoryConfig(join(PROJECT_ROOT, 'factory.config.yml')), 'web', {
      buildId: randomUUID(),
      requestedAt: new Date().toISOString(),
      trigger: { type: 'cli', actor: 'fault-suite' },
      noReboot: true,
    });
    const kills: string[] = [];
    let child = await startChild(stateDir);
    const sfn = new SFNClient({ region: 'us-east-1', endpoint: child.endpoint, credentials: creds });
    const { executionArn = '' } = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn,
        name: `crash-${request.buildId.slice(0, 8)}`,
        input: JSON.stringify(request),
      }),
    );
    sfn.destroy();
    let done: DescribeExecutionCommandOutput | undefined;
    try {
      // 1: right after StartExecution was answered.
      await kill9(child);
      kills.push('after StartExecution');
      progress('killed after StartExecution');
      child = await startChild(stateDir);
      // 2: once the home image exists (CreateImage done, the wait registered or under way).
      const c2 = child;
      await reach(
        async () =>
          (await imagesOf(c2.endpoint, 'us-east-1', request.buildId)).length > 0 ||
          (await describe_(c2.endpoint, executionArn)).status !== 'RUNNING',
        60_000,
        'the home image',
      );
      progress(
        `home image: ${(await imagesOf(c2.endpoint, 'us-east-1', request.buildId)).join(',')}; execution ${(await describe_(c2.endpoint, executionArn)).status ?? '?'}`,
      );
      await kill9(child);
      kills.push('after CreateImage');
      progress('killed after CreateImage');
      child = await startChild(stateDir);
      // 3: once a copy exists in us-west-2.
      const c3 = child;
      await reach(
        async () =>
          (await imagesOf(c3.endpoint, 'us-west-2', request.buildId)).length > 0 ||
          (await describe_(c3.endpoint, executionArn)).status !== 'RUNNING',
        60_000,
        'a copy',
      );
      progress(`copy: ${(await imagesOf(c3.endpoint, 'us-west-2', request.buildId)).join(',')}`);
      await kill9(child);
      kills.push('during the copies');
      progress('killed during the copies');
      child = await startChild(stateDir);
      const c4 = child;
      await reach(async () => (await describe_(c4.endpoint, executionArn)).status !== 'RUNNING', 90_000, 'the execution to end');
      done = await describe_(child.endpoint, executionArn);
      progress(`execution ${done.status ?? '?'}`);
    } finally {
      await stop(child);
    }
    // The world as the folder holds it, read back by a cloud of this process.
    const cloud = await startLocalCloud({ port: 0, stateDir, timeScale: 600, familySchedules: false, schedules: false });
    const readSfn = new SFNClient({ region: 'us-east-1', endpoint: cloud.endpoint, credentials: creds });
    let violations: string[] = [];
    try {
      violations = await checkBuildInvariants({ cloud, sfn: readSfn, before, requests: [request] });
    } finally {
      readSfn.destroy();
      await cloud.close();
      rows.push({
        scenario: `SIGKILL ${kills.join(', ')}; restarted each time`,
        executions: 1,
        outcome: done === undefined ? 'error' : outcomeOf(done),
        invariants: invariantsCell(violations),
      });
    }
    expect(done?.status).toBe('SUCCEEDED');
    expect(violations).toEqual([]);
  }, 300_000);
});
