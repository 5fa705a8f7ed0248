import { readFileSync } from 'node:fs';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { parse, stringify } from 'yaml';
import { parseFactoryConfig, type FactoryConfig } from '../../functions/lib/config.js';
import { Logger } from '../../functions/lib/logger.js';
import { RetentionRequestSchema, retentionExecutionName } from '../../functions/lib/retention/request.js';
import { buildFromSchedule, retentionFromSchedule } from '../../functions/lib/triggers/schedule.js';
import { scheduleTargetInput } from '../fixtures/schedules.js';
import { executionArnFor, triggerBuilds, type TriggerDeps } from '../../functions/lib/triggers/runtime.js';
import { awsError } from '../fixtures.js';

/**
 * A family's `retention.schedule`: the rule's input transformer adds `"kind":"retention"`, and
 * trigger-build starts the image-retention state machine (not a build) under a name derived
 * from the Scheduled Event's id, so a duplicate delivery starts one run.
 */
const SM = 'arn:aws:states:us-east-1:111122223333:stateMachine:image-factory';
const RSM = 'arn:aws:states:us-east-1:111122223333:stateMachine:image-retention';
const sfn = mockClient(SFNClient);
const events = mockClient(EventBridgeClient);

function retentionConfig(): FactoryConfig {
  const doc = parse(readFileSync('factory.config.yml', 'utf8')) as { families: Record<string, Record<string, unknown>> };
  const web = doc.families.web as { retention?: Record<string, unknown> };
  doc.families.web = { ...doc.families.web, retention: { ...web.retention, schedule: 'cron(0 4 * * ? *)' } };
  return parseFactoryConfig(stringify(doc));
}
const config = retentionConfig();

const deps = (over: Partial<TriggerDeps> = {}): TriggerDeps => ({
  config,
  sfn: new SFNClient({}),
  events: new EventBridgeClient({}),
  stateMachineArn: SM,
  retentionStateMachineArn: RSM,
  bus: 'ami-factory',
  describeImage: async () => Promise.resolve(undefined),
  logger: new Logger('test'),
  ...over,
});

/** What EventBridge hands the target: the rule's InputTemplate with the Scheduled Event's id and time. */
function scheduledInput(family: string, eventId: string, time = '2026-11-23T04:00:00Z'): unknown {
  const { InputTemplate } = scheduleTargetInput(family, 'retention');
  return JSON.parse(InputTemplate.replace('<id>', JSON.stringify(eventId)).replace('<time>', JSON.stringify(time)));
}

function started(): { stateMachineArn?: string; name?: string; input: unknown }[] {
  return sfn.commandCalls(StartExecutionCommand).map((c) => ({
    stateMachineArn: c.args[0].input.stateMachineArn,
    name: c.args[0].input.name,
    input: JSON.parse(c.args[0].input.input ?? '{}') as unknown,
  }));
}

