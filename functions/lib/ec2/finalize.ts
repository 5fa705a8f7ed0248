import type { EC2Client } from '@aws-sdk/client-ec2';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import * as z from 'zod';
import { BuildRequestSchema, ImageIdSchema, RegionSchema, type BuildRequest, type Sharing } from '../build-request.js';
import { imageArn, publishEvents, type FactoryEventEntry } from '../events/publish.js';
import type { FinalizedSharingSchema } from '../events/schemas.js';
import { applySharing, deprecationTime, setDeprecation, type ShareResult } from './share.js';

/** The finalize step's input: one available image of a build, in its region. */
export const FinalizeInputSchema = z.lazy(() =>
  z
    .object({
      request: BuildRequestSchema,
      region: RegionSchema,
      imageId: ImageIdSchema,
      /** true for the build region's image, false for a copy. */
      home: z.boolean(),
    })
    .strict(),
);
export type FinalizeInput = z.infer<typeof FinalizeInputSchema>;

export interface FinalizeResult {
  region: string;
  imageId: string;
  /** When EC2 deprecates the image, or null when the family's policy does not say. */
  deprecateAt: string | null;
  /** The sharing applied, or null when the family shares with nobody. */
  sharing: z.infer<typeof FinalizedSharingSchema> | null;
}

export interface FinalizeDeps {
  /** EC2 in the image's region. */
  ec2: EC2Client;
  events: EventBridgeClient;
  bus: string;
}

/** True when the family shares its images with anyone (accounts, organizations, OUs, public). */
export function sharesWithAnyone(s: Sharing): boolean {
  return s.public || s.accounts.length + s.organizationArns.length + s.organizationalUnitArns.length > 0;
}

/**
 * What finalizing an image announces: ImageAvailable (the build region's image) or ImageCopied
 * (a copy), and ImageShared when sharing was applied.
 */
export function finalizeEvents(
  request: BuildRequest,
  input: Pick<FinalizeInput, 'region' | 'imageId' | 'home'>,
  deprecateAt: string | null,
  shared: Pick<ShareResult, 'added'> | null,
): FactoryEventEntry[] {
  const { region, imageId } = input;
  const base = { buildId: request.buildId, family: request.family, region, imageId };
  const resources = [imageArn(region, imageId)];
  const events: FactoryEventEntry[] = [
    input.home
      ? { type: 'ImageAvailable', detail: { ...base, deprecateAt }, resources }
      : { type: 'ImageCopied', detail: { ...base, sourceRegion: request.region, deprecateAt }, resources },
  ];
  if (shared !== null) {
    const s = request.sharing;
    events.push({
      type: 'ImageShared',
      detail: {
        ...base,
        accounts: s.accounts,
        organizationArns: s.organizationArns,
        organizationalUnitArns: s.organizationalUnitArns,
        public: s.public,
        added: shared.added,
      },
      resources,
    });
  }
  return events;
}

/**
 * Makes an available image ready for use in its region: the deprecation time of the family's
 * retention policy, the family's sharing (a difference against what is there), then the events
 * (finalizeEvents) on the factory bus. A step run twice changes nothing the second time but
 * publishes again (consumers deduplicate).
 */
export async function finalizeImage(deps: FinalizeDeps, input: FinalizeInput): Promise<FinalizeResult> {
  const { request, region, imageId } = input;
  let deprecateAt: string | null = null;
  if (request.deprecateAfterDays !== undefined) {
    const at = deprecationTime(request.requestedAt, request.deprecateAfterDays);
    await setDeprecation(deps.ec2, imageId, at);
    deprecateAt = at.toISOString();
  }
  const s = request.sharing;
  const shared = sharesWithAnyone(s) ? await applySharing(deps.ec2, imageId, s) : null;
  await publishEvents(deps.events, deps.bus, finalizeEvents(request, input, deprecateAt, shared));
  return {
    region,
    imageId,
    deprecateAt,
    sharing:
      shared === null
        ? null
        : {
            accounts: s.accounts,
            organizationArns: s.organizationArns,
            organizationalUnitArns: s.organizationalUnitArns,
            public: s.public,
            unmanaged: shared.unmanaged,
          },
  };
}
