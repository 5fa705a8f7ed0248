import { BuildRequestSchema } from './lib/build-request.js';
import { ec2Client } from './lib/clients.js';
import { resolveSourceInstance } from './lib/ec2/source.js';
import { ValidationError } from './lib/errors.js';
import { taskHandler } from './lib/task-handler.js';

/** Finds the instance a build images (by id, or a tag selector matching exactly one). */
export const handler = taskHandler('resolve-source', BuildRequestSchema, async (request, logger) => {
  if (request.source.type !== 'instance') throw new ValidationError(`resolve-source handles instance sources, not ${request.source.type}`);
  const resolved = await resolveSourceInstance(ec2Client(request.region), request.source);
  logger.info('source resolved', { instanceId: resolved.instanceId, instanceState: resolved.state });
  return resolved;
});
