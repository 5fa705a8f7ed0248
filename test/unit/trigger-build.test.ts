import { readFileSync } from 'node:fs';
import type { Image } from '@aws-sdk/client-ec2';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { parse, stringify } from 'yaml';
import { parseFactoryConfig, type FactoryConfig } from '../../functions/lib/config.js';
import { resetEnv } from '../../functions/lib/env.js';
import { Logger } from '../../functions/lib/logger.js';
import { distributionExecutionName } from '../../functions/lib/distribution.js';
import { imageName } from '../../functions/lib/naming.js';
import { executionNameFor } from '../../functions/lib/triggers/ids.js';
import {
  BUILD_REQUEST_REJECTED,
  executionArnFor,
  startBuildExecution,
  triggerBuilds,
  type TriggerDeps,
} from '../../functions/lib/triggers/runtime.js';
import { awsError } from '../fixtures.js';

const SM = 'arn:aws:states:us-east-1:111122223333:stateMachine:image-factory';
const sfn = mockClient(SFNClient);
const events = mockClient(EventBridgeClient);

/** The demo config plus triggers: web on a schedule, two base-image families on one parameter. */
function triggerConfig(): FactoryConfig {
  const doc = parse(readFileSync('factory.config.yml', 'utf8')) as { families: Record<string, Record<string, unknown>> };
  const al = doc.families['al2023-base'] as Record<string, unknown>;
  doc.families.web = { ...doc.families.web, triggers: { schedule: 'rate(7 days)' } };
  doc.families['al2023-base'] = { ...al, triggers: { ssmParameter: '/golden/al2023-base-ami' } };
  doc.families['al2023-arm'] = { ...al, triggers: { ssmParameter: 'golden/al2023-base-ami' } };
  doc.families['al2023-other'] = { ...al, triggers: { ssmParameter: '/golden/other' } };
  return parseFactoryConfig(stringify(doc));
}

const config = triggerConfig();
/** The images describeImage finds, by `<region>/<imageId>`. */
const images = new Map<string, Image>();
const deps = (): TriggerDeps => ({
  config,
  sfn: new SFNClient({}),
  events: new EventBridgeClient({}),
  stateMachineArn: SM,
  retentionStateMachineArn: 'arn:aws:states:us-east-1:111122223333:stateMachine:image-retention',
  bus: 'ami-factory',
  describeImage: async (region, imageId) => Promise.resolve(images.get(`${region}/${imageId}`)),
  logger: new Logger('test'),
});

function buildRequested(detail: Record<string, unknown>, id = 'e5d1c0de-0000-4000-8000-000000000001'): Record<string, unknown> {
  return {
    version: '0',
    id,
    'detail-type': 'Build Requested',
    source: 'ami-factory',
    account: '111122223333',
    time: '2026-11-23T07:00:00Z',
    region: 'us-east-1',
    resources: [],
    detail,
  };
}

function startedInputs(): { name: string | undefined; input: Record<string, unknown> }[] {
  return sfn
    .commandCalls(StartExecutionCommand)
    .map((c) => ({ name: c.args[0].input.name, input: JSON.parse(c.args[0].input.input ?? '{}') as Record<string, unknown> }));
}

