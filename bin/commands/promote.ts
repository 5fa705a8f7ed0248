import { CLOUD_OPTIONS, CLOUD_OPTIONS_HELP, parseCommand } from './_common.js';
import { runChannelCommand } from './_channels.js';

export const summary = 'Move a published build to another channel (e.g. stable) in every region it was published in';

const HELP = `usage: ami-factory promote <family> <build-id|ami-id> --channel CHANNEL [--endpoint URL | --port N] [--state-dir DIR]

Publishes the build (given by its build id, or by its image id in any region) to CHANNEL — the
SSM parameter /ami-factory/<family>/<channel> of each region where the build was published to the
family's first channel. A region where it was not is skipped. The image gets deregistration
protection; an image that leaves its last channel loses it. Runs the image-channels state machine.
${CLOUD_OPTIONS_HELP}
Exit status: 0 when at least one region was published, 1 otherwise.`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand('promote', HELP, argv, {
    channel: { type: 'string' },
    ...CLOUD_OPTIONS,
    help: { type: 'boolean', short: 'h' },
  });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const [family, target] = positionals;
  if (family === undefined || target === undefined || positionals.length !== 2 || values.channel === undefined) {
    console.error(`ami-factory promote: give a family, a build id or image id, and --channel\n\n${HELP}`);
    return 2;
  }
  return runChannelCommand('promote', values, {
    operation: 'promote',
    family,
    target,
    channel: values.channel,
    by: { type: 'cli', actor: process.env.USER ?? 'local' },
  });
}
