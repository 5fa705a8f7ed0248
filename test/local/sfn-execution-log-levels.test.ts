import { executionLogConfig, logLine, logs, InvalidLoggingConfigurationError } from '../../local/sfn/execution-log.js';

const GROUP = 'arn:aws:logs:us-east-1:111122223333:log-group:/aws/vendedlogs/states/x:*';
const destinations = [{ CloudWatchLogsLogGroup: { LogGroupArn: GROUP } }];

describe('execution-log', () => {
  it('does pick the events of each level as Step Functions does', () => {
    // Act / Assess
    expect(['ExecutionStarted', 'TaskFailed', 'ExecutionFailed'].filter((t) => logs('ERROR', t))).toEqual([
      'TaskFailed',
      'ExecutionFailed',
    ]);
    expect(['TaskFailed', 'ExecutionTimedOut', 'ExecutionAborted'].filter((t) => logs('FATAL', t))).toEqual([
      'ExecutionTimedOut',
      'ExecutionAborted',
    ]);
    expect(logs('ALL', 'PassStateEntered')).toBe(true);
    expect(logs('OFF', 'ExecutionFailed')).toBe(false);
  });

  it('does read the log group from the destination and refuses a logging level without one', () => {
    // Act / Assess
    expect(executionLogConfig({ Level: 'ERROR', IncludeExecutionData: false, Destinations: destinations })).toEqual({
      level: 'ERROR',
      includeExecutionData: false,
      logGroupName: '/aws/vendedlogs/states/x',
    });
    expect(executionLogConfig({ Level: 'OFF' })).toBeUndefined();
    expect(() => executionLogConfig({ Level: 'ERROR' })).toThrow(InvalidLoggingConfigurationError);
    expect(() => executionLogConfig({ Level: 'DEBUG', Destinations: destinations })).toThrow(InvalidLoggingConfigurationError);
  });

  it('does leave out input and output without IncludeExecutionData', () => {
    // Prepare
    const event = {
      id: 1,
      previousEventId: 0,
      timestampMs: 5,
      type: 'ExecutionStarted',
      details: { input: '{}', roleArn: 'r' },
      executionArn: 'e',
    };

    // Act
    const without = JSON.parse(logLine({ level: 'ALL', includeExecutionData: false, logGroupName: 'g' }, event)) as { details: object };
    const withData = JSON.parse(logLine({ level: 'ALL', includeExecutionData: true, logGroupName: 'g' }, event)) as { details: object };

    // Assess
    expect(without.details).toEqual({ roleArn: 'r' });
    expect(withData.details).toEqual({ input: '{}', roleArn: 'r' });
  });
});
