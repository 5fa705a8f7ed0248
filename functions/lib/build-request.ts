import * as z from 'zod';
import { ValidationError } from './errors.js';

/**
 * The BuildRequest: the state machine's input. Self-contained and replayable: everything
 * a run needs is in it, so re-driving a run from its input alone completes what is missing.
 *
 * Every exported schema of `functions/lib` is a `z.lazy`: built on its first parse, not when a
 * bundle is imported, so a cold start pays only for the schemas its function uses
 * (test/unit/lazy-schemas.test.ts). A schema extended or picked from another one `unwrap()`s it
 * inside its own getter.
 */
export const RegionSchema = z.lazy(() => z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as us-east-1'));
export const InstanceIdSchema = z.lazy(() => z.string().regex(/^i-[0-9a-f]{8,17}$/, 'must be an instance id such as i-0123456789abcdef0'));
export const ImageIdSchema = z.lazy(() => z.string().regex(/^ami-[0-9a-f]{8,17}$/, 'must be an image id such as ami-0123456789abcdef0'));
export const FamilySchema = z.lazy(() =>
  z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lower-case letters, digits and dashes (at most 63)'),
);
export const BuildIdSchema = z.lazy(() => z.string().regex(/^[A-Za-z0-9][A-Za-z0-9-]{7,79}$/, 'must be 8–80 letters, digits or dashes'));
const TagKey = z
  .string()
  .min(1)
  .max(128)
  .refine((k) => !k.startsWith('aws:'), 'tag keys may not start with aws:');
export const TagMapSchema = z.lazy(() => z.record(TagKey, z.string().max(256)));

export const AccountIdSchema = z.lazy(() => z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account id'));
export const KmsKeySchema = z.lazy(() =>
  z
    .string()
    .regex(
      /^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)\/[A-Za-z0-9/_-]+|alias\/[A-Za-z0-9/_-]+|[0-9a-f-]{36})$/,
      'must be a KMS key id, alias or ARN',
    ),
);
export const OrganizationArnSchema = z.lazy(() =>
  z.string().regex(/^arn:aws[a-z-]*:organizations::\d{12}:organization\/o-[a-z0-9]{10,32}$/, 'must be an organization ARN'),
);
export const OrganizationalUnitArnSchema = z.lazy(() =>
  z.string().regex(/^arn:aws[a-z-]*:organizations::\d{12}:ou\/o-[a-z0-9]{10,32}\/ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}$/, 'must be an OU ARN'),
);

/** Who or what started a run: recorded on the execution and in the factory's events (audit). */
export const TriggerSchema = z.lazy(() =>
  z
    .object({
      type: z.enum(['cli', 'schedule', 'event', 'chatops', 'test']),
      actor: z.string().max(256).optional(),
      channel: z.string().max(256).optional(),
      eventId: z.string().max(256).optional(),
    })
    .strict(),
);
export type Trigger = z.infer<typeof TriggerSchema>;

export const InstanceSourceSchema = z.lazy(() =>
  z
    .object({
      type: z.literal('instance'),
      instanceId: InstanceIdSchema.optional(),
      /** Tag selector: every pair must match, and exactly one instance may match. */
      tags: TagMapSchema.optional(),
      /** false (default): EC2 reboots the instance for a consistent image; true: crash-consistent, no downtime. */
      noReboot: z.boolean().default(false),
    })
    .strict()
    .refine((s) => (s.instanceId === undefined) !== (s.tags === undefined), {
      message: 'give exactly one of instanceId or tags',
    })
    .refine((s) => s.tags === undefined || Object.keys(s.tags).length > 0, { message: 'tags must not be empty' }),
);

