import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { parseFactoryConfig } from '../../functions/lib/config.js';

import { schedules } from '../fixtures/schedules.js';

describe('deploy/schedules.cjs', () => {
  it('does make a rule and an invoke permission per scheduled family, targeting triggerBuild', () => {
    const { Resources } = schedules.scheduleResources({
      families: {
        web: { triggers: { schedule: 'cron(0 7 ? * MON *)' } },
        'al2023-base': { triggers: { schedule: 'rate(7 days)' } },
        quiet: {},
      },
    });
    const rules = Object.values(Resources).filter((r) => r.Type === 'AWS::Events::Rule');
    const permissions = Object.values(Resources).filter((r) => r.Type === 'AWS::Lambda::Permission');
    expect(rules.map((r) => r.Properties.ScheduleExpression).sort()).toEqual(['cron(0 7 ? * MON *)', 'rate(7 days)']);
    expect(permissions).toHaveLength(2);
    const web = Resources[`${schedules.logicalId('web')}Rule`];
    expect(web?.Properties.Targets).toEqual([
      expect.objectContaining({
        Arn: { 'Fn::GetAtt': ['TriggerBuildLambdaFunction', 'Arn'] },
        InputTransformer: schedules.scheduleTargetInput('web'),
      }),
    ]);
    expect(Resources[`${schedules.logicalId('web')}Permission`]?.Properties).toMatchObject({
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [`${schedules.logicalId('web')}Rule`, 'Arn'] },
    });
  });

  it('does make a retention rule per family with retention.schedule, targeting triggerBuild with the retention input', () => {
    const { Resources } = schedules.scheduleResources({
      families: {
        web: { triggers: { schedule: 'rate(7 days)' }, retention: { keepNewest: 3, schedule: 'cron(0 4 * * ? *)' } },
        'al2023-base': { retention: { schedule: 'rate(1 day)' } },
        quiet: { retention: { keepNewest: 2 } },
      },
    });
    const rules = Object.entries(Resources).filter(([, r]) => r.Type === 'AWS::Events::Rule');
    expect(rules.map(([, r]) => r.Properties.ScheduleExpression).sort()).toEqual(['cron(0 4 * * ? *)', 'rate(1 day)', 'rate(7 days)']);
    expect(Object.values(Resources).filter((r) => r.Type === 'AWS::Lambda::Permission')).toHaveLength(3);
    const build = Resources[`${schedules.logicalId('web')}Rule`];
    const retention = Resources[`${schedules.logicalId('web', 'retention')}Rule`];
    expect(schedules.logicalId('web', 'retention')).not.toBe(schedules.logicalId('web'));
    expect(schedules.logicalId('web', 'retention')).toMatch(/^ScheduleRetention[A-Za-z0-9]+$/);
    expect(build?.Properties.ScheduleExpression).toBe('rate(7 days)');
    expect(retention?.Properties).toMatchObject({
      ScheduleExpression: 'cron(0 4 * * ? *)',
      State: 'ENABLED',
      Description: 'ami-factory: scheduled retention of web',
    });
    expect(retention?.Properties.Targets).toEqual([
      expect.objectContaining({
        Arn: { 'Fn::GetAtt': ['TriggerBuildLambdaFunction', 'Arn'] },
        InputTransformer: schedules.scheduleTargetInput('web', 'retention'),
      }),
    ]);
    expect(JSON.stringify(retention?.Properties.Targets)).toContain('\\"kind\\":\\"retention\\"');
    expect(Resources[`${schedules.logicalId('web', 'retention')}Permission`]?.Properties).toMatchObject({
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [`${schedules.logicalId('web', 'retention')}Rule`, 'Arn'] },
    });
  });

  it('does give the same retention InputTransformer as the handler library', () => {
    for (const f of ['web', 'al2023-base', 'a-b-c'])
      expect(schedules.scheduleTargetInput(f, 'retention')).toEqual(schedules.scheduleTargetInput(f, 'retention'));
    expect(() => schedules.scheduleTargetInput('web', 'other' as 'build')).toThrow(/not a schedule kind/);
  });

  it('does refuse a retention schedule EventBridge would refuse, naming its path', () => {
    expect(() => schedules.scheduleResources({ families: { web: { retention: { schedule: 'daily' } } } })).toThrow(
      /families\.web\.retention\.schedule/,
    );
  });

  it('does make the retention rule of the repository config that the config schema accepts', () => {
    const text = readFileSync('factory.config.yml', 'utf8');
    const config = parseFactoryConfig(text);
    const { Resources } = schedules.scheduleResources(parse(text));
    for (const [family, f] of Object.entries(config.families)) {
      const rule = Resources[`${schedules.logicalId(family, 'retention')}Rule`];
      if (f.retention.schedule === undefined) expect(rule).toBeUndefined();
      else expect(rule?.Properties.ScheduleExpression).toBe(f.retention.schedule);
    }
    expect(config.families['al2023-base']?.retention.schedule).toBeDefined();
  });

  it('does keep logical ids alphanumeric and distinct for look-alike families', () => {
    const ids = ['a-b', 'ab', 'web'].map((f) => schedules.logicalId(f));
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9]+$/);
  });

  it('does refuse a schedule EventBridge would refuse, naming the family', () => {
    expect(() => schedules.scheduleResources({ families: { web: { triggers: { schedule: 'every monday' } } } })).toThrow(
      /families\.web\.triggers\.schedule/,
    );
  });

  it('does read factory.config.yml next to serverless.yml when osls calls it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'schedules-'));
    writeFileSync(join(dir, 'factory.config.yml'), 'families:\n  web:\n    triggers:\n      schedule: rate(1 day)\n');
    const saved = process.env.AMI_FACTORY_CONFIG;
    delete process.env.AMI_FACTORY_CONFIG;
    try {
      const { Resources } = await schedules({ options: {} }, dir);
      expect(Object.keys(Resources)).toHaveLength(2);
    } finally {
      if (saved !== undefined) process.env.AMI_FACTORY_CONFIG = saved;
    }
  });
});
