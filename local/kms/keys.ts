import { createHash } from 'node:crypto';
import type { JsonObject } from '../json.js';

/**
 * The local account's KMS keys, per region: what a key reference in a request (`alias/x`, a key
 * id, a key ARN or an alias ARN) resolves to, so that authorization names the key's ARN as KMS
 * does (`arn:aws:kms:<region>:<account>:key/<key-id>`; IAM never sees alias ARNs for key use).
 *
 * - AWS managed keys (`alias/aws/ebs`, `alias/aws/ssm`, `alias/aws/s3`) always exist. Their key
 *   policy lets every principal of the account use them through their service
 *   (`kms:ViaService` + `kms:CallerAccount`), so no identity policy grant is needed for them —
 *   the evaluator must consider `policy` as the key's resource policy.
 * - Customer keys are known by alias. With `implicitCustomerKeys` (the default) any other alias
 *   resolves to a customer key, as the local EC2 has always assumed; otherwise only the aliases
 *   given per region exist. Customer keys carry KMS's default key policy (the account root gets
 *   `kms:*`, which delegates the decision to IAM).
 * - Key ids are stable: derived from the region and alias exactly as `kmsKeyArn` in
 *   `local/ec2/model.ts` derives them, so the ARNs the EC2 model stores match these.
 * - An ARN resolves to itself (whatever its account and region), a bare key id to that key in
 *   the region asked.
 * - Keys a deployed template creates (`AWS::KMS::Key`, `AWS::KMS::Alias`) are defined with their
 *   own key policy (`define`, `defineAlias`) and take precedence over the derived ones.
 */

export type KeyManager = 'AWS' | 'CUSTOMER';

/** A key policy statement, as KMS documents the default ones. */
export interface KeyPolicyStatement {
  Sid: string;
  Effect: 'Allow';
  Principal: { AWS: string };
  Action: string[];
  Resource: '*';
  Condition?: Record<string, Record<string, string>>;
}

export interface KeyPolicyDocument {
  Version: '2012-10-17';
  Statement: KeyPolicyStatement[];
}

export interface KmsKey {
  keyId: string;
  arn: string;
  region: string;
  account: string;
  /** `alias/…` names of the key (empty for a key known only by id or ARN). */
  aliases: string[];
  manager: KeyManager;
  /** The key policy: a derived default one, or the template's `KeyPolicy`. */
  policy: KeyPolicyDocument | JsonObject;
}

/** A customer key a deployed template created. */
export interface DefinedKey {
  region: string;
  keyId: string;
  policy: JsonObject;
}

/** The services whose AWS managed key the local cloud provides, by alias. */
export const AWS_MANAGED_KEY_SERVICES = { 'alias/aws/ebs': 'ec2', 'alias/aws/ssm': 'ssm', 'alias/aws/s3': 's3' } as const;
export type AwsManagedAlias = keyof typeof AWS_MANAGED_KEY_SERVICES;

/** What an AWS managed key's policy lets the account's principals do through its service (KMS developer guide, AWS managed keys). */
const MANAGED_KEY_ACTIONS = ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:CreateGrant', 'kms:DescribeKey'];

export class KmsKeyNotFoundError extends Error {
  override name = 'KmsKeyNotFoundError';
  constructor(
    readonly region: string,
    readonly reference: string,
  ) {
    super(`KMS key ${reference} does not exist in ${region} (KMS: NotFoundException)`);
  }
}

const KEY_ID = /^(mrk-[0-9a-f]{32}|(mrk-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
const KEY_ARN = /^arn:(aws[a-z-]*):kms:([a-z0-9-]+):(\d{12}):key\/([A-Za-z0-9-]+)$/;
const ALIAS_ARN = /^arn:(aws[a-z-]*):kms:([a-z0-9-]+):(\d{12}):(alias\/[A-Za-z0-9/_-]+)$/;
const ALIAS = /^alias\/[A-Za-z0-9/_-]+$/;

/** The stable key id of an alias in a region (the derivation of `kmsKeyArn` in local/ec2/model.ts). */
export function keyIdFor(region: string, alias: string): string {
  const h = createHash('sha256').update(`${region}|${alias}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function keyArn(region: string, account: string, keyId: string): string {
  return `arn:aws:kms:${region}:${account}:key/${keyId}`;
}

function managedPolicy(account: string, region: string, service: string): KeyPolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: `Allow access through ${service} for all principals in the account that are authorized to use ${service}`,
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: MANAGED_KEY_ACTIONS,
        Resource: '*',
        Condition: { StringEquals: { 'kms:CallerAccount': account, 'kms:ViaService': `${service}.${region}.amazonaws.com` } },
      },
      {
        Sid: 'Allow direct access to key metadata to the account',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${account}:root` },
        Action: ['kms:Describe*', 'kms:Get*', 'kms:List*', 'kms:RevokeGrant'],
        Resource: '*',
      },
    ],
  };
}

