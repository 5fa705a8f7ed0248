import * as z from 'zod';
import {
  AccountIdSchema,
  BuildIdSchema,
  FamilySchema,
  ImageIdSchema,
  OrganizationArnSchema,
  OrganizationalUnitArnSchema,
  RegionSchema,
  TriggerSchema,
} from '../build-request.js';
import { FACTORY_EVENT_SOURCE } from '../constants.js';
import { ValidationError } from '../errors.js';
import { RunIdSchema } from '../retention/request.js';

/**
 * One schema per EventBridge detail-type, used by whoever publishes it and whoever consumes it.
 *
 * The factory's own events (source `ami-factory`) are the contract other systems subscribe to
 * (README, "Events"): `publishEvents` (publish.ts) only takes a detail of its type's schema and
 * publishes what the schema parsed. The events it consumes — its own (notify-slack), `Build
 * Requested` (anyone may put it on the factory bus), and AWS's (`Parameter Store Change`, the
 * EC2 state changes) — are parsed with the same schemas, envelope and all (`eventSchema`), so a
 * handler receives a typed detail and never checks a discriminant by hand.
 *
 * Steps run at least once, so an event may arrive twice: consumers deduplicate on
 * (detail-type, buildId, region).
 */

// ── Images ──────────────────────────────────────────────────────────────────────────────────
/** ImageAvailable: the build-region image is available and finalized. */
export const ImageAvailableDetailSchema = z.lazy(() =>
  z.object({
    buildId: BuildIdSchema,
    family: FamilySchema,
    region: RegionSchema,
    imageId: ImageIdSchema,
    /** When EC2 deprecates the image (the family's retention policy), or null. */
    deprecateAt: z.iso.datetime().nullable(),
  }),
);

/** ImageCopied: a copy is available and finalized in its region. */
export const ImageCopiedDetailSchema = z.lazy(() => ImageAvailableDetailSchema.unwrap().extend({ sourceRegion: RegionSchema }));

const SharingTargetsSchema = z.lazy(() =>
  z.object({
    accounts: z.array(AccountIdSchema),
    organizationArns: z.array(OrganizationArnSchema),
    organizationalUnitArns: z.array(OrganizationalUnitArnSchema),
    public: z.boolean(),
  }),
);

/** ImageShared: the family's sharing was applied to an image (`added`: what this call added). */
export const ImageSharedDetailSchema = z.lazy(() =>
  z.object({
    buildId: BuildIdSchema,
    family: FamilySchema,
    region: RegionSchema,
    imageId: ImageIdSchema,
    ...SharingTargetsSchema.unwrap().shape,
    added: z.object({
      userIds: z.array(AccountIdSchema),
      organizationArns: z.array(OrganizationArnSchema),
      organizationalUnitArns: z.array(OrganizationalUnitArnSchema),
      public: z.boolean(),
    }),
  }),
);

/** ImagePublished: a channel's SSM parameter (and the family's launch templates there) now name the image. */
export const ImagePublishedDetailSchema = z.object({
  family: FamilySchema,
  region: RegionSchema,
  channel: z.string().min(1),
  /** `/ami-factory/<family>/<channel>` (DataType aws:ec2:image). */
  parameter: z.string().min(1),
  imageId: ImageIdSchema,
  /** What the channel held before (null: the channel is new in the region). */
  previousImageId: ImageIdSchema.nullable(),
  buildId: BuildIdSchema.nullable(),
  action: z.enum(['publish', 'promote', 'rollback']),
  by: TriggerSchema,
  /** Launch templates whose default version now has the image. */
  launchTemplates: z.array(z.object({ launchTemplateId: z.string(), version: z.number().int() })),
});

// ── Builds ──────────────────────────────────────────────────────────────────────────────────
/** The sharing finalize-image applied (`unmanaged`: launch permissions the config does not list). */
export const FinalizedSharingSchema = z.lazy(() => SharingTargetsSchema.unwrap().extend({ unmanaged: z.array(z.string()) }));

