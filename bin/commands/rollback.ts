import { CLOUD_OPTIONS, CLOUD_OPTIONS_HELP, onePositional, parseCommand } from './_common.js';
import { runChannelCommand } from './_channels.js';

export const summary = "Republish a channel's previous image in every region (from the channel history)";

const HELP = `usage: ami-factory rollback <family> --channel CHANNEL [--endpoint URL | --port N] [--state-dir DIR]

Sets CHANNEL back, in each region of the family, to the image it held before its current one
(the channel history in the state bucket; \`ami-factory channels <family>\` shows it). A region
with nothing before is skipped. Runs the image-channels state machine.
${CLOUD_OPTIONS_HELP}
Exit status: 0 when at least one region was rolled back, 1 otherwise.`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand('rollback', HELP, argv, {
    channel: { type: 'string' },
    ...CLOUD_OPTIONS,
    help: { type: 'boolean', short: 'h' },
  });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const family = onePositional('rollback', HELP, positionals, 'family');
  if (typeof family === 'number') return family;
  if (values.channel === undefined) {
    console.error(`ami-factory rollback: give --channel\n\n${HELP}`);
    return 2;
  }
  return runChannelCommand('rollback', values, {
    operation: 'rollback',
    family,
    channel: values.channel,
    by: { type: 'cli', actor: process.env.USER ?? 'local' },
  });
}
