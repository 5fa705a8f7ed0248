import { BuildRequestSchema } from './lib/build-request.js';
import { ec2Client } from './lib/clients.js';
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
 * re-driven build skips straight to what is missing.
 */
export const handler = taskHandler('plan-build', BuildRequestSchema, async (request, logger) => {
  checkBuildRequest(factoryConfig(), request);
  await checkPublicSharingUnblocked(request, (region) => imageBlockPublicAccessState(ec2Client(region)));
  const plan = await findBuildImage(ec2Client(request.region), request);
  logger.info(plan.imageId !== null ? 'image exists; resuming' : 'new build', { imageName: plan.imageName, imageId: plan.imageId });
  return plan;
});
