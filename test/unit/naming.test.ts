import { buildIdShort, factoryTags, imageName, mergeTags } from '../../functions/lib/naming.js';

describe('imageName', () => {
  it('is <family>-<yyyymmddThhmmZ>-<buildId8> from the request time, in UTC', () => {
    expect(imageName('web', '2026-11-23T07:42:59.999Z', '3F2A-1b2c-99')).toBe('web-20261123T0742Z-3f2a1b2c');
    expect(imageName('db', '2026-01-02T23:05:00+02:00', 'abcdefgh1234')).toBe('db-20260102T2105Z-abcdefgh');
  });

  it('gives every retry of one build the same name and two builds different names', () => {
    const a = imageName('web', '2026-11-23T07:42:00Z', 'aaaaaaaa-1');
    expect(imageName('web', '2026-11-23T07:42:00Z', 'aaaaaaaa-1')).toBe(a);
    expect(imageName('web', '2026-11-23T07:42:00Z', 'bbbbbbbb-1')).not.toBe(a);
  });

  it('refuses a timestamp that is not one', () => {
    expect(() => imageName('web', 'yesterday', 'aaaaaaaa')).toThrow(RangeError);
  });
});

describe('buildIdShort', () => {
  it('keeps the first 8 alphanumerics, lower-cased', () => {
    expect(buildIdShort('AB-CD-EF-GH-IJ')).toBe('abcdefgh');
  });
});

describe('factoryTags', () => {
  it('carries every DESIGN.md tag and records the reboot choice', () => {
    const tags = Object.fromEntries(
      factoryTags({ family: 'web', buildId: 'b-12345678', source: 'i-1', createdAt: '2026-11-23T00:00:00Z', noReboot: true }).map((t) => [
        t.Key,
        t.Value,
      ]),
    );
    expect(tags).toEqual({
      'ami-factory:managed': 'true',
      'ami-factory:family': 'web',
      'ami-factory:build-id': 'b-12345678',
      'ami-factory:source': 'i-1',
      'ami-factory:created-at': '2026-11-23T00:00:00Z',
      'ami-factory:reboot': 'false',
    });
  });

  it('lets later lists win when merged', () => {
    expect(
      mergeTags(
        [{ Key: 'a', Value: '1' }],
        [
          { Key: 'a', Value: '2' },
          { Key: 'b', Value: '3' },
        ],
      ),
    ).toEqual([
      { Key: 'a', Value: '2' },
      { Key: 'b', Value: '3' },
    ]);
  });
});
