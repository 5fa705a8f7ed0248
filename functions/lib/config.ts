import { readFileSync, statSync } from 'node:fs';
import { parse } from 'yaml';
import * as z from 'zod';
import {
  BaseImageSourceSchema,
  BundleSourceSchema,
  BuildRequestSchema,
  CopyTargetSchema,
  FamilySchema,
  ImageTestsSchema,
  InstanceIdSchema,
  RegionSchema,
  SharingSchema,
  SnapshotsSourceSchema,
  TagMapSchema,
  type BuildRequest,
  type ImageTests,
} from './build-request.js';
import { ValidationError } from './errors.js';
import { RequestNotAllowedError, checkBuildRequest, defaultNoReboot, familyOf, familyPreparation } from './request-policy.js';
import { GatesSchema } from './approvals/gates.js';
import { ChannelNameSchema } from './channels/names.js';
import { ChatOpsPermissionsSchema } from './chatops/permissions.js';
import { FamilyTriggersSchema, ScheduleExpressionSchema, ssmParameterNeedsBaseImage } from './triggers/config.js';

/**
 * `factory.config.yml`: the image families the factory builds. One schema validates it;
 * errors name the file, the path inside it and the problem.
 */
const InstanceSourceConfigSchema = z.lazy(() =>
  z
    .object({
      type: z.literal('instance'),
      instanceId: InstanceIdSchema.optional(),
      tags: TagMapSchema.optional(),
    })
    .strict()
    .refine((s) => (s.instanceId === undefined) !== (s.tags === undefined), { message: 'give exactly one of instanceId or tags' }),
);

/**
 * The retention policy of a family (README, "Retention"). The defaults apply to every family,
 * so `ami-factory expire <family>` always has a policy; `schedule` makes it run by itself.
 */
export const RetentionSchema = z.lazy(() =>
  z
    .object({
      /** Deprecation time set on every image and copy at creation, and on older images by retention. */
      deprecateAfterDays: z.number().int().min(1).max(3650).optional(),
      /** The newest N images per region are always kept, whatever their age. */
      keepNewest: z.number().int().min(1).max(1000).default(3),
      /** Images older than this expire (unless kept for another reason). */
      maxAgeDays: z.number().int().min(1).max(3650).default(90),
      /** Expired images stay disabled (reversible) this many days before they are deregistered; 0 deregisters at once. */
      disableGraceDays: z.number().int().min(0).max(365).default(7),
      /** Images carrying any of these tag values are never retired. */
      excludeTags: TagMapSchema.default({ 'ami-factory:keep': 'true' }),
      /** Delete the S3 bundle of a deregistered instance-store image when no other image uses it. */
      deleteBundles: z.boolean().default(true),
      /** Run retention on this EventBridge schedule, e.g. cron(0 4 * * ? *). */
      schedule: ScheduleExpressionSchema.optional(),
    })
    .strict()
    .refine((r) => r.deprecateAfterDays === undefined || r.deprecateAfterDays <= r.maxAgeDays, {
      message: 'deprecateAfterDays must not exceed maxAgeDays (an image would be retired before it is deprecated)',
      path: ['deprecateAfterDays'],
    }),
);
export type RetentionConfig = z.infer<typeof RetentionSchema>;

// ── Publication (channels) ──────────────────────────────────────────────────────────────────
/**
 * A launch template the factory moves to each new image, by id: IAM grants name a launch
 * template by its ARN, which holds the id (a name cannot be scoped to).
 */
export const LaunchTemplateIdSchema = z.string().regex(/^lt-[0-9a-f]{17}$/, 'must be a launch template id such as lt-0123456789abcdef0');

/** The channels a family publishes to: the first is where every build publishes; the others are promoted to. */
export const ChannelsSchema = z
  .array(ChannelNameSchema)
  .min(1)
  .max(10)
  .default(['latest'])
  .refine((c) => new Set(c).size === c.length, 'channels must be unique');

