import { eventsClient, s3Client } from './lib/clients.js';
import { requireEnv } from './lib/env.js';
import { reportRetention, ReportRetentionInputSchema } from './lib/retention/report.js';
import { RetentionStore } from './lib/retention/store.js';
import { taskHandler } from './lib/task-handler.js';

const settings = requireEnv('AMI_FACTORY_STATE_BUCKET', 'AMI_FACTORY_EVENT_BUS');

/**
 * The end of every retention run: reads each region's plan and step results from S3 and
 * publishes RetentionPlanned (dry run) or RetentionCompleted with the per-region report.
 */
export const handler = taskHandler('report-retention', ReportRetentionInputSchema, async (input) =>
  reportRetention(
    {
      store: new RetentionStore(s3Client(), settings.AMI_FACTORY_STATE_BUCKET),
      events: eventsClient(),
      bus: settings.AMI_FACTORY_EVENT_BUS,
    },
    input,
  ),
);