/** A fresh build: launch a builder from a base image, run user data, image it, terminate it. */
export const BaseImageSourceSchema = z.lazy(() =>
  z
    .object({
      type: z.literal('base-image'),
      /** The base image by id ... */
      imageId: ImageIdSchema.optional(),
      /** ... or the newest available image whose name matches (wildcards * ?) owned by `owner`. */
      nameFilter: z.string().min(1).max(128).optional(),
      owner: z.union([AccountIdSchema, z.enum(['amazon', 'self', 'aws-marketplace'])]).optional(),
      instanceType: z
        .string()
        .regex(/^[a-z0-9-]+\.[a-z0-9]+$/, 'must be an instance type such as t3.micro')
        .default('t3.micro'),
      subnetId: z
        .string()
        .regex(/^subnet-[0-9a-f]{8,17}$/)
        .optional(),
      securityGroupIds: z
        .array(z.string().regex(/^sg-[0-9a-f]{8,17}$/))
        .max(5)
        .optional(),
      instanceProfileArn: z
        .string()
        .regex(/^arn:aws[a-z-]*:iam::\d{12}:instance-profile\/.+$/)
        .optional(),
      /** The family's build script (shell); the factory appends the sanitize step and the done signal. */
      userData: z.string().max(12000).default(''),
      /** Run the sanitize step before imaging (default true; required to share outside the account). */
      sanitize: z.boolean().default(true),
      /** Replaces the default sanitize script. */
      sanitizeScript: z.string().max(8000).optional(),
      /** How the build says it is done: it stops itself (default), or tags itself ami-factory:build-status=done|failed. */
      doneSignal: z.enum(['stopped', 'tag']).default('stopped'),
      buildTimeoutSeconds: z.number().int().min(60).max(86400).default(3600),
    })
    .strict()
    .refine((s) => (s.imageId === undefined) !== (s.nameFilter === undefined), { message: 'give exactly one of imageId or nameFilter' })
    .refine((s) => s.nameFilter === undefined || s.owner !== undefined, { message: 'nameFilter needs an owner', path: ['owner'] }),
);

export const SnapshotMappingSchema = z.lazy(() =>
  z
    .object({
      deviceName: z.string().regex(/^\/dev\/[a-z0-9]+$|^xvd[a-z]+$|^sd[a-z]+\d*$/, 'must be a device name such as /dev/xvda'),
      snapshotId: z.string().regex(/^snap-[0-9a-f]{8,17}$/, 'must be a snapshot id'),
      volumeSize: z.number().int().min(1).max(65536).optional(),
      volumeType: z.enum(['gp2', 'gp3', 'io1', 'io2', 'st1', 'sc1', 'standard']).optional(),
      deleteOnTermination: z.boolean().default(true),
    })
    .strict(),
);

/** Register an EBS-backed image from existing snapshots. */
export const SnapshotsSourceSchema = z.lazy(() =>
  z
    .object({
      type: z.literal('snapshots'),
      rootDeviceName: z.string().regex(/^\/dev\/[a-z0-9]+$/, 'must be a device name such as /dev/xvda'),
      blockDeviceMappings: z.array(SnapshotMappingSchema).min(1).max(32),
      architecture: z.enum(['i386', 'x86_64', 'arm64', 'x86_64_mac', 'arm64_mac']),
      bootMode: z.enum(['legacy-bios', 'uefi', 'uefi-preferred']).optional(),
      enaSupport: z.boolean().default(true),
      sriovNetSupport: z.boolean().default(false),
      tpmSupport: z.literal('v2.0').optional(),
      imdsSupport: z.literal('v2.0').optional(),
    })
    .strict()
    .refine((s) => s.blockDeviceMappings.some((m) => m.deviceName === s.rootDeviceName), {
      message: 'one block device mapping must be the root device',
      path: ['blockDeviceMappings'],
    })
    .refine((s) => new Set(s.blockDeviceMappings.map((m) => m.deviceName)).size === s.blockDeviceMappings.length, {
      message: 'device names must be unique',
      path: ['blockDeviceMappings'],
    }),
);

/** Register an instance-store image from a bundle already uploaded to S3 (ami-factory bundle + upload-bundle). */
export const BundleSourceSchema = z.lazy(() =>
  z
    .object({
      type: z.literal('bundle'),
      /** `bucket/prefix/name.manifest.xml`, as RegisterImage's ImageLocation. */
      imageLocation: z
        .string()
        .max(1024)
        .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/(.+\/)?[^/]+\.manifest\.xml$/, 'must be bucket/prefix/name.manifest.xml'),
      /** Defaults to the manifest's architecture. */
      architecture: z.enum(['i386', 'x86_64']).optional(),
    })
    .strict(),
);

