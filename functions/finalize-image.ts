import { ec2Client, eventsClient } from './lib/clients.js';
import { finalizeImage, FinalizeInputSchema } from './lib/ec2/finalize.js';
import { requireEnv } from './lib/env.js';
import { taskHandler } from './lib/task-handler.js';

const { AMI_FACTORY_EVENT_BUS: bus } = requireEnv('AMI_FACTORY_EVENT_BUS');

/** Deprecation time, sharing and the ImageAvailable / ImageCopied / ImageShared events for one available image. */
export const handler = taskHandler('finalize-image', FinalizeInputSchema, async (input, logger) => {
  const result = await finalizeImage({ ec2: ec2Client(input.region), events: eventsClient(), bus }, input);
  logger.info('image finalized', {
    region: result.region,
    imageId: result.imageId,
    deprecateAt: result.deprecateAt,
    shared: result.sharing !== null,
  });
  return result;
});
