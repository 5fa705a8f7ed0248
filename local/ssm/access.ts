import {
  callerContext,
  requestTagContext,
  resourceTagContext,
  uniqueRequests,
  type AccessContext,
  type AccessRequest,
  type AccessTable,
  kmsViaService,
  tagsOf,
} from '../iam/access-request.js';
import { createKmsKeyRegistry, type KmsKey, type KmsKeyRegistry } from '../kms/keys.js';

/**
 * What SSM Parameter Store authorizes, from the Service Authorization Reference for AWS Systems
 * Manager, the Systems Manager API reference and the KMS developer guide ("AWS KMS encryption for
 * Parameter Store SecureString parameters"):
 *
 * - A parameter is `arn:aws:ssm:<region>:<account>:parameter/<name without its leading slash>`
 *   (a version or label selector `name:3` is not part of it); AWS's public parameters
 *   (`/aws/service/…`) have no account in their ARN. GetParametersByPath acts on the path's ARN
 *   with `ssm:Recursive`; DescribeParameters on `*`.
 * - Existing parameters carry their tags as `aws:ResourceTag/<k>`; PutParameter its Tags as
 *   `aws:RequestTag/<k>` (and ssm:AddTagsToResource for them), `ssm:Overwrite`, `ssm:Policies`.
 * - SecureString values are encrypted by KMS as the caller, through SSM
 *   (`kms:ViaService=ssm.<region>.amazonaws.com`) with the encryption context
 *   `PARAMETER_ARN=<parameter ARN>`: reading with decryption is kms:Decrypt; writing a Standard
 *   parameter kms:Encrypt, an Advanced one (envelope encryption) kms:GenerateDataKey. The key is
 *   the request's KeyId, else the parameter's, else `alias/aws/ssm`.
 *
 * GetParametersByPath decrypts each SecureString it returns: which ones is known only after the
 * lookup, so that check is `decryptParameterAccess`, made per parameter found.
 */

export type ParameterType = 'String' | 'StringList' | 'SecureString';
export type ParameterTier = 'Standard' | 'Advanced' | 'Intelligent-Tiering';

/** What a descriptor needs to know of a stored parameter. */
export interface SsmParameterView {
  name: string;
  type: ParameterType;
  /** The KMS key of a SecureString, as given when it was put (alias, id or ARN). */
  keyId?: string;
  tier?: ParameterTier;
  tags?: Record<string, string>;
}

