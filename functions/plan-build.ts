import { buildGates } from './lib/approvals/hold.js';
import { BuildRequestSchema } from './lib/build-request.js';
import { publishedAlready } from './lib/channels/read.js';
import { ec2Client, ssmClient } from './lib/clients.js';
import { checkDistribution, describeOwnImage } from './lib/distribution.js';
import { findBuildImage } from './lib/ec2/images.js';
import { imageBlockPublicAccessState } from './lib/ec2/share.js';
import { factoryConfig } from './lib/factory-config.js';
import { checkBuildRequest, checkPublicSharingUnblocked } from './lib/request-policy.js';
import { taskHandler } from './lib/task-handler.js';

/**
 * First step of a build: validates the BuildRequest, refuses one its family's config does not
 * allow (RequestNotAllowedError, before anything is created: whoever may start an execution
 * gets no more than the config grants; public sharing also needs block public access for
 * AMIs off in every region of the build), and looks up its deterministic image name, so a
 * re-driven build skips straight to what is missing. It also says which approval gates hold the
 * build's share (functions/lib/approvals/hold.ts), so the state machine waits only when one does.
 *
 * A distribution (`request.distribute`, functions/lib/distribution.ts) must name an available
 * image of the family made by the request's build (ImageNotDistributableError otherwise); its
 * `published` says whether the build region's channel already holds it (then the build region
 * is left alone: no test, no publication). Its share passes the same gates.
 */
export const handler = taskHandler('plan-build', BuildRequestSchema, async (request, logger) => {
  const config = factoryConfig();
  checkBuildRequest(config, request);
  await checkPublicSharingUnblocked(request, (region) => imageBlockPublicAccessState(ec2Client(region)));
  const ec2 = ec2Client(request.region);
  // The approval gates its share must pass before any launch permission is added (none: no wait).
  const gates = buildGates(config.families[request.family], request);
  if (request.distribute !== undefined) {
    const image = checkDistribution(request, await describeOwnImage(ec2, request.distribute.imageId));
    const published = await publishedAlready(ssmClient(request.region), config, request, image.imageId);
    logger.info(published !== null ? 'distribution: build region already published' : 'distribution', { imageId: image.imageId, gates });
    return { imageName: image.imageName, imageId: image.imageId, state: 'available', published, gates };
  }
  const plan = await findBuildImage(ec2, request);
  logger.info(plan.imageId !== null ? 'image exists; resuming' : 'new build', { imageName: plan.imageName, imageId: plan.imageId, gates });
  return { ...plan, published: null, gates };
});
