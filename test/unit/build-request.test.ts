import { BuildRequestSchema, buildRequestWithSource, parseInput } from '../../functions/lib/build-request.js';
import { ValidationError } from '../../functions/lib/errors.js';
import { buildRequest } from '../fixtures.js';

describe('BuildRequestSchema', () => {
  it('accepts a minimal request and fills the defaults', () => {
    const parsed = buildRequest();
    expect(parsed.copies).toEqual([]);
    expect(parsed.sharing).toEqual({
      accounts: [],
      organizationArns: [],
      organizationalUnitArns: [],
      public: false,
      snapshotVolumePermission: true,
    });
    expect(parsed.preparation).toBe('none');
    expect(parsed.source).toEqual({ type: 'instance', tags: { Role: 'web', Golden: 'true' }, noReboot: false });
  });

  it('parses each source type with its defaults', () => {
    const base = buildRequest({ source: { type: 'base-image', nameFilter: 'al2023-ami-*', owner: 'amazon' } });
    expect(base.source).toMatchObject({
      type: 'base-image',
      instanceType: 't3.micro',
      sanitize: true,
      doneSignal: 'stopped',
      buildTimeoutSeconds: 3600,
    });
    const snaps = buildRequest({
      source: {
        type: 'snapshots',
        rootDeviceName: '/dev/xvda',
        architecture: 'arm64',
        blockDeviceMappings: [{ deviceName: '/dev/xvda', snapshotId: 'snap-0123456789abcdef0' }],
      },
    });
    expect(snaps.source).toMatchObject({ type: 'snapshots', enaSupport: true, blockDeviceMappings: [{ deleteOnTermination: true }] });
  });

  it('refuses snapshot mappings without the root device, and a base image given twice', () => {
    expect(() =>
      buildRequest({
        source: {
          type: 'snapshots',
          rootDeviceName: '/dev/xvda',
          architecture: 'x86_64',
          blockDeviceMappings: [{ deviceName: '/dev/xvdb', snapshotId: 'snap-0123456789abcdef0' }],
        },
      }),
    ).toThrow(/root device/);
    expect(() =>
      buildRequest({ source: { type: 'base-image', imageId: 'ami-0123456789abcdef0', nameFilter: 'x', owner: 'amazon' } }),
    ).toThrow(/exactly one of imageId or nameFilter/);
  });

  it('refuses copies to the build region or twice to one region', () => {
    expect(() => buildRequest({ copies: [{ region: 'us-east-1' }] })).toThrow(/must not include the build region/);
    expect(() => buildRequest({ copies: [{ region: 'eu-west-1' }, { region: 'eu-west-1' }] })).toThrow(/unique/);
  });

  it('allows public sharing of an existing instance only with the acknowledgement', () => {
    const sharing = { public: true };
    expect(() => buildRequest({ sharing })).toThrow(/acknowledgeUnsanitizedPublic/);
    expect(buildRequest({ sharing, acknowledgeUnsanitizedPublic: true }).sharing.public).toBe(true);
    expect(() => buildRequest({ sharing, source: { type: 'base-image', imageId: 'ami-0123456789abcdef0', sanitize: false } })).toThrow(
      /sanitize/,
    );
  });

  it('validates share targets', () => {
    expect(() => buildRequest({ sharing: { accounts: ['12345'] } })).toThrow(/12-digit/);
    expect(() =>
      buildRequest({ sharing: { organizationArns: ['arn:aws:organizations::111122223333:organization/o-abcdefghij'] } }),
    ).not.toThrow();
  });

  it('names every bad field in one ValidationError', () => {
    const bad = { ...buildRequest(), family: 'Web Tier', region: 'moon-1', extra: true };
    let err: unknown;
    try {
      parseInput(BuildRequestSchema, bad, 'BuildRequest');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    const v = err as ValidationError;
    expect(v.name).toBe('ValidationError');
    expect(v.issues.some((i) => i.startsWith('family:'))).toBe(true);
    expect(v.issues.some((i) => i.startsWith('region:'))).toBe(true);
    expect(v.issues.some((i) => i.includes('extra'))).toBe(true);
  });

  it('requires exactly one of instanceId and tags', () => {
    const both = { ...buildRequest(), source: { type: 'instance', instanceId: 'i-0123456789abcdef0', tags: { a: 'b' }, noReboot: false } };
    const neither = { ...buildRequest(), source: { type: 'instance', noReboot: false } };
    expect(() => parseInput(BuildRequestSchema, both, 'BuildRequest')).toThrow(/exactly one of instanceId or tags/);
    expect(() => parseInput(BuildRequestSchema, neither, 'BuildRequest')).toThrow(/exactly one of instanceId or tags/);
  });

  it('refuses reserved aws: tag keys', () => {
    expect(() => parseInput(BuildRequestSchema, { ...buildRequest(), tags: { 'aws:x': '1' } }, 'BuildRequest')).toThrow(ValidationError);
  });
});

describe('buildRequestWithSource', () => {
  it('does pass a request of its source type and refuse the others with a ValidationError naming both', () => {
    const schema = buildRequestWithSource('instance');
    expect(parseInput(schema, buildRequest(), 'input').source.type).toBe('instance');
    const snapshots = buildRequest({
      source: {
        type: 'snapshots',
        rootDeviceName: '/dev/xvda',
        architecture: 'x86_64',
        blockDeviceMappings: [{ deviceName: '/dev/xvda', snapshotId: 'snap-0123456789abcdef0' }],
      },
    });
    let caught: unknown;
    try {
      parseInput(schema, snapshots, 'resolve-source input');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    expect((caught as ValidationError).issues).toEqual(['source.type: this step handles instance sources, not snapshots']);
  });
});
