import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * `npm run bench [-- NAME...]`: runs every `bench/*.bench.ts` (or the named ones) in turn.
 * Each benchmark module exports `run(): Promise<void>` and prints its own report.
 */
const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const all = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.slice(0, -'.bench.ts'.length))
  .sort();
const selected = wanted.length > 0 ? wanted : all;
for (const name of selected) {
  if (!all.includes(name)) {
    console.error(`unknown benchmark "${name}"; known: ${all.join(', ')}`);
    process.exit(2);
  }
  console.log(`\n=== bench: ${name} ===`);
  const mod = (await import(pathToFileURL(join(here, `${name}.bench.ts`)).href)) as { run(): Promise<void> };
  await mod.run();
}
