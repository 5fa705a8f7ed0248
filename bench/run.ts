/**
 * `npm run bench [-- NAME...] [--small] [--runs N]`: runs every `bench/*.bench.ts` (or the
 * named ones) in turn and writes the report: `bench/results.json` and `bench/RESULTS.md` with
 * the charts next to them (bench/report.ts). A run of some benchmarks merges into the report
 * the earlier runs wrote; each section keeps its own date and commit.
 *
 * `--small` (or `BENCH_SMALL=1`) is CI's configuration: every benchmark small and once, no
 * timing asserted; it writes to `bench/.out/` (not committed) so that it never replaces the
 * committed report. `--runs N` (or `BENCH_RUNS`) sets the runs per configuration (default 3,
 * 1 when small). A benchmark that throws fails the run (exit 1) after the others are written.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { coldStartSection } from './sections/coldstart.js';
import {
  checkChartFile,
  gitFacts,
  machineFacts,
  mergeResults,
  parseResults,
  renderMarkdown,
  storeSection,
  type ResultsFile,
  type RunFacts,
  type StoredSection,
} from './report.js';
import { goalOutcome, type BenchOptions, type BenchSection } from './section.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The report's order; modules not listed come after, alphabetically. */
const ORDER = ['workflow-cost', 'latency', 'fanout', 'bundle', 'retention', 'coldstart'];

interface BenchModule {
  measure?: (options: BenchOptions) => Promise<unknown>;
  /** The old contract (prints its own report); only coldstart's is still used, until it exports `measure`. */
  run?: () => Promise<void>;
}

function usage(message: string): never {
  console.error(`${message}\nusage: npm run bench [-- NAME...] [--small] [--runs N]`);
  process.exit(2);
}

const args = process.argv.slice(2);
const names: string[] = [];
let small = process.env.BENCH_SMALL === '1' || process.env.BENCH_SMALL === 'true';
let runsArg: string | undefined = process.env.BENCH_RUNS;
for (let i = 0; i < args.length; i++) {
  const a = args[i] as string;
  if (a === '--small') small = true;
  else if (a === '--runs') runsArg = args[++i] ?? usage('--runs needs a number');
  else if (a.startsWith('--runs=')) runsArg = a.slice('--runs='.length);
  else if (a.startsWith('-')) usage(`unknown option ${a}`);
  else names.push(a);
}
const runs = runsArg === undefined || runsArg === '' ? (small ? 1 : 3) : Number(runsArg);
if (!Number.isInteger(runs) || runs < 1) usage(`runs must be an integer ≥ 1, got "${runsArg}"`);

const all = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.slice(0, -'.bench.ts'.length))
  .sort((a, b) => (ORDER.indexOf(a) + 1 || 99) - (ORDER.indexOf(b) + 1 || 99) || a.localeCompare(b));
for (const n of names) if (!all.includes(n)) usage(`unknown benchmark "${n}"; known: ${all.join(', ')}`);
const selected = names.length > 0 ? all.filter((n) => names.includes(n)) : all;

const outDir = small ? join(here, '.out') : here;
const resultsPath = join(outDir, 'results.json');
const reportPath = join(outDir, 'RESULTS.md');
const options: BenchOptions = { small, runs };
const facts: RunFacts = { date: new Date().toISOString(), ...gitFacts(join(here, '..')), machine: machineFacts(), small, runs };

/** The section of a module: its `measure`, or (cold start until it exports one) the figures its `run()` leaves. */
async function sectionOf(name: string, mod: BenchModule): Promise<BenchSection | undefined> {
  if (mod.measure !== undefined) {
    const r = await mod.measure(options);
    if (name === 'coldstart' && (r as Partial<BenchSection>).markdown === undefined) return coldStartSection(r);
    return r as BenchSection;
  }
  if (name === 'coldstart' && mod.run !== undefined) {
    // Fallback until coldstart.bench.ts exports `measure` (delete then): its run() writes these figures.
    process.env.BENCH_RUNS = String(runs);
    await mod.run();
    return coldStartSection(JSON.parse(readFileSync(join(here, 'results', 'coldstart.json'), 'utf8')));
  }
  console.warn(`bench: ${name} exports no measure(options): skipped (not in the report)`);
  return undefined;
}

process.env.AMI_FACTORY_LOG_LEVEL ??= 'warn';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
console.log(`bench: ${selected.join(', ')}; ${small ? 'small configuration' : `${runs} run(s) per configuration`}; report in ${outDir}`);
const done: StoredSection[] = [];
const failed: string[] = [];
for (const name of selected) {
  console.log(`\n=== bench: ${name} ===`);
  const started = Date.now();
  try {
    const mod = (await import(pathToFileURL(join(here, `${name}.bench.ts`)).href)) as BenchModule;
    const section = await sectionOf(name, mod);
    if (section === undefined) continue;
    const stored = storeSection(section, { ...facts, date: new Date().toISOString() });
    for (const c of section.charts ?? []) {
      const file = join(outDir, checkChartFile(c.file));
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, c.svg);
    }
    done.push(stored);
    for (const g of stored.goals) console.log(`  goal ${g.what}: ${g.measured} (target ${g.target}) ${goalOutcome(g)}`);
    console.log(`=== ${name}: ${((Date.now() - started) / 1000).toFixed(1)} s real`);
  } catch (e) {
    failed.push(name);
    console.error(`bench ${name} failed:`, e);
  }
}

mkdirSync(outDir, { recursive: true });
const previous: ResultsFile | undefined = existsSync(resultsPath)
  ? parseResults(readFileSync(resultsPath, 'utf8'), resultsPath)
  : undefined;
const merged = mergeResults(previous, facts, done, ORDER);
writeFileSync(resultsPath, `${JSON.stringify(merged, null, 2)}\n`);
writeFileSync(reportPath, renderMarkdown(merged));
console.log(`\nwritten ${resultsPath} and ${reportPath} (${Object.keys(merged.sections).length} section(s), ${done.length} from this run)`);
if (failed.length > 0) {
  console.error(`bench: failed: ${failed.join(', ')}`);
  process.exit(1);
}
