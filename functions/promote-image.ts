import { ChannelHistoryStore } from './lib/channels/history.js';
import { ChannelOperationTaskSchema, runChannelOperation } from './lib/channels/promote.js';
import { ec2Client, eventsClient, s3Client, ssmClient } from './lib/clients.js';
import { now } from './lib/clock.js';
import { requireEnv } from './lib/env.js';
import { factoryConfig } from './lib/factory-config.js';
import { taskHandler } from './lib/task-handler.js';

const { AMI_FACTORY_EVENT_BUS: bus, AMI_FACTORY_STATE_BUCKET: bucket } = requireEnv('AMI_FACTORY_EVENT_BUS', 'AMI_FACTORY_STATE_BUCKET');

/** promote (a build to a channel in every region it was published in) | rollback (a channel to its previous image), for the image-channels state machine. */
export const handler = taskHandler('promote-image', ChannelOperationTaskSchema, async ({ operation: op, executionArn }, logger) => {
  const store = new ChannelHistoryStore(s3Client(), bucket);
  const result = await runChannelOperation(
    {
      store,
      publishDeps: (region) => ({ ec2: ec2Client(region), ssm: ssmClient(region), store, events: eventsClient(), bus, now }),
    },
    factoryConfig(),
    op,
    executionArn,
  );
  logger.info('channel operation done', {
    operation: result.operation,
    channel: result.channel,
    published: result.regions.filter((r) => r.status === 'published').length,
    skipped: result.regions.filter((r) => r.status === 'skipped').length,
  });
  return result;
});
