import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * `ami-factory <command> [options]`. Each command is a module in `bin/commands/` named after
 * it, exporting `summary` (one line for the help) and `run(argv)` resolving to an exit code.
 */
export interface Command {
  summary: string;
  run(argv: string[]): Promise<number>;
}

const commandsDir = join(dirname(fileURLToPath(import.meta.url)), 'commands');

function commandNames(): string[] {
  return readdirSync(commandsDir)
    .filter((f) => f.endsWith('.ts') && !f.startsWith('_'))
    .map((f) => f.slice(0, -3))
    .sort();
}

async function load(name: string): Promise<Command> {
  return (await import(pathToFileURL(join(commandsDir, `${name}.ts`)).href)) as Command;
}

async function help(): Promise<void> {
  const lines = ['usage: ami-factory <command> [options]', '', 'commands:'];
  for (const name of commandNames()) {
    const cmd = await load(name);
    lines.push(`  ${name.padEnd(16)} ${cmd.summary}`);
  }
  lines.push(
    '',
    'Run `ami-factory <command> --help` for the options of one command.',
    'Every command that starts a local cloud enforces IAM; `--no-iam` logs what would be denied instead (debugging).',
  );
  console.log(lines.join('\n'));
}

export async function main(argv: string[]): Promise<number> {
  // `--no-iam` (any command that starts a local cloud): record IAM denials instead of refusing.
  if (argv.includes('--no-iam')) process.env.AMI_FACTORY_LOCAL_IAM = 'off';
  const [name, ...rest] = argv.filter((a) => a !== '--no-iam');
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    await help();
    return name === undefined ? 2 : 0;
  }
  if (!commandNames().includes(name)) {
    console.error(`ami-factory: unknown command "${name}". Run \`ami-factory --help\` for the list.`);
    return 2;
  }
  const cmd = await load(name);
  return cmd.run(rest);
}
