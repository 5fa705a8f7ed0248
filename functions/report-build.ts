import { reportBuild, ReportBuildInputSchema } from './lib/build-report.js';
import { eventsClient } from './lib/clients.js';
import { requireEnv } from './lib/env.js';
import { taskHandler } from './lib/task-handler.js';

const { AMI_FACTORY_EVENT_BUS: bus } = requireEnv('AMI_FACTORY_EVENT_BUS');

/** The end of every build: BuildSucceeded / BuildPartiallySucceeded / BuildFailed with the per-region results. */
export const handler = taskHandler('report-build', ReportBuildInputSchema, async (input, logger) => {
  const report = await reportBuild({ events: eventsClient(), bus }, input);
  logger.info('build reported', { outcome: report.outcome, failedRegions: report.regions.filter((r) => r.status === 'failed').length });
  return report;
});
