import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { build } from 'esbuild';
import { parse } from 'yaml';
import {
  evaluate,
  globalContext,
  loadIamCatalog,
  parsePolicy,
  type IamCatalog,
  type NamedPolicy,
  type Principal,
} from '../../local/iam/index.js';
import type { ContextValue } from '../../local/iam/index.js';
import type { JsonObject, JsonValue } from '../../local/json.js';
import { resolveValue } from '../../local/template/intrinsics.js';
import type { CfnTemplate } from '../../local/template/cfn.js';
import { ensurePackaged } from '../../local/template/package.js';
import { planStack, type StackPlan } from '../../local/template/stack.js';

/**
 * Least privilege, proven by evaluation: the packaged template's role policies (what a security
 * reviewer signs off) evaluated with the local cloud's IAM evaluator.
 *
 * - What each function may need is derived from its code: its handler is bundled with esbuild
 *   (tree-shaken, the SDK external), and the `@aws-sdk/client-*` commands the bundle still
 *   imports are the ones it sends. Each command maps to its IAM action(s), and each action must
 *   be allowed on one of the factory's resources: a managed image, snapshot or builder in a
 *   configured region, the state bucket, a configured bundle location, the stack's state
 *   machines, event bus and parameters.
 * - Every destructive action a function has must be denied on an unmanaged resource, in a region
 *   the config does not use and on another bucket (and, for S3 deletes, outside the prefixes it
 *   needs).
 * - The checks are functions of a template, so widening one grant on purpose must make them
 *   report it (the last tests).
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const OTHER_REGION = 'ap-southeast-4';
const OTHER_BUCKET = 'someone-elses-bucket';
const NOW = new Date('2026-11-23T07:42:10Z');

/** The service prefix of each SDK client module the functions use (a naming fact, not a grant). */
const CLIENT_SERVICE: Record<string, string> = {
  '@aws-sdk/client-ec2': 'ec2',
  '@aws-sdk/client-s3': 's3',
  '@aws-sdk/client-sfn': 'states',
  '@aws-sdk/client-eventbridge': 'events',
  '@aws-sdk/client-ssm': 'ssm',
  '@aws-sdk/client-auto-scaling': 'autoscaling',
  '@aws-sdk/client-kms': 'kms',
};

/** Commands whose IAM action is not `<service>:<operation>` (S3 user guide, "Actions"; EC2 API reference). */
const ACTIONS_OF: Record<string, string[]> = {
  's3:HeadObject': ['s3:GetObject'],
  's3:ListObjectsV2': ['s3:ListBucket'],
  's3:DeleteObjects': ['s3:DeleteObject'],
  's3:CopyObject': ['s3:GetObject', 's3:PutObject'],
};

/**
 * The destructive actions, each with the resource types that must be the factory's own (tagged
 * ami-factory:managed=true at the time of the call or by the request): what the action changes,
 * not what it only reads (CreateImage's source instance, RunInstances' base image).
 */
const DESTRUCTIVE: Record<string, string[]> = {
  'ec2:CreateImage': ['image', 'snapshot'],
  'ec2:RegisterImage': ['image'],
  'ec2:CopyImage': ['image'],
  'ec2:RunInstances': ['instance', 'volume'],
  'ec2:TerminateInstances': ['instance'],
  'ec2:DeregisterImage': ['image'],
  'ec2:DisableImage': ['image'],
  'ec2:EnableImageDeprecation': ['image'],
  'ec2:ModifyImageAttribute': ['image'],
  'ec2:ModifySnapshotAttribute': ['snapshot'],
  'ec2:DeleteSnapshot': ['snapshot'],
  'ec2:EnableImageDeregistrationProtection': ['image'],
  'ec2:DisableImageDeregistrationProtection': ['image'],
  's3:PutObject': [],
  's3:PutObjectAcl': [],
  's3:DeleteObject': [],
};

/**
 * Commands a bundle contains but the function never sends: methods of a class the function uses
 * for something else (a bundler keeps every method of a class it keeps). Each is checked to be
 * still denied, so the entry goes when the code or the grant changes.
 */
const NOT_SENT: Record<string, Record<string, string>> = {
  reportRetention: { 's3:PutObject': 'RetentionStore.put (functions/lib/retention/store.ts): the report only reads the run' },
};

