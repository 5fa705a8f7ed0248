import { createRequire } from 'node:module';

/** deploy/alarms.cjs, the generator `osls package` runs for the alarm topic and the alarms. */
type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;
interface AlarmsModule {
  (vars: { options: Record<string, unknown>; resolveConfigurationProperty: (path: string[]) => Promise<unknown> }): Promise<{
    Resources: Resources;
  }>;
  alarmResources(functionKeys: string[], emails: string[]): { Resources: Resources };
  emailsFrom(options: Record<string, unknown>, params: unknown): string[];
}
const alarms = createRequire(import.meta.url)('../../deploy/alarms.cjs') as AlarmsModule;

describe('deploy/alarms.cjs', () => {
  it('does make an Errors and a Throttles alarm per function, three outcome alarms per state machine and one per dead-letter queue, all to the topic', () => {
    // Act
    const { Resources } = alarms.alarmResources(['planBuild', 'copyImage'], []);

    // Assess
    const alarmIds = Object.keys(Resources).filter((k) => Resources[k]?.Type === 'AWS::CloudWatch::Alarm');
    expect(alarmIds.sort()).toEqual(
      [
        'AsyncFailuresAlarm',
        'CopyImageErrorsAlarm',
        'CopyImageThrottlesAlarm',
        'EventTargetDeadLettersAlarm',
        'ImageChannelsExecutionsAbortedAlarm',
        'ImageChannelsExecutionsFailedAlarm',
        'ImageChannelsExecutionsTimedOutAlarm',
        'ImageFactoryExecutionsAbortedAlarm',
        'ImageFactoryExecutionsFailedAlarm',
        'ImageFactoryExecutionsTimedOutAlarm',
        'ImageRetentionExecutionsAbortedAlarm',
        'ImageRetentionExecutionsFailedAlarm',
        'ImageRetentionExecutionsTimedOutAlarm',
        'PlanBuildErrorsAlarm',
        'PlanBuildThrottlesAlarm',
      ].sort(),
    );
    expect(Resources.PlanBuildErrorsAlarm?.Properties).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: 'PlanBuildLambdaFunction' } }],
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: 'AlarmTopic' }],
    });
    expect(Resources.ImageFactoryExecutionsFailedAlarm?.Properties).toMatchObject({
      Namespace: 'AWS/States',
      Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: 'ImageFactoryStateMachine' } }],
    });
    expect(Resources.EventTargetDeadLettersAlarm?.Properties).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['EventTargetDeadLetterQueue', 'QueueName'] } }],
      Statistic: 'Maximum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [{ Ref: 'AlarmTopic' }],
    });
    expect(Resources.AlarmTopic?.Properties.Subscription).toEqual([]);
  });

  it('does subscribe the stage parameter emails, from --param first, then the stage, then the default', () => {
    // Prepare
    const params = { default: { alarmEmails: [] }, prod: { alarmEmails: ['ops@example.com'] } };

    // Act / Assess
    expect(alarms.emailsFrom({ stage: 'dev' }, params)).toEqual([]);
    expect(alarms.emailsFrom({ stage: 'prod' }, params)).toEqual(['ops@example.com']);
    expect(alarms.emailsFrom({ stage: 'prod', param: ['alarmEmails=a@example.com, b@example.com'] }, params)).toEqual([
      'a@example.com',
      'b@example.com',
    ]);
    expect(() => alarms.emailsFrom({ stage: 'prod', param: 'alarmEmails=not-an-email' }, params)).toThrow(/not an email/);
    expect(alarms.alarmResources([], ['ops@example.com']).Resources.AlarmTopic?.Properties.Subscription).toEqual([
      { Protocol: 'email', Endpoint: 'ops@example.com' },
    ]);
  });

  it('does read the functions and params of the service configuration', async () => {
    // Prepare
    const config: Record<string, unknown> = { functions: { sweepWaits: {} }, params: { default: { alarmEmails: ['x@example.com'] } } };

    // Act
    const { Resources } = await alarms({ options: { stage: 'dev' }, resolveConfigurationProperty: async ([k]) => config[k ?? ''] });

    // Assess
    expect(Object.keys(Resources)).toEqual(expect.arrayContaining(['SweepWaitsErrorsAlarm', 'SweepWaitsThrottlesAlarm']));
    expect(Resources.AlarmTopic?.Properties.Subscription).toEqual([{ Protocol: 'email', Endpoint: 'x@example.com' }]);
  });
});
