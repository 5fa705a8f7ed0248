import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { assertOnlyApplyingRun, RetentionAlreadyRunningError, stateMachineOf } from '../../functions/lib/retention/exclusive.js';

const sfn = mockClient(SFNClient);
const SM = 'arn:aws:states:us-east-1:111122223333:stateMachine:ami-factory-dev-image-retention';
const exec = (name: string): string => `${SM.replace(':stateMachine:', ':execution:')}:${name}`;
const T = new Date('2026-11-23T04:00:00Z');

function running(list: { name: string; startMs: number; family: string; dryRun: boolean }[]): void {
  sfn.on(ListExecutionsCommand).resolves({
    executions: list.map((e) => ({
      executionArn: exec(e.name),
      stateMachineArn: SM,
      name: e.name,
      status: 'RUNNING',
      startDate: new Date(T.getTime() + e.startMs),
    })),
  });
  for (const e of list) {
    sfn
      .on(DescribeExecutionCommand, { executionArn: exec(e.name) })
      .resolves({ status: 'RUNNING', input: JSON.stringify({ family: e.family, dryRun: e.dryRun }) } as never);
  }
}

describe('one applying retention run per family', () => {
  beforeEach(() => sfn.reset());
  const check = (name: string) => assertOnlyApplyingRun(sfn as unknown as SFNClient, exec(name), 'web');

  it('derives the state machine from the execution', () => {
    expect(stateMachineOf(exec('x'))).toBe(SM);
    expect(() => stateMachineOf('arn:aws:lambda:us-east-1:111122223333:function:x')).toThrow(/Not an execution ARN/);
  });

  it('stops the later of two applying runs of the family; the earlier goes on', async () => {
    running([
      { name: 'a', startMs: 0, family: 'web', dryRun: false },
      { name: 'b', startMs: 1000, family: 'web', dryRun: false },
    ]);
    await expect(check('a')).resolves.toBeUndefined();
    await expect(check('b')).rejects.toThrow(RetentionAlreadyRunningError);
    await expect(check('b')).rejects.toThrow('Another retention run of web is applying (a)');
  });

  it('breaks a tie on the start time by name', async () => {
    running([
      { name: 'a', startMs: 0, family: 'web', dryRun: false },
      { name: 'b', startMs: 0, family: 'web', dryRun: false },
    ]);
    await expect(check('a')).resolves.toBeUndefined();
    await expect(check('b')).rejects.toThrow(RetentionAlreadyRunningError);
  });

  it('ignores dry runs and other families', async () => {
    running([
      { name: 'dry', startMs: 0, family: 'web', dryRun: true },
      { name: 'db', startMs: 0, family: 'db', dryRun: false },
      { name: 'me', startMs: 1000, family: 'web', dryRun: false },
    ]);
    await expect(check('me')).resolves.toBeUndefined();
  });
});
