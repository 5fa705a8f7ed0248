/**
 * Option parsing shared by the commands, apart from _common.ts (which loads the local cloud):
 * a command that needs only these starts in a fraction of the time.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** A usage error of an options-only command (the bundle tools): names the command, points to --help; exit code 2. */
export function usageError(command: string, message: string): number {
  console.error(`ami-factory ${command}: ${message}\nRun \`ami-factory ${command} --help\` for the options.`);
  return 2;
}

type OptionsConfig<O extends ParseArgsOptionsConfig> = { args: string[]; options: O; strict: true; allowPositionals: false };
export type OptionValues<O extends ParseArgsOptionsConfig> = ReturnType<typeof parseArgs<OptionsConfig<O>>>['values'];

/**
 * An options-only command's arguments (no positionals): prints the usage and returns 0 for
 * --help, returns 2 after a usageError for a bad option or a missing required one
 * ("missing --a, --b"), else the values.
 */
export function parseOptions<O extends ParseArgsOptionsConfig, R extends keyof OptionValues<O> & string = never>(
  command: string,
  usage: string,
  argv: string[],
  options: O,
  required: readonly R[] = [],
): (OptionValues<O> & Required<Pick<OptionValues<O>, R>>) | number {
  let values: OptionValues<O>;
  try {
    ({ values } = parseArgs<OptionsConfig<O>>({ args: argv, options, strict: true, allowPositionals: false }));
  } catch (e) {
    return usageError(command, e instanceof Error ? e.message : String(e));
  }
  if ((values as { help?: unknown }).help === true) {
    console.log(usage);
    return 0;
  }
  const missing = required.filter((k) => (values as Record<string, unknown>)[k] === undefined);
  if (missing.length > 0) return usageError(command, `missing ${missing.map((k) => `--${k}`).join(', ')}`);
  return values as OptionValues<O> & Required<Pick<OptionValues<O>, R>>;
}
