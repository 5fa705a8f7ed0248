import { join } from 'node:path';
import { ChannelHistoryStore } from '../../functions/lib/channels/history.js';
import { loadFactoryConfig } from '../../functions/lib/config.js';
import { familyOf } from '../../functions/lib/request-policy.js';
import { PROJECT_ROOT } from '../../local/server.js';
import { CLOUD_OPTIONS, CLOUD_OPTIONS_HELP, connectForCommand, onePositional, parseCommand, table } from './_common.js';
import { clientsFor } from './_channels.js';

export const summary = "Print each channel's current image per region, and its history";

const HELP = `usage: ami-factory channels <family> [--history N] [--config FILE] [--endpoint URL | --port N] [--state-dir DIR]

For each channel of the family and each of its regions: the image the channel's SSM parameter
(/ami-factory/<family>/<channel>) names, then the newest publications (image, build, when, who,
action, previous image) from the channel history in the state bucket.
  --history N   publications per channel and region (default 5)
${CLOUD_OPTIONS_HELP}`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand('channels', HELP, argv, {
    history: { type: 'string' },
    config: { type: 'string' },
    ...CLOUD_OPTIONS,
    help: { type: 'boolean', short: 'h' },
  });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const family = onePositional('channels', HELP, positionals, 'family');
  if (typeof family === 'number') return family;
  const depth = Number(values.history ?? '5');
  if (!(depth >= 0)) {
    console.error(`ami-factory channels: --history must be a non-negative number, got "${values.history}"`);
    return 2;
  }
  let f;
  try {
    f = familyOf(loadFactoryConfig(values.config ?? join(PROJECT_ROOT, 'factory.config.yml')), family);
  } catch (e) {
    console.error(`ami-factory channels: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  const target = await connectForCommand('channels', values);
  if (typeof target === 'number') return target;
  const { sfn, s3 } = clientsFor(target);
  try {
    const store = new ChannelHistoryStore(s3, target.stack.stateBucket);
    const regions = [f.region, ...f.copies.map((c) => c.region)];
    const current: string[][] = [];
    const history: string[][] = [];
    for (const channel of f.channels) {
      for (const region of regions) {
        const r = await store.get(family, region, channel);
        current.push([channel, region, r.current?.imageId ?? '(none)', r.current?.buildId ?? '', r.current?.publishedAt ?? '']);
        for (const e of r.history.slice(-depth).reverse()) {
          history.push([
            channel,
            region,
            e.publishedAt,
            e.action,
            e.imageId,
            e.buildId ?? '',
            e.by.actor ?? e.by.type,
            e.previousImageId ?? '',
          ]);
        }
      }
    }
    console.log(`${family}: channels ${f.channels.join(', ')} (SSM /ami-factory/${family}/<channel>)\n`);
    console.log(table(['channel', 'region', 'image', 'build', 'published at'], current));
    if (history.length > 0) {
      console.log('\nhistory (newest first)');
      console.log(table(['channel', 'region', 'when', 'action', 'image', 'build', 'by', 'previous'], history));
    }
    return 0;
  } catch (e) {
    console.error(`✗ ami-factory channels: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    return 1;
  } finally {
    sfn.destroy();
    s3.destroy();
    await target.close();
  }
}
