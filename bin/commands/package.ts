import { PROJECT_ROOT } from '../../local/paths.js';
import { ensurePackaged } from '../../local/template/package.js';
import { parseOptions } from './_common.js';

export const summary = 'Package the stack for the local cloud (osls package, cached by a hash of its inputs)';

const HELP = `usage: ami-factory package [--quiet]

The local cloud deploys the CloudFormation template that \`osls package\` writes. This command
makes sure the package for the current inputs (serverless.yml, resources/, deploy/,
statemachines/, factory.config.yml, the handlers' sources, package-lock.json) is in the cache
(node_modules/.cache/ami-factory/package/), packaging it when the inputs changed (about 25 s),
and prints where it is. Every command that starts a local cloud does this by itself.
  --quiet   print nothing but errors`;

export async function run(argv: string[]): Promise<number> {
  const values = parseOptions('package', HELP, argv, { quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (typeof values === 'number') return values;
  const say = (line: string): void => {
    if (values.quiet !== true) console.log(line);
  };
  try {
    const pkg = await ensurePackaged({ projectRoot: PROJECT_ROOT, log: say });
    say(`${pkg.packaged ? 'packaged' : 'package is current'}: ${pkg.templatePath}`);
    return 0;
  } catch (e) {
    console.error(`ami-factory package: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}