/** One region of a build: the build region first, then each copy region. */
/** A region's image test verdict (functions/lib/ec2/image-test.ts). */
export const TestResultSchema = z.lazy(() =>
  z.object({
    status: z.enum(['passed', 'failed', 'timed-out']),
    instanceId: z.string().nullable(),
    reason: z.string().nullable(),
    consoleTail: z.string().nullable(),
  }),
);

export const BuildRegionResultSchema = z.lazy(() =>
  z.object({
    region: RegionSchema,
    status: z.enum(['succeeded', 'failed']),
    imageId: ImageIdSchema.nullable().optional(),
    /** The channel the region's image was published to (null: not published, see `error`). */
    published: z.object({ channel: z.string(), parameter: z.string() }).nullable().optional(),
    /** A failed region: the error name and the message of its cause. */
    error: z.string().optional(),
    cause: z.string().optional(),
    deprecateAt: z.iso.datetime().nullable().optional(),
    sharing: FinalizedSharingSchema.nullable().optional(),
    /** The region's image test (null or absent: the family declares none, or the region failed before its test). */
    test: TestResultSchema.nullable().optional(),
    /**
     * What this run did with the region's image: `created` it (CreateImage, RegisterImage, CopyImage),
     * `adopted` one an earlier run made (then finalized, tested, published it), or left it
     * `untouched` (its channel already held it: a distribution re-run). Absent: the region failed first.
     */
    action: z.enum(['created', 'adopted', 'untouched']).optional(),
  }),
);

/**
 * How an approval gate decided (functions/lib/approvals): approved (by whom, when), rejected or
 * expired (the reason: who rejected and when, or the deadline), or failed (the request itself
 * could not be made; the step did not run either).
 */
export const GateOutcomeSchema = z.lazy(() =>
  z.object({
    status: z.enum(['approved', 'rejected', 'expired', 'failed']),
    approvalId: z.string().optional(),
    approvers: z.array(z.string()).optional(),
    decidedAt: z.string().optional(),
    reason: z.string().optional(),
  }),
);
export type GateOutcome = z.output<typeof GateOutcomeSchema>;

/** BuildSucceeded | BuildPartiallySucceeded | BuildFailed: the end of every build. */
export const BuildOutcomeDetailSchema = z.lazy(() =>
  z.object({
    buildId: BuildIdSchema,
    family: FamilySchema,
    region: RegionSchema,
    imageName: z.string().nullable(),
    trigger: TriggerSchema,
    regions: z.array(BuildRegionResultSchema).min(1),
    /** Present when the run distributed an existing image (`ami-factory distribute`, `Distribute Requested`). */
    distribution: z.object({ imageId: ImageIdSchema, runId: BuildIdSchema }).optional(),
    /** The approval gates the build's share passed or stopped at (absent: no gate held it). */
    approvals: z.array(GateOutcomeSchema).optional(),
  }),
);

export const BUILD_OUTCOMES = ['BuildSucceeded', 'BuildPartiallySucceeded', 'BuildFailed'] as const;
export type BuildOutcome = (typeof BUILD_OUTCOMES)[number];

/** BuildRequestRejected: a trigger asked for a build (or retention run) the config refuses; nothing started. */
export const BuildRequestRejectedDetailSchema = z.lazy(() =>
  z.object({
    /** What asked: `Build Requested`, `Distribute Requested`, `Parameter Store Change`, `Scheduled Event`. */
    trigger: z.enum(['Build Requested', 'Distribute Requested', 'Parameter Store Change', 'Scheduled Event']),
    eventId: z.string().optional(),
    family: z.string().optional(),
    reason: z.string(),
    issues: z.array(z.string()),
  }),
);

// ── Retention ───────────────────────────────────────────────────────────────────────────────
/** ImageDisabled: retention disabled an expired image (its grace period starts). */
export const ImageDisabledDetailSchema = z.lazy(() =>
  z.object({
    family: FamilySchema,
    region: RegionSchema,
    imageId: ImageIdSchema,
    runId: RunIdSchema,
    reason: z.string(),
    trigger: TriggerSchema,
  }),
);