describe('scheduled retention trigger', () => {
  beforeEach(() => {
    sfn.reset();
    events.reset();
    sfn.on(StartExecutionCommand).callsFake((i: { stateMachineArn: string; name: string }) => ({
      executionArn: executionArnFor(i.stateMachineArn, i.name),
      startDate: new Date(),
    }));
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'x' }] });
  });

  it('does make the input transformer tell a retention run from a build', () => {
    expect(scheduleTargetInput('web', 'retention')).toEqual({
      InputPathsMap: { id: '$.id', time: '$.time' },
      InputTemplate: '{"family":"web","kind":"retention","id":<id>,"time":<time>}',
    });
    expect(scheduleTargetInput('web')).toEqual(scheduleTargetInput('web', 'build'));
    expect(scheduleTargetInput('web').InputTemplate).not.toContain('retention');
    expect(() => scheduleTargetInput('web', 'other' as 'build')).toThrow();
  });

  it('does start the image-retention state machine with an applying RetentionRequest when the schedule fires', async () => {
    const r = await triggerBuilds(deps(), scheduledInput('web', 'sched-r-1'));
    expect(r.trigger).toBe('Scheduled Event');
    expect(r.rejected).toBeNull();
    expect(r.started).toEqual([]);
    const [call, ...more] = started();
    expect(more).toEqual([]);
    expect(call?.stateMachineArn).toBe(RSM);
    const request = RetentionRequestSchema.parse(call?.input);
    expect(request).toMatchObject({
      family: 'web',
      dryRun: false,
      requestedAt: '2026-11-23T04:00:00Z',
      regions: ['us-east-1', 'us-west-2', 'eu-west-1'],
      policy: { keepNewest: 3, maxAgeDays: 365, deprecateAfterDays: 180, disableGraceDays: 14 },
      trigger: { type: 'schedule', eventId: 'sched-r-1' },
    });
    expect(call?.name).toBe(retentionExecutionName('web', request.runId));
    expect(r.retention).toEqual({
      runId: request.runId,
      family: 'web',
      dryRun: false,
      executionName: call?.name,
      executionArn: executionArnFor(RSM, call?.name ?? ''),
      duplicate: false,
    });
  });

  it('does start one run when the scheduled event is delivered twice', async () => {
    const first = await triggerBuilds(deps(), scheduledInput('web', 'sched-r-2'));
    // Step Functions refuses the second StartExecution of the same name.
    sfn.on(StartExecutionCommand).rejects(awsError('ExecutionAlreadyExists'));
    const second = await triggerBuilds(deps(), scheduledInput('web', 'sched-r-2'));
    const names = started().map((c) => c.name);
    expect(names).toHaveLength(2);
    expect(names[1]).toBe(names[0]);
    expect(second.retention).toMatchObject({
      runId: first.retention?.runId,
      executionName: first.retention?.executionName,
      duplicate: true,
    });
    expect(first.retention?.duplicate).toBe(false);
  });

  it('does derive the run id from the event id: the same event names the same run, another event another run', () => {
    const a = retentionFromSchedule(scheduledInput('web', 'sched-r-3'), config);
    const again = retentionFromSchedule(scheduledInput('web', 'sched-r-3'), config);
    const b = retentionFromSchedule(scheduledInput('web', 'sched-r-4'), config);
    expect(again.executionName).toBe(a.executionName);
    expect(again.request.runId).toBe(a.request.runId);
    expect(b.request.runId).not.toBe(a.request.runId);
    expect(a.executionName.length).toBeLessThanOrEqual(80);
    expect(a.executionName).toMatch(/^retention-web-[0-9a-f-]{36}$/);
  });

  it('does publish BuildRequestRejected and start nothing when the family is unknown', async () => {
    const r = await triggerBuilds(deps(), scheduledInput('nosuch', 'sched-r-7'));
    expect(r.retention).toBeUndefined();
    expect(r.rejected).toMatchObject({ trigger: 'Scheduled Event', family: 'nosuch', eventId: 'sched-r-7' });
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
    expect(events).toHaveReceivedCommandTimes(PutEventsCommand, 1);
  });

  it('does keep builds and retention runs apart: each parser refuses the other kind', () => {
    expect(() => buildFromSchedule(scheduledInput('web', 'sched-r-8'), config)).toThrow(/retention run, not a build/);
    const build = { family: 'web', id: 'sched-b-1', time: '2026-11-23T04:00:00Z' };
    expect(() => retentionFromSchedule(build, config)).toThrow(/a build, not a retention run/);
    expect(buildFromSchedule(build, config).request.family).toBe('web');
  });

  it('does still start a build for a scheduled input without a kind', async () => {
    const r = await triggerBuilds(deps(), { family: 'web', id: 'sched-b-2', time: '2026-11-23T04:00:00Z' });
    expect(r.started).toHaveLength(1);
    expect(r.retention).toBeUndefined();
    expect(started()[0]?.stateMachineArn).toBe(SM);
  });
});
