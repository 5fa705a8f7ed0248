import { createHash, randomBytes } from 'node:crypto';
import type { JsonObject } from '../json.js';

/**
 * Who is calling: the local cloud's IAM identities. Roles come from the deployed template;
 * each Lambda function (and each state machine) gets temporary credentials for its role, as
 * Lambda's and Step Functions' role assumption does (`ASIA…` access key, secret, session
 * token), and every request signed with those credentials acts as the assumed-role session
 * `arn:aws:sts::<account>:assumed-role/<role>/<session>`. Any other access key — the CLI, test
 * set-up, the AWS CLI a user points at the cloud — acts as the account's administrator, as an
 * operator's own credentials would. (Signatures are not verified: the key identifies the caller.)
 */
export interface RoleRecord {
  name: string;
  arn: string;
  path: string;
  trustPolicy: JsonObject;
  /** Inline policies, named `<role>/<policy>` (what a denial names as the deciding policy). */
  policies: { name: string; document: JsonObject }[];
  managedPolicyArns: string[];
}

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

export type CallerKind = 'assumed-role' | 'administrator';

export interface Caller {
  kind: CallerKind;
  /** The principal ARN AWS would report (`assumed-role/...` session, or the administrator user). */
  arn: string;
  accountId: string;
  /** For assumed roles: the role and the session name (the function's name). */
  role?: RoleRecord;
  sessionName?: string;
  accessKeyId?: string;
}

/** The administrator's policy: everything (what an operator's AdministratorAccess grants). */
export const ADMINISTRATOR_POLICY: JsonObject = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
};

export class UnknownRoleError extends Error {
  override name = 'UnknownRoleError';
}

export class IdentityStore {
  private readonly roles = new Map<string, RoleRecord>();
  private readonly sessions = new Map<string, Caller>();
  private readonly sessionsByArn = new Map<string, Caller>();
  private readonly salt = randomBytes(8).toString('hex');

  constructor(readonly accountId: string) {}

  putRole(role: RoleRecord): void {
    this.roles.set(role.arn, role);
  }

  role(arn: string): RoleRecord | undefined {
    return this.roles.get(arn);
  }

  allRoles(): RoleRecord[] {
    return [...this.roles.values()];
  }

  /** Temporary credentials for a session of the role (Lambda's and Step Functions' AssumeRole). */
  assumeRole(roleArn: string, sessionName: string): Credentials {
    const digest = createHash('sha256').update(`${this.salt}/${roleArn}/${sessionName}`).digest();
    const accessKeyId = `ASIA${digest.toString('hex').slice(0, 16).toUpperCase()}`;
    const caller = { ...this.roleSession(roleArn, sessionName), accessKeyId };
    this.sessions.set(accessKeyId, caller);
    this.sessionsByArn.set(caller.arn, caller);
    return {
      accessKeyId,
      secretAccessKey: digest.toString('base64').slice(0, 40),
      sessionToken: `IQoJb3JpZ2luX2VjE${createHash('sha256').update(`token/${accessKeyId}`).digest('base64')}`,
    };
  }

  /** The caller a request's access key identifies. */
  callerFor(accessKeyId: string | undefined): Caller {
    const session = accessKeyId === undefined ? undefined : this.sessions.get(accessKeyId);
    if (session !== undefined) return session;
    return {
      kind: 'administrator',
      arn: `arn:aws:iam::${this.accountId}:user/administrator`,
      accountId: this.accountId,
      ...(accessKeyId !== undefined ? { accessKeyId } : {}),
    };
  }

  /** A role's own session (what a state machine runs as), without credentials. */
  roleSession(roleArn: string, sessionName: string): Caller {
    const role = this.roles.get(roleArn);
    if (role === undefined) throw new UnknownRoleError(`The role ${roleArn} does not exist in this stack`);
    const caller: Caller = {
      kind: 'assumed-role',
      arn: `arn:aws:sts::${this.accountId}:assumed-role/${role.name}/${sessionName}`,
      accountId: this.accountId,
      role,
      sessionName,
    };
    this.sessionsByArn.set(caller.arn, caller);
    return caller;
  }

  /** The session a principal ARN names (a function's or a state machine's), if this store made it. */
  sessionByArn(arn: string): Caller | undefined {
    return this.sessionsByArn.get(arn);
  }
}
