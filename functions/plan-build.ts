import { BuildRequestSchema } from './lib/build-request.js';
import { ec2Client } from './lib/clients.js';
import { findBuildImage } from './lib/ec2/images.js';
import { factoryConfig } from './lib/factory-config.js';
import { checkBuildRequest } from './lib/request-policy.js';
import { taskHandler } from './lib/task-handler.js';

/**
 * First step of a build: validates the BuildRequest, refuses one its family's config does not
 * allow (RequestNotAllowedError, before anything is created: whoever may start an execution
 * gets no more than the config grants), and looks up its deterministic image name, so a
 * re-driven build skips straight to what is missing.
 */
export const handler = taskHandler('plan-build', BuildRequestSchema, async (request, logger) => {
  checkBuildRequest(factoryConfig(), request);
  const plan = await findBuildImage(ec2Client(request.region), request);
  logger.info(plan.imageId !== null ? 'image exists; resuming' : 'new build', { imageName: plan.imageName, imageId: plan.imageId });
  return plan;
});
