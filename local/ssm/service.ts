import type { VirtualClock } from '../clock.js';
import type { LocalRequest, LocalResponse, LocalService } from '../http.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../json.js';
import { JsonFileStore } from '../persist.js';
import { withAccess, type AccessTable, type ActionTable, type Authorize } from '../protocols/access.js';
import { handleJson, jsonPage, jsonTarget, pageSize, type JsonProtocol, type JsonService } from '../protocols/json.js';
import {
  checkName,
  DATA_TYPES,
  DEFAULT_KEY_ID,
  isImageId,
  LIMITS,
  PARAMETER_TYPES,
  parameterArn,
  parseReference,
  SsmApiError,
  validation,
  type DataType,
  type ParameterRecord,
  type ParameterType,
  type ParameterVersion,
  type SsmState,
  type Tier,
} from './parameters.js';
import { decryptSecureString, encryptSecureString } from './secure-string.js';

/**
 * The local SSM Parameter Store (JSON 1.1 protocol, `X-Amz-Target: AmazonSSM.<Op>`), per region,
 * persisted with JsonFileStore: PutParameter (String, StringList, SecureString; Overwrite;
 * data types `text` and `aws:ec2:image`), GetParameter(s) (selectors `:version`, WithDecryption),
 * GetParametersByPath, DeleteParameter(s), DescribeParameters, GetParameterHistory.
 *
 * - A SecureString is stored encrypted (secure-string.ts) under its KeyId (default
 *   `alias/aws/ssm`); without WithDecryption its value is answered as that ciphertext.
 * - `aws:ec2:image` is validated asynchronously, as Parameter Store does: PutParameter answers
 *   with the version the write will have, and the write happens only once the value proves to
 *   be an AMI the account can use in the region (`imageUsable`); otherwise nothing changes and
 *   the `Parameter Store Change` event carries `"exception": "Unable to Describe Resource"`.
 * - Every change emits `Parameter Store Change` (source `aws.ssm`, detail
 *   `{ name, type, operation: Create | Update | Delete, description? }`) through `onEvent`.
 * - Not modelled: labels (LabelParameterVersion), parameter policies, tags beyond PutParameter's,
 *   sharing; the `aws:ssm:integration` data type.
 */
export interface SsmServiceOptions {
  accountId: string;
  clock: VirtualClock;
  /** e.g. `.ami-factory/ssm.json`; undefined = in memory. */
  stateFile?: string;
  /** Whether the AMI exists and the account can use it in the region (the local EC2's imageUsable); default: every well-formed id. */
  imageUsable?: (region: string, imageId: string) => boolean;
  /** Simulated ms the aws:ec2:image validation takes (default 0: right after PutParameter answers). */
  imageValidationMs?: number;
  /** `Parameter Store Change` events. */
  onEvent?: (e: SsmEvent) => void;
  /** The ARN recorded as a version's LastModifiedUser (default: the account's root). */
  callerArn?: (req: LocalRequest) => string;
  /** Authorization of each call (protocols/access.ts); default: every call is allowed. */
  authorize?: Authorize;
  /** The access requests of each action, by action name (default: `ssm:<Action>` on `*`). */
  access?: AccessTable<SsmContext>;
}

/** An event as Parameter Store sends it to EventBridge (the default bus of its region). */
export interface SsmEvent {
  source: 'aws.ssm';
  detailType: 'Parameter Store Change';
  detail: {
    name: string;
    type: ParameterType;
    operation: 'Create' | 'Update' | 'Delete';
    description?: string;
    dataType?: string;
    exception?: string;
  };
  region: string;
  resources: string[];
  time: string;
  account: string;
}

/** A parameter that holds an AMI id (DescribeImageReferences reports these). */
export interface ImageParameterReference {
  name: string;
  arn: string;
  version: number;
}

export interface SsmService extends LocalService {
  /** Parameters of data type aws:ec2:image whose current value is `imageId`, in the region. */
  imageReferences(region: string, imageId: string): ImageParameterReference[];
  /** Resolves once every aws:ec2:image validation started so far has settled (tests). */
  idle(): Promise<void>;
  /** Persist now. */
  flush(): void;
  /** Persist and stop (pending validations are dropped, as a crash would). */
  close(): void;
}