export const SourceSchema = z.lazy(() =>
  z.discriminatedUnion('type', [
    InstanceSourceSchema.unwrap(),
    BaseImageSourceSchema.unwrap(),
    SnapshotsSourceSchema.unwrap(),
    BundleSourceSchema.unwrap(),
  ]),
);

export const CopyTargetSchema = z.lazy(() =>
  z
    .object({
      region: RegionSchema,
      /** Encrypt the copy's snapshots with this key of the destination region. */
      kmsKeyId: KmsKeySchema.optional(),
    })
    .strict(),
);

export const SharingSchema = z.lazy(() =>
  z
    .object({
      accounts: z.array(AccountIdSchema).max(1000).default([]),
      organizationArns: z.array(OrganizationArnSchema).max(1000).default([]),
      organizationalUnitArns: z.array(OrganizationalUnitArnSchema).max(1000).default([]),
      /** Public launch permission; only when the family explicitly allows it. */
      public: z.boolean().default(false),
      /** Also let the accounts create volumes from (copy) the snapshots. */
      snapshotVolumePermission: z.boolean().default(true),
    })
    .strict()
    .refine((s) => s.accounts.length + s.organizationArns.length + s.organizationalUnitArns.length <= 1000, {
      message: 'an image can be shared with at most 1,000 entities',
    }),
);

// ---- Image tests (a family's `tests`) ---------------------------------------------------------

/** Where a region's test instance runs; every field optional (the default VPC otherwise). */
export const TestNetworkSchema = z.lazy(() =>
  z
    .object({
      subnetId: z
        .string()
        .regex(/^subnet-[0-9a-f]{8,17}$/, 'must be a subnet id')
        .optional(),
      securityGroupIds: z
        .array(z.string().regex(/^sg-[0-9a-f]{8,17}$/, 'must be a security group id'))
        .max(5)
        .optional(),
      /** Its role must be named ami-factory-test* (the only roles the launch-test role may pass). */
      instanceProfileArn: z
        .string()
        .regex(/^arn:aws[a-z-]*:iam::\d{12}:instance-profile\/.+$/, 'must be an instance profile ARN')
        .optional(),
    })
    .strict(),
);

/**
 * A family's image test: after the image is available in a region (the build region, each copy)
 * an instance is launched from it, runs `script` from its user data and reports (it stops itself
 * on success — `stop` —, or tags itself ami-factory:test-status=passed|failed — `tag`). A region
 * whose test fails or does not report within `timeoutSeconds` is not published: its image is
 * deregistered (snapshots deleted) or disabled, per `onFailure`.
 */
export const ImageTestsSchema = z.lazy(() =>
  z
    .object({
      instanceType: z
        .string()
        .regex(/^[a-z0-9-]+\.[a-z0-9]+$/, 'must be an instance type such as t3.micro')
        .default('t3.micro'),
      /** The test (shell), run as root at first boot; a non-zero exit fails the test. */
      script: z.string().min(1).max(12000),
      timeoutSeconds: z.number().int().min(60).max(86400).default(1800),
      report: z.enum(['stop', 'tag']).default('stop'),
      onFailure: z.enum(['deregister', 'disable']).default('deregister'),
      /** Per region (the build region or a copy region): subnet, security groups, instance profile. */
      regions: z.record(RegionSchema, TestNetworkSchema).default({}),
    })
    .strict(),
);
export type ImageTests = z.infer<typeof ImageTestsSchema>;

/**
 * A distribution run (`ami-factory distribute`, `Distribute Requested`): the workflow skips the
 * build half and distributes `imageId`, the build region's image of the build the request names
 * (its buildId and requestedAt are that build's, so names, tags and cleanup are the build's own).
 * `runId` tells the runs apart: the execution name, the copies' ClientToken (a copy cleaned up
 * after a failure is copied again, not answered with the old id), the test instances.
 */
export const DistributionSchema = z.lazy(() => z.object({ imageId: ImageIdSchema, runId: BuildIdSchema }).strict());
export type Distribution = z.infer<typeof DistributionSchema>;

