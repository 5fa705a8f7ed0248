import * as z from 'zod';
import { BuildRequestSchema, ImageIdSchema, InstanceIdSchema } from './lib/build-request.js';
import { ec2Client } from './lib/clients.js';
import { createBuildImage } from './lib/ec2/images.js';
import { taskHandler } from './lib/task-handler.js';

export const CreateImageInputSchema = z
  .object({
    request: BuildRequestSchema,
    instanceId: InstanceIdSchema,
    /** A fresh build's base image: recorded as the image's source instead of the short-lived builder. */
    baseImageId: ImageIdSchema.optional(),
  })
  .strict();

/** CreateImage with the deterministic name; a retry of the same build returns the same image. */
export const handler = taskHandler('create-image', CreateImageInputSchema, async ({ request, instanceId, baseImageId }, logger) => {
  const image = await createBuildImage(ec2Client(request.region), request, instanceId, baseImageId);
  logger.info(image.created ? 'image created' : 'image already existed', { imageId: image.imageId, imageName: image.imageName });
  return { ...image, region: request.region };
});
