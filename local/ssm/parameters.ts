import { LocalApiError } from '../http.js';

/**
 * The Parameter Store's model and its rules (SSM API reference, PutParameter; Parameter Store
 * user guide): names, types, data types, tiers, versions.
 */
export class SsmApiError extends LocalApiError {}

export const validation = (message: string): SsmApiError => new SsmApiError('ValidationException', message);

export const PARAMETER_TYPES = ['String', 'StringList', 'SecureString'] as const;
export type ParameterType = (typeof PARAMETER_TYPES)[number];

/** The data types the local Parameter Store models (AWS also has aws:ssm:integration, for integration webhooks). */
export const DATA_TYPES = ['text', 'aws:ec2:image'] as const;
export type DataType = (typeof DATA_TYPES)[number];

export type Tier = 'Standard' | 'Advanced';

/** The KMS key a SecureString uses when PutParameter names none (the AWS managed key for SSM). */
export const DEFAULT_KEY_ID = 'alias/aws/ssm';

/** Quotas of the Parameter Store user guide. */
export const LIMITS = {
  /** Value size: Standard 4 KB, Advanced 8 KB (characters). */
  standardValue: 4096,
  advancedValue: 8192,
  /** Versions kept per parameter; the oldest goes when a 101st is written. */
  versions: 100,
  /** Levels of a hierarchical name. */
  hierarchyLevels: 15,
  /** Characters of a name (without the `arn:…:parameter` prefix). */
  nameLength: 1011,
  descriptionLength: 1024,
  /** Names per GetParameters / DeleteParameters call. */
  namesPerCall: 10,
} as const;

export interface ParameterVersion {
  version: number;
  type: ParameterType;
  /** The value; for a SecureString its ciphertext (secure-string.ts). */
  value: string;
  /** SecureString only. */
  keyId?: string;
  description?: string;
  allowedPattern?: string;
  dataType: DataType;
  tier: Tier;
  lastModifiedMs: number;
  lastModifiedUser: string;
  labels: string[];
}

export interface ParameterRecord {
  name: string;
  /** Ascending by version; the last is the current one. */
  versions: ParameterVersion[];
  tags: { Key: string; Value: string }[];
}

export interface SsmState {
  version: 1;
  regions: Record<string, { parameters: Record<string, ParameterRecord> }>;
}

/** The message AWS answers a name that breaks the naming rules with. */
const NAME_RULES =
  'Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_';

/**
 * A parameter name as PutParameter accepts it (surrounding spaces removed): letters, digits,
 * `.-_`, hierarchies with a leading `/`, at most 15 levels, not starting with aws or ssm.
 */
export function checkName(raw: string): string {
  const name = raw.trim();
  if (name === '')
    throw validation(
      "1 validation error detected: Value '' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 1",
    );
  if (name.length > LIMITS.nameLength)
    throw validation(`Parameter name ${name.slice(0, 40)}… is longer than ${LIMITS.nameLength} characters.`);
  const path = name.includes('/');
  if (path && !name.startsWith('/')) throw validation('Parameter name must be a fully qualified name.');
  const parts = path ? name.slice(1).split('/') : [name];
  if (parts.some((p) => !/^[A-Za-z0-9_.-]+$/.test(p))) throw validation(NAME_RULES);
  if (/^(aws|ssm)/i.test(parts[0] ?? '')) throw validation(NAME_RULES);
  if (parts.length > LIMITS.hierarchyLevels) {
    throw new SsmApiError(
      'HierarchyLevelLimitExceededException',
      `A hierarchy can have a maximum of ${LIMITS.hierarchyLevels} levels. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-su-create.html`,
    );
  }
  return name;
}

/** The parameter's ARN: `arn:aws:ssm:<region>:<account>:parameter/<name without its leading slash>`. */
export function parameterArn(region: string, account: string, name: string): string {
  return `arn:aws:ssm:${region}:${account}:parameter/${name.startsWith('/') ? name.slice(1) : name}`;
}

/**
 * A GetParameter name: a name or ARN, with an optional `:version` or `:label` selector. An ARN
 * names both `a` and `/a` as `parameter/a`: both are candidates, in that order. An ARN of
 * another region or account has no candidate here.
 */
export function parseReference(ref: string, region: string, account: string): { names: string[]; selector?: string } {
  let rest = ref;
  let candidates = (n: string): string[] => [n];
  const arn = /^arn:aws[a-z-]*:ssm:([a-z0-9-]+):(\d{12}):parameter\/(.*)$/.exec(ref);
  if (arn !== null) {
    if (arn[1] !== region || arn[2] !== account) return { names: [] };
    rest = arn[3] as string;
    candidates = (n) => (n.includes('/') ? [`/${n}`] : [n, `/${n}`]);
  }
  const colon = rest.lastIndexOf(':');
  if (colon > 0) return { names: candidates(rest.slice(0, colon)), selector: rest.slice(colon + 1) };
  return { names: candidates(rest) };
}

/** Whether `value` is an AMI id as aws:ec2:image requires (`ami-` and 8 or 17 hex digits). */
export function isImageId(value: string): boolean {
  return /^ami-([0-9a-f]{8}|[0-9a-f]{17})$/.test(value);
}