interface Facts {
  regions: string[];
  families: string[];
  /** region → the launch template ids families publish to there. */
  launchTemplates: Record<string, string[]>;
  stateBucket: string;
  /** `bucket/prefix` of the configured bundle locations and of bundleImage's image files. */
  bundleLocations: string[];
  images: string[];
}

interface Candidate {
  resource: string;
  context: Record<string, ContextValue>;
}

interface RoleUnderTest {
  fn: string;
  role: string;
  policies: NamedPolicy[];
  parameters: string[];
}

let catalog: IamCatalog;
let template: CfnTemplate;
let facts: Facts;
/** function (serverless key) → IAM actions its code needs */
let needs: Map<string, string[]>;

function planOf(t: CfnTemplate): StackPlan {
  return planStack(t, { stackName: 'ami-factory-dev', region: REGION, accountId: ACCOUNT });
}

function rolesOf(t: CfnTemplate): RoleUnderTest[] {
  const plan = planOf(t);
  return plan.functions.map((f) => {
    const role = plan.roles.find((r) => r.arn === f.roleArn);
    if (role === undefined) throw new Error(`${f.shortName} has no role in the template`);
    return {
      fn: f.shortName,
      role: role.logicalId,
      policies: role.policies.map((p) => parsePolicy(p.document, { name: p.name, kind: 'identity' }, catalog)),
      parameters: Object.entries(f.environment)
        .filter(([k]) => k.endsWith('_PARAM'))
        .map(([, v]) => `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter${v}`),
    };
  });
}

/** The `@aws-sdk/client-*` commands a handler's tree-shaken bundle imports, as `service:Operation`. */
async function commandsOf(handlerFile: string): Promise<string[]> {
  const out = await build({
    entryPoints: [join(ROOT, handlerFile)],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'node',
    packages: 'external',
    treeShaking: true,
    logLevel: 'silent',
  });
  const text = out.outputFiles[0]?.text ?? '';
  // Imports of external modules stay in the bundle even when tree-shaking dropped their users:
  // a command counts when the bundle still constructs it (`new X(`) or calls its paginator.
  const imported = new Map<string, string>();
  for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*"(@aws-sdk\/client-[a-z0-9-]+)"/g)) {
    const service = CLIENT_SERVICE[m[2] ?? ''];
    if (service === undefined) throw new Error(`${handlerFile} uses ${m[2]}: name its IAM service in CLIENT_SERVICE`);
    for (const spec of (m[1] ?? '').split(',')) {
      const [name = '', local = name] = spec.trim().split(/\s+as\s+/);
      const op = /^(\w+)Command$/.exec(name)?.[1] ?? /^paginate(\w+)$/.exec(name)?.[1];
      if (op !== undefined) imported.set(local, `${service}:${op}`);
    }
  }
  const commands = new Set<string>();
  for (const m of text.matchAll(/\b(?:new\s+)?([A-Za-z_$][\w$]*)\(/g)) {
    const command = imported.get(m[1] ?? '');
    const isNew = m[0].startsWith('new');
    if (command !== undefined && (isNew || (m[1] ?? '').startsWith('paginate'))) commands.add(command);
  }
  return [...commands].sort();
}

function actionsOf(command: string): string[] {
  const actions = ACTIONS_OF[command] ?? [command];
  for (const a of actions) {
    const [service = '', name = ''] = a.split(':');
    if (!catalog.knownAction(service, name)) throw new Error(`${command}: ${a} is not an IAM action; map it in ACTIONS_OF`);
  }
  return actions;
}

