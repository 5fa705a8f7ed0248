import { parseChatCommand } from '../../functions/lib/chatops/command.js';
import {
  ChatOpsPermissionsSchema,
  PERMISSIONS,
  authorize,
  authorizeShareTarget,
  permissionFor,
  type ChatOpsPermissions,
  type Permission,
  type Requester,
} from '../../functions/lib/chatops/permissions.js';

const alice: Requester = { userId: 'U0ALICE', userGroups: ['S0PLATFORM'], channelId: 'C0OPS' };
const bob: Requester = { userId: 'U0BOB', userGroups: [], channelId: 'C0OPS' };
const aliceElsewhere: Requester = { ...alice, channelId: 'C0RANDOM' };

const permissions: ChatOpsPermissions = ChatOpsPermissionsSchema.parse({
  bake: { users: ['U0BOB'], userGroups: ['S0PLATFORM'] },
  status: { users: ['*'], channels: ['C0OPS'] },
  expireApply: { userGroups: ['S0PLATFORM'], channels: ['C0OPS'] },
  share: { users: ['U0ALICE'] },
  list: {},
});

describe('chatops.share.allowedTargets', () => {
  it('does validate the accounts, organizations and OUs it lists, and nothing else', () => {
    const parse = (allowedTargets: unknown): boolean =>
      ChatOpsPermissionsSchema.safeParse({ share: { users: ['*'], allowedTargets } }).success;
    expect(
      parse({
        accounts: ['444455556666'],
        organizationArns: ['arn:aws:organizations::111122223333:organization/o-exampleorgid'],
        organizationalUnitArns: ['arn:aws:organizations::111122223333:ou/o-exampleorgid/ou-ab12-cd34ef56'],
      }),
    ).toBe(true);
    expect(parse({ accounts: ['4444'] })).toBe(false);
    expect(parse({ organizationArns: ['o-exampleorgid'] })).toBe(false);
    expect(parse({ organizationalUnitArns: ['arn:aws:organizations::111122223333:organization/o-exampleorgid'] })).toBe(false);
    expect(parse({ accounts: [], public: true })).toBe(false);
    // Only share has targets.
    expect(ChatOpsPermissionsSchema.safeParse({ bake: { users: ['*'], allowedTargets: {} } }).success).toBe(false);
  });

  it('does allow only a listed target of the same kind', () => {
    const allowed = {
      accounts: ['444455556666'],
      organizationArns: ['arn:aws:organizations::111122223333:organization/o-exampleorgid'],
      organizationalUnitArns: [],
    };
    expect(authorizeShareTarget({ account: '444455556666' }, allowed, 'web')).toEqual({ allowed: true });
    expect(
      authorizeShareTarget({ organizationArn: 'arn:aws:organizations::111122223333:organization/o-exampleorgid' }, allowed, 'web'),
    ).toEqual({ allowed: true });
    expect(authorizeShareTarget({ account: '999988887777' }, allowed, 'web').allowed).toBe(false);
    expect(
      authorizeShareTarget(
        { organizationalUnitArn: 'arn:aws:organizations::111122223333:ou/o-exampleorgid/ou-ab12-cd34ef56' },
        allowed,
        'web',
      ).allowed,
    ).toBe(false);
    expect(authorizeShareTarget({ account: '444455556666' }, undefined, 'web')).toEqual({
      allowed: false,
      reason:
        '`share` for web may not add account 444455556666; chatops.share.allowedTargets allows accounts: none; organizations: none; OUs: none',
    });
  });
});

