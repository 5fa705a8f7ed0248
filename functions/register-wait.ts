import { z } from 'zod';
import { BuildIdSchema, RegionSchema } from './lib/build-request.js';
import { ec2Client, s3Client, sfnClient } from './lib/clients.js';
import { homeRegion, requireEnv } from './lib/env.js';
import { clock } from './lib/clock.js';
import { taskHandler } from './lib/task-handler.js';
import { registerWait } from './lib/wait-service.js';
import { WaitStore } from './lib/waits.js';

const { AMI_FACTORY_STATE_BUCKET: stateBucket } = requireEnv('AMI_FACTORY_STATE_BUCKET');

const Input = z
  .object({
    token: z.string().min(1).max(4096),
    kind: z.enum(['image', 'builder']),
    region: RegionSchema,
    resourceId: z.string().regex(/^(ami|i)-[0-9a-f]{8,17}$/, 'must be an image or instance id'),
    buildId: BuildIdSchema,
    signal: z.enum(['stopped', 'tag']).optional(),
    /** How long the resource may take before the wait fails (enforced by the sweeper). */
    timeoutSeconds: z.number().int().min(60).max(172800),
  })
  .strict();

/**
 * The `.waitForTaskToken` worker: records the token keyed by (kind, region, resource) and
 * checks once. The EC2 state-change events (complete-waits) and the sweeper complete it later.
 */
export const handler = taskHandler('register-wait', Input, async (input, logger) => {
  const store = new WaitStore(s3Client(), stateBucket);
  const { timeoutSeconds, ...rest } = input;
  const now = clock().now();
  const rec = {
    ...rest,
    sfnRegion: homeRegion(),
    registeredAt: new Date(now).toISOString(),
    deadline: new Date(now + timeoutSeconds * 1000).toISOString(),
  };
  const result = await registerWait({ store, sfn: sfnClient(), ec2: ec2Client }, rec);
  logger.info('wait registered', { kind: input.kind, resourceId: input.resourceId, result });
  return { result };
});