/** Per region: the launch templates that get a new default version with each published image. */
export const LaunchTemplatesSchema = z.record(RegionSchema, z.array(LaunchTemplateIdSchema).min(1).max(20)).default({});

/** Launch templates may be listed only for the family's own regions. */
function launchTemplatesInFamilyRegions(f: {
  region: string;
  copies: { region: string }[];
  launchTemplates: Record<string, string[]>;
}): boolean {
  const regions = new Set([f.region, ...f.copies.map((c) => c.region)]);
  return Object.keys(f.launchTemplates).every((r) => regions.has(r));
}

export const FamilyConfigSchema = z.lazy(() =>
  z
    .object({
      description: z.string().max(255).optional(),
      /** The region the family is built in. */
      region: RegionSchema,
      source: z.discriminatedUnion('type', [
        InstanceSourceConfigSchema.unwrap(),
        BaseImageSourceSchema,
        SnapshotsSourceSchema,
        BundleSourceSchema,
      ]),
      /**
       * Instance sources: true (default) always reboots for a consistent image; false never reboots
       * (no downtime, crash-consistent); `either` reboots unless a request asks for no reboot.
       * A request for what the family does not allow is refused (request-policy.ts).
       */
      reboot: z.union([z.boolean(), z.literal('either')]).default(true),
      /** Regions the image is copied to, each with an optional KMS key of that region. */
      copies: z.array(CopyTargetSchema).max(30).default([]),
      sharing: SharingSchema.optional(),
      /**
       * An existing instance cannot be sanitized; sharing its image publicly needs this
       * explicit acknowledgement.
       */
      acknowledgeUnsanitizedPublic: z.boolean().default(false),
      retention: RetentionSchema.prefault({}),
      /** Extra tags put on every image of the family. */
      tags: TagMapSchema.default({}),
      /** Who may run which Slack command (defaults: functions/lib/chatops/permissions.ts). */
      chatops: ChatOpsPermissionsSchema.optional(),
      /** { schedule?: 'cron(...)'|'rate(...)', ssmParameter?: '/aws/service/...' } */
      triggers: FamilyTriggersSchema.optional(),
      /** The image test run in every region before the region counts as succeeded (README, "Image tests"). */
      tests: ImageTestsSchema.optional(),
      /** Channels (SSM parameters /ami-factory/<family>/<channel> per region); a build publishes to the first. */
      channels: ChannelsSchema,
      /** Per region, launch template ids whose default version moves to each image published there. */
      launchTemplates: LaunchTemplatesSchema,
      /** Steps that wait for a person's approval in Slack (functions/lib/approvals/gates.ts; README, "Approval gates"). */
      gates: GatesSchema.optional(),
    })
    .strict()
    .refine(ssmParameterNeedsBaseImage, { message: 'triggers.ssmParameter needs a base-image source', path: ['triggers', 'ssmParameter'] })
    .refine((f) => Object.keys(f.tests?.regions ?? {}).every((r) => r === f.region || f.copies.some((c) => c.region === r)), {
      message: 'tests.regions may only name the family region and its copy regions',
      path: ['tests', 'regions'],
    })
    .refine(launchTemplatesInFamilyRegions, {
      message: "launchTemplates may name only the family's regions (its region and its copies' regions)",
      path: ['launchTemplates'],
    })
    .superRefine((f, ctx) => {
      for (const issue of gateProblems(f)) ctx.addIssue({ code: 'custom', path: ['gates', ...issue.path], message: issue.message });
    }),
);

/**
 * Gates that could never hold, which are configuration mistakes rather than harmless: a
 * publicShare gate on a family that never shares publicly, a promote gate on a channel the
 * family does not have or on its first channel (every build publishes there without promotion).
 */