/** ImageExpired: retention deregistered an image (and deleted these snapshots). */
export const ImageExpiredDetailSchema = z.lazy(() => ImageDisabledDetailSchema.unwrap().extend({ deletedSnapshots: z.array(z.string()) }));

const Count = z.number().int().min(0);

/** One region of a retention run: what was planned, what happened, what failed or was kept at action time. */
export const RetentionRegionReportSchema = z.lazy(() =>
  z.object({
    region: RegionSchema,
    status: z.enum(['planned', 'applied', 'plan-failed', 'apply-failed', 'skipped']),
    images: Count,
    planned: z.object({ keep: Count, deprecate: Count, disable: Count, deregister: Count }),
    outcomes: z.object({ deprecated: Count, disabled: Count, deregistered: Count, 'already-done': Count, kept: Count, failed: Count }),
    failures: z.array(z.object({ imageId: z.string(), planned: z.string(), error: z.string() })),
    keptAtActionTime: z.array(z.object({ imageId: z.string(), planned: z.string(), reason: z.string() })),
    error: z.string().optional(),
  }),
);

/** The report of a retention run (retention/report.ts), as the CLI and ChatOps print it. */
export const RetentionReportSchema = z.lazy(() =>
  z.object({
    runId: RunIdSchema,
    family: FamilySchema,
    dryRun: z.boolean(),
    /** `rejected`: the plans were above the family's retentionApply gate and not approved; nothing was applied. */
    status: z.enum(['planned', 'succeeded', 'partially-succeeded', 'failed', 'rejected']),
    regions: z.array(RetentionRegionReportSchema),
    calls: z.record(z.string(), Count),
    throttled: Count,
    /** The retentionApply gate's decision (absent: no gate held the run). */
    approval: GateOutcomeSchema.optional(),
  }),
);

/** RetentionPlanned (a dry run) | RetentionCompleted: the run's report and its trigger. */
export const RetentionOutcomeDetailSchema = z.lazy(() => RetentionReportSchema.unwrap().extend({ trigger: TriggerSchema }));

// ── Events the factory consumes from others ─────────────────────────────────────────────────
export const BUILD_REQUESTED = 'Build Requested';

/** Build Requested (source ami-factory, put by a pipeline or a person): build a family now. */
export const BuildRequestedDetailSchema = z.lazy(() =>
  z
    .object({
      family: FamilySchema,
      /** Copy only to these of the family's regions. */
      regions: z.array(RegionSchema).min(1).max(30).optional(),
      /** Instance sources only: override the family's reboot setting. */
      reboot: z.boolean().optional(),
      requestedBy: z.string().min(1).max(256).optional(),
    })
    .strict(),
);

export const DISTRIBUTE_REQUESTED = 'Distribute Requested';

/**
 * Distribute Requested (source ami-factory): distribute an existing image of a family — copies,
 * sharing, tests, publication — without a rebuild (functions/lib/distribution.ts).
 */
export const DistributeRequestedDetailSchema = z.lazy(() =>
  z
    .object({
      family: FamilySchema,
      /** The family's image in its build region. */
      imageId: ImageIdSchema,
      /** Distribute only to these of the family's copy regions. */
      regions: z.array(RegionSchema).min(1).max(30).optional(),
      requestedBy: z.string().min(1).max(256).optional(),
    })
    .strict(),
);

/** Parameter Store Change (source aws.ssm): a parameter a family's `triggers.ssmParameter` may name changed. */
export const ParameterStoreChangeDetailSchema = z.lazy(() =>
  z.object({
    name: z.string().min(1).max(2048),
    type: z.string().optional(),
    operation: z.string().min(1),
    description: z.string().optional(),
  }),
);

/** EC2 AMI State Change (source aws.ec2, best effort; aws-facts.md). No tags: consumers describe the image. */
export const Ec2AmiStateChangeDetailSchema = z.lazy(() =>
  z.object({
    RequestId: z.string().optional(),
    ImageId: z.string().min(1),
    /** available | failed | deregistered | disabled. */
    State: z.string().min(1),
    ErrorMessage: z.string().optional(),
  }),
);