function customerPolicy(account: string): KeyPolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'Enable IAM User Permissions',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${account}:root` },
        Action: ['kms:*'],
        Resource: '*',
      },
    ],
  };
}

export interface KmsKeyRegistryOptions {
  account: string;
  /** Customer key aliases (`alias/x`) per region. */
  customerKeys?: Readonly<Record<string, readonly string[]>>;
  /** Any alias not listed is a customer key of its own (default true, as the local EC2 assumes). */
  implicitCustomerKeys?: boolean;
}

export interface KmsKeyRegistry {
  readonly account: string;
  /** The key a reference names in `region` (an ARN names its own region), or undefined when there is none. */
  resolve(region: string, reference: string): KmsKey | undefined;
  /** Like resolve, but KmsKeyNotFoundError when there is none. */
  require(region: string, reference: string): KmsKey;
  /** The AWS managed key of a service in a region. */
  awsManaged(region: string, alias: AwsManagedAlias): KmsKey & { policy: KeyPolicyDocument };
  /** A customer key of the account with its own key policy (a template's AWS::KMS::Key). */
  define(key: DefinedKey): KmsKey;
  /** Points an alias of a region to a defined key (a template's AWS::KMS::Alias). */
  defineAlias(region: string, alias: string, keyId: string): void;
}

export function createKmsKeyRegistry(opts: KmsKeyRegistryOptions): KmsKeyRegistry {
  const { account } = opts;
  const implicit = opts.implicitCustomerKeys ?? true;
  const declared = (region: string, alias: string): boolean => opts.customerKeys?.[region]?.includes(alias) ?? false;

  const defined = new Map<string, DefinedKey>();
  const definedAliases = new Map<string, string>();
  const definedKey = (region: string, keyId: string): KmsKey | undefined => {
    const d = defined.get(`${region}|${keyId}`);
    if (d === undefined) return undefined;
    const aliases = [...definedAliases]
      .filter(([k, id]) => id === keyId && k.startsWith(`${region}|`))
      .map(([k]) => k.slice(region.length + 1));
    return { keyId, arn: keyArn(region, account, keyId), region, account, aliases, manager: 'CUSTOMER', policy: d.policy };
  };

  const byAlias = (region: string, alias: string): KmsKey | undefined => {
    const target = definedAliases.get(`${region}|${alias}`);
    if (target !== undefined) return definedKey(region, target);
    const service = (AWS_MANAGED_KEY_SERVICES as Record<string, string>)[alias];
    if (service !== undefined) {
      const keyId = keyIdFor(region, alias);
      return {
        keyId,
        arn: keyArn(region, account, keyId),
        region,
        account,
        aliases: [alias],
        manager: 'AWS',
        policy: managedPolicy(account, region, service),
      };
    }
    // alias/aws/ is reserved for AWS managed keys.
    if (alias.startsWith('alias/aws/')) return undefined;
    if (!declared(region, alias) && !implicit) return undefined;
    const keyId = keyIdFor(region, alias);
    return {
      keyId,
      arn: keyArn(region, account, keyId),
      region,
      account,
      aliases: [alias],
      manager: 'CUSTOMER',
      policy: customerPolicy(account),
    };
  };

  /** The key with this id in a region: one of the known aliases' keys, else a customer key known only by id. */
  const byId = (region: string, keyAccount: string, keyId: string): KmsKey => {
    if (keyAccount === account) {
      const d = definedKey(region, keyId);
      if (d !== undefined) return d;
      const aliases = [...Object.keys(AWS_MANAGED_KEY_SERVICES), ...(opts.customerKeys?.[region] ?? [])];
      for (const alias of aliases) {
        if (keyIdFor(region, alias) !== keyId) continue;
        const key = byAlias(region, alias);
        if (key !== undefined) return key;
      }
    }
    return {
      keyId,
      arn: keyArn(region, keyAccount, keyId),
      region,
      account: keyAccount,
      aliases: [],
      manager: 'CUSTOMER',
      policy: customerPolicy(keyAccount),
    };
  };

  const resolve = (region: string, reference: string): KmsKey | undefined => {
    const arn = KEY_ARN.exec(reference);
    if (arn !== null) return byId(arn[2] as string, arn[3] as string, arn[4] as string);
    const aliasArn = ALIAS_ARN.exec(reference);
    if (aliasArn !== null) return aliasArn[3] === account ? byAlias(aliasArn[2] as string, aliasArn[4] as string) : undefined;
    if (ALIAS.test(reference)) return byAlias(region, reference);
    if (KEY_ID.test(reference)) return byId(region, account, reference);
    return undefined;
  };

  return {
    account,
    resolve,
    require(region, reference) {
      const key = resolve(region, reference);
      if (key === undefined) throw new KmsKeyNotFoundError(region, reference);
      return key;
    },
    awsManaged(region, alias) {
      return byAlias(region, alias) as KmsKey & { policy: KeyPolicyDocument };
    },
    define(key) {
      defined.set(`${key.region}|${key.keyId}`, key);
      return definedKey(key.region, key.keyId) as KmsKey;
    },
    defineAlias(region, alias, keyId) {
      definedAliases.set(`${region}|${alias}`, keyId);
    },
  };
}
