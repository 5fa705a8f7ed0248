import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { startLocalCloud, type LocalCloud } from '../../local/server.js';

/** The local Step Functions endpoint through the real @aws-sdk/client-sfn. */
describe('local Step Functions endpoint', () => {
  let cloud: LocalCloud;
  let sfn: SFNClient;
  let arn: string;

  beforeEach(async () => {
    cloud = await startLocalCloud({ port: 0, stateDir: null, timeScale: 6000, familySchedules: false });
    sfn = new SFNClient({
      region: 'us-east-1',
      endpoint: cloud.endpoint,
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      maxAttempts: 1,
    });
    arn = cloud.stateMachineArn('image-factory');
  });
  afterEach(async () => {
    sfn.destroy();
    await cloud.close();
  });

  const badInput = JSON.stringify({ not: 'a build request' });

  it('answers the SDK with its own error names', async () => {
    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn: arn.replace('image-factory', 'nope'), input: '{}' })),
    ).rejects.toMatchObject({ name: 'StateMachineDoesNotExist' });
    await expect(sfn.send(new StartExecutionCommand({ stateMachineArn: arn, input: '{not json' }))).rejects.toMatchObject({
      name: 'InvalidExecutionInput',
    });
    await expect(
      sfn.send(new DescribeExecutionCommand({ executionArn: `${arn.replace('stateMachine', 'execution')}:missing` })),
    ).rejects.toMatchObject({ name: 'ExecutionDoesNotExist' });
  });

  it('is idempotent for the same name and input while running, and refuses a reused name otherwise', async () => {
    const name = `dup-${randomUUID()}`;
    const a = await sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name, input: badInput }));
    await cloud.sfn.waitFor(a.executionArn ?? '');
    await expect(sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name, input: badInput }))).rejects.toMatchObject({
      name: 'ExecutionAlreadyExists',
    });
  });

  it('records an AWS-shaped history and fails a bad input at the first task with ValidationError', async () => {
    const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn: arn, input: badInput }));
    await cloud.sfn.waitFor(executionArn ?? '');

    const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    expect(d.status).toBe('FAILED');
    expect(d.error).toBe('ValidationError');
    expect(JSON.parse(d.cause ?? '{}')).toMatchObject({ errorType: 'ValidationError', errorMessage: expect.stringContaining('buildId') });
    expect(d.stopDate).toBeInstanceOf(Date);

    const h = await sfn.send(new GetExecutionHistoryCommand({ executionArn }));
    const types = (h.events ?? []).map((e) => e.type);
    expect(types[0]).toBe('ExecutionStarted');
    expect(types.at(-1)).toBe('ExecutionFailed');
    expect(types).toEqual(
      expect.arrayContaining(['PassStateEntered', 'TaskStateEntered', 'TaskScheduled', 'TaskFailed', 'FailStateEntered']),
    );
    const ids = (h.events ?? []).map((e) => e.id);
    expect(ids).toEqual(ids.map((_, i) => i + 1));
    expect(h.events?.[0]?.executionStartedEventDetails?.input).toBe(badInput);
  });

  it('pages ListExecutions with nextToken, newest first', async () => {
    const started: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name: `list-${i}`, input: badInput }));
      started.push(r.executionArn ?? '');
      await cloud.sfn.waitFor(r.executionArn ?? '');
    }
    const seen: string[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const page = await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn, maxResults: 2, nextToken }));
      seen.push(...(page.executions ?? []).map((e) => e.executionArn ?? ''));
      nextToken = page.nextToken;
      pages++;
    } while (nextToken !== undefined);
    expect(pages).toBe(3);
    expect(seen.sort()).toEqual([...started].sort());
    const failed = await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn, statusFilter: 'SUCCEEDED' }));
    expect(failed.executions).toEqual([]);
  });
});

describe('local Step Functions persistence', () => {
  it('keeps executions and their history across restarts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ami-factory-sfn-'));
    try {
      let cloud = await startLocalCloud({ port: 0, stateDir: dir, timeScale: 6000, familySchedules: false });
      let sfn = new SFNClient({ region: 'us-east-1', endpoint: cloud.endpoint, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
      const { executionArn } = await sfn.send(
        new StartExecutionCommand({ stateMachineArn: cloud.stateMachineArn('image-factory'), input: '{}' }),
      );
      await cloud.sfn.waitFor(executionArn ?? '');
      sfn.destroy();
      await cloud.close();

      cloud = await startLocalCloud({ port: 0, stateDir: dir, timeScale: 6000, familySchedules: false });
      sfn = new SFNClient({ region: 'us-east-1', endpoint: cloud.endpoint, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
      const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      const h = await sfn.send(new GetExecutionHistoryCommand({ executionArn }));
      sfn.destroy();
      await cloud.close();
      expect(d.status).toBe('FAILED');
      expect(h.events?.at(-1)?.type).toBe('ExecutionFailed');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
