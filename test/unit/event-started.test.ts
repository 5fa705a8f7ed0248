import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { startedBy } from '../../bin/commands/event.js';

/**
 * `ami-factory event` says an event started a build only for the executions it started: new
 * since the command began and carrying the event's id as `trigger.eventId` — a scheduled
 * rebuild that came due meanwhile, or another command's build on the same cloud, is not it.
 */
describe('startedBy', () => {
  const sfnMock = mockClient(SFNClient);
  afterEach(() => sfnMock.reset());

  const machine = 'arn:aws:states:us-east-1:111122223333:stateMachine:ami-factory-dev-image-factory';
  const arn = (name: string): string => `arn:aws:states:us-east-1:111122223333:execution:ami-factory-dev-image-factory:${name}`;
  const inputs: Record<string, string> = {
    [arn('web-old')]: JSON.stringify({ trigger: { type: 'event', eventId: 'ev-1' } }),
    [arn('web-ours')]: JSON.stringify({ trigger: { type: 'event', eventId: 'ev-1' } }),
    [arn('web-scheduled')]: JSON.stringify({ trigger: { type: 'schedule', eventId: 'ev-schedule' } }),
    [arn('web-no-trigger')]: JSON.stringify({ buildId: 'x' }),
    [arn('web-not-json')]: 'not json',
  };

  it('does keep only the new executions whose input names one of the events', async () => {
    // Prepare: two pages of executions; web-old was there before the event was put.
    sfnMock
      .on(ListExecutionsCommand, { stateMachineArn: machine, nextToken: undefined })
      .resolves({ executions: [arn('web-old'), arn('web-ours')].map(execution), nextToken: 'page-2' })
      .on(ListExecutionsCommand, { stateMachineArn: machine, nextToken: 'page-2' })
      .resolves({ executions: [arn('web-scheduled'), arn('web-no-trigger'), arn('web-not-json')].map(execution) });
    sfnMock.on(DescribeExecutionCommand).callsFake((i: { executionArn: string }) => ({ input: inputs[i.executionArn] }));
    const before = new Map([[arn('web-old'), 'web-old']]);
    // Act
    const started = await startedBy(new SFNClient({ region: 'us-east-1' }), [machine], before, ['ev-1']);
    // Assess
    expect(started).toEqual([arn('web-ours')]);
    expect(sfnMock.commandCalls(DescribeExecutionCommand).map((c) => c.args[0].input.executionArn)).not.toContain(arn('web-old'));
  });

  function execution(executionArn: string): {
    executionArn: string;
    name: string;
    stateMachineArn: string;
    status: 'RUNNING';
    startDate: Date;
  } {
    return { executionArn, name: executionArn.split(':').pop() ?? '', stateMachineArn: machine, status: 'RUNNING', startDate: new Date(0) };
  }
});