/** EC2 Instance State-change Notification (source aws.ec2): a builder stopped, say. */
export const Ec2InstanceStateChangeDetailSchema = z.lazy(() =>
  z.object({
    'instance-id': z.string().min(1),
    state: z.string().min(1),
  }),
);

// ── Approvals ───────────────────────────────────────────────────────────────────────────────
const SlackIdSchema = z.string().regex(/^[A-Z0-9]{2,}$/, 'must be a Slack id');
/**
 * ApprovalDecided: an approval request at a gate was decided (approved, rejected) or expired
 * (functions/lib/approvals/apply.ts). `decisions` are every recorded click, in order; `decidedBy`
 * the users whose clicks decided it (the approvers, or the one who rejected; empty on expiry).
 */
export const ApprovalDecidedDetailSchema = z.lazy(() =>
  z.object({
    approvalId: z.uuid(),
    family: FamilySchema,
    gate: z.enum(['publicShare', 'newAccounts', 'promote', 'retentionApply']),
    status: z.enum(['approved', 'rejected', 'expired']),
    executionArn: z.string().min(1),
    requestedBy: SlackIdSchema,
    decidedAt: z.iso.datetime({ offset: true }),
    decidedBy: z.array(SlackIdSchema),
    comment: z.string().max(3000).optional(),
    decisions: z.array(
      z.object({
        userId: SlackIdSchema,
        decision: z.enum(['approve', 'reject']),
        at: z.iso.datetime({ offset: true }),
        comment: z.string().max(3000).optional(),
      }),
    ),
  }),
);

/** Every detail-type the factory publishes or consumes: its source and its detail's one schema. */
export const EVENT_TYPES = {
  ImageAvailable: { source: FACTORY_EVENT_SOURCE, detail: ImageAvailableDetailSchema },
  ImageCopied: { source: FACTORY_EVENT_SOURCE, detail: ImageCopiedDetailSchema },
  ImageShared: { source: FACTORY_EVENT_SOURCE, detail: ImageSharedDetailSchema },
  ImagePublished: { source: FACTORY_EVENT_SOURCE, detail: ImagePublishedDetailSchema },
  BuildSucceeded: { source: FACTORY_EVENT_SOURCE, detail: BuildOutcomeDetailSchema },
  BuildPartiallySucceeded: { source: FACTORY_EVENT_SOURCE, detail: BuildOutcomeDetailSchema },
  BuildFailed: { source: FACTORY_EVENT_SOURCE, detail: BuildOutcomeDetailSchema },
  BuildRequestRejected: { source: FACTORY_EVENT_SOURCE, detail: BuildRequestRejectedDetailSchema },
  ImageDisabled: { source: FACTORY_EVENT_SOURCE, detail: ImageDisabledDetailSchema },
  ImageExpired: { source: FACTORY_EVENT_SOURCE, detail: ImageExpiredDetailSchema },
  RetentionPlanned: { source: FACTORY_EVENT_SOURCE, detail: RetentionOutcomeDetailSchema },
  RetentionCompleted: { source: FACTORY_EVENT_SOURCE, detail: RetentionOutcomeDetailSchema },
  ApprovalDecided: { source: FACTORY_EVENT_SOURCE, detail: ApprovalDecidedDetailSchema },
  [BUILD_REQUESTED]: { source: FACTORY_EVENT_SOURCE, detail: BuildRequestedDetailSchema },
  [DISTRIBUTE_REQUESTED]: { source: FACTORY_EVENT_SOURCE, detail: DistributeRequestedDetailSchema },
  'Parameter Store Change': { source: 'aws.ssm', detail: ParameterStoreChangeDetailSchema },
  'EC2 AMI State Change': { source: 'aws.ec2', detail: Ec2AmiStateChangeDetailSchema },
  'EC2 Instance State-change Notification': { source: 'aws.ec2', detail: Ec2InstanceStateChangeDetailSchema },
} as const;

export type DetailType = keyof typeof EVENT_TYPES;

