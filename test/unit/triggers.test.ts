import { readFileSync } from 'node:fs';
import { BuildRequestSchema } from '../../functions/lib/build-request.js';
import { parseFactoryConfig } from '../../functions/lib/config.js';
import { ValidationError } from '../../functions/lib/errors.js';
import { buildFromBuildRequestedEvent } from '../../functions/lib/triggers/build-requested.js';
import { FamilyTriggersSchema, ssmParameterNeedsBaseImage, type TriggerFactoryConfig } from '../../functions/lib/triggers/config.js';
import { EXECUTION_NAME_MAX, buildIdFromEvent, executionNameFor } from '../../functions/lib/triggers/ids.js';
import { buildsFromParameterChange } from '../../functions/lib/triggers/parameter-change.js';
import { buildFromSchedule } from '../../functions/lib/triggers/schedule.js';
import { scheduleTargetInput } from '../fixtures/schedules.js';

const AL2023 = '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';
const base = parseFactoryConfig(readFileSync('factory.config.yml', 'utf8'));
const al = base.families['al2023-base'];
const web = base.families.web;
if (al === undefined || web === undefined) throw new Error('factory.config.yml lacks the demo families');
const config: TriggerFactoryConfig = {
  families: {
    web: { ...web, triggers: { schedule: 'cron(0 7 ? * MON *)', ssmParameter: AL2023 } },
    'al2023-base': { ...al, triggers: { ssmParameter: AL2023 } },
    'al2023-arm': { ...al, triggers: { ssmParameter: AL2023.replace(/^\//, '') } },
    'al2023-other': { ...al, triggers: { ssmParameter: '/golden/base-ami' } },
    'al2023-none': { ...al, triggers: {} },
  },
};

function buildRequested(detail: Record<string, unknown>, id = '6a7e8feb-b491-4cf7-a9f1-bf3703467718'): Record<string, unknown> {
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

function parameterChange(name: string, operation = 'Update', id = 'ba5e0000-1111-2222-3333-444455556666'): Record<string, unknown> {
  return {
    version: '0',
    id,
    'detail-type': 'Parameter Store Change',
    source: 'aws.ssm',
    account: '111122223333',
    time: '2026-11-24T03:15:00Z',
    region: 'us-east-1',
    resources: [`arn:aws:ssm:us-east-1:111122223333:parameter${name}`],
    detail: { name, type: 'String', operation },
  };
}

describe('trigger ids', () => {
  it('does derive the same build id when the event id repeats and a different one otherwise', () => {
    const a = buildIdFromEvent('event', 'e-1', 'web');
    expect(buildIdFromEvent('event', 'e-1', 'web')).toBe(a);
    expect(buildIdFromEvent('event', 'e-2', 'web')).not.toBe(a);
    expect(buildIdFromEvent('event', 'e-1', 'other')).not.toBe(a);
    expect(buildIdFromEvent('schedule', 'e-1', 'web')).not.toBe(a);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it('does keep execution names within 80 characters of [A-Za-z0-9-_] when the family is long', () => {
    // Prepare
    const family = 'f'.repeat(63);
    const id = buildIdFromEvent('event', 'x', family);
    // Act
    const name = executionNameFor(family, id);
    // Assess
    expect(name.length).toBeLessThanOrEqual(EXECUTION_NAME_MAX);
    expect(name).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
    expect(name.endsWith(id)).toBe(true);
    expect(executionNameFor('web', 'abc.def')).toBe('web-abc_def');
  });
});

describe('Build Requested trigger', () => {
  it('does make a BuildRequest for the family when the event is valid', () => {
    // Act
    const { request, executionName } = buildFromBuildRequestedEvent(buildRequested({ family: 'web', requestedBy: 'alice' }), base);
    // Assess
    expect(BuildRequestSchema.parse(request)).toEqual(request);
    expect(request.family).toBe('web');
    expect(request.requestedAt).toBe('2026-11-23T07:00:00Z');
    expect(request.trigger).toEqual({ type: 'event', eventId: '6a7e8feb-b491-4cf7-a9f1-bf3703467718', actor: 'alice' });
    expect(request.copies.map((c) => c.region)).toEqual(['us-west-2', 'eu-west-1']);
    expect(executionName).toBe(`web-${request.buildId}`);
  });

  it('does make the same execution name and request when the event is delivered twice', () => {
    // Prepare
    const event = buildRequested({ family: 'web', regions: ['eu-west-1'] });
    // Act
    const first = buildFromBuildRequestedEvent(event, base);
    const second = buildFromBuildRequestedEvent(structuredClone(event), base);
    const other = buildFromBuildRequestedEvent(buildRequested({ family: 'web' }, 'another-event-id'), base);
    // Assess
    expect(second).toEqual(first);
    expect(other.executionName).not.toBe(first.executionName);
  });

  it('does apply allowed overrides when regions and reboot stay within the family', () => {
    const { request } = buildFromBuildRequestedEvent(buildRequested({ family: 'web', regions: ['eu-west-1'], reboot: false }), base);
    expect(request.copies).toEqual([{ region: 'eu-west-1', kmsKeyId: 'alias/ami-factory' }]);
    expect(request.source.type === 'instance' && request.source.noReboot).toBe(true);
  });

  it('does refuse overrides when they are outside what the family allows', () => {
    expect(() => buildFromBuildRequestedEvent(buildRequested({ family: 'web', regions: ['ap-south-1'] }), base)).toThrow(
      /does not copy to ap-south-1/,
    );
    expect(() => buildFromBuildRequestedEvent(buildRequested({ family: 'al2023-base', reboot: true }), base)).toThrow(/instance sources/);
    expect(() => buildFromBuildRequestedEvent(buildRequested({ family: 'nope' }), base)).toThrow(/Unknown family "nope"/);
  });

  it('does throw ValidationError when the event is not a Build Requested event', () => {
    const wrongSource = { ...buildRequested({ family: 'web' }), source: 'someone-else' };
    const wrongType = { ...buildRequested({ family: 'web' }), 'detail-type': 'Build Started' };
    const extraDetail = buildRequested({ family: 'web', instanceId: 'i-0123456789abcdef0' });
    const badRegion = buildRequested({ family: 'web', regions: [] });
    for (const event of [wrongSource, wrongType, extraDetail, badRegion, {}, null]) {
      expect(() => buildFromBuildRequestedEvent(event, base)).toThrow(ValidationError);
    }
  });
});

describe('Parameter Store Change trigger', () => {
  it('does build every base-image family on the parameter when it is updated', () => {
    // Act
    const builds = buildsFromParameterChange(parameterChange(AL2023), config);
    // Assess: web is an instance family, so its ssmParameter is ignored.
    expect(builds.map((b) => b.request.family)).toEqual(['al2023-base', 'al2023-arm']);
    for (const b of builds) {
      expect(BuildRequestSchema.parse(b.request)).toEqual(b.request);
      expect(b.request.trigger).toEqual({ type: 'event', eventId: 'ba5e0000-1111-2222-3333-444455556666', actor: `ssm:${AL2023}` });
      expect(b.request.requestedAt).toBe('2026-11-24T03:15:00Z');
      expect(b.executionName).toBe(`${b.request.family}-${b.request.buildId}`);
    }
    expect(new Set(builds.map((b) => b.request.buildId)).size).toBe(2);
  });

  it('does make the same executions when the event is delivered twice', () => {
    const event = parameterChange(AL2023, 'Create');
    expect(buildsFromParameterChange(structuredClone(event), config)).toEqual(buildsFromParameterChange(event, config));
  });

  it('does build nothing when no family uses the parameter or it was deleted', () => {
    expect(buildsFromParameterChange(parameterChange('/unrelated/param'), config)).toEqual([]);
    expect(buildsFromParameterChange(parameterChange(AL2023, 'Delete'), config)).toEqual([]);
    // The shipped config rebuilds al2023-base when its parameter changes.
    expect(buildsFromParameterChange(parameterChange(AL2023), base).map((b) => b.request.family)).toEqual(['al2023-base']);
  });

  it('does throw ValidationError when the event is not a Parameter Store Change', () => {
    const wrong = { ...parameterChange(AL2023), source: 'aws.ec2' };
    expect(() => buildsFromParameterChange(wrong, config)).toThrow(ValidationError);
  });
});

describe('scheduled trigger', () => {
  it('does build the family named in the input when the schedule fires', () => {
    // Act
    const { request, executionName } = buildFromSchedule({ family: 'web', id: 'sched-event-1', time: '2026-11-23T07:00:00Z' }, base);
    // Assess
    expect(BuildRequestSchema.parse(request)).toEqual(request);
    expect(request.trigger).toEqual({ type: 'schedule', eventId: 'sched-event-1' });
    expect(request.buildId).toBe(buildIdFromEvent('schedule', 'sched-event-1', 'web'));
    expect(executionName).toBe(`web-${request.buildId}`);
  });

  it('does make the same execution name when the scheduled event is delivered twice', () => {
    const input = { family: 'al2023-base', id: 'sched-event-2', time: '2026-11-23T07:00:00Z' };
    expect(buildFromSchedule({ ...input }, base)).toEqual(buildFromSchedule(input, base));
  });

  it('does refuse the input when the family is unknown or fields are missing', () => {
    expect(() => buildFromSchedule({ family: 'nope', id: 'x', time: '2026-11-23T07:00:00Z' }, base)).toThrow(/Unknown family/);
    expect(() => buildFromSchedule({ family: 'web', time: '2026-11-23T07:00:00Z' }, base)).toThrow(ValidationError);
    expect(() => buildFromSchedule({ family: 'web', id: 'x', time: 'monday' }, base)).toThrow(ValidationError);
  });

  it('does produce an input transformer whose output the trigger accepts', () => {
    // Prepare
    const { InputPathsMap, InputTemplate } = scheduleTargetInput('web');
    const scheduled = { id: 'e1', time: '2026-11-23T07:00:00Z' };
    // Act: substitute like EventBridge does (a string value is inserted as a JSON string).
    const rendered = InputTemplate.replace(/<(\w+)>/g, (_, k: string) => {
      const path = InputPathsMap[k] ?? '';
      return JSON.stringify(scheduled[path.replace('$.', '') as 'id' | 'time']);
    });
    // Assess
    expect(buildFromSchedule(JSON.parse(rendered), base).request.trigger.eventId).toBe('e1');
    expect(() => scheduleTargetInput('Bad"Family')).toThrow();
  });
});

describe('trigger config', () => {
  it('does accept schedules and parameter names when they are well formed', () => {
    expect(FamilyTriggersSchema.safeParse({ schedule: 'cron(0 7 ? * MON *)', ssmParameter: AL2023 }).success).toBe(true);
    expect(FamilyTriggersSchema.safeParse({ schedule: 'rate(1 day)' }).success).toBe(true);
    expect(FamilyTriggersSchema.safeParse({ schedule: 'rate(7 days)' }).success).toBe(true);
  });

  it('does refuse schedules and parameter names when they are malformed', () => {
    for (const t of [
      { schedule: 'rate(1 days)' },
      { schedule: 'every monday' },
      { schedule: 'cron(0 7 * *)' },
      { ssmParameter: 'has space' },
      { ssmParameter: '/aws/mine' },
      { when: 'now' },
    ]) {
      expect(FamilyTriggersSchema.safeParse(t).success).toBe(false);
    }
  });

  it('does allow an ssmParameter only when the family is built from a base image', () => {
    expect(ssmParameterNeedsBaseImage({ source: { type: 'base-image' }, triggers: { ssmParameter: AL2023 } })).toBe(true);
    expect(ssmParameterNeedsBaseImage({ source: { type: 'instance' }, triggers: { ssmParameter: AL2023 } })).toBe(false);
    expect(ssmParameterNeedsBaseImage({ source: { type: 'instance' } })).toBe(true);
  });
});