/** What an SSM action is given: the request's JSON body, its region's parameters, the request and the simulated time. */
export interface SsmContext {
  body: JsonObject;
  region: string;
  parameters: Record<string, ParameterRecord>;
  req: LocalRequest;
  now: number;
}

const SSM_PROTOCOL: JsonProtocol = { version: '1.1', targetPrefix: 'AmazonSSM', iamPrefix: 'ssm' };

export function createSsmService(opts: SsmServiceOptions): SsmService {
  return new LocalSsm(opts);
}

/** The decision of a PutParameter, applied at once or after the aws:ec2:image validation. */
interface PendingWrite {
  region: string;
  name: string;
  version: Omit<ParameterVersion, 'version'>;
  tags: ParameterRecord['tags'];
}

class LocalSsm implements SsmService {
  readonly name = 'ssm';

  actionNames(): string[] {
    return Object.keys(this.protocol.actions);
  }
  private readonly store: JsonFileStore<SsmState>;
  private readonly protocol: JsonService<SsmContext>;
  private readonly validations = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly opts: SsmServiceOptions) {
    this.store = new JsonFileStore<SsmState>(opts.stateFile, () => ({ version: 1, regions: {} }));
    const actions: ActionTable<SsmContext, JsonObject> = {
      PutParameter: { handler: (c) => this.putParameter(c) },
      GetParameter: { handler: (c) => this.getParameter(c) },
      GetParameters: { handler: (c) => this.getParameters(c) },
      GetParametersByPath: { handler: (c) => this.getParametersByPath(c) },
      DeleteParameter: { handler: (c) => this.deleteParameter(c) },
      DeleteParameters: { handler: (c) => this.deleteParameters(c) },
      DescribeParameters: { handler: (c) => this.describeParameters(c) },
      GetParameterHistory: { handler: (c) => this.getParameterHistory(c) },
    };
    this.protocol = {
      protocol: SSM_PROTOCOL,
      actions: withAccess(actions, opts.access),
      authorize: opts.authorize,
      context: ({ req, body }) => ({
        body,
        region: req.region,
        parameters: this.regionParameters(req.region),
        req,
        now: opts.clock.nowMs(),
      }),
    };
  }

  matches(req: LocalRequest): boolean {
    return jsonTarget(req, SSM_PROTOCOL) !== undefined;
  }

  handle(req: LocalRequest): Promise<LocalResponse> {
    return handleJson(req, this.protocol);
  }

  imageReferences(region: string, imageId: string): ImageParameterReference[] {
    return Object.values(this.regionParameters(region)).flatMap((p) => {
      const v = current(p);
      return v.dataType === 'aws:ec2:image' && v.value === imageId
        ? [{ name: p.name, arn: parameterArn(region, this.opts.accountId, p.name), version: v.version }]
        : [];
    });
  }

  async idle(): Promise<void> {
    while (this.validations.size > 0) await Promise.allSettled([...this.validations]);
  }

  flush(): void {
    this.store.markDirty();
    this.store.flush();
  }

  close(): void {
    this.closed = true;
    this.flush();
  }

  private regionParameters(region: string): Record<string, ParameterRecord> {
    let r = this.store.data.regions[region];
    if (r === undefined) {
      r = { parameters: {} };
      this.store.data.regions[region] = r;
    }
    return r.parameters;
  }

  private caller(req: LocalRequest): string {
    return this.opts.callerArn?.(req) ?? `arn:aws:iam::${this.opts.accountId}:root`;
  }

  // ---- PutParameter ----------------------------------------------------------------------------

  private putParameter({ body, region, parameters, req, now }: SsmContext): JsonObject {
    const name = checkName(requiredString(body, 'Name'));
    const value = requiredString(body, 'Value');
    const existing = parameters[name];
    const latest = existing === undefined ? undefined : current(existing);
    const overwrite = optionalBoolean(body, 'Overwrite') ?? false;
    const tags = tagList(body.Tags);
    if (tags.length > 0 && overwrite) {
      throw validation(
        "Tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.",
      );
    }
    if (latest !== undefined && !overwrite) {
      throw new SsmApiError(
        'ParameterAlreadyExists',
        'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.',
      );
    }
    const oldest = existing?.versions[0];
    if (existing !== undefined && existing.versions.length >= LIMITS.versions && oldest !== undefined && oldest.labels.length > 0) {
      throw new SsmApiError(
        'ParameterMaxVersionLimitExceeded',
        `You attempted to create a new version of ${name} by calling the PutParameter API with the overwrite flag. Version ${oldest.version}, the oldest version, can't be deleted because it has a label associated with it. Move the label to another version of the parameter, and try again.`,
      );
    }
    const type = enumMember(body, 'Type', PARAMETER_TYPES) ?? latest?.type;
    if (type === undefined) throw validation('A parameter type is required when you create a parameter.');
    const dataType = dataTypeOf(body, latest?.dataType);
    if (latest !== undefined && (latest.dataType === 'aws:ec2:image') !== (dataType === 'aws:ec2:image')) {
      throw validation(`You can't change the data type of parameter ${name} from ${latest.dataType} to ${dataType}.`);
    }
    if (dataType === 'aws:ec2:image' && type !== 'String') throw validation('The aws:ec2:image data type supports String parameters only.');
    const keyIdGiven = optionalString(body, 'KeyId');
    if (keyIdGiven !== undefined && type !== 'SecureString') throw validation('KeyId is required for SecureString type parameter only.');
    if (keyIdGiven !== undefined && !/^([a-zA-Z0-9:/_-]+)$/.test(keyIdGiven))
      throw new SsmApiError('InvalidKeyId', `Invalid keyId ${keyIdGiven}`);
    const keyId =
      type === 'SecureString' ? (keyIdGiven ?? (latest?.type === 'SecureString' ? latest.keyId : undefined) ?? DEFAULT_KEY_ID) : undefined;
    const description = optionalString(body, 'Description') ?? latest?.description;
    if (description !== undefined && description.length > LIMITS.descriptionLength) {
      throw validation(
        `1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to ${LIMITS.descriptionLength}`,
      );
    }
    const allowedPattern = optionalString(body, 'AllowedPattern') ?? latest?.allowedPattern;
    if (allowedPattern !== undefined) checkAllowedPattern(allowedPattern, value);
    if (body.Policies !== undefined && body.Policies !== null) throw validation('Parameter policies are not modelled by the local cloud.');
    const tier = tierOf(body, value, latest?.tier);
    const version: Omit<ParameterVersion, 'version'> = {
      type,
      value:
        type === 'SecureString'
          ? encryptSecureString(value, { account: this.opts.accountId, region, keyId: keyId ?? DEFAULT_KEY_ID })
          : value,
      dataType,
      tier,
      lastModifiedMs: now,
      lastModifiedUser: this.caller(req),
      labels: [],
    };
    if (keyId !== undefined) version.keyId = keyId;
    if (description !== undefined) version.description = description;
    if (allowedPattern !== undefined) version.allowedPattern = allowedPattern;
    const write: PendingWrite = { region, name, version, tags };
    const next = (latest?.version ?? 0) + 1;
    if (dataType === 'aws:ec2:image') this.validateImageLater(write);
    else this.apply(write);
    return { Version: next, Tier: tier };
  }

  /** aws:ec2:image: the write happens once the AMI checks out, after PutParameter has answered. */
  private validateImageLater(write: PendingWrite): void {
    const run = (async (): Promise<void> => {
      await new Promise<void>((resolve) => setTimeout(resolve, this.opts.clock.toRealMs(this.opts.imageValidationMs ?? 0)));
      if (this.closed) return;
      const imageId = write.version.value;
      const usable = isImageId(imageId) && (this.opts.imageUsable?.(write.region, imageId) ?? true);
      if (usable) {
        this.apply(write);
        return;
      }
      const existed = this.regionParameters(write.region)[write.name] !== undefined;
      this.emit(write.region, {
        name: write.name,
        type: write.version.type,
        operation: existed ? 'Update' : 'Create',
        dataType: 'aws:ec2:image',
        exception: 'Unable to Describe Resource',
      });
    })();
    this.validations.add(run);
    void run.finally(() => this.validations.delete(run));
  }

  private apply(write: PendingWrite): void {
    const parameters = this.regionParameters(write.region);
    const existing = parameters[write.name];
    const record: ParameterRecord = existing ?? { name: write.name, versions: [], tags: write.tags };
    const version = (existing === undefined ? 0 : current(existing).version) + 1;
    record.versions.push({ ...write.version, version });
    // Parameter Store keeps 100 versions: the oldest goes (putParameter refused it if labelled).
    if (record.versions.length > LIMITS.versions) record.versions.shift();
    parameters[write.name] = record;
    this.store.markDirty();
    const detail: SsmEvent['detail'] = {
      name: write.name,
      type: write.version.type,
      operation: existing === undefined ? 'Create' : 'Update',
    };
    if (write.version.description !== undefined) detail.description = write.version.description;
    if (write.version.dataType === 'aws:ec2:image') detail.dataType = 'aws:ec2:image';
    this.emit(write.region, detail);
  }

  private emit(region: string, detail: SsmEvent['detail']): void {
    if (this.opts.onEvent === undefined) return;
    try {
      this.opts.onEvent({
        source: 'aws.ssm',
        detailType: 'Parameter Store Change',
        detail,
        region,
        resources: [parameterArn(region, this.opts.accountId, detail.name)],
        time: new Date(this.opts.clock.nowMs()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        account: this.opts.accountId,
      });
    } catch {
      // Best effort, like the service's events.
    }
  }

  // ---- reads ------------------------------------------------------------------------------------

  /** The version a reference names (its latest, or the `:version` selected); undefined when none. */
  private resolve(ctx: SsmContext, ref: string): { record: ParameterRecord; version: ParameterVersion; selector?: string } | undefined {
    const parsed = parseReference(ref, ctx.region, this.opts.accountId);
    const record = parsed.names.map((n) => ctx.parameters[n]).find((r) => r !== undefined);
    if (record === undefined) return undefined;
    if (parsed.selector === undefined) return { record, version: current(record) };
    const n = /^\d+$/.test(parsed.selector) ? Number(parsed.selector) : undefined;
    const version = record.versions.find((v) => (n !== undefined ? v.version === n : v.labels.includes(parsed.selector as string)));
    if (version === undefined) {
      throw new SsmApiError(
        'ParameterVersionNotFound',
        `Systems Manager could not find version ${parsed.selector} of ${record.name}. Verify the version and try again.`,
      );
    }
    return { record, version, selector: `:${parsed.selector}` };
  }

  private parameterView(ctx: SsmContext, record: ParameterRecord, v: ParameterVersion, decrypt: boolean, selector?: string): JsonObject {
    const out: JsonObject = {
      Name: record.name,
      Type: v.type,
      Value: this.valueOf(ctx.region, v, decrypt),
      Version: v.version,
      LastModifiedDate: v.lastModifiedMs / 1000,
      ARN: parameterArn(ctx.region, this.opts.accountId, record.name),
      DataType: v.dataType,
    };
    if (selector !== undefined) out.Selector = selector;
    return out;
  }

  private valueOf(region: string, v: ParameterVersion, decrypt: boolean): string {
    if (v.type !== 'SecureString' || !decrypt) return v.value;
    return decryptSecureString(v.value, { account: this.opts.accountId, region, keyId: v.keyId ?? DEFAULT_KEY_ID });
  }

  private getParameter(ctx: SsmContext): JsonObject {
    const found = this.resolve(ctx, requiredString(ctx.body, 'Name'));
    if (found === undefined) throw new SsmApiError('ParameterNotFound', '');
    const decrypt = optionalBoolean(ctx.body, 'WithDecryption') ?? false;
    return { Parameter: this.parameterView(ctx, found.record, found.version, decrypt, found.selector) };
  }

  private getParameters(ctx: SsmContext): JsonObject {
    const names = nameList(ctx.body, 'Names');
    const decrypt = optionalBoolean(ctx.body, 'WithDecryption') ?? false;
    const parameters: JsonObject[] = [];
    const invalid: string[] = [];
    for (const n of new Set(names)) {
      let found: ReturnType<LocalSsm['resolve']>;
      try {
        found = this.resolve(ctx, n);
      } catch (e) {
        if (e instanceof SsmApiError && e.code === 'ParameterVersionNotFound') found = undefined;
        else throw e;
      }
      if (found === undefined) invalid.push(n);
      else parameters.push(this.parameterView(ctx, found.record, found.version, decrypt, found.selector));
    }
    return { Parameters: parameters, InvalidParameters: invalid };
  }

  private getParametersByPath(ctx: SsmContext): JsonObject {
    const { body } = ctx;
    const path = requiredString(body, 'Path');
    if (!path.startsWith('/')) {
      throw validation(
        'The parameter doesn\'t meet the parameter name requirements. The parameter name must begin with a forward slash "/".',
      );
    }
    const recursive = optionalBoolean(body, 'Recursive') ?? false;
    const decrypt = optionalBoolean(body, 'WithDecryption') ?? false;
    const filters = stringFilters(body, ['Type', 'KeyId', 'Label']);
    const prefix = path.endsWith('/') ? path : `${path}/`;
    const list = Object.values(ctx.parameters)
      .filter((p) => p.name.startsWith(prefix) && (recursive || !p.name.slice(prefix.length).includes('/')))
      .filter((p) => filters.every((f) => f(p)))
      .sort((a, b) => byName(a.name, b.name));
    const max = pageSize(body, 'MaxResults', { min: 1, max: 10, dflt: 10 }, validation);
    const page = jsonPage(body, list, (p) => p.name, {
      tokenMember: 'NextToken',
      max,
      invalid: invalidNextToken,
      scope: `${ctx.region}|${path}|${recursive}`,
    });
    const out: JsonObject = { Parameters: page.items.map((p) => this.parameterView(ctx, p, current(p), decrypt)) };
    if (page.nextToken !== undefined) out.NextToken = page.nextToken;
    return out;
  }

  private describeParameters(ctx: SsmContext): JsonObject {
    const { body } = ctx;
    if (body.Filters !== undefined && body.ParameterFilters !== undefined) {
      throw validation('You can use either Filters or ParameterFilters in a single request.');
    }
    const filters = [...legacyFilters(body), ...stringFilters(body, ['Name', 'Type', 'KeyId', 'Path', 'DataType', 'Tier', 'tag:'])];
    const list = Object.values(ctx.parameters)
      .filter((p) => filters.every((f) => f(p)))
      .sort((a, b) => byName(a.name, b.name));
    const max = pageSize(body, 'MaxResults', { min: 1, max: 50, dflt: 50 }, validation);
    const page = jsonPage(body, list, (p) => p.name, { tokenMember: 'NextToken', max, invalid: invalidNextToken, scope: ctx.region });
    const out: JsonObject = {
      Parameters: page.items.map((p) => {
        const v = current(p);
        const m: JsonObject = {
          Name: p.name,
          ARN: parameterArn(ctx.region, this.opts.accountId, p.name),
          Type: v.type,
          LastModifiedDate: v.lastModifiedMs / 1000,
          LastModifiedUser: v.lastModifiedUser,
          Version: v.version,
          Tier: v.tier,
          Policies: [],
          DataType: v.dataType,
        };
        if (v.keyId !== undefined) m.KeyId = v.keyId;
        if (v.description !== undefined) m.Description = v.description;
        if (v.allowedPattern !== undefined) m.AllowedPattern = v.allowedPattern;
        return m;
      }),
    };
    if (page.nextToken !== undefined) out.NextToken = page.nextToken;
    return out;
  }

  private getParameterHistory(ctx: SsmContext): JsonObject {
    const { body } = ctx;
    const name = requiredString(body, 'Name');
    const found = this.resolve(ctx, name);
    if (found === undefined) throw new SsmApiError('ParameterNotFound', '');
    const decrypt = optionalBoolean(body, 'WithDecryption') ?? false;
    const max = pageSize(body, 'MaxResults', { min: 1, max: 50, dflt: 50 }, validation);
    const key = (v: ParameterVersion): string => String(v.version).padStart(10, '0');
    const page = jsonPage(body, found.record.versions, key, {
      tokenMember: 'NextToken',
      max,
      invalid: invalidNextToken,
      scope: found.record.name,
    });
    const out: JsonObject = {
      Parameters: page.items.map((v) => {
        const h: JsonObject = {
          Name: found.record.name,
          Type: v.type,
          LastModifiedDate: v.lastModifiedMs / 1000,
          LastModifiedUser: v.lastModifiedUser,
          Value: this.valueOf(ctx.region, v, decrypt),
          Version: v.version,
          Labels: [...v.labels],
          Tier: v.tier,
          Policies: [],
          DataType: v.dataType,
        };
        if (v.keyId !== undefined) h.KeyId = v.keyId;
        if (v.description !== undefined) h.Description = v.description;
        if (v.allowedPattern !== undefined) h.AllowedPattern = v.allowedPattern;
        return h;
      }),
    };
    if (page.nextToken !== undefined) out.NextToken = page.nextToken;
    return out;
  }

  // ---- deletes ----------------------------------------------------------------------------------

  private remove(ctx: SsmContext, name: string): boolean {
    const record = ctx.parameters[name];
    if (record === undefined) return false;
    delete ctx.parameters[name];
    this.store.markDirty();
    const v = current(record);
    const detail: SsmEvent['detail'] = { name, type: v.type, operation: 'Delete' };
    if (v.description !== undefined) detail.description = v.description;
    this.emit(ctx.region, detail);
    return true;
  }

  private deleteParameter(ctx: SsmContext): JsonObject {
    const ref = requiredString(ctx.body, 'Name');
    const name = parseReference(ref, ctx.region, this.opts.accountId).names.find((n) => ctx.parameters[n] !== undefined);
    if (name === undefined || !this.remove(ctx, name)) throw new SsmApiError('ParameterNotFound', '');
    return {};
  }

  private deleteParameters(ctx: SsmContext): JsonObject {
    const deleted: string[] = [];
    const invalid: string[] = [];
    for (const ref of nameList(ctx.body, 'Names')) {
      const name = parseReference(ref, ctx.region, this.opts.accountId).names.find((n) => ctx.parameters[n] !== undefined);
      if (name !== undefined && this.remove(ctx, name)) deleted.push(ref);
      else invalid.push(ref);
    }
    return { DeletedParameters: deleted, InvalidParameters: invalid };
  }
}