describe('trigger-build', () => {
  beforeEach(() => {
    sfn.reset();
    events.reset();
    sfn
      .on(StartExecutionCommand)
      .callsFake((input: { name: string }) => ({ executionArn: executionArnFor(SM, input.name), startDate: new Date() }));
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'x' }] });
  });

  it('does start one execution named after the event for a Build Requested event', async () => {
    const r = await triggerBuilds(
      deps(),
      buildRequested({ family: 'web', regions: ['us-west-2'], reboot: false, requestedBy: 'pipeline' }),
    );
    expect(r.rejected).toBeNull();
    expect(r.started).toHaveLength(1);
    const [call] = startedInputs();
    expect(call?.name).toBe(executionNameFor('web', r.started[0]?.buildId ?? ''));
    expect(call?.input).toMatchObject({
      family: 'web',
      copies: [{ region: 'us-west-2' }],
      source: { noReboot: true },
      trigger: { type: 'event', actor: 'pipeline', eventId: 'e5d1c0de-0000-4000-8000-000000000001' },
    });
  });

  it('does treat ExecutionAlreadyExists for the same name as the duplicate delivery it is', async () => {
    const event = buildRequested({ family: 'web' });
    const first = await triggerBuilds(deps(), event);
    sfn.on(StartExecutionCommand).rejects(awsError('ExecutionAlreadyExists', 'Execution Already Exists'));
    const second = await triggerBuilds(deps(), event);
    expect(second.started).toEqual([{ ...first.started[0], duplicate: true }]);
    expect(startedInputs().map((c) => c.name)).toEqual([first.started[0]?.executionName, first.started[0]?.executionName]);
  });

  it('does let other StartExecution errors propagate so EventBridge retries', async () => {
    sfn.on(StartExecutionCommand).rejects(awsError('ThrottlingException'));
    await expect(triggerBuilds(deps(), buildRequested({ family: 'web' }))).rejects.toMatchObject({ name: 'ThrottlingException' });
  });

  it('does publish BuildRequestRejected and start nothing when the override is refused', async () => {
    const r = await triggerBuilds(deps(), buildRequested({ family: 'web', regions: ['ap-southeast-2'] }));
    expect(r.started).toEqual([]);
    expect(r.rejected).toMatchObject({
      trigger: 'Build Requested',
      family: 'web',
      reason: expect.stringContaining('does not copy to ap-southeast-2'),
    });
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
    expect(events).toHaveReceivedCommandWith(PutEventsCommand, {
      Entries: [expect.objectContaining({ Source: 'ami-factory', DetailType: BUILD_REQUEST_REJECTED, EventBusName: 'ami-factory' })],
    });
  });

  it('does reject reboot on a fresh build and unknown families the same way', async () => {
    const a = await triggerBuilds(deps(), buildRequested({ family: 'al2023-base', reboot: true }));
    const b = await triggerBuilds(deps(), buildRequested({ family: 'nope' }));
    expect(a.rejected?.reason).toMatch(/reboot/);
    expect(b.rejected?.reason).toMatch(/Unknown family "nope"/);
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
    expect(events).toHaveReceivedCommandTimes(PutEventsCommand, 2);
  });

  describe('Distribute Requested', () => {
    const CREATED_AT = '2026-11-23T07:42:10.000Z';
    const BUILD = '3f2a1b2c-0000-4000-8000-000000000001';
    const IMAGE = 'ami-0123456789abcdef0';
    const distributeRequested = (detail: Record<string, unknown>, id?: string): Record<string, unknown> => ({
      ...buildRequested(detail, id),
      'detail-type': 'Distribute Requested',
    });
    beforeEach(() => {
      images.clear();
      images.set(`us-east-1/${IMAGE}`, {
        ImageId: IMAGE,
        Name: imageName('web', CREATED_AT, BUILD),
        State: 'available',
        Tags: [
          { Key: 'ami-factory:managed', Value: 'true' },
          { Key: 'ami-factory:family', Value: 'web' },
          { Key: 'ami-factory:build-id', Value: BUILD },
          { Key: 'ami-factory:created-at', Value: CREATED_AT },
        ],
      });
    });

    it("does start one distribution of the image's build, named after the event", async () => {
      const event = distributeRequested({ family: 'web', imageId: IMAGE, regions: ['eu-west-1'], requestedBy: 'pipeline' });
      const r = await triggerBuilds(deps(), event);
      expect(r.rejected).toBeNull();
      const [call] = startedInputs();
      expect(call?.input).toMatchObject({
        buildId: BUILD,
        requestedAt: CREATED_AT,
        copies: [{ region: 'eu-west-1', kmsKeyId: 'alias/ami-factory' }],
        distribute: { imageId: IMAGE, runId: expect.stringMatching(/^[0-9a-f-]{36}$/) },
        trigger: { type: 'event', actor: 'pipeline', eventId: 'e5d1c0de-0000-4000-8000-000000000001' },
      });
      const runId = (call?.input.distribute as { runId: string }).runId;
      expect(call?.name).toBe(distributionExecutionName('web', runId));
      // A duplicate delivery makes the same execution; another event another one.
      await triggerBuilds(deps(), event);
      await triggerBuilds(deps(), distributeRequested({ family: 'web', imageId: IMAGE }, 'e5d1c0de-0000-4000-8000-000000000002'));
      const names = startedInputs().map((c) => c.name);
      expect(names[1]).toBe(names[0]);
      expect(names[2]).not.toBe(names[0]);
    });

    it.each([
      ['a malformed detail', { family: 'web', imageId: 'i-0123456789abcdef0' }, /Invalid Distribute Requested event/],
      ['a detail without an image', { family: 'web' }, /Invalid Distribute Requested event/],
      ['an unknown field', { family: 'web', imageId: IMAGE, reboot: true }, /Invalid Distribute Requested event/],
      ['an image that is not there', { family: 'web', imageId: 'ami-0000000000000000f' }, /is not an image of this account in us-east-1/],
      ['an image of another family', { family: 'al2023-base', imageId: IMAGE }, /is not an image of this account|not an image of family/],
      ['a region the family does not copy to', { family: 'web', imageId: IMAGE, regions: ['ap-south-1'] }, /does not copy to ap-south-1/],
    ])('does reject %s with BuildRequestRejected and start nothing', async (_what, detail, reason) => {
      const r = await triggerBuilds(deps(), distributeRequested(detail));
      expect(r.started).toEqual([]);
      expect(r.rejected).toMatchObject({ trigger: 'Distribute Requested', reason: expect.stringMatching(reason) });
      expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
      expect(events).toHaveReceivedCommandWith(PutEventsCommand, {
        Entries: [expect.objectContaining({ DetailType: BUILD_REQUEST_REJECTED })],
      });
    });
  });

  it('does rebuild every family on a changed parameter, and nothing on a delete', async () => {
    const change = (operation: string): Record<string, unknown> => ({
      version: '0',
      id: 'aa5e0000-1111-2222-3333-444455556666',
      'detail-type': 'Parameter Store Change',
      source: 'aws.ssm',
      account: '111122223333',
      time: '2026-11-24T03:15:00Z',
      region: 'us-east-1',
      resources: [],
      detail: { name: '/golden/al2023-base-ami', type: 'String', operation },
    });
    const r = await triggerBuilds(deps(), change('Update'));
    expect(r.started.map((s) => s.family).sort()).toEqual(['al2023-arm', 'al2023-base']);
    const none = await triggerBuilds(deps(), change('Delete'));
    expect(none.started).toEqual([]);
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 2);
  });

  it('does start the family of a scheduled input with the schedule as trigger', async () => {
    const r = await triggerBuilds(deps(), { family: 'web', id: 'sched-1', time: '2026-11-23T07:00:00Z' });
    expect(r.trigger).toBe('Scheduled Event');
    expect(startedInputs()[0]?.input).toMatchObject({
      family: 'web',
      requestedAt: '2026-11-23T07:00:00Z',
      trigger: { type: 'schedule', eventId: 'sched-1' },
    });
  });

  it('does refuse an event it does not know as a ValidationError', async () => {
    await expect(triggerBuilds(deps(), { source: 'aws.ec2', 'detail-type': 'x' })).rejects.toMatchObject({ name: 'ValidationError' });
  });

  it('does return the existing execution when StartExecution says it already exists', async () => {
    sfn.on(StartExecutionCommand).rejects(awsError('ExecutionAlreadyExists'));
    const request = { buildId: 'b-00000001', family: 'web' } as Parameters<typeof startBuildExecution>[2]['request'];
    const s = await startBuildExecution(new SFNClient({}), SM, { request, executionName: 'web-b-00000001' });
    expect(s).toEqual({
      buildId: 'b-00000001',
      family: 'web',
      executionName: 'web-b-00000001',
      executionArn: `${SM.replace(':stateMachine:', ':execution:')}:web-b-00000001`,
      duplicate: true,
    });
  });
});

describe('trigger-build handler', () => {
  it('does run a delivery through middy with the config named by AMI_FACTORY_CONFIG', async () => {
    sfn.reset();
    sfn.on(StartExecutionCommand).resolves({ executionArn: `${SM}:x`, startDate: new Date() });
    process.env.AMI_FACTORY_STATE_MACHINE_ARN = SM;
    process.env.AMI_FACTORY_RETENTION_STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:111122223333:stateMachine:image-retention';
    process.env.AMI_FACTORY_CONFIG = 'factory.config.yml';
    resetEnv();
    const { handler } = await import('../../functions/trigger-build.js');
    const { lambdaContext } = await import('../fixtures.js');
    const out = await handler(buildRequested({ family: 'web' }), lambdaContext);
    expect(out.started).toHaveLength(1);
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, { stateMachineArn: SM });
  });
});
