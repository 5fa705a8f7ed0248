import * as z from 'zod';
import { AccountIdSchema, OrganizationArnSchema, OrganizationalUnitArnSchema } from '../build-request.js';
import type { ChatCommand } from './command.js';

/**
 * Who may run which ChatOps command for a family (`families.<name>.chatops` in
 * factory.config.yml). A rule allows a requester when
 *   (users has "*" or the user's id, or userGroups shares a group with the user)
 *   and (channels is absent or lists the channel the command was typed in).
 * An empty rule `{}` allows nobody.
 *
 * Defaults when a family has no rule for a permission:
 *   - status, list, expire (the dry-run plan): read-only, allowed to every user in every
 *     channel of the workspace the app is installed in;
 *   - bake: denied (it can reboot a production instance and costs money);
 *   - expireApply (`expire --apply`), share and promote: denied.
 * `help` needs no permission.
 */
export const SlackUserIdSchema = z.lazy(() => z.string().regex(/^[UW][A-Z0-9]{2,}$/, 'must be a Slack user id such as U0123ABCD'));
export const SlackUserGroupIdSchema = z.lazy(() => z.string().regex(/^S[A-Z0-9]{2,}$/, 'must be a Slack user group id such as S0123ABCD'));
export const SlackChannelIdSchema = z.lazy(() => z.string().regex(/^[CGD][A-Z0-9]{2,}$/, 'must be a Slack channel id such as C0123ABCD'));

export const PermissionRuleSchema = z.lazy(() =>
  z
    .object({
      /** Slack user ids, or "*" for every user. */
      users: z.array(z.union([z.literal('*'), SlackUserIdSchema])).default([]),
      /** Slack user group ids (S…); members of any of them are allowed. */
      userGroups: z.array(SlackUserGroupIdSchema).default([]),
      /** Channel ids the command may be used in; absent: any channel. */
      channels: z.array(SlackChannelIdSchema).min(1).optional(),
    })
    .strict(),
);

/**
 * `chatops.share`: who may run `share`, and what it may add (`allowedTargets`): the accounts,
 * organizations and OUs listed there, nothing else. Without `allowedTargets` Slack shares with
 * nobody, whoever asks.
 */
export const ShareTargetsSchema = z.lazy(() =>
  z
    .object({
      accounts: z.array(AccountIdSchema).max(1000).default([]),
      organizationArns: z.array(OrganizationArnSchema).max(1000).default([]),
      organizationalUnitArns: z.array(OrganizationalUnitArnSchema).max(1000).default([]),
    })
    .strict(),
);
export const SharePermissionRuleSchema = z.lazy(() =>
  PermissionRuleSchema.unwrap().extend({ allowedTargets: ShareTargetsSchema.optional() }).strict(),
);
export type ShareTargets = z.infer<typeof ShareTargetsSchema>;

export const PERMISSIONS = ['bake', 'status', 'list', 'expire', 'expireApply', 'share', 'promote'] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const ChatOpsPermissionsSchema = z.lazy(() =>
  z
    .object({
      bake: PermissionRuleSchema.optional(),
      status: PermissionRuleSchema.optional(),
      list: PermissionRuleSchema.optional(),
      expire: PermissionRuleSchema.optional(),
      expireApply: PermissionRuleSchema.optional(),
      share: SharePermissionRuleSchema.optional(),
      /** `promote <family> <build|ami> <channel>`: moves what consumers launch. */
      promote: PermissionRuleSchema.optional(),
    })
    .strict(),
);

export type PermissionRule = z.infer<typeof PermissionRuleSchema>;
export type ChatOpsPermissions = z.infer<typeof ChatOpsPermissionsSchema>;

const EVERYONE: PermissionRule = { users: ['*'], userGroups: [] };

/** The rule used when the family's config has none (see the module comment). */
export const DEFAULT_RULES: Readonly<Record<Permission, PermissionRule | undefined>> = {
  bake: undefined,
  status: EVERYONE,
  list: EVERYONE,
  expire: EVERYONE,
  expireApply: undefined,
  share: undefined,
  promote: undefined,
};