/** The detail-types the factory itself publishes (on its bus, source ami-factory). */
export const FACTORY_EVENT_TYPES = [
  'ImageAvailable',
  'ImageCopied',
  'ImageShared',
  'ImagePublished',
  'BuildSucceeded',
  'BuildPartiallySucceeded',
  'BuildFailed',
  'BuildRequestRejected',
  'ImageDisabled',
  'ImageExpired',
  'RetentionPlanned',
  'RetentionCompleted',
  'ApprovalDecided',
] as const satisfies readonly DetailType[];
export type FactoryEventType = (typeof FACTORY_EVENT_TYPES)[number];

/** A detail of this type as its consumer receives it (parsed). */
export type EventDetail<T extends DetailType> = z.output<(typeof EVENT_TYPES)[T]['detail']>;
/** A detail of this type as its producer hands it over (before defaults). */
export type EventDetailInput<T extends DetailType> = z.input<(typeof EVENT_TYPES)[T]['detail']>;

/** The fields EventBridge puts around every detail it delivers. */
export const EventEnvelopeSchema = z.lazy(() =>
  z.object({
    version: z.string().optional(),
    id: z.string().min(1).max(256),
    account: z.string().optional(),
    time: z.iso.datetime({ offset: true }),
    region: RegionSchema,
    resources: z.array(z.string()).default([]),
  }),
);

/** The event of one detail-type as EventBridge delivers it to a target: envelope, source, detail-type, detail. */
export function eventSchema<T extends DetailType>(type: T) {
  const t: (typeof EVENT_TYPES)[T] = EVENT_TYPES[type];
  return EventEnvelopeSchema.unwrap().extend({
    source: z.literal(t.source as (typeof EVENT_TYPES)[T]['source']),
    'detail-type': z.literal(type),
    detail: t.detail as (typeof EVENT_TYPES)[T]['detail'],
  });
}

export type EventSchema<T extends DetailType> = ReturnType<typeof eventSchema<T>>;
/** A delivered event of one of these detail-types, narrowed by its `detail-type`. */
export type EventOf<T extends DetailType> = { [K in T]: z.output<EventSchema<K>> }[T];

/**
 * The events of several detail-types one target receives, as a union discriminated by
 * `detail-type`: parse with it at the edge and `switch` on the type for a typed detail.
 */
export function eventsSchema<const T extends readonly [DetailType, ...DetailType[]]>(...types: T): z.ZodType<EventOf<T[number]>> {
  const [first, ...rest] = types.map((t) => eventSchema(t));
  if (first === undefined) throw new RangeError('eventsSchema needs at least one detail-type');
  return z.discriminatedUnion('detail-type', [first, ...rest]) as unknown as z.ZodType<EventOf<T[number]>>;
}

/**
 * An event as a producer hands it to PutEvents (or the `ami-factory event` command reads it from
 * a file such as examples/events/*.json): source, detail-type, detail, no envelope.
 */
export function eventEntrySchema<T extends DetailType>(type: T) {
  return eventSchema(type)
    .pick({ source: true, 'detail-type': true, detail: true })
    .extend({
      resources: z.array(z.string()).optional(),
    });
}

// ── Size ────────────────────────────────────────────────────────────────────────────────────
/**
 * The largest event a consumer parses, in bytes of its JSON: 256 KiB, EventBridge's own limit
 * for a PutEvents entry, so no real delivery is larger. A larger one is refused before parsing.
 */
export const EVENT_MAX_BYTES = 256 * 1024;

/** An event (or a scheduled input) over EVENT_MAX_BYTES. */
export class EventTooLargeError extends ValidationError {
  override name = 'EventTooLargeError';
}

/** Throws EventTooLargeError when `event` serializes to more than EVENT_MAX_BYTES. */
export function assertEventSize(event: unknown): void {
  const text = JSON.stringify(event) as string | undefined;
  const bytes = text === undefined ? 0 : Buffer.byteLength(text, 'utf8');
  if (bytes > EVENT_MAX_BYTES) {
    throw new EventTooLargeError(
      `The event is ${bytes} bytes; at most ${EVENT_MAX_BYTES} (256 KiB, EventBridge's limit) are accepted, so it was not parsed`,
    );
  }
}
