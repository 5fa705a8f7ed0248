import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { z } from 'zod';
import { FactoryConfigSchema, loadFactoryConfig, ConfigFileError } from '../../functions/lib/config.js';
import { PROJECT_ROOT } from '../../local/paths.js';

export const summary = 'Check the factory config (`config check`) or print its JSON Schema (`config schema`)';

const HELP = `usage: ami-factory config check [--config FILE]
       ami-factory config schema

  check   validate factory.config.yml (or --config FILE); exit 0 when valid, 1 with every problem otherwise
  schema  print the JSON Schema of the config, for editors (yaml-language-server: $schema=...)`;

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'schema') {
    const schema = z.toJSONSchema(FactoryConfigSchema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' });
    console.log(JSON.stringify({ title: 'ami-factory factory.config.yml', ...schema }, null, 2));
    return 0;
  }
  if (sub !== 'check') {
    console.error(
      sub === undefined || sub === '--help' || sub === '-h' ? HELP : `ami-factory config: unknown subcommand "${sub}"\n\n${HELP}`,
    );
    return sub === '--help' || sub === '-h' ? 0 : 2;
  }
  let values: { config?: string };
  try {
    ({ values } = parseArgs({ args: rest, options: { config: { type: 'string' } } }));
  } catch (e) {
    console.error(`ami-factory config check: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
  const file = values.config ?? join(PROJECT_ROOT, 'factory.config.yml');
  try {
    const config = loadFactoryConfig(file);
    const families = Object.keys(config.families);
    console.log(`${file}: valid (${families.length} famil${families.length === 1 ? 'y' : 'ies'}: ${families.join(', ')})`);
    return 0;
  } catch (e) {
    if (e instanceof ConfigFileError) {
      console.error(e.issues.length > 0 ? `${e.message.split(':')[0]}:\n${e.issues.map((i) => `  - ${i}`).join('\n')}` : e.message);
      return 1;
    }
    throw e;
  }
}
