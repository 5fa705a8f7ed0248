import {
  globalContext,
  loadIamCatalog,
  parsePolicy,
  type IamCatalog,
  type NamedPolicy,
  type Principal,
  type Request,
  type RequestContext,
} from '../../local/iam/index.js';

/** Shared fixtures of the IAM evaluator tests: the catalog, callers, policies and requests. */
export const ACCOUNT = '111122223333';
export const OTHER_ACCOUNT = '444455556666';
export const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/service-role/CreateImageRole`;
export const NOW = new Date('2026-11-23T07:42:10Z');

/** A Lambda function's role session, as the local cloud's functions call. */
export const SESSION: Principal = {
  type: 'AssumedRole',
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/CreateImageRole/create-image`,
  roleArn: ROLE_ARN,
  sessionName: 'create-image',
  accountId: ACCOUNT,
  tags: { team: 'images' },
};

export const USER: Principal = { type: 'User', arn: `arn:aws:iam::${ACCOUNT}:user/ops/alice`, accountId: ACCOUNT, tags: { team: 'ops' } };
export const ROOT: Principal = { type: 'Root', arn: `arn:aws:iam::${ACCOUNT}:root`, accountId: ACCOUNT };
export const OTHER_SESSION: Principal = {
  type: 'AssumedRole',
  arn: `arn:aws:sts::${OTHER_ACCOUNT}:assumed-role/Reader/r1`,
  roleArn: `arn:aws:iam::${OTHER_ACCOUNT}:role/Reader`,
  sessionName: 'r1',
  accountId: OTHER_ACCOUNT,
};
export const EVENTS: Principal = { type: 'Service', arn: 'events.amazonaws.com', service: 'events.amazonaws.com', accountId: ACCOUNT };

let catalog: IamCatalog | undefined;

/** The Service Authorization Reference, loaded once per test file. */
export async function iamCatalog(): Promise<IamCatalog> {
  catalog ??= await loadIamCatalog();
  return catalog;
}

function loaded(): IamCatalog {
  if (catalog === undefined) throw new Error('call iamCatalog() in beforeAll first');
  return catalog;
}

/** A policy document's statements, in the 2012-10-17 language unless told (null: no Version element). */
export function doc(statements: unknown, version: string | null = '2012-10-17'): Record<string, unknown> {
  return version === null ? { Statement: statements } : { Version: version, Statement: statements };
}

export function identityPolicy(document: unknown, name = 'TestRole/test'): NamedPolicy {
  return parsePolicy(document, { name, kind: 'identity' }, loaded());
}

export function resourcePolicy(document: unknown, name = 'resource-policy'): NamedPolicy {
  return parsePolicy(document, { name, kind: 'resource' }, loaded());
}

/** A request by `principal` (the session by default), with the global keys AWS always adds. */
export function request(action: string, resource: string, context: RequestContext = {}, principal: Principal = SESSION): Request {
  return {
    principal,
    action,
    resource,
    context: { ...globalContext(principal, { time: NOW, secureTransport: true, requestedRegion: 'us-east-1' }), ...context },
  };
}
