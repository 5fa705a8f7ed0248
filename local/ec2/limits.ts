/**
 * Numbers of the local EC2 endpoint that change behaviour, all from
 * /work/shared/specs/aws-facts.md ("Request throttling", "Quotas", "RegisterImage",
 * "Retirement"). Keep them here and only here; the throttling buckets, which the factory's
 * retention pacer needs too, are in functions/lib/ec2/throttling.ts.
 */

export { THROTTLE_BUCKETS, type BucketSpec, type ThrottleClass } from '../../functions/lib/ec2/throttling.js';

/** Quotas per region (aws-facts.md, "Quotas (per region)"); accounts can raise them, so they are options. */
export interface Ec2Quotas {
  /** "300 concurrent AMI copies per destination region." */
  concurrentCopiesPerRegion: number;
  /** "50,000 AMIs (available + pending + Recycle Bin)". */
  imagesPerRegion: number;
  /** "5 public AMIs". */
  publicImagesPerRegion: number;
  /** "An AMI can be shared with at most 1,000 entities (an organization or OU counts as one)." */
  shareEntitiesPerImage: number;
}

export const DEFAULT_QUOTAS: Ec2Quotas = {
  concurrentCopiesPerRegion: 300,
  imagesPerRegion: 50_000,
  publicImagesPerRegion: 5,
  shareEntitiesPerImage: 1000,
};

/** EnableImageDeprecation: "DeprecateAt UTC, rounded to the minute, not in the past, at most 10 years ahead". */
export const DEPRECATION_MAX_YEARS = 10;
/** EnableImageDeregistrationProtection WithCooldown: protection lasts 24 hours after it is disabled. */
export const DEREGISTRATION_COOLDOWN_MS = 24 * 3_600_000;

/** Simulated durations of the local world (not AWS facts; defaults of Ec2ServiceOptions). */
export const DEFAULT_DURATIONS = {
  /** CreateImage/RegisterImage: pending → available. */
  imageAvailableAfterMs: 5 * 60_000,
  /** CopyImage: pending → available (twice the image time when only that is given). */
  copyAvailableAfterMs: 10 * 60_000,
  /** RunInstances/StartInstances: pending → running. */
  instanceBootMs: 30_000,
  /** StopInstances: stopping → stopped; TerminateInstances: shutting-down → terminated. */
  instanceStopMs: 30_000,
  /** A builder instance's user data runs this long before its done signal (see builder marker). */
  builderBuildMs: 3 * 60_000,
  /** A deregistered image stays visible (state `deregistered`) this long, then is gone. */
  deregisteredVisibleMs: 60 * 60_000,
} as const;

/** MaxResults bounds of the paginated Describe actions. */
export const MAX_RESULTS = { min: 5, max: 1000 } as const;
/** MaxResults bounds of DescribeLaunchTemplates and DescribeLaunchTemplateVersions (EC2 API reference: 1–200). */
export const LAUNCH_TEMPLATE_MAX_RESULTS = { min: 1, max: 200 } as const;

/** DescribeImageReferences: "up to 10 image ids per call" (aws-facts.md, "Retirement"). */
export const IMAGE_REFERENCES_MAX_IMAGE_IDS = 10;
/** DescribeImageReferences `version-depth` of ec2:LaunchTemplate: 1–10000, default 10 (EC2 API reference, ResourceTypeOption). */
export const IMAGE_REFERENCES_VERSION_DEPTH = { default: 10, min: 1, max: 10_000 } as const;
