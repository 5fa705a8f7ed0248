/**
 * `npm run bench -- coldstart`: what a cold start costs each function.
 *
 * For every function of the packaged stack (`ensurePackaged`, the zips `osls package` makes):
 * the zip's size, and the time a fresh Node process takes to import the bundle inside it (the
 * `.mjs`, unzipped once under node_modules/.cache/ami-factory/coldstart/) with the function's
 * environment as Lambda would set it (the template's variables, the reserved AWS_* ones, fake
 * credentials; nothing is called). Each run is `node -e "await import(bundle)"` against a bare
 * `node -e ''` run right before it (alternating, BENCH_RUNS of each per function, default 7), so the machine's load
 * hits both alike; "over" is the median of the function's process times minus the median of
 * its bare ones. The child also times the import itself, in wall and in CPU time (the CPU time
 * is the figure least moved by other processes on a shared machine). Goal (issue #11):
 * ≤ 80 ms over bare node per function. `run()` prints, per function, the zip's size, the
 * median over bare node with the runs' min–max and whether it is within the goal, then the
 * process, bare, import and import-CPU figures, and writes bench/results/coldstart.json;
 * `measure({ runs })` returns the same figures as a report section (bench/section.ts) and writes
 * nothing.
 *
 * BENCH_NODE=PATH runs the children on another Node binary (default: this one), e.g. the Lambda
 * runtime's major (`nodejs24.x`: `npm i node@24` gives one) when this machine's node is older;
 * the report names the version the children ran.
 *
 * BENCH_RUNS=1 is the CI configuration: every bundle imported once, nothing asserted on times.
 * A bundle that fails to import fails the benchmark.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePackaged } from '../local/template/package.js';
import { planStack } from '../local/template/stack.js';
import { unpackedZip, splitHandler } from '../local/lambda/code.js';
import type { BenchOptions, BenchSection } from './section.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const GOAL_MS = 80;
const REGION = 'us-east-1';

/** A bundle could not be measured: it is missing, or importing it failed. */
export class ColdStartBenchError extends Error {
  override name = 'ColdStartBenchError';
}

type Stats = { median: number; min: number; max: number };

/** One function's figures (times in ms, sizes in bytes). */
export type ColdStartRow = {
  function: string;
  zipBytes: number;
  bundleBytes: number;
  /**
   * Over bare node: `median` is the median process time of `node -e "import(bundle)"` minus
   * the median of bare `node -e ''`; `min`/`max` are those of the runs' paired differences
   * (each import run less the bare run right before it).
   */
  overBareMs: Stats;
  /** `overBareMs.median` within the goal. */
  underGoal: boolean;
  /** Measured in the child around the import: wall and CPU time. */
  importMs: Stats;
  importCpuMs: Stats;
  processMs: Stats;
  bareMs: Stats;
};

/** What `measure` returns: the report writer's section (bench/section.ts), with the figures typed. */
export interface ColdStartResult extends BenchSection {
  name: 'coldstart';
  results: ColdStartFigures;
}

