import { DescribeRuleCommand, EventBridgeClient, ListTargetsByRuleCommand } from '@aws-sdk/client-eventbridge';
import { loadFactoryConfig } from '../../functions/lib/config.js';
import { scheduleTargetInput } from '../../functions/lib/triggers/schedule.js';
import { startLocalCloud, type LocalCloud } from '../../local/server.js';

/**
 * The local cloud installs the families' schedules from factory.config.yml as
 * deploy/schedules.cjs does in AWS: a build rule per `triggers.schedule` and a retention rule
 * per `retention.schedule`, both targeting triggerBuild through the input transformer.
 */
describe('local cloud: family schedules from factory.config.yml', () => {
  let cloud: LocalCloud;
  let events: EventBridgeClient;
  const config = loadFactoryConfig('factory.config.yml');

  beforeAll(async () => {
    // Real time: nothing fires while the rules are read.
    cloud = await startLocalCloud({ port: 0, stateDir: null, timeScale: 1, seed: false });
    events = new EventBridgeClient({
      region: 'us-east-1',
      endpoint: cloud.endpoint,
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    events.destroy();
    await cloud.close();
  });

  it('does install a retention rule per family with retention.schedule, next to its build rule', async () => {
    const scheduled = Object.entries(config.families).filter(([, f]) => f.retention.schedule !== undefined);
    expect(scheduled.map(([family]) => family)).toContain('al2023-base');
    for (const [family, f] of scheduled) {
      const rule = await events.send(new DescribeRuleCommand({ Name: `ami-factory-retention-${family}` }));
      expect(rule).toMatchObject({ ScheduleExpression: f.retention.schedule, State: 'ENABLED' });
      const { Targets } = await events.send(new ListTargetsByRuleCommand({ Rule: `ami-factory-retention-${family}` }));
      expect(Targets).toEqual([
        expect.objectContaining({
          Id: 'triggerBuild',
          Arn: expect.stringMatching(/:function:triggerBuild$/),
          InputTransformer: scheduleTargetInput(family, 'retention'),
        }),
      ]);
    }
    const base = config.families['al2023-base'];
    const build = await events.send(new DescribeRuleCommand({ Name: 'ami-factory-build-al2023-base' }));
    expect(build.ScheduleExpression).toBe(base?.triggers?.schedule);
    const { Targets } = await events.send(new ListTargetsByRuleCommand({ Rule: 'ami-factory-build-al2023-base' }));
    expect(Targets?.[0]?.InputTransformer).toEqual(scheduleTargetInput('al2023-base'));
  });

  it('does install no retention rule for a family without retention.schedule', async () => {
    expect(config.families.web?.retention.schedule).toBeUndefined();
    await expect(events.send(new DescribeRuleCommand({ Name: 'ami-factory-retention-web' }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });
});
