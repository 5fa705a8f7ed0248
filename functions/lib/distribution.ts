import { DescribeImagesCommand, type EC2Client, type Image } from '@aws-sdk/client-ec2';
import { BuildIdSchema, type BuildRequest, type Trigger } from './build-request.js';
import { buildRequestFor, type FactoryConfig } from './config.js';
import { TAG } from './constants.js';
import { EC2_ERROR } from './error-codes.js';
import { hasErrorName, ValidationError } from './errors.js';
import { imageTags } from './ec2/images.js';
import { imageName } from './naming.js';
import { executionNameFor } from './triggers/ids.js';

/**
 * Distributing an existing image (`ami-factory distribute`, the `Distribute Requested` event):
 * the image-factory workflow without its build half. The request is the BuildRequest of the
 * build that made the image — its build id and requestedAt read from the image's factory tags,
 * so the deterministic name, the tags, the copies found by name and the cleanup are that
 * build's — plus `distribute: {imageId, runId}`. The same request-policy checks as a build apply
 * (copy regions among the family's, sharing within its sharing), and planBuild checks the image
 * again before anything is done.
 *
 * What makes a re-run touch only what is missing: a region whose channel already holds this
 * build's image is left alone (planBuild for the build region, copyImage for a copy region), a
 * region holding the build's copy adopts it instead of copying again, and CopyImage's
 * ClientToken includes the run id, so a copy removed after a failure is made anew.
 */

/** The image cannot be distributed for the family: not there, not the family's, not available. Nothing is created. */
export class ImageNotDistributableError extends ValidationError {
  override name = 'ImageNotDistributableError';
}

/** What a distribution needs to know of the build that made the image. */
export interface DistributableImage {
  imageId: string;
  imageName: string;
  buildId: string;
  /** The build's requestedAt (the image's `ami-factory:created-at`). */
  createdAt: string;
}

/** The account's own image of that id in the client's region (deprecated and disabled included), if there is one. */
export async function describeOwnImage(ec2: EC2Client, imageId: string): Promise<Image | undefined> {
  try {
    const r = await ec2.send(
      new DescribeImagesCommand({ ImageIds: [imageId], Owners: ['self'], IncludeDeprecated: true, IncludeDisabled: true }),
    );
    return (r.Images ?? []).find((i) => i.ImageId === imageId && i.State !== 'deregistered');
  } catch (e) {
    if (hasErrorName(e, EC2_ERROR.imageNotFound)) return undefined;
    throw e;
  }
}

/**
 * The build facts of `image` when it is an available image the factory made for `family` in
 * `region` (tags managed=true and the family's, a build id and creation time, the build's
 * deterministic name); otherwise ImageNotDistributableError saying why.
 */
export function distributableImage(image: Image | undefined, family: string, region: string, imageId: string): DistributableImage {
  if (image === undefined) {
    throw new ImageNotDistributableError(
      `Image ${imageId} is not an image of this account in ${region}, the region family ${family} builds in`,
    );
  }
  const tags = imageTags(image);
  if (tags[TAG.managed] !== 'true' || tags[TAG.family] !== family) {
    throw new ImageNotDistributableError(
      `Image ${imageId} is not an image of family ${family} (its tags ${TAG.managed}=${tags[TAG.managed] ?? '(none)'}, ${TAG.family}=${tags[TAG.family] ?? '(none)'})`,
    );
  }
  const buildId = tags[TAG.buildId];
  const createdAt = tags[TAG.createdAt];
  if (
    buildId === undefined ||
    !BuildIdSchema.safeParse(buildId).success ||
    createdAt === undefined ||
    Number.isNaN(Date.parse(createdAt))
  ) {
    throw new ImageNotDistributableError(`Image ${imageId} has no valid ${TAG.buildId} and ${TAG.createdAt} tags: not a factory build`);
  }
  const name = imageName(family, createdAt, buildId);
  if (image.Name !== name) {
    throw new ImageNotDistributableError(
      `Image ${imageId} is named ${image.Name ?? '(none)'}, not ${name} as build ${buildId} names its image`,
    );
  }
  if (image.State !== 'available') {
    throw new ImageNotDistributableError(
      `Image ${imageId} is ${image.State ?? 'in an unknown state'}; only an available image can be distributed`,
    );
  }
  return { imageId, imageName: name, buildId, createdAt };
}

export interface DistributionOverrides {
  /** Distribute only to these of the family's copy regions. */
  regions?: string[];
  runId: string;
  trigger: Trigger;
}

/**
 * The BuildRequest that distributes `image` (distributableImage's facts) for `family`: the
 * family's request for the build that made it, within the config's limits (buildRequestFor
 * refuses regions the family does not copy to), with `distribute`.
 */
export function distributionRequestFor(
  config: FactoryConfig,
  family: string,
  image: DistributableImage,
  o: DistributionOverrides,
): BuildRequest {
  const request = buildRequestFor(config, family, {
    buildId: image.buildId,
    requestedAt: image.createdAt,
    trigger: o.trigger,
    ...(o.regions !== undefined ? { regions: o.regions } : {}),
  });
  return { ...request, distribute: { imageId: image.imageId, runId: o.runId } };
}

/**
 * planBuild's check of a distribution request (anyone allowed to start an execution may send
 * one): the image must be distributable (distributableImage) and be the image of the build the
 * request names.
 */
export function checkDistribution(request: BuildRequest, image: Image | undefined): DistributableImage {
  const imageId = request.distribute?.imageId;
  if (imageId === undefined) throw new ImageNotDistributableError('The request distributes no image');
  const facts = distributableImage(image, request.family, request.region, imageId);
  if (facts.buildId !== request.buildId || facts.imageName !== imageName(request.family, request.requestedAt, request.buildId)) {
    throw new ImageNotDistributableError(
      `Image ${imageId} was made by build ${facts.buildId} (${facts.imageName}); the request names build ${request.buildId}`,
    );
  }
  return facts;
}

/** `<family>-dist-<runId>`: one execution per distribution run (executionNameFor's limits). */
export function distributionExecutionName(family: string, runId: string): string {
  return executionNameFor(family, `dist-${runId}`);
}
