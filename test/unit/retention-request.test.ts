import { parseFactoryConfig, ConfigFileError } from '../../functions/lib/config.js';
import { retentionExecutionName, retentionRequestFor, RetentionRequestSchema } from '../../functions/lib/retention/request.js';

const family = (retention: string): string => `families:
  web:
    region: us-east-1
    source: { type: instance, instanceId: i-0123456789abcdef0 }
    copies: [{ region: us-west-2 }, { region: eu-west-1 }]
${retention}
`;
const base = { runId: 'run-12345678', requestedAt: '2026-11-23T04:00:00Z', dryRun: true, trigger: { type: 'cli' as const } };

describe('retention policy in the factory config', () => {
  it('fills every family with the default policy', () => {
    const config = parseFactoryConfig(family(''));
    expect(config.families.web?.retention).toEqual({
      keepNewest: 3,
      maxAgeDays: 90,
      disableGraceDays: 7,
      excludeTags: { 'ami-factory:keep': 'true' },
      deleteBundles: true,
    });
  });

  it('makes a self-contained request over every region of the family, or the regions asked for', () => {
    const config = parseFactoryConfig(
      family('    retention: { keepNewest: 5, maxAgeDays: 120, deprecateAfterDays: 60, disableGraceDays: 0, excludeTags: { pin: "yes" } }'),
    );
    const r = retentionRequestFor(config, 'web', base);
    expect(RetentionRequestSchema.parse(r)).toEqual(r);
    expect(r.regions).toEqual(['us-east-1', 'us-west-2', 'eu-west-1']);
    expect(r.policy).toEqual({
      keepNewest: 5,
      maxAgeDays: 120,
      deprecateAfterDays: 60,
      disableGraceDays: 0,
      excludeTags: { pin: 'yes' },
      deleteBundles: true,
    });
    expect(retentionRequestFor(config, 'web', { ...base, regions: ['eu-west-1'] }).regions).toEqual(['eu-west-1']);
    expect(() => retentionRequestFor(config, 'web', { ...base, regions: ['ap-south-1'] })).toThrow(/no images in ap-south-1/);
    expect(() => retentionRequestFor(config, 'db', base)).toThrow(/Unknown family "db"/);
  });

  it('refuses a policy that cannot be meant, naming the path', () => {
    for (const [retention, problem] of [
      ['    retention: { keepNewest: 0 }', /families\.web\.retention\.keepNewest/],
      ['    retention: { maxAgeDays: 30, deprecateAfterDays: 60 }', /deprecateAfterDays must not exceed maxAgeDays/],
      ['    retention: { schedule: "every day" }', /families\.web\.retention\.schedule: must be an EventBridge schedule/],
      ['    retention: { keepNewst: 3 }', /Unrecognized key.*keepNewst/],
    ] as const) {
      expect(() => parseFactoryConfig(family(retention))).toThrow(ConfigFileError);
      expect(() => parseFactoryConfig(family(retention))).toThrow(problem);
    }
  });

  it('names executions within Step Functions limits', () => {
    expect(retentionExecutionName('web', 'run-12345678')).toBe('retention-web-run-12345678');
    const long = retentionExecutionName('a'.repeat(63), 'b'.repeat(36));
    expect(long.length).toBeLessThanOrEqual(80);
    expect(long.endsWith('b'.repeat(36))).toBe(true);
  });
});