// ---- helpers ---------------------------------------------------------------------------------------

function current(p: ParameterRecord): ParameterVersion {
  return p.versions[p.versions.length - 1] as ParameterVersion;
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const invalidNextToken = (): SsmApiError => new SsmApiError('InvalidNextToken', "The specified token isn't valid.");

function requiredString(body: JsonObject, key: string): string {
  const v = body[key];
  if (typeof v !== 'string' || v === '') {
    throw validation(`1 validation error detected: Value at '${lowerFirst(key)}' failed to satisfy constraint: Member must not be null`);
  }
  return v;
}

function optionalString(body: JsonObject, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw validation(`Value at '${lowerFirst(key)}' must be a string.`);
  return v;
}

function optionalBoolean(body: JsonObject, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw validation(`Value at '${lowerFirst(key)}' must be a boolean.`);
  return v;
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

function enumMember<T extends string>(body: JsonObject, key: string, allowed: readonly T[]): T | undefined {
  const v = optionalString(body, key);
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) {
    throw validation(
      `1 validation error detected: Value '${v}' at '${lowerFirst(key)}' failed to satisfy constraint: Member must satisfy enum value set: [${[...allowed].reverse().join(', ')}]`,
    );
  }
  return v as T;
}

function dataTypeOf(body: JsonObject, previous: DataType | undefined): DataType {
  const v = optionalString(body, 'DataType');
  if (v === undefined) return previous ?? 'text';
  if (!(DATA_TYPES as readonly string[]).includes(v)) {
    throw validation(`The following data type is not supported: ${v} (Data type names are all lowercase.)`);
  }
  return v as DataType;
}

function tierOf(body: JsonObject, value: string, previous: Tier | undefined): Tier {
  const asked = enumMember(body, 'Tier', ['Standard', 'Advanced', 'Intelligent-Tiering'] as const);
  const fitsStandard = value.length <= LIMITS.standardValue;
  if (value.length > LIMITS.advancedValue) {
    throw validation(`Advanced tier parameters support a maximum parameter value of ${LIMITS.advancedValue} characters.`);
  }
  let tier: Tier;
  if (asked === 'Intelligent-Tiering') tier = fitsStandard && previous !== 'Advanced' ? 'Standard' : 'Advanced';
  else tier = asked ?? previous ?? 'Standard';
  if (previous === 'Advanced' && tier === 'Standard') {
    throw validation(
      "This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the advanced-parameter tier to the standard-parameter tier.",
    );
  }
  if (tier === 'Standard' && !fitsStandard) {
    throw validation(
      `Standard tier parameters support a maximum parameter value of ${LIMITS.standardValue} characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html`,
    );
  }
  return tier;
}

function checkAllowedPattern(pattern: string, value: string): void {
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch {
    throw new SsmApiError('InvalidAllowedPatternException', `The request does not meet the regular expression requirement: ${pattern}`);
  }
  if (!re.test(value)) {
    throw new SsmApiError('ParameterPatternMismatchException', `Parameter value, cannot be validated against allowedPattern: ${pattern}`);
  }
}

function tagList(v: JsonValue | undefined): ParameterRecord['tags'] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw validation("Value at 'tags' must be a list.");
  return v.map((t) => {
    if (!isJsonObject(t) || typeof t.Key !== 'string' || typeof t.Value !== 'string') throw validation('Each tag needs a Key and a Value.');
    return { Key: t.Key, Value: t.Value };
  });
}

