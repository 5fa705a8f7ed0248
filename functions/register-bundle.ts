import { RegisterImageCommand, type EC2Client, type Image } from '@aws-sdk/client-ec2';
import { z } from 'zod';
import { checkBundleInS3 } from './lib/bundle/s3.js';
import { BuildRequestSchema, type BuildRequest } from './lib/build-request.js';
import { ec2Client, s3Client } from './lib/clients.js';
import { TAG } from './lib/constants.js';
import { buildImageTags, findOwnImageByName, type CreatedImage } from './lib/ec2/images.js';
import { ImageFailedError, ImageNotVisibleYetError, UnexpectedResponseError, hasErrorName } from './lib/errors.js';
import { imageName } from './lib/naming.js';
import { taskHandler } from './lib/task-handler.js';
import { EC2_ERROR } from './lib/error-codes.js';

const InputSchema = z
  .object({
    request: BuildRequestSchema,
    /** `bucket/prefix/name.manifest.xml`. */
    imageLocation: z.string().min(1),
    /** The bundler's X.509 certificate (PEM): when given, the manifest's signature must verify. */
    certificate: z.string().min(1).optional(),
  })
  .strict();

function adopt(image: Image, request: BuildRequest, name: string): CreatedImage {
  const owner = image.Tags?.find((t) => t.Key === TAG.buildId)?.Value;
  if (owner !== request.buildId) {
    throw new ImageFailedError(
      `An image named ${name} already exists (${image.ImageId}) but belongs to build ${owner ?? '(untagged)'}, not ${request.buildId}`,
    );
  }
  if (image.ImageId === undefined) throw new UnexpectedResponseError('DescribeImages returned an image without an id');
  return { imageId: image.ImageId, imageName: name, created: false };
}

/**
 * RegisterImage of an instance-store image from a bundle in S3 (idempotent by the build's
 * deterministic name). The bundle is checked first, as EC2 will: manifest and every part present
 * with their sizes and readable by EC2 (aws-exec-read), the signature when a certificate is given.
 */
export async function registerBundle(
  ec2: EC2Client,
  check: (location: string) => Promise<unknown>,
  request: BuildRequest,
  imageLocation: string,
): Promise<CreatedImage> {
  const name = imageName(request.family, request.requestedAt, request.buildId);
  const existing = await findOwnImageByName(ec2, name);
  if (existing !== undefined) return adopt(existing, request, name);
  await check(imageLocation);
  const tags = buildImageTags(request, imageLocation);
  try {
    const r = await ec2.send(
      new RegisterImageCommand({
        Name: name,
        ImageLocation: imageLocation,
        ...(request.source.type === 'bundle' && request.source.architecture !== undefined
          ? { Architecture: request.source.architecture }
          : {}),
        Description: request.description ?? `${request.family} image built by ami-factory (build ${request.buildId})`,
        TagSpecifications: [{ ResourceType: 'image', Tags: tags }],
      }),
    );
    if (r.ImageId === undefined) throw new UnexpectedResponseError(`EC2 returned no ImageId for ${name}`);
    return { imageId: r.ImageId, imageName: name, created: true };
  } catch (e) {
    if (!hasErrorName(e, EC2_ERROR.imageNameDuplicate)) throw e;
    const raced = await findOwnImageByName(ec2, name);
    if (raced === undefined) throw new ImageNotVisibleYetError(`Image ${name} exists but is not visible yet`, { cause: e });
    return adopt(raced, request, name);
  }
}

export const handler = taskHandler('register-bundle', InputSchema, async ({ request, imageLocation, certificate }, logger) => {
  const s3 = s3Client(request.region);
  const image = await registerBundle(
    ec2Client(request.region),
    (location) => checkBundleInS3(s3, location, certificate === undefined ? {} : { certificate }),
    request,
    imageLocation,
  );
  logger.info(image.created ? 'image registered from bundle' : 'image already existed', { imageId: image.imageId, imageLocation });
  return { ...image, region: request.region };
});
