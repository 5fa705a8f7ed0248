import { z } from 'zod';
import { BuildRequestSchema, ImageIdSchema, InstanceIdSchema } from './lib/build-request.js';
import { ec2Client } from './lib/clients.js';
import { createImageFromInstance } from './lib/ec2/images.js';
import { taskHandler } from './lib/task-handler.js';

export const CreateImageInputSchema = z
  .object({
    request: BuildRequestSchema,
    instanceId: InstanceIdSchema,
    /** A fresh build's base image: recorded as the image's source instead of the short-lived builder. */
    baseImageId: ImageIdSchema.optional(),
  })
  .strict();

/**
 * CreateImage with the deterministic name; a retry of the same build returns the same image.
 * An existing instance is imaged with the request's reboot choice; a builder has stopped
 * itself, so it is imaged without a reboot.
 */
export const handler = taskHandler('create-image', CreateImageInputSchema, async ({ request, instanceId, baseImageId }, logger) => {
  const noReboot = request.source.type === 'instance' ? request.source.noReboot : true;
  const image = await createImageFromInstance(ec2Client(request.region), request, instanceId, noReboot, baseImageId ?? instanceId);
  logger.info(image.created ? 'image created' : 'image already existed', { imageId: image.imageId, imageName: image.imageName });
  return { ...image, region: request.region };
});
