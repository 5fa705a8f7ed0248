/** Tag keys every factory-made resource carries (DESIGN.md, "Idempotency"). */
export const TAG = {
  managed: 'ami-factory:managed',
  family: 'ami-factory:family',
  buildId: 'ami-factory:build-id',
  source: 'ami-factory:source',
  createdAt: 'ami-factory:created-at',
  reboot: 'ami-factory:reboot',
  /** How the image was prepared for sharing: `sanitized` or `none`. */
  preparation: 'ami-factory:preparation',
  /** `builder` on the instances a fresh build launches, `test` on an image test's instance. */
  role: 'ami-factory:role',
  /** A builder using the tag done-signal sets `done` or `failed` here. */
  buildStatus: 'ami-factory:build-status',
  /** A test instance using the tag report sets `passed` or `failed` here. */
  testStatus: 'ami-factory:test-status',
  /** The region an image was copied from. */
  copiedFrom: 'ami-factory:copied-from',
} as const;

/** EC2 image names: 3–128 characters (EC2 CreateImage/RegisterImage `Name`). */
export const IMAGE_NAME_MAX = 128;

/**
 * Facts from shared/specs/aws-facts.md that change behaviour. Keep numbers here, cite the
 * spec, make them configurable where AWS lets accounts raise them.
 */
export const AWS_LIMITS = {
  /** "An AMI can be shared with at most 1,000 entities". */
  maxShareEntities: 1000,
  /** EnableImageDeprecation: at most 10 years ahead, rounded to the minute. */
  maxDeprecationYears: 10,
  /** 300 concurrent AMI copies per destination region. */
  concurrentCopiesPerRegion: 300,
  /** DescribeImageReferences takes up to 10 image ids per call. */
  imageReferencesBatch: 10,
} as const;

/** The bus the factory publishes its own events on, and their source. */
export const FACTORY_EVENT_SOURCE = 'ami-factory';
export const DEFAULT_EVENT_BUS = 'ami-factory';
