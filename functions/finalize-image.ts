import { z } from 'zod';
import { BuildRequestSchema, ImageIdSchema, RegionSchema } from './lib/build-request.js';
import { ec2Client, eventsClient } from './lib/clients.js';
import { requireEnv } from './lib/env.js';
import { applySharing, deprecationTime, setDeprecation } from './lib/ec2/share.js';
import { imageArn, publishEvents, type FactoryEventEntry } from './lib/events/publish.js';
import { taskHandler } from './lib/task-handler.js';

const { AMI_FACTORY_EVENT_BUS: bus } = requireEnv('AMI_FACTORY_EVENT_BUS');

const Input = z
  .object({
    request: BuildRequestSchema,
    region: RegionSchema,
    imageId: ImageIdSchema,
    /** true for the build region's image, false for a copy. */
    home: z.boolean(),
  })
  .strict();

/**
 * Makes an available image ready for use in its region: the deprecation time of the
 * family's retention policy, the family's sharing (a difference against what is there),
 * then ImageAvailable / ImageCopied and ImageShared on the factory bus.
 */
export const handler = taskHandler('finalize-image', Input, async ({ request, region, imageId, home }, logger) => {
  const ec2 = ec2Client(region);
  let deprecateAt: string | null = null;
  if (request.deprecateAfterDays !== undefined) {
    const at = deprecationTime(request.requestedAt, request.deprecateAfterDays);
    await setDeprecation(ec2, imageId, at);
    deprecateAt = at.toISOString();
  }
  const s = request.sharing;
  const wantsSharing = s.public || s.accounts.length + s.organizationArns.length + s.organizationalUnitArns.length > 0;
  const shared = wantsSharing ? await applySharing(ec2, imageId, s) : null;
  const base = { buildId: request.buildId, family: request.family, region, imageId };
  const events: FactoryEventEntry[] = [
    home
      ? { type: 'ImageAvailable', detail: { ...base, deprecateAt }, resources: [imageArn(region, imageId)] }
      : { type: 'ImageCopied', detail: { ...base, sourceRegion: request.region, deprecateAt }, resources: [imageArn(region, imageId)] },
  ];
  if (shared !== null) {
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
      resources: [imageArn(region, imageId)],
    });
  }
  await publishEvents(eventsClient(), bus, events);
  logger.info('image finalized', { region, imageId, deprecateAt, shared: shared !== null });
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
});
