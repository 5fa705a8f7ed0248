import { buildRequestWithSource } from './lib/build-request.js';
import { ec2Client } from './lib/clients.js';
import { resolveSourceInstance } from './lib/ec2/source.js';
import { taskHandler } from './lib/task-handler.js';

/** Finds the instance a build images (by id, or a tag selector matching exactly one). */
export const handler = taskHandler('resolve-source', buildRequestWithSource('instance'), async (request, logger) => {
  const resolved = await resolveSourceInstance(ec2Client(request.region), request.source);
  logger.info('source resolved', { instanceId: resolved.instanceId, instanceState: resolved.state });
  return resolved;
});
