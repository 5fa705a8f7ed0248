import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { z } from 'zod';
import { FactoryConfigSchema, loadFactoryConfig, ConfigFileError } from '../../functions/lib/config.js';
import { PROJECT_ROOT } from '../../local/paths.js';
import { knownRegion } from '../regions.js';
import type { FactoryConfig } from '../../functions/lib/config.js';

export const summary = 'Check the factory config (`config check`) or print its JSON Schema (`config schema`)';

const HELP = `usage: ami-factory config check [--config FILE]
       ami-factory config schema

  check   validate factory.config.yml (or --config FILE); exit 0 when valid, 1 with every problem otherwise.
          Every region must be one the AWS SDK's endpoint data lists, and a family's regions one partition's.
  schema  print the JSON Schema of the config, for editors (yaml-language-server: $schema=...)`;

/** The regions of the config that no partition lists, and families whose regions span partitions. */
export function regionProblems(config: FactoryConfig): string[] {
  const problems: string[] = [];
  for (const [family, f] of Object.entries(config.families)) {
    const places: [string, string][] = [
      ['region', f.region],
      ...f.copies.map((c, i): [string, string] => [`copies.${i}.region`, c.region]),
    ];
    const partitions = new Set<string>();
    for (const [path, region] of places) {
      const known = knownRegion(region);
      if (known === undefined) problems.push(`families.${family}.${path}: "${region}" is not a region of any AWS partition the SDK knows`);
      else partitions.add(known.partition);
    }
    if (partitions.size > 1)
      problems.push(
        `families.${family}: its regions are in more than one partition (${[...partitions].join(', ')}); images cannot be copied across partitions`,
      );
  }
  return problems;
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || rest.includes('--help') || rest.includes('-h')) {
    if (sub === undefined) {
      console.error(HELP);
      return 2;
    }
    console.log(HELP);
    return 0;
  }
  if (sub === 'schema') {
    if (rest.length > 0) {
      console.error(`ami-factory config schema: takes no arguments, not "${rest.join(' ')}"\n\n${HELP}`);
      return 2;
    }
    const schema = z.toJSONSchema(FactoryConfigSchema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' });
    console.log(JSON.stringify({ title: 'ami-factory factory.config.yml', ...schema }, null, 2));
    return 0;
  }
  if (sub !== 'check') {
    console.error(`ami-factory config: unknown subcommand "${sub}"\n\n${HELP}`);
    return 2;
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
    const problems = regionProblems(config);
    if (problems.length > 0) {
      console.error(`${file} is invalid:\n${problems.map((i) => `  - ${i}`).join('\n')}`);
      return 1;
    }
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