/** What a `share` command adds (chatops/command.ts ShareTarget), as one of the three kinds. */
export interface ShareTargetOf {
  account?: string;
  organizationArn?: string;
  organizationalUnitArn?: string;
}

/** `account 1234…`, `organization arn:…`, `OU arn:…`: the target as replies name it. */
export function shareTargetLabel(t: ShareTargetOf): string {
  if (t.account !== undefined) return `account ${t.account}`;
  if (t.organizationArn !== undefined) return `organization ${t.organizationArn}`;
  return `OU ${t.organizationalUnitArn ?? ''}`;
}

/**
 * Whether `share` may add the target for a family whose `chatops.share.allowedTargets` is
 * `allowed` (undefined: nothing): only a listed account, organization or OU.
 */
export function authorizeShareTarget(t: ShareTargetOf, allowed: ShareTargets | undefined, family: string): Authorization {
  const a = allowed ?? { accounts: [], organizationArns: [], organizationalUnitArns: [] };
  const ok =
    (t.account !== undefined && a.accounts.includes(t.account)) ||
    (t.organizationArn !== undefined && a.organizationArns.includes(t.organizationArn)) ||
    (t.organizationalUnitArn !== undefined && a.organizationalUnitArns.includes(t.organizationalUnitArn));
  if (ok) return { allowed: true };
  const list = (xs: string[]): string => (xs.length > 0 ? xs.join(', ') : 'none');
  return {
    allowed: false,
    reason:
      `\`share\` for ${family} may not add ${shareTargetLabel(t)}; chatops.share.allowedTargets allows accounts: ${list(a.accounts)}; ` +
      `organizations: ${list(a.organizationArns)}; OUs: ${list(a.organizationalUnitArns)}`,
  };
}

export interface Requester {
  userId: string;
  /** The user's Slack user groups (from usergroups.users.list, resolved by the caller). */
  userGroups: string[];
  channelId: string;
}

export type Authorization = { allowed: true } | { allowed: false; reason: string };

/** The permission a command needs, or undefined when it needs none (help). */
export function permissionFor(command: ChatCommand): Permission | undefined {
  switch (command.kind) {
    case 'help':
      return undefined;
    case 'expire':
      return command.apply ? 'expireApply' : 'expire';
    default:
      return command.kind;
  }
}

const LABEL: Record<Permission, string> = {
  bake: '`bake`',
  status: '`status`',
  list: '`list`',
  expire: '`expire`',
  expireApply: '`expire --apply`',
  share: '`share`',
  promote: '`promote`',
};

/**
 * Whether `requester` may run `command` for the family whose ChatOps permissions are
 * `permissions` (undefined: the family has no `chatops` block). For `status <build-id>` and
 * `share <ami-id>` the caller passes the permissions of the build's / image's family.
 */
export function authorize(
  command: ChatCommand | Permission,
  requester: Requester,
  permissions: ChatOpsPermissions | undefined,
  family?: string,
): Authorization {
  const permission = typeof command === 'string' ? command : permissionFor(command);
  if (permission === undefined) return { allowed: true };
  const where = family !== undefined ? ` for ${family}` : '';
  const rule = permissions?.[permission] ?? DEFAULT_RULES[permission];
  if (rule === undefined) {
    return {
      allowed: false,
      reason: `${LABEL[permission]} is not enabled${where}; the factory config grants it under chatops.${permission}`,
    };
  }
  const who =
    rule.users.includes('*') || rule.users.includes(requester.userId) || requester.userGroups.some((g) => rule.userGroups.includes(g));
  if (!who) return { allowed: false, reason: `You are not allowed to run ${LABEL[permission]}${where}` };
  if (rule.channels !== undefined && !rule.channels.includes(requester.channelId)) {
    return {
      allowed: false,
      reason: `${LABEL[permission]}${where} may only be used in ${rule.channels.map((c) => `<#${c}>`).join(', ')}`,
    };
  }
  return { allowed: true };
}
