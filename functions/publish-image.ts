import { ChannelHistoryStore } from './lib/channels/history.js';
import { buildPublication, PublishImageInputSchema } from './lib/channels/build.js';
import { publishToChannel } from './lib/channels/publish.js';
import { ec2Client, eventsClient, s3Client, ssmClient } from './lib/clients.js';
import { now } from './lib/clock.js';
import { requireEnv } from './lib/env.js';
import { factoryConfig } from './lib/factory-config.js';
import { taskHandler } from './lib/task-handler.js';

const { AMI_FACTORY_EVENT_BUS: bus, AMI_FACTORY_STATE_BUCKET: bucket } = requireEnv('AMI_FACTORY_EVENT_BUS', 'AMI_FACTORY_STATE_BUCKET');

/** Publishes a region's image of a build to the family's first channel (SSM parameter, launch templates, protection, history, ImagePublished). */
export const handler = taskHandler('publish-image', PublishImageInputSchema, async (input, logger) => {
  const publication = buildPublication(factoryConfig(), input.request, input.region, input.imageId);
  const result = await publishToChannel(
    {
      ec2: ec2Client(input.region),
      ssm: ssmClient(input.region),
      store: new ChannelHistoryStore(s3Client(), bucket),
      events: eventsClient(),
      bus,
      now,
    },
    publication,
  );
  logger.info('image published', {
    region: result.region,
    channel: result.channel,
    changed: result.changed,
    previousImageId: result.previousImageId,
    launchTemplates: result.launchTemplates.length,
  });
  return result;
});