function nameList(body: JsonObject, key: string): string[] {
  const v = body[key];
  if (!Array.isArray(v) || v.length < 1 || v.length > LIMITS.namesPerCall || !v.every((n) => typeof n === 'string')) {
    throw validation(
      `1 validation error detected: Value at '${lowerFirst(key)}' failed to satisfy constraint: Member must have length between 1 and ${LIMITS.namesPerCall}`,
    );
  }
  return v as string[];
}

type Filter = (p: ParameterRecord) => boolean;

/** ParameterFilters of the keys `allowed` (a key ending in `:` is a prefix: `tag:`). */
function stringFilters(body: JsonObject, allowed: string[]): Filter[] {
  const list = body.ParameterFilters;
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw validation("Value at 'parameterFilters' must be a list.");
  return list.map((f): Filter => {
    if (!isJsonObject(f) || typeof f.Key !== 'string') throw validation('Each parameter filter needs a Key.');
    const key = f.Key;
    if (!allowed.some((a) => (a.endsWith(':') ? key.startsWith(a) && key.length > a.length : a === key))) {
      throw new SsmApiError('InvalidFilterKey', `The filter key ${key} is not valid for this operation.`);
    }
    const option = typeof f.Option === 'string' ? f.Option : key === 'Path' ? 'OneLevel' : 'Equals';
    const values = Array.isArray(f.Values) ? f.Values.filter((x): x is string => typeof x === 'string') : [];
    const validOptions =
      key === 'Path' ? ['Recursive', 'OneLevel'] : key === 'Name' ? ['Equals', 'BeginsWith', 'Contains'] : ['Equals', 'BeginsWith'];
    if (!validOptions.includes(option))
      throw new SsmApiError('InvalidFilterOption', `The filter option ${option} is not valid for key ${key}.`);
    if (values.length === 0 && !key.startsWith('tag:'))
      throw new SsmApiError('InvalidFilterValue', `The filter ${key} needs at least one value.`);
    const test = (actual: string | undefined): boolean =>
      actual !== undefined &&
      values.some((v) => (option === 'BeginsWith' ? actual.startsWith(v) : option === 'Contains' ? actual.includes(v) : actual === v));
    return (p) => {
      const v = current(p);
      switch (key) {
        case 'Name':
          return test(p.name) || test(p.name.replace(/^\//, ''));
        case 'Type':
          return test(v.type);
        case 'KeyId':
          return test(v.keyId);
        case 'DataType':
          return test(v.dataType);
        case 'Tier':
          return test(v.tier);
        case 'Label':
          return v.labels.some((l) => test(l));
        case 'Path':
          return values.some((path) => {
            const prefix = path.endsWith('/') ? path : `${path}/`;
            return p.name.startsWith(prefix) && (option === 'Recursive' || !p.name.slice(prefix.length).includes('/'));
          });
        default: {
          const tag = p.tags.find((t) => t.Key === key.slice('tag:'.length));
          return tag !== undefined && (values.length === 0 || test(tag.Value));
        }
      }
    };
  });
}

/** DescribeParameters' deprecated Filters (Name, Type, KeyId with Values: equality; Name: prefix). */
function legacyFilters(body: JsonObject): Filter[] {
  const list = body.Filters;
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw validation("Value at 'filters' must be a list.");
  return list.map((f): Filter => {
    if (!isJsonObject(f) || !['Name', 'Type', 'KeyId'].includes(String(f.Key)))
      throw new SsmApiError('InvalidFilterKey', 'The filter key is not valid.');
    const values = Array.isArray(f.Values) ? f.Values.filter((x): x is string => typeof x === 'string') : [];
    return (p) => {
      const v = current(p);
      if (f.Key === 'Name') return values.some((x) => p.name.startsWith(x));
      if (f.Key === 'Type') return values.includes(v.type);
      return v.keyId !== undefined && values.includes(v.keyId);
    };
  });
}
