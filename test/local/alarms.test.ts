import { ensurePackaged } from '../../local/template/package.js';
import { planStack, type StackPlan } from '../../local/template/stack.js';

/**
 * The packaged template's alarms, as the local cloud provisions them (stored, not evaluated):
 * every function and both state machines are watched, and every alarm notifies the topic.
 */
describe('the packaged template: alarms', () => {
  let plan: StackPlan;

  beforeAll(async () => {
    const pkg = await ensurePackaged({ projectRoot: process.cwd() });
    plan = planStack(pkg.template, { stackName: 'ami-factory-dev', region: 'us-east-1', accountId: '111122223333' });
  });

  it('does watch Errors and Throttles of every function, and the failed, timed-out and aborted executions of both machines', () => {
    // Prepare
    const watched = (namespace: string, metric: string): string[] =>
      plan.alarms
        .filter((a) => a.namespace === namespace && a.metricName === metric)
        .map((a) => a.dimensions.FunctionName ?? a.dimensions.StateMachineArn ?? '')
        .sort();

    // Assess
    const functions = plan.functions.map((f) => f.name).sort();
    expect(watched('AWS/Lambda', 'Errors')).toEqual(functions);
    expect(watched('AWS/Lambda', 'Throttles')).toEqual(functions);
    const machines = plan.stateMachines.map((m) => m.arn).sort();
    for (const metric of ['ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionsAborted'])
      expect(watched('AWS/States', metric)).toEqual(machines);
  });

  it('does notify the alarm topic, with no subscriber by default, and treat missing data as not breaching', () => {
    // Prepare
    const topic = plan.topics.find((t) => t.logicalId === 'AlarmTopic');

    // Assess
    expect(topic?.arn).toMatch(/^arn:aws:sns:us-east-1:111122223333:ami-factory-dev-AlarmTopic-/);
    expect(topic?.subscriptions).toEqual([]);
    expect(plan.alarms.length).toBeGreaterThan(0);
    for (const a of plan.alarms) {
      expect([a.logicalId, a.alarmActions]).toEqual([a.logicalId, [topic?.arn]]);
      expect([a.logicalId, a.treatMissingData]).toEqual([a.logicalId, 'notBreaching']);
    }
  });
});