export type ColdStartFigures = {
  date: string;
  node: string;
  /** The package's input hash (local/template/package.ts). */
  package: string;
  runs: number;
  goalMs: number;
  functions: ColdStartRow[];
  /** The median over the functions of their `overBareMs.median`. */
  medianOverBareMs: number;
  /** The functions over the goal. */
  overGoal: string[];
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function stats(xs: number[]): Stats {
  return { median: round(median(xs)), min: round(Math.min(...xs)), max: round(Math.max(...xs)) };
}

const round = (x: number): number => Math.round(x * 10) / 10;

/** The child's own measure of the import: wall and CPU time around `await import(bundle)`. */
const IMPORT = [
  'const t = performance.now(), c = process.cpuUsage();',
  'await import(process.argv[1]);',
  'const u = process.cpuUsage(c);',
  'process.stdout.write(`\\n${JSON.stringify({ wall: performance.now() - t, cpu: (u.user + u.system) / 1000 })}`);',
].join(' ');

interface Timing {
  /** The whole process, as the parent saw it. */
  processMs: number;
  /** Inside the child, around the import (absent for the bare run). */
  importMs?: number;
  importCpuMs?: number;
}

/** The Node binary the children run (BENCH_NODE, default this process's). */
const CHILD_NODE = process.env.BENCH_NODE ?? process.execPath;

/** The children's Node version (`node --version` of CHILD_NODE). */
function childNodeVersion(): string {
  if (CHILD_NODE === process.execPath) return process.version;
  const r = spawnSync(CHILD_NODE, ['--version'], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new ColdStartBenchError(`BENCH_NODE=${CHILD_NODE} does not run: ${r.stderr?.toString().trim() ?? ''}`);
  return r.stdout.toString().trim();
}

/** One fresh `node ARGS` process; throws with its stderr when it fails. */
function timeNode(args: string[], env: Record<string, string>, cwd: string): Timing {
  const started = process.hrtime.bigint();
  const r = spawnSync(CHILD_NODE, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const processMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0)
    throw new ColdStartBenchError(`node ${args.slice(0, 2).join(' ')} failed (exit ${r.status}): ${r.stderr.toString().trim()}`);
  // The measure is the child's last line (a bundle printing at import would come before it).
  const out = r.stdout.toString().trim().split('\n').at(-1) ?? '';
  if (out === '') return { processMs };
  const inner = JSON.parse(out) as { wall: number; cpu: number };
  return { processMs, importMs: inner.wall, importCpuMs: inner.cpu };
}

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`;
const range = (x: Stats): string => `${x.median.toFixed(1)} (${x.min.toFixed(1)}–${x.max.toFixed(1)})`;

const HEADER = ['function', 'zip', 'mjs', 'over bare', 'goal', 'node + import', "bare node -e ''", 'import (in child)', 'import CPU'];
const WIDTHS = [17, 9, 9, 21, 5, 21, 21, 21, 21];

function line(cells: string[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(WIDTHS[i] ?? 0) : c.padStart(WIDTHS[i] ?? 0))).join('  ');
}

function cells(row: ColdStartRow): string[] {
  return [
    row.function,
    kb(row.zipBytes),
    kb(row.bundleBytes),
    range(row.overBareMs),
    row.underGoal ? 'yes' : 'NO',
    range(row.processMs),
    range(row.bareMs),
    range(row.importMs),
    range(row.importCpuMs),
  ];
}

function summary(figures: ColdStartFigures): string {
  const rows = figures.functions;
  const worst = rows.reduce((a, b) => (b.overBareMs.median > a.overBareMs.median ? b : a));
  return (
    `zips ${kb(Math.min(...rows.map((r) => r.zipBytes)))}–${kb(Math.max(...rows.map((r) => r.zipBytes)))}; ` +
    `median over bare node ${figures.medianOverBareMs.toFixed(1)} ms, slowest ${worst.function} ${worst.overBareMs.median.toFixed(1)} ms; ` +
    (figures.overGoal.length === 0 ? `every function within ${GOAL_MS} ms` : `over ${GOAL_MS} ms: ${figures.overGoal.join(', ')}`)
  );
}

/**
 * Measures every packaged function (`runs` fresh processes each, alternating with bare node);
 * `onRow` sees each function's figures as they come. Writes nothing.
 */
export async function measure(
  options: Pick<BenchOptions, 'runs'> & Partial<BenchOptions>,
  onRow: (row: ColdStartRow) => void = () => undefined,
): Promise<ColdStartResult> {
  const runs = Math.max(1, Math.floor(options.runs));
  const pkg = await ensurePackaged({ projectRoot: ROOT, log: (l) => console.log(l) });
  const plan = planStack(pkg.template, { stackName: `ami-factory-${pkg.stage}`, region: REGION, accountId: '111122223333' });
  // Beside the local cloud's caches (not linted, not committed).
  const cacheDir = join(ROOT, 'node_modules', '.cache', 'ami-factory', 'coldstart');
  const rows: ColdStartRow[] = [];
  for (const fn of [...plan.functions].sort((a, b) => a.shortName.localeCompare(b.shortName))) {
    if (fn.codeZip === undefined) throw new ColdStartBenchError(`${fn.shortName} has no code zip`);
    const zipPath = join(pkg.dir, fn.codeZip);
    const taskRoot = unpackedZip({ zipPath, cacheDir, packageHash: pkg.hash, name: fn.shortName });
    const bundle = join(taskRoot, `${splitHandler(fn.handler).module}.mjs`);
    if (!existsSync(bundle)) throw new ColdStartBenchError(`${zipPath} holds no ${bundle}`);
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      ...fn.environment,
      AWS_REGION: REGION,
      AWS_DEFAULT_REGION: REGION,
      AWS_LAMBDA_FUNCTION_NAME: fn.name,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
      AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
      LAMBDA_TASK_ROOT: taskRoot,
      _HANDLER: fn.handler,
      AWS_ACCESS_KEY_ID: 'ASIAEXAMPLEEXAMPLE00',
      AWS_SECRET_ACCESS_KEY: 'example-secret',
      AWS_SESSION_TOKEN: 'example-token',
    };
    const bare: Timing[] = [];
    const imports: Timing[] = [];
    for (let i = 0; i < runs; i++) {
      bare.push(timeNode(['-e', ''], env, taskRoot));
      imports.push(timeNode(['--input-type=module', '-e', IMPORT, bundle], env, taskRoot));
    }
    const processMs = imports.map((t) => t.processMs);
    const bareMs = bare.map((t) => t.processMs);
    const paired = processMs.map((ms, i) => ms - (bareMs[i] as number));
    const over = round(Math.max(0, median(processMs) - median(bareMs)));
    const row: ColdStartRow = {
      function: fn.shortName,
      zipBytes: statSync(zipPath).size,
      bundleBytes: statSync(bundle).size,
      overBareMs: { median: over, min: round(Math.min(...paired)), max: round(Math.max(...paired)) },
      underGoal: over <= GOAL_MS,
      importMs: stats(imports.map((t) => t.importMs ?? Number.NaN)),
      importCpuMs: stats(imports.map((t) => t.importCpuMs ?? Number.NaN)),
      processMs: stats(processMs),
      bareMs: stats(bareMs),
    };
    rows.push(row);
    onRow(row);
  }
  const figures: ColdStartFigures = {
    date: new Date().toISOString(),
    node: childNodeVersion(),
    package: pkg.hash,
    runs,
    goalMs: GOAL_MS,
    functions: rows,
    medianOverBareMs: round(median(rows.map((r) => r.overBareMs.median))),
    overGoal: rows.filter((r) => !r.underGoal).map((r) => r.function),
  };
  const table = [HEADER, ...rows.map(cells)].map((r) => `| ${r.join(' | ')} |`);
  table.splice(1, 0, `|${HEADER.map(() => ' --- ').join('|')}|`);
  return {
    name: 'coldstart',
    title: 'Cold starts: import time of each packaged handler',
    markdown: [
      `Each function's zip as \`osls package\` makes it; its bundle imported in a fresh Node process (${figures.node}), ` +
        `${runs} run(s) alternating with bare \`node -e ''\`; times in ms, median (min–max). ` +
        `"Over bare" is the median process time less the median bare one (min–max: the runs' paired differences).`,
      '',
      ...table,
      '',
      summary(figures),
    ].join('\n'),
    results: figures,
    goals: [
      {
        what: 'median import time over bare node, every function',
        target: `≤ ${GOAL_MS} ms`,
        measured: `slowest ${Math.max(...rows.map((r) => r.overBareMs.median)).toFixed(1)} ms, median ${figures.medianOverBareMs.toFixed(1)} ms`,
        met: figures.overGoal.length === 0,
      },
      {
        what: 'zip size, every function',
        target: '≤ 300 KB',
        measured: `largest ${kb(Math.max(...rows.map((r) => r.zipBytes)))}`,
        met: rows.every((r) => r.zipBytes <= 300 * 1024),
      },
    ],
  };
}

/** `npm run bench -- coldstart`: prints the table as it is measured and writes bench/results/coldstart.json. */
export async function run(): Promise<void> {
  const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 7));
  console.log(
    `cold starts: every packaged function, ${runs} run(s) each, alternating with bare \`node -e ''\` (${childNodeVersion()}); times in ms, median (min–max)`,
  );
  let first = true;
  const result = await measure({ runs }, (row) => {
    if (first) console.log(line(HEADER));
    first = false;
    console.log(line(cells(row)));
  });
  console.log(summary(result.results));
  const out = join(ROOT, 'bench', 'results', 'coldstart.json');
  mkdirSync(dirname(out), { recursive: true });
  const previous = existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as { runs?: number }) : undefined;
  if (runs < 7 && previous !== undefined && (previous.runs ?? 0) >= 7) {
    console.log(`${runs} run(s): ${out} (from ${previous.runs} runs) left as it is`);
    return;
  }
  writeFileSync(out, `${JSON.stringify(result.results, null, 2)}\n`);
  console.log(`written to ${out}`);
}