describe('ChatOps permissions', () => {
  it('does validate the config block when ids have the Slack shapes', () => {
    // Act / Assess
    expect(ChatOpsPermissionsSchema.safeParse({ bake: { users: ['alice'] } }).success).toBe(false);
    expect(ChatOpsPermissionsSchema.safeParse({ bake: { userGroups: ['U123'] } }).success).toBe(false);
    expect(ChatOpsPermissionsSchema.safeParse({ bake: { channels: [] } }).success).toBe(false);
    expect(ChatOpsPermissionsSchema.safeParse({ deploy: {} }).success).toBe(false);
    expect(ChatOpsPermissionsSchema.parse({ bake: {} })).toEqual({ bake: { users: [], userGroups: [] } });
  });

  it('does map every command to its permission', () => {
    expect(permissionFor(parseChatCommand('help'))).toBeUndefined();
    expect(permissionFor(parseChatCommand('bake web'))).toBe('bake');
    expect(permissionFor(parseChatCommand('status'))).toBe('status');
    expect(permissionFor(parseChatCommand('list web'))).toBe('list');
    expect(permissionFor(parseChatCommand('expire web'))).toBe('expire');
    expect(permissionFor(parseChatCommand('expire web --apply'))).toBe('expireApply');
    expect(permissionFor(parseChatCommand('share ami-0123456789abcdef0 --account 123456789012'))).toBe('share');
  });

  // [permission, requester, expected] over the configured rules above.
  const matrix: [Permission, string, Requester, boolean][] = [
    ['bake', 'alice (by group)', alice, true],
    ['bake', 'bob (by user)', bob, true],
    ['bake', 'alice in another channel (no channel limit)', aliceElsewhere, true],
    ['status', 'bob (everyone, right channel)', bob, true],
    ['status', 'alice in another channel', aliceElsewhere, false],
    ['list', 'alice (empty rule allows nobody)', alice, false],
    ['expire', 'bob (default: read-only allowed)', bob, true],
    ['expireApply', 'alice (group, right channel)', alice, true],
    ['expireApply', 'alice in another channel', aliceElsewhere, false],
    ['expireApply', 'bob (not in group)', bob, false],
    ['share', 'alice (by user)', alice, true],
    ['share', 'bob', bob, false],
  ];
  it.each(matrix)('does decide %s for %s when rules are configured', (permission, _who, requester, expected) => {
    // Act
    const result = authorize(permission, requester, permissions, 'web');
    // Assess
    expect(result.allowed).toBe(expected);
  });

  const defaults: [Permission, boolean][] = [
    ['bake', false],
    ['status', true],
    ['list', true],
    ['expire', true],
    ['expireApply', false],
    ['share', false],
    ['promote', false],
  ];
  it.each(defaults)('does apply the default for %s when the family has no chatops block', (permission, expected) => {
    expect(authorize(permission, bob, undefined).allowed).toBe(expected);
    expect(authorize(permission, bob, {}).allowed).toBe(expected);
  });

  it('does cover every permission in the defaults table', () => {
    expect(defaults.map(([p]) => p).sort()).toEqual([...PERMISSIONS].sort());
  });

  it('does always allow help when asked by anyone', () => {
    expect(authorize(parseChatCommand('help'), bob, ChatOpsPermissionsSchema.parse({}))).toEqual({ allowed: true });
  });

  it('does explain a denial when the permission is not granted', () => {
    // Act
    const share = authorize(parseChatCommand('share ami-0123456789abcdef0 --account 123456789012'), bob, undefined, 'web');
    const apply = authorize(parseChatCommand('expire web --apply'), bob, permissions, 'web');
    const channel = authorize('status', aliceElsewhere, permissions, 'web');
    // Assess
    expect(share).toEqual({ allowed: false, reason: '`share` is not enabled for web; the factory config grants it under chatops.share' });
    expect(apply).toEqual({ allowed: false, reason: 'You are not allowed to run `expire --apply` for web' });
    expect(channel).toEqual({ allowed: false, reason: '`status` for web may only be used in <#C0OPS>' });
  });

  it('does not let expire permission grant expire --apply when only expire is allowed', () => {
    const p = ChatOpsPermissionsSchema.parse({ expire: { users: ['*'] } });
    expect(authorize(parseChatCommand('expire web'), bob, p).allowed).toBe(true);
    expect(authorize(parseChatCommand('expire web --apply'), bob, p).allowed).toBe(false);
  });
});