export interface SsmAccessInput {
  body: Readonly<Record<string, unknown>>;
  region: string;
  account: string;
  /** A stored parameter by name (no selector), if it exists. */
  parameter?: (name: string) => SsmParameterView | undefined;
  kms?: KmsKeyRegistry;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const ARN = /^arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d*:parameter(\/.*)$/;

/** The name of a parameter reference: an ARN's name, without a `:version` or `:label` selector. */
export function parameterName(reference: string): string {
  const fromArn = ARN.exec(reference)?.[1];
  const name = fromArn ?? reference;
  const colon = name.indexOf(':');
  return colon === -1 ? name : name.slice(0, colon);
}

/** The ARN of a parameter by name; AWS public parameters (`/aws/service/…`) have no account. */
export function parameterArn(region: string, account: string, name: string): string {
  const bare = name.startsWith('/') ? name.slice(1) : name;
  const owner = bare.startsWith('aws/service/') ? '' : account;
  return `arn:aws:ssm:${region}:${owner}:parameter/${bare}`;
}

function ssmRequest(input: SsmAccessInput, action: string, resource: string, extra: AccessContext = {}): AccessRequest {
  return { action: `ssm:${action}`, resource, context: { ...callerContext(input.region), ...extra } };
}

function keysOf(input: Pick<SsmAccessInput, 'kms' | 'account'>): KmsKeyRegistry {
  return input.kms ?? createKmsKeyRegistry({ account: input.account });
}

function kmsViaSsm(input: Pick<SsmAccessInput, 'account'>, action: string, key: KmsKey, parameter: string): AccessRequest {
  return kmsViaService('ssm', key, input.account, action, {
    'kms:EncryptionContext:PARAMETER_ARN': parameter,
    'kms:EncryptionContextKeys': ['PARAMETER_ARN'],
  });
}

function keyOf(input: Pick<SsmAccessInput, 'kms' | 'account'>, region: string, reference: string | undefined): KmsKey | undefined {
  const registry = keysOf(input);
  return reference === undefined ? registry.awsManaged(region, 'alias/aws/ssm') : registry.resolve(region, reference);
}

/** kms:Decrypt of a SecureString read with decryption (nothing for other types). */
export function decryptParameterAccess(view: SsmParameterView, input: Pick<SsmAccessInput, 'region' | 'account' | 'kms'>): AccessRequest[] {
  if (view.type !== 'SecureString') return [];
  const key = keyOf(input, input.region, view.keyId);
  return key === undefined ? [] : [kmsViaSsm(input, 'Decrypt', key, parameterArn(input.region, input.account, view.name))];
}

/** A parameter read: the action on its ARN with its tags, and the decryption when asked for. */
function read(input: SsmAccessInput, action: string, reference: string, withDecryption: boolean): AccessRequest[] {
  const name = parameterName(reference);
  const view = input.parameter?.(name);
  const out = [ssmRequest(input, action, parameterArn(input.region, input.account, name), resourceTagContext(view?.tags))];
  if (withDecryption && view !== undefined) out.push(...decryptParameterAccess(view, input));
  return out;
}

function putParameter(input: SsmAccessInput): AccessRequest[] {
  const { body } = input;
  const name = parameterName(str(body.Name) ?? '*');
  const arn = parameterArn(input.region, input.account, name);
  const existing = input.parameter?.(name);
  const tags = tagsOf(body.Tags);
  const extra: AccessContext = { ...requestTagContext(tags), 'ssm:Overwrite': String(body.Overwrite === true) };
  const policies = str(body.Policies);
  if (policies !== undefined) extra['ssm:Policies'] = policies;
  const out = [ssmRequest(input, 'PutParameter', arn, extra)];
  if (Object.keys(tags).length > 0) out.push(ssmRequest(input, 'AddTagsToResource', arn, requestTagContext(tags)));
  const type = str(body.Type) ?? existing?.type;
  if (type === 'SecureString') {
    const key = keyOf(input, input.region, str(body.KeyId) ?? existing?.keyId);
    const tier = str(body.Tier) ?? existing?.tier ?? 'Standard';
    if (key !== undefined) out.push(kmsViaSsm(input, tier === 'Advanced' ? 'GenerateDataKey' : 'Encrypt', key, arn));
  }
  return out;
}

function names(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** The Parameter Store actions the local SSM serves → what SSM authorizes for them. */
export const SSM_ACCESS: AccessTable<SsmAccessInput> = {
  GetParameter: (input) => read(input, 'GetParameter', str(input.body.Name) ?? '*', input.body.WithDecryption === true),
  GetParameters: (input) =>
    uniqueRequests(names(input.body.Names).flatMap((n) => read(input, 'GetParameters', n, input.body.WithDecryption === true))),
  GetParametersByPath: (input) => {
    const path = str(input.body.Path) ?? '/';
    const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
    return [
      ssmRequest(input, 'GetParametersByPath', parameterArn(input.region, input.account, trimmed), {
        'ssm:Recursive': String(input.body.Recursive === true),
      }),
    ];
  },
  PutParameter: putParameter,
  DeleteParameter: (input) => read(input, 'DeleteParameter', str(input.body.Name) ?? '*', false),
  DeleteParameters: (input) => uniqueRequests(names(input.body.Names).flatMap((n) => read(input, 'DeleteParameters', n, false))),
  DescribeParameters: (input) => [ssmRequest(input, 'DescribeParameters', '*')],
  GetParameterHistory: (input) => read(input, 'GetParameterHistory', str(input.body.Name) ?? '*', input.body.WithDecryption === true),
};