export const BuildRequestSchema = z.lazy(() =>
  z
    .object({
      buildId: BuildIdSchema,
      family: FamilySchema,
      /** When the build was requested (ISO-8601 UTC); part of the deterministic image name. */
      requestedAt: z.iso.datetime({ offset: true }),
      region: RegionSchema,
      source: SourceSchema,
      description: z.string().max(255).optional(),
      tags: TagMapSchema.default({}),
      trigger: TriggerSchema,
      /** Regions to copy the image to (the build region excluded). */
      copies: z.array(CopyTargetSchema).max(30).default([]),
      sharing: SharingSchema.default({
        accounts: [],
        organizationArns: [],
        organizationalUnitArns: [],
        public: false,
        snapshotVolumePermission: true,
      }),
      /** Deprecation time set on the image and every copy, in days after requestedAt (retention policy). */
      deprecateAfterDays: z.number().int().min(1).max(3650).optional(),
      /** How the image was prepared for sharing; recorded in the ami-factory:preparation tag. */
      preparation: z.enum(['sanitized', 'none']).default('none'),
      /** Public sharing of an unsanitized existing-instance image was explicitly acknowledged in the config. */
      acknowledgeUnsanitizedPublic: z.boolean().default(false),
      /** The family's image test, run in every region of the build (absent: images are not tested). */
      tests: ImageTestsSchema.optional(),
      /** Distribute this existing image instead of building one (functions/lib/distribution.ts). */
      distribute: DistributionSchema.optional(),
    })
    .strict()
    .refine((r) => Object.keys(r.tests?.regions ?? {}).every((k) => k === r.region || r.copies.some((c) => c.region === k)), {
      message: 'tests.regions may only name the build region and the copy regions',
      path: ['tests', 'regions'],
    })
    .refine((r) => !r.copies.some((c) => c.region === r.region), { message: 'copies must not include the build region', path: ['copies'] })
    .refine((r) => new Set(r.copies.map((c) => c.region)).size === r.copies.length, {
      message: 'copy regions must be unique',
      path: ['copies'],
    })
    .refine((r) => !r.sharing.public || r.source.type === 'base-image' || r.acknowledgeUnsanitizedPublic, {
      message: 'public sharing of an image made from an existing instance needs acknowledgeUnsanitizedPublic (it cannot be sanitized)',
      path: ['sharing', 'public'],
    })
    .refine((r) => !r.sharing.public || r.source.type !== 'base-image' || r.source.sanitize, {
      message: 'public sharing of a fresh build needs the sanitize step',
      path: ['sharing', 'public'],
    }),
);

export type BuildRequest = z.infer<typeof BuildRequestSchema>;
export type BuildRequestInput = z.input<typeof BuildRequestSchema>;
export type InstanceSource = z.infer<typeof InstanceSourceSchema>;
export type BaseImageSource = z.infer<typeof BaseImageSourceSchema>;
export type SnapshotsSource = z.infer<typeof SnapshotsSourceSchema>;
export type BundleSource = z.infer<typeof BundleSourceSchema>;
export type CopyTarget = z.infer<typeof CopyTargetSchema>;
export type Sharing = z.infer<typeof SharingSchema>;

/** A BuildRequest whose source is of one type (the steps of one source's path). */
export type BuildRequestOf<T extends BuildRequest['source']['type']> = BuildRequest & {
  source: Extract<BuildRequest['source'], { type: T }>;
};

/**
 * The input schema of a step that serves one source type: a BuildRequest of another type is a
 * ValidationError at the edge, and the step receives the request with its source narrowed.
 */
export function buildRequestWithSource<T extends BuildRequest['source']['type']>(type: T): z.ZodType<BuildRequestOf<T>> {
  return BuildRequestSchema.transform((r, ctx): BuildRequestOf<T> => {
    if (r.source.type !== type) {
      ctx.addIssue({ code: 'custom', path: ['source', 'type'], message: `this step handles ${type} sources, not ${r.source.type}` });
      return z.NEVER;
    }
    return r as BuildRequestOf<T>;
  }) as unknown as z.ZodType<BuildRequestOf<T>>;
}

/** Parses `value` with `schema`, or throws a ValidationError naming each bad field. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new ValidationError(
      `Invalid ${what}`,
      r.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`),
    );
  }
  return r.data;
}