function gateProblems(f: {
  sharing?: { public: boolean } | undefined;
  channels: string[];
  gates?: { publicShare?: unknown; promote?: { channels: string[] } | undefined } | undefined;
}): { path: string[]; message: string }[] {
  const problems: { path: string[]; message: string }[] = [];
  if (f.gates?.publicShare !== undefined && f.sharing?.public !== true) {
    problems.push({
      path: ['publicShare'],
      message: 'the family never shares publicly (sharing.public: true), so the gate would never hold',
    });
  }
  for (const channel of f.gates?.promote?.channels ?? []) {
    if (!f.channels.includes(channel)) {
      problems.push({ path: ['promote', 'channels'], message: `${channel} is not among the family's channels (${f.channels.join(', ')})` });
    } else if (channel === f.channels[0]) {
      problems.push({
        path: ['promote', 'channels'],
        message: `${channel} is the family's first channel: every build publishes there without a promotion, so the gate would never hold`,
      });
    }
  }
  return problems;
}

/** `bucket` or `bucket/prefix/`: an S3 location the functions' IAM grants are scoped to. */
export const S3LocationSchema = z.lazy(() =>
  z
    .string()
    .max(1024)
    .regex(
      /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/([A-Za-z0-9!_.'()-]+\/)*)?$/,
      'must be a bucket name, or bucket/prefix/ (ending in /, no wildcards)',
    )
    .refine((l) => !l.split('/')[0]?.includes('..'), 'must be a bucket name, or bucket/prefix/ (ending in /, no wildcards)'),
);

/**
 * Where instance-store bundles are made outside the families' own bundle sources. The
 * packaged IAM policies name exactly these locations (deploy/iam-scopes.cjs): the bundleImage
 * function may read image files only under `images` and write bundles only under
 * `destinations`; registering, copying and retiring bundles may use those destinations and
 * each bundle family's manifest folder.
 */
export const BundleLocationsSchema = z.lazy(() =>
  z
    .object({
      images: z.array(S3LocationSchema).max(50).default([]),
      destinations: z.array(S3LocationSchema).max(50).default([]),
    })
    .strict(),
);

export const FactoryConfigSchema = z.lazy(() =>
  z
    .object({
      families: z.record(FamilySchema, FamilyConfigSchema).refine((f) => Object.keys(f).length > 0, 'declare at least one family'),
      bundles: BundleLocationsSchema.optional(),
    })
    .strict(),
);

export type FactoryConfig = z.infer<typeof FactoryConfigSchema>;
export type FamilyConfig = z.infer<typeof FamilyConfigSchema>;

export class ConfigFileError extends ValidationError {
  override name = 'ConfigFileError';
}

/**
 * The largest factory config read, in bytes (256 KiB: a config of hundreds of families is
 * tens of KiB). A larger file is refused before it is parsed, so a runaway or hostile file
 * cannot hold a cold start for the seconds a huge YAML document takes.
 */
export const FACTORY_CONFIG_MAX_BYTES = 256 * 1024;

/** The factory config is over FACTORY_CONFIG_MAX_BYTES. */
export class ConfigTooLargeError extends ConfigFileError {
  override name = 'ConfigTooLargeError';
}

function tooLarge(file: string, bytes: number): ConfigTooLargeError {
  return new ConfigTooLargeError(
    `${file} is ${bytes} bytes; a factory config may be at most ${FACTORY_CONFIG_MAX_BYTES} bytes (256 KiB), so it was not parsed`,
  );
}

function issuesOf(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`);
}

export function parseFactoryConfig(text: string, file = 'factory.config.yml'): FactoryConfig {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > FACTORY_CONFIG_MAX_BYTES) throw tooLarge(file, bytes);
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new ConfigFileError(`${file}: not valid YAML (${e instanceof Error ? e.message : String(e)})`, [], { cause: e });
  }
  const r = FactoryConfigSchema.safeParse(doc);
  if (!r.success) throw new ConfigFileError(`${file} is invalid`, issuesOf(r.error));
  // Every family must also make a valid BuildRequest (copies vs region, public sharing rules).
  const problems: string[] = [];
  for (const family of Object.keys(r.data.families)) {
    try {
      buildRequestFor(r.data, family, { buildId: 'config-check-0000', requestedAt: '2026-01-01T00:00:00Z', trigger: { type: 'cli' } });
    } catch (e) {
      if (e instanceof ValidationError) problems.push(...e.issues.map((i) => `families.${family}.${i}`));
      else throw e;
    }
  }
  if (problems.length > 0) throw new ConfigFileError(`${file} is invalid`, problems);
  return r.data;
}

export function loadFactoryConfig(path: string): FactoryConfig {
  let text: string;
  try {
    const { size } = statSync(path);
    if (size > FACTORY_CONFIG_MAX_BYTES) throw tooLarge(path, size);
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof ConfigTooLargeError) throw e;
    throw new ConfigFileError(`Cannot read the factory config ${path}`, [], { cause: e });
  }
  return parseFactoryConfig(text, path);
}

/** A family's tests with the network settings of the regions a request builds in (a build restricted to some copies). */
function testsFor(tests: ImageTests, regions: string[]): ImageTests {
  return { ...tests, regions: Object.fromEntries(Object.entries(tests.regions).filter(([r]) => regions.includes(r))) };
}

export interface BuildOverrides {
  noReboot?: boolean;
  /** Restrict the copies to these regions (they must be among the family's). */
  regions?: string[];
  buildId: string;
  requestedAt: string;
  trigger: BuildRequest['trigger'];
}

/**
 * The self-contained BuildRequest for one build of a family, with the choices a trigger passes
 * (copy regions among the family's, reboot or not where the family's `reboot` is `either`). A
 * request the config does not allow is a RequestNotAllowedError (request-policy.ts), the check
 * planBuild makes again on the state machine's input.
 */
export function buildRequestFor(config: FactoryConfig, family: string, o: BuildOverrides): BuildRequest {
  const f = familyOf(config, family);
  let source: unknown;
  if (f.source.type === 'instance') {
    source = { ...f.source, noReboot: o.noReboot ?? defaultNoReboot(f.reboot) };
  } else {
    if (o.noReboot !== undefined)
      throw new RequestNotAllowedError(`--reboot/--no-reboot apply to instance sources; ${family} is built from ${f.source.type}`);
    source = f.source;
  }
  let copies = f.copies;
  if (o.regions !== undefined) {
    const known = new Set(f.copies.map((c) => c.region));
    const unknown = o.regions.filter((r) => !known.has(r) && r !== f.region);
    if (unknown.length > 0) {
      throw new RequestNotAllowedError(
        `Family ${family} does not copy to ${unknown.join(', ')}; it copies to: ${[...known].join(', ') || '(none)'}`,
      );
    }
    copies = f.copies.filter((c) => o.regions?.includes(c.region));
  }
  const candidate = {
    buildId: o.buildId,
    family,
    requestedAt: o.requestedAt,
    region: f.region,
    source,
    tags: f.tags,
    trigger: o.trigger,
    copies,
    preparation: familyPreparation(f),
    acknowledgeUnsanitizedPublic: f.acknowledgeUnsanitizedPublic,
    ...(f.sharing !== undefined ? { sharing: f.sharing } : {}),
    ...(f.retention.deprecateAfterDays !== undefined ? { deprecateAfterDays: f.retention.deprecateAfterDays } : {}),
    ...(f.description !== undefined ? { description: f.description } : {}),
    ...(f.tests !== undefined ? { tests: testsFor(f.tests, [f.region, ...copies.map((c) => c.region)]) } : {}),
  };
  const r = BuildRequestSchema.safeParse(candidate);
  if (!r.success) throw new ValidationError(`Family ${family} does not make a valid build request`, issuesOf(r.error));
  checkBuildRequest(config, r.data);
  return r.data;
}
