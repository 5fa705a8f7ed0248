import { readFileSync } from 'node:fs';
import { buildRequestFor, parseFactoryConfig, ConfigFileError } from '../../functions/lib/config.js';
import { BuildRequestSchema } from '../../functions/lib/build-request.js';

const base = { buildId: 'b1234567-aaaa', requestedAt: '2026-11-23T07:00:00Z', trigger: { type: 'cli' as const } };

describe('factory config', () => {
  it('parses the shipped factory.config.yml into valid BuildRequests', () => {
    const config = parseFactoryConfig(readFileSync('factory.config.yml', 'utf8'));
    const req = buildRequestFor(config, 'web', base);
    expect(BuildRequestSchema.parse(req)).toEqual(req);
    expect(req.source).toEqual({ type: 'instance', tags: { Role: 'web', Golden: 'true' }, noReboot: false });
  });

  it('lets a request override the family reboot default', () => {
    const config = parseFactoryConfig(readFileSync('factory.config.yml', 'utf8'));
    const source = buildRequestFor(config, 'web', { ...base, noReboot: true }).source;
    expect(source.type === 'instance' && source.noReboot).toBe(true);
  });

  it('maps copies, sharing, retention and preparation into the request', () => {
    const config = parseFactoryConfig(readFileSync('factory.config.yml', 'utf8'));
    const web = buildRequestFor(config, 'web', base);
    expect(web.copies).toEqual([{ region: 'us-west-2' }, { region: 'eu-west-1', kmsKeyId: 'alias/ami-factory' }]);
    expect(web.sharing.accounts).toEqual(['444455556666']);
    expect(web.deprecateAfterDays).toBe(180);
    expect(web.preparation).toBe('none');
    const al = buildRequestFor(config, 'al2023-base', base);
    expect(al.preparation).toBe('sanitized');
    expect(al.source.type).toBe('base-image');
  });

  it('restricts copies to the requested regions and refuses unknown ones', () => {
    const config = parseFactoryConfig(readFileSync('factory.config.yml', 'utf8'));
    expect(buildRequestFor(config, 'web', { ...base, regions: ['eu-west-1'] }).copies.map((c) => c.region)).toEqual(['eu-west-1']);
    expect(() => buildRequestFor(config, 'web', { ...base, regions: ['ap-south-1'] })).toThrow(/does not copy to ap-south-1/);
    expect(() => buildRequestFor(config, 'al2023-base', { ...base, noReboot: true })).toThrow(/instance sources/);
  });

  it('checks that every family makes a valid build request', () => {
    const text =
      'families:\n  web:\n    region: us-east-1\n    source: { type: instance, instanceId: i-0123456789abcdef0 }\n    copies: [{ region: us-east-1 }]\n';
    expect(() => parseFactoryConfig(text, 'c.yml')).toThrow(/families\.web\.copies: copies must not include the build region/);
  });

  it('names the file, path and problem of a bad config', () => {
    const text = 'families:\n  web:\n    region: us-east-1\n    source: { type: instance }\n    reboot: maybe\n';
    expect(() => parseFactoryConfig(text, 'my.yml')).toThrow(ConfigFileError);
    expect(() => parseFactoryConfig(text, 'my.yml')).toThrow(
      /my\.yml is invalid.*families\.web\.source.*exactly one.*families\.web\.reboot/s,
    );
  });

  it('refuses YAML that does not parse and unknown families', () => {
    expect(() => parseFactoryConfig('families: [', 'x.yml')).toThrow(/x\.yml: not valid YAML/);
    const config = parseFactoryConfig(readFileSync('factory.config.yml', 'utf8'));
    expect(() => buildRequestFor(config, 'db', base)).toThrow(/Unknown family "db"/);
  });
});

describe('factory config: a family’s tests', () => {
  const withTests = (tests: string): string =>
    readFileSync('factory.config.yml', 'utf8').replace('  web:\n', `  web:\n    tests:\n${tests.replace(/^/gm, '      ')}\n`);

  it('puts the family tests into the request, with only the regions the request builds in', () => {
    const config = parseFactoryConfig(
      withTests(
        [
          'script: systemctl is-active nginx',
          'report: tag',
          'timeoutSeconds: 600',
          'regions:',
          '  eu-west-1: { subnetId: subnet-0123456789abcdef0 }',
          '  us-west-2: { securityGroupIds: [sg-0123456789abcdef0] }',
        ].join('\n'),
      ),
    );
    const all = buildRequestFor(config, 'web', base);
    expect(all.tests).toMatchObject({ script: 'systemctl is-active nginx', report: 'tag', timeoutSeconds: 600, onFailure: 'deregister' });
    expect(Object.keys(all.tests?.regions ?? {}).sort()).toEqual(['eu-west-1', 'us-west-2']);
    const one = buildRequestFor(config, 'web', { ...base, regions: ['eu-west-1'] });
    expect(Object.keys(one.tests?.regions ?? {})).toEqual(['eu-west-1']);
    expect(buildRequestFor(parseFactoryConfig(readFileSync('factory.config.yml', 'utf8')), 'web', base).tests).toBeUndefined();
  });

  it('refuses tests settings for a region the family does not build in, and a bad report mode', () => {
    expect(() => parseFactoryConfig(withTests('script: "true"\nregions:\n  ap-south-1: {}'))).toThrow(ConfigFileError);
    try {
      parseFactoryConfig(withTests('script: "true"\nregions:\n  ap-south-1: {}'));
    } catch (e) {
      expect((e as ConfigFileError).issues.join('\n')).toMatch(/tests\.regions/);
    }
    expect(() => parseFactoryConfig(withTests('script: "true"\nreport: stopped'))).toThrow(/web\.tests\.report/);
  });
});