const s3Object = (location: string, key: string): string =>
  `arn:aws:s3:::${location.replace(/\/?$/, '/')}${key}`.replace(/:::([^/]+)\/\//, ':::$1/');

/** The factory's own resources an action may be called on (any one may be the one it needs). */
function factoryResources(
  t: CfnTemplate,
  r: RoleUnderTest,
  action: string,
  managed: boolean,
  region: string,
  bucketOf: (b: string) => string,
  onlyTypes?: readonly string[],
): Candidate[] {
  const [service = '', name = ''] = action.split(':');
  const plan = planOf(t);
  // The factory's instances are builders or image test instances (ami-factory:role).
  const tagSets: Record<string, ContextValue>[] = managed
    ? ['builder', 'test'].map((role) => ({
        'aws:ResourceTag/ami-factory:managed': 'true',
        'aws:ResourceTag/ami-factory:role': role,
        'aws:RequestTag/ami-factory:managed': 'true',
        'aws:RequestTag/ami-factory:role': role,
      }))
    : [{ 'aws:ResourceTag/Team': 'platform', 'aws:RequestTag/Team': 'platform' }];
  const base = (extra: Record<string, ContextValue> = {}): Record<string, ContextValue> => ({
    ...globalContext(principal(r.role), { time: NOW, secureTransport: true, requestedRegion: region }),
    ...extra,
  });
  const ec2 = (type: string, id: string, account = ACCOUNT): Candidate[] =>
    tagSets.flatMap((tags) =>
      ['CreateImage', 'RegisterImage', 'CopyImage', 'RunInstances'].map((createAction) => ({
        resource: `arn:aws:ec2:${region}:${['image', 'snapshot'].includes(type) ? '' : account}:${type}/${id}`,
        context: base({ ...tags, 'ec2:CreateAction': createAction, 'iam:PassedToService': 'ec2.amazonaws.com' }),
      })),
    );
  const stateKeys = [
    'waits/us-east-1/ami-0123.json',
    'retention/ledger/web.json',
    'retention/runs/r1/plan.json',
    'chatops/c1.json',
    'approvals/0b6d3c8e-6f0a-4a53-9d7e-0c1f6f7a1b2c.json',
    'channels/web/us-east-1/latest.json',
    'approvals/0d1c2b3a-4f5e-8d7c-9b8a-796857463524.json',
  ];
  const bundleKeys = ['web/2026/web.manifest.xml', 'web/2026/web.part.0', 'web/2026/web.bundle-staging-0'];
  const objects = [
    ...stateKeys.map((k) => s3Object(bucketOf(facts.stateBucket), k)),
    ...facts.bundleLocations.flatMap((l) => bundleKeys.map((k) => s3Object(bucketOf(l), k))),
    ...facts.images.map((l) => s3Object(bucketOf(l), 'root.img')),
  ];
  const buckets = [facts.stateBucket, ...facts.bundleLocations, ...facts.images].map(
    (l) => `arn:aws:s3:::${bucketOf(l).split('/')[0] ?? ''}`,
  );
  const types = catalog.resourceTypesOf(service, name);
  const wanted = types.filter((x) => x.required).map((x) => x.name);
  const byType: Record<string, () => Candidate[]> = {
    // (the Service Authorization Reference's resource type names, lower-cased)
    image: () => ec2('image', 'ami-0123456789abcdef0'),
    snapshot: () => ec2('snapshot', 'snap-0123456789abcdef0'),
    instance: () => ec2('instance', 'i-0123456789abcdef0'),
    volume: () => ec2('volume', 'vol-0123456789abcdef0'),
    subnet: () => ec2('subnet', 'subnet-0a1b2c3d'),
    'security-group': () => ec2('security-group', 'sg-0a1b2c3d'),
    'network-interface': () => ec2('network-interface', 'eni-0a1b2c3d'),
    role: () =>
      ['ami-factory-builder-web', 'ami-factory-test-web'].flatMap((name) =>
        ec2('role', 'x').map((c) => ({ ...c, resource: `arn:aws:iam::${ACCOUNT}:role/${name}` })),
      ),
    object: () => objects.map((resource) => ({ resource, context: base() })),
    bucket: () =>
      buckets.flatMap((resource) => [...stateKeys, ...bundleKeys].map((k) => ({ resource, context: base({ 's3:prefix': k }) }))),
    statemachine: () => plan.stateMachines.map((m) => ({ resource: m.arn, context: base() })),
    execution: () =>
      plan.stateMachines.map((m) => ({ resource: `${m.arn.replace(':stateMachine:', ':execution:')}:run-1`, context: base() })),
    'event-bus': () => plan.eventBuses.map((b) => ({ resource: b.arn, context: base() })),
    parameter: () =>
      [...r.parameters, ...facts.families.map((f) => `arn:aws:ssm:${region}:${ACCOUNT}:parameter/ami-factory/${f}/latest`)].map(
        (resource) => ({ resource, context: base() }),
      ),
    'launch-template': () =>
      (facts.launchTemplates[region] ?? []).flatMap((id) =>
        tagSets.map((tags) => ({ resource: `arn:aws:ec2:${region}:${ACCOUNT}:launch-template/${id}`, context: base({ ...tags }) })),
      ),
  };
  if (types.length === 0) return tagSets.map((tags) => ({ resource: '*', context: base({ ...tags }) }));
  const names = (wanted.length > 0 ? wanted : types.map((x) => x.name))
    .map((n) => n.toLowerCase())
    .filter((n) => onlyTypes === undefined || onlyTypes.length === 0 || onlyTypes.includes(n));
  return names.flatMap((n) => {
    const make = byType[n];
    return make === undefined ? [] : make();
  });
}

function principal(role: string): Principal {
  return {
    type: 'AssumedRole',
    arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/fn`,
    roleArn: `arn:aws:iam::${ACCOUNT}:role/${role}`,
    sessionName: 'fn',
    accountId: ACCOUNT,
  };
}

function allowed(r: RoleUnderTest, action: string, c: Candidate): boolean {
  return (
    evaluate({ principal: principal(r.role), action, resource: c.resource, context: c.context }, { identity: r.policies }).effect ===
    'Allow'
  );
}

/** `function: action` of every needed action no factory resource allows it on. */
function missing(t: CfnTemplate): string[] {
  const out: string[] = [];
  for (const r of rolesOf(t)) {
    for (const action of needs.get(r.fn) ?? []) {
      if (NOT_SENT[r.fn]?.[action] !== undefined) continue;
      const candidates = facts.regions.flatMap((region) => factoryResources(t, r, action, true, region, (b) => b));
      if (!candidates.some((c) => allowed(r, action, c))) out.push(`${r.fn}: ${action}`);
    }
  }
  return out;
}

/** `function: action on …` of every destructive action allowed on what is not the factory's. */
function overreach(t: CfnTemplate): string[] {
  const out: string[] = [];
  for (const r of rolesOf(t)) {
    for (const action of (needs.get(r.fn) ?? []).filter((a) => DESTRUCTIVE[a] !== undefined)) {
      const changed = DESTRUCTIVE[action];
      const isS3 = action.startsWith('s3:');
      const cases: [string, Candidate[]][] = isS3
        ? // S3 ARNs name no region and objects carry no factory tag: the bucket and key are what count.
          [['another bucket', factoryResources(t, r, action, true, REGION, () => OTHER_BUCKET)]]
        : [
            ['an unmanaged resource', facts.regions.flatMap((region) => factoryResources(t, r, action, false, region, (b) => b, changed))],
            ['another region', factoryResources(t, r, action, true, OTHER_REGION, (b) => b)],
          ];
      if (action === 's3:DeleteObject') {
        const outside = [facts.stateBucket, ...facts.bundleLocations, ...facts.images].flatMap((l) =>
          ['x', 'raw/root.img', 'other/web.manifest.xml.bak'].map((k) => ({
            resource: `arn:aws:s3:::${l.split('/')[0] ?? ''}/${k}`,
            context: globalContext(principal(r.role), { time: NOW, secureTransport: true, requestedRegion: REGION }),
          })),
        );
        cases.push(['a key outside its prefixes', outside]);
      }
      for (const [what, candidates] of cases) {
        const hit = candidates.find((c) => allowed(r, action, c));
        if (hit !== undefined) out.push(`${r.fn}: ${action} on ${what} (${hit.resource})`);
      }
    }
  }
  return out;
}

beforeAll(async () => {
  catalog = await loadIamCatalog();
  const pkg = await ensurePackaged({ projectRoot: ROOT, log: () => undefined });
  template = pkg.template;
  const config = parse(readFileSync(join(ROOT, 'factory.config.yml'), 'utf8')) as {
    families: Record<
      string,
      {
        region: string;
        copies?: { region: string }[];
        source: { type: string; imageLocation?: string };
        launchTemplates?: Record<string, string[]>;
      }
    >;
    bundles?: { images?: string[]; destinations?: string[] };
  };
  const families = Object.values(config.families);
  const plan = planOf(template);
  const stateBucket = plan.buckets.find((b) => b.logicalId === 'FactoryStateBucket')?.name;
  if (stateBucket === undefined) throw new Error('the template has no FactoryStateBucket');
  const launchTemplates: Record<string, string[]> = {};
  for (const f of families) {
    for (const [region, ids] of Object.entries(f.launchTemplates ?? {}))
      launchTemplates[region] = [...(launchTemplates[region] ?? []), ...ids];
  }
  facts = {
    regions: [...new Set(families.flatMap((f) => [f.region, ...(f.copies ?? []).map((c) => c.region)]))].sort(),
    families: Object.keys(config.families),
    launchTemplates,
    stateBucket,
    bundleLocations: [
      ...families.flatMap((f) => (f.source.imageLocation !== undefined ? [f.source.imageLocation.replace(/[^/]*$/, '')] : [])),
      ...(config.bundles?.destinations ?? []),
    ],
    images: config.bundles?.images ?? [],
  };
  needs = new Map();
  for (const f of plan.functions) {
    const file = `${f.handler.replace(/\.[^.]+$/, '')}.ts`;
    needs.set(f.shortName, [...new Set((await commandsOf(file)).flatMap(actionsOf))].sort());
  }
}, 300_000);

describe('the packaged roles, by evaluation', () => {
  it('derives what each function sends from its code', () => {
    expect(needs.size).toBeGreaterThanOrEqual(20);
    expect(needs.get('createImage')).toEqual(expect.arrayContaining(['ec2:CreateImage', 'ec2:DescribeImages']));
    expect(needs.get('applyRetention')).toEqual(expect.arrayContaining(['ec2:DeregisterImage', 's3:DeleteObject']));
    expect(needs.get('bundleImage')).toEqual(expect.arrayContaining(['s3:GetObject', 's3:PutObject', 'ssm:GetParameter']));
    expect(needs.get('reportBuild')).toEqual(['events:PutEvents']);
  });

  it('denies what a bundle contains but its function never sends (and the list is current)', () => {
    for (const [fn, actions] of Object.entries(NOT_SENT)) {
      const r = rolesOf(template).find((x) => x.fn === fn) as RoleUnderTest;
      for (const action of Object.keys(actions)) {
        expect([fn, needs.get(fn)?.includes(action)]).toEqual([fn, true]);
        const candidates = facts.regions.flatMap((region) => factoryResources(template, r, action, true, region, (b) => b));
        expect([fn, action, candidates.some((c) => allowed(r, action, c))]).toEqual([fn, action, false]);
      }
    }
  });

  it('gives every function a role of its own', () => {
    const roles = rolesOf(template);
    expect(new Set(roles.map((r) => r.role)).size).toBe(roles.length);
  });

  it('allows every command of every function on a managed resource in a configured region, the state bucket or a bundle location', () => {
    expect(missing(template)).toEqual([]);
  });

  it('denies every destructive action on an unmanaged resource, in another region and on another bucket', () => {
    expect(overreach(template)).toEqual([]);
  });

  it('lets each function write only its own log group', () => {
    const roles = rolesOf(template);
    const stream = (fn: string): string =>
      `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/ami-factory-dev-${fn}:log-stream:2026/11/23/[$LATEST]abc`;
    for (const r of roles) {
      const other = roles.find((o) => o.fn !== r.fn)?.fn ?? '';
      const ctx = globalContext(principal(r.role), { time: NOW, secureTransport: true, requestedRegion: REGION });
      expect([r.fn, allowed(r, 'logs:PutLogEvents', { resource: stream(r.fn), context: ctx })]).toEqual([r.fn, true]);
      expect([r.fn, allowed(r, 'logs:PutLogEvents', { resource: stream(other), context: ctx })]).toEqual([r.fn, false]);
    }
  });

  it('lets copyImage use the configured key of a destination region only through EC2, and grants only for AWS resources', () => {
    const r = rolesOf(template).find((x) => x.fn === 'copyImage') as RoleUnderTest;
    const key = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
    const ctx = (extra: Record<string, ContextValue>): Record<string, ContextValue> => ({
      ...globalContext(principal(r.role), { time: NOW, secureTransport: true, requestedRegion: 'eu-west-1' }),
      'kms:ViaService': 'ec2.eu-west-1.amazonaws.com',
      'kms:ResourceAliases': ['alias/ami-factory'],
      ...extra,
    });
    expect(allowed(r, 'kms:GenerateDataKeyWithoutPlaintext', { resource: key, context: ctx({}) })).toBe(true);
    expect(allowed(r, 'kms:CreateGrant', { resource: key, context: ctx({ 'kms:GrantIsForAWSResource': true }) })).toBe(true);
    expect(allowed(r, 'kms:CreateGrant', { resource: key, context: ctx({ 'kms:GrantIsForAWSResource': false }) })).toBe(false);
    expect(allowed(r, 'kms:Decrypt', { resource: key, context: ctx({ 'kms:ViaService': 'ssm.eu-west-1.amazonaws.com' }) })).toBe(false);
    expect(allowed(r, 'kms:Decrypt', { resource: key, context: ctx({ 'kms:ResourceAliases': ['alias/other'] }) })).toBe(false);
    expect(
      allowed(r, 'kms:Decrypt', {
        resource: key.replace('eu-west-1', 'us-west-2'),
        context: ctx({ 'kms:ViaService': 'ec2.us-west-2.amazonaws.com' }),
      }),
    ).toBe(false);
  });
});

describe('the checks catch a widened grant', () => {
  /** The template with one statement of a role's policies changed. */
  function widened(role: string, change: (s: JsonObject) => JsonObject | undefined): CfnTemplate {
    const t = structuredClone(template);
    let changed = 0;
    for (const p of (t.Resources[role]?.Properties?.Policies ?? []) as { PolicyDocument: { Statement: JsonObject[] } }[]) {
      p.PolicyDocument.Statement = p.PolicyDocument.Statement.map((s) => {
        const next = change(s);
        if (next === undefined) return s;
        changed++;
        return next;
      });
    }
    if (changed === 0) throw new Error(`nothing to widen in ${role}`);
    return t;
  }
  const hasAction = (s: JsonObject, a: string): boolean => (Array.isArray(s.Action) ? s.Action.includes(a) : s.Action === a);

  it('reports a tag condition taken off a destructive EC2 grant', () => {
    const t = widened('ApplyRetentionRole', (s) =>
      hasAction(s, 'ec2:DeregisterImage') ? { ...s, Condition: { StringEquals: { 'aws:RequestedRegion': facts.regions } } } : undefined,
    );
    expect(overreach(t)).toContainEqual(expect.stringMatching(/^applyRetention: ec2:DeregisterImage on an unmanaged resource/));
  });

  it('reports a region condition taken off', () => {
    const t = widened('CleanupBuildRole', (s) =>
      hasAction(s, 'ec2:DeleteSnapshot')
        ? { ...s, Condition: { StringEquals: { 'aws:ResourceTag/ami-factory:managed': 'true' } } }
        : undefined,
    );
    expect(overreach(t)).toContainEqual(expect.stringMatching(/^cleanupBuild: ec2:DeleteSnapshot on another region/));
  });

  it('reports an S3 delete widened to every bucket', () => {
    const t = widened('ApplyRetentionRole', (s) => (hasAction(s, 's3:DeleteObject') ? { ...s, Resource: 'arn:aws:s3:::*/*' } : undefined));
    const found = overreach(t);
    expect(found).toContainEqual(expect.stringMatching(/^applyRetention: s3:DeleteObject on another bucket/));
    expect(found).toContainEqual(expect.stringMatching(/^applyRetention: s3:DeleteObject on a key outside its prefixes/));
  });

  it('reports a needed action taken away', () => {
    const t = widened('CreateImageRole', (s) => (hasAction(s, 'ec2:CreateImage') ? { ...s, Action: 'ec2:CreateFleet' } : undefined));
    expect(missing(t)).toEqual(['createImage: ec2:CreateImage']);
  });
});

/** A generated policy document with its `Fn::Sub`s of pseudo parameters resolved, as CloudFormation would. */
function subst(document: JsonObject): JsonObject {
  const none = (what: string) => (): never => {
    throw new Error(`a generated statement uses ${what}`);
  };
  const parameters = { 'AWS::Partition': 'aws', 'AWS::AccountId': ACCOUNT, 'AWS::Region': REGION };
  return resolveValue(
    document,
    { parameters, ref: none('Ref'), getAtt: none('Fn::GetAtt'), condition: none('a condition') },
    'scopes',
  ) as JsonObject;
}

// The generator's statements for configs the demo does not have.
describe('deploy/iam-scopes.cjs', () => {
  const require = createRequire(import.meta.url);
  const { iamScopes } = require('../../deploy/iam-scopes.cjs') as { iamScopes(config: unknown): Record<string, unknown> };
  const family = { region: 'us-east-1', source: { type: 'instance', tags: { Role: 'web' } } };

  it('denies bundle access explicitly when the config names no bundle location', () => {
    expect(iamScopes({ families: { web: family } }).applyRetention).toEqual([
      { Sid: 'NoBundleLocationConfigured', Effect: 'Deny', Action: ['s3:GetObject', 's3:DeleteObject'], Resource: '*' },
    ]);
  });

  it("names a key given by ARN, and refuses one of another region than the copy's", () => {
    const arn = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
    const scopes = iamScopes({ families: { web: { ...family, copies: [{ region: 'eu-west-1', kmsKeyId: arn }] } } });
    expect(JSON.stringify(scopes.copyImage)).toContain(`kms:eu-west-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`);
    expect(JSON.stringify(scopes.copyImage)).not.toContain('kms:ResourceAliases');
    expect(() => iamScopes({ families: { web: { ...family, copies: [{ region: 'us-west-2', kmsKeyId: arn }] } } })).toThrow(
      /copies\.0\.kmsKeyId: .* is a key of eu-west-1, not of the copy's region us-west-2/,
    );
  });

  it('lets launchTest use a key through EC2 in the regions a family tests in only, and grants only for AWS resources', () => {
    const tested = { ...family, copies: [{ region: 'eu-west-1', kmsKeyId: 'alias/ami-factory' }, { region: 'us-west-2' }] };
    const scopes = iamScopes({ families: { web: { ...tested, tests: { script: 'true' } }, api: { ...family, region: 'ap-south-1' } } });
    const r: RoleUnderTest = {
      fn: 'launchTest',
      role: 'LaunchTestRole',
      policies: [
        parsePolicy(
          subst({ Version: '2012-10-17', Statement: scopes.launchTest as JsonValue }),
          { name: 'keys', kind: 'identity' },
          catalog,
        ),
      ],
      parameters: [],
    };
    const key = (region: string, account = ACCOUNT): string => `arn:aws:kms:${region}:${account}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
    const ctx = (region: string, extra: Record<string, ContextValue> = {}): Record<string, ContextValue> => ({
      ...globalContext(principal(r.role), { time: NOW, secureTransport: true, requestedRegion: region }),
      'kms:ViaService': `ec2.${region}.amazonaws.com`,
      ...extra,
    });
    for (const region of ['us-east-1', 'eu-west-1', 'us-west-2']) {
      expect([region, allowed(r, 'kms:Decrypt', { resource: key(region), context: ctx(region) })]).toEqual([region, true]);
      // The base image owner's key (another account) of a build-region image, which its key policy shares with this account.
      const owner = '999988887777';
      const keyPolicy = parsePolicy(
        {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }],
        },
        { name: 'key policy', kind: 'resource' },
        catalog,
      );
      const shared = evaluate(
        { principal: principal(r.role), action: 'kms:ReEncryptFrom', resource: key(region, owner), context: ctx(region) },
        { identity: r.policies, resource: [keyPolicy] },
      );
      expect([region, shared.effect]).toEqual([region, 'Allow']);
      const grant = (forAws: boolean): boolean =>
        allowed(r, 'kms:CreateGrant', { resource: key(region), context: ctx(region, { 'kms:GrantIsForAWSResource': forAws }) });
      expect([region, grant(true), grant(false)]).toEqual([region, true, false]);
    }
    // Not through another service, not in a region no family tests in.
    expect(
      allowed(r, 'kms:Decrypt', {
        resource: key('eu-west-1'),
        context: ctx('eu-west-1', { 'kms:ViaService': 'ssm.eu-west-1.amazonaws.com' }),
      }),
    ).toBe(false);
    expect(allowed(r, 'kms:Decrypt', { resource: key('ap-south-1'), context: ctx('ap-south-1') })).toBe(false);
    expect(iamScopes({ families: { web: tested } }).launchTest).toEqual([
      expect.objectContaining({ Sid: 'NoImageTestConfigured', Effect: 'Deny', Resource: '*' }),
    ]);
  });

  it('refuses a bundle location with a wildcard', () => {
    expect(() => iamScopes({ families: { web: family }, bundles: { destinations: ['bucket/*'] } })).toThrow(/bundles\.destinations\.0/);
  });
});
