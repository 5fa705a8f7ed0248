import { createRequire } from 'node:module';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scheduleTargetInput } from '../../functions/lib/triggers/schedule.js';

interface SchedulesModule {
  (vars: unknown, serviceDir?: string): Promise<{ Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> }>;
  scheduleResources(config: unknown): { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
  scheduleTargetInput(family: string): unknown;
  logicalId(family: string): string;
}
const schedules = createRequire(import.meta.url)('../../deploy/schedules.cjs') as SchedulesModule;

describe('deploy/schedules.cjs', () => {
  it('does make a rule and an invoke permission per scheduled family, targeting triggerBuild', () => {
    const { Resources } = schedules.scheduleResources({
      families: { web: { triggers: { schedule: 'cron(0 7 ? * MON *)' } }, 'al2023-base': { triggers: { schedule: 'rate(7 days)' } }, quiet: {} },
    });
    const rules = Object.values(Resources).filter((r) => r.Type === 'AWS::Events::Rule');
    const permissions = Object.values(Resources).filter((r) => r.Type === 'AWS::Lambda::Permission');
    expect(rules.map((r) => r.Properties.ScheduleExpression).sort()).toEqual(['cron(0 7 ? * MON *)', 'rate(7 days)']);
    expect(permissions).toHaveLength(2);
    const web = Resources[`${schedules.logicalId('web')}Rule`];
    expect(web?.Properties.Targets).toEqual([
      expect.objectContaining({ Arn: { 'Fn::GetAtt': ['TriggerBuildLambdaFunction', 'Arn'] }, InputTransformer: scheduleTargetInput('web') }),
    ]);
    expect(Resources[`${schedules.logicalId('web')}Permission`]?.Properties).toMatchObject({
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [`${schedules.logicalId('web')}Rule`, 'Arn'] },
    });
  });

  it('does give the same InputTransformer as the handler library', () => {
    for (const f of ['web', 'al2023-base', 'a-b-c']) expect(schedules.scheduleTargetInput(f)).toEqual(scheduleTargetInput(f));
  });

  it('does keep logical ids alphanumeric and distinct for look-alike families', () => {
    const ids = ['a-b', 'ab', 'web'].map((f) => schedules.logicalId(f));
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9]+$/);
  });

  it('does refuse a schedule EventBridge would refuse, naming the family', () => {
    expect(() => schedules.scheduleResources({ families: { web: { triggers: { schedule: 'every monday' } } } })).toThrow(/families\.web\.triggers\.schedule/);
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