describe('factory config: channels and launch templates', () => {
  const family = (extra: string): string => `families:
  web:
    region: us-east-1
    source: { type: instance, instanceId: i-0123456789abcdef0 }
    copies: [{ region: us-west-2 }]
${extra}`;

  it('defaults to the one channel latest and no launch templates', () => {
    const f = parseFactoryConfig(family('')).families.web;
    expect(f?.channels).toEqual(['latest']);
    expect(f?.launchTemplates).toEqual({});
  });

  it('takes channels and launch templates of the family regions', () => {
    const f = parseFactoryConfig(family('    channels: [latest, stable]\n    launchTemplates:\n      us-west-2: [lt-0123456789abcdef0]\n'))
      .families.web;
    expect(f?.channels).toEqual(['latest', 'stable']);
    expect(f?.launchTemplates).toEqual({ 'us-west-2': ['lt-0123456789abcdef0'] });
  });

  it.each([
    ['a duplicate channel', '    channels: [latest, latest]\n', /channels must be unique/],
    ['no channel', '    channels: []\n', /channels/],
    ['a channel name that is not a parameter level', '    channels: [Stable/1]\n', /channel name/],
    ['a launch template by name', '    launchTemplates:\n      us-east-1: [web]\n', /launch template id/],
    ['a launch template outside the family regions', '    launchTemplates:\n      eu-west-1: [lt-0123456789abcdef0]\n', /family's regions/],
  ])('refuses %s', (_what, extra, message) => {
    expect(() => parseFactoryConfig(family(extra))).toThrow(ConfigFileError);
    expect(() => parseFactoryConfig(family(extra))).toThrow(message);
  });
});

describe('factory config: approval gates', () => {
  const family = (extra: string): string => `families:
  web:
    region: us-east-1
    source: { type: instance, instanceId: i-0123456789abcdef0 }
    acknowledgeUnsanitizedPublic: true
    channels: [latest, stable]
${extra}`;
  const approvers = 'approvers: { users: [U0ALICE, U0BOB] }, channel: C0APPROVALS';

  it('takes the gates with their defaults', () => {
    const f = parseFactoryConfig(
      family(
        `    sharing: { public: true }\n    gates:\n      publicShare: { ${approvers} }\n      promote: { channels: [stable], ${approvers} }\n`,
      ),
    ).families.web;
    expect(f?.gates?.publicShare).toEqual({
      approvers: { users: ['U0ALICE', 'U0BOB'], userGroups: [] },
      required: 1,
      requesterMayApprove: false,
      channel: 'C0APPROVALS',
      timeoutSeconds: 86_400,
    });
    expect(f?.gates?.promote?.channels).toEqual(['stable']);
  });

  it('lets a family without gates be', () => {
    expect(parseFactoryConfig(family('')).families.web?.gates).toBeUndefined();
  });

  it.each([
    [
      'a gate nobody can approve',
      `    gates:\n      newAccounts: { approvers: { users: [U0ALICE] }, channel: C0X }\n`,
      /could never be approved/,
    ],
    ['an unknown gate', `    gates:\n      deploy: { ${approvers} }\n`, /deploy/],
    [
      'a publicShare gate on a family that never shares publicly',
      `    gates:\n      publicShare: { ${approvers} }\n`,
      /never shares publicly/,
    ],
    [
      'a promote gate on a channel the family lacks',
      `    gates:\n      promote: { channels: [beta], ${approvers} }\n`,
      /beta is not among/,
    ],
    ['a promote gate on the first channel', `    gates:\n      promote: { channels: [latest], ${approvers} }\n`, /first channel/],
    ['a timeout over a week', `    gates:\n      newAccounts: { ${approvers}, timeoutSeconds: 700000 }\n`, /timeoutSeconds/],
  ])('refuses %s, naming the gate', (_what, extra, message) => {
    expect(() => parseFactoryConfig(family(extra))).toThrow(ConfigFileError);
    try {
      parseFactoryConfig(family(extra));
    } catch (e) {
      expect((e as ConfigFileError).issues.join('\n')).toMatch(message);
      expect((e as ConfigFileError).issues.join('\n')).toMatch(/families\.web\.gates/);
    }
  });
});
