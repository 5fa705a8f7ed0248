import * as z from 'zod';
import { checkBundleInS3 } from './lib/bundle/s3.js';
import { BuildRequestSchema } from './lib/build-request.js';
import { ec2Client, s3Client } from './lib/clients.js';
import { registerImageFromBundle } from './lib/ec2/images.js';
import { taskHandler } from './lib/task-handler.js';

const InputSchema = z
  .object({
    request: BuildRequestSchema,
    /** `bucket/prefix/name.manifest.xml`. */
    imageLocation: z.string().min(1),
    /** The bundler's X.509 certificate (PEM): when given, the manifest's signature must verify. */
    certificate: z.string().min(1).optional(),
  })
  .strict();

/**
 * RegisterImage of an instance-store image from a bundle in S3 (idempotent by the build's
 * deterministic name). The bundle is checked first, as EC2 will: manifest and every part present
 * with their sizes and readable by EC2 (aws-exec-read), the signature when a certificate is given.
 */
export const handler = taskHandler('register-bundle', InputSchema, async ({ request, imageLocation, certificate }, logger) => {
  const s3 = s3Client(request.region);
  const image = await registerImageFromBundle(ec2Client(request.region), request, imageLocation, (location) =>
    checkBundleInS3(s3, location, certificate === undefined ? {} : { certificate }),
  );
  logger.info(image.created ? 'image registered from bundle' : 'image already existed', { imageId: image.imageId, imageLocation });
  return { ...image, region: request.region };
});
