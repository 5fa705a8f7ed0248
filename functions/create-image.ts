import { z } from 'zod';
import { BuildRequestSchema, InstanceIdSchema } from './lib/build-request.js';
import { ec2Client } from './lib/clients.js';
import { createImageFromInstance } from './lib/ec2/images.js';
import { taskHandler } from './lib/task-handler.js';

export const CreateImageInputSchema = z.object({ request: BuildRequestSchema, instanceId: InstanceIdSchema }).strict();

/**
 * CreateImage with the deterministic name; a retry of the same build returns the same image.
 * An existing instance is imaged with the request's reboot choice; a builder has stopped
 * itself, so it is imaged without a reboot.
 */
export const handler = taskHandler('create-image', CreateImageInputSchema, async ({ request, instanceId }, logger) => {
  const noReboot = request.source.type === 'instance' ? request.source.noReboot : true;
  const image = await createImageFromInstance(ec2Client(request.region), request, instanceId, noReboot);
  logger.info(image.created ? 'image created' : 'image already existed', { imageId: image.imageId, imageName: image.imageName });
  return { ...image, region: request.region };
});
