/**
 * `npm run bench -- coldstart`: what a cold start costs each function.
 *
 * For every function of the packaged stack (`ensurePackaged`, the zips `osls package` makes):
 * the zip's size, and the time a fresh Node process takes to import the bundle inside it (the
 * `.mjs`, unzipped once under bench/.out/coldstart/) with the function's environment as Lambda
 * would set it (the template's variables, the reserved AWS_* ones, fake credentials; nothing is
 * called). Each run is `node -e "await import(bundle)"` against a bare `node -e ''` run right
 * before it (alternating, BENCH_RUNS of each per function, default 7), so the machine's load
 * hits both alike; "over" is the median of the function's process times minus the median of
 * its bare ones. The child also times the import itself, in wall and in CPU time (the CPU time
 * is the figure least moved by other processes on a shared machine). Goal (issue #11):
 * ≤ 80 ms over bare node per function. Prints a table and writes bench/results/coldstart.json
 * (there is no shared results writer).
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

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const GOAL_MS = 80;
const REGION = 'us-east-1';

/** A bundle could not be measured: it is missing, or importing it failed. */
export class ColdStartBenchError extends Error {
  override name = 'ColdStartBenchError';
}

interface Row {
  function: string;
  zipBytes: number;
  bundleBytes: number;
  /** Median process time of `node -e "import(bundle)"` minus the median of bare `node -e ''`. */
  overBareMs: number;
  /** Measured in the child around the import: wall and CPU time. */
  importMs: { median: number; min: number; max: number };
  importCpuMs: { median: number; min: number; max: number };
  processMs: { median: number; min: number; max: number };
  bareMs: { median: number; min: number; max: number };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function stats(xs: number[]): { median: number; min: number; max: number } {
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

/** One fresh `node ARGS` process; throws with its stderr when it fails. */
function timeNode(args: string[], env: Record<string, string>, cwd: string): Timing {
  const started = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const processMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0)
    throw new ColdStartBenchError(`node ${args.slice(0, 2).join(' ')} failed (exit ${r.status}): ${r.stderr.toString().trim()}`);
  // The measure is the child's last line (a bundle printing at import would come before it).
  const out = r.stdout.toString().trim().split('\n').at(-1) ?? '';
  if (out === '') return { processMs };
  const inner = JSON.parse(out) as { wall: number; cpu: number };
  return { processMs, importMs: inner.wall, importCpuMs: inner.cpu };
}

export async function run(): Promise<void> {
  const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 7));
  const pkg = await ensurePackaged({ projectRoot: ROOT, log: (l) => console.log(l) });
  const plan = planStack(pkg.template, { stackName: `ami-factory-${pkg.stage}`, region: REGION, accountId: '111122223333' });
  const cacheDir = join(ROOT, 'bench', '.out', 'coldstart');
  const rows: Row[] = [];
  console.log(
    `${plan.functions.length} functions, ${runs} run(s) each, alternating with bare \`node -e ''\` (${process.version}); times in ms, median (min–max)`,
  );
  console.log(
    [
      'function'.padEnd(17),
      'zip'.padStart(9),
      'mjs'.padStart(9),
      'node + import'.padStart(21),
      "bare node -e ''".padStart(21),
      'over'.padStart(7),
      'import (in child)'.padStart(21),
      'import CPU'.padStart(21),
    ].join('  '),
  );
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
    const row: Row = {
      function: fn.shortName,
      zipBytes: statSync(zipPath).size,
      bundleBytes: statSync(bundle).size,
      overBareMs: round(Math.max(0, median(processMs) - median(bareMs))),
      importMs: stats(imports.map((t) => t.importMs ?? Number.NaN)),
      importCpuMs: stats(imports.map((t) => t.importCpuMs ?? Number.NaN)),
      processMs: stats(processMs),
      bareMs: stats(bareMs),
    };
    rows.push(row);
    const range = (x: Row['importMs']): string => `${x.median.toFixed(1)} (${x.min.toFixed(1)}–${x.max.toFixed(1)})`.padStart(21);
    console.log(
      [
        row.function.padEnd(17),
        `${(row.zipBytes / 1024).toFixed(1).padStart(6)} KB`,
        `${(row.bundleBytes / 1024).toFixed(1).padStart(6)} KB`,
        range(row.processMs),
        range(row.bareMs),
        `${row.overBareMs.toFixed(1).padStart(6)}${row.overBareMs > GOAL_MS ? '*' : ' '}`,
        range(row.importMs),
        range(row.importCpuMs),
      ].join('  '),
    );
  }
  const over = rows.filter((r) => r.overBareMs > GOAL_MS).map((r) => r.function);
  const worst = rows.reduce((a, b) => (b.overBareMs > a.overBareMs ? b : a));
  console.log(
    `zips ${(Math.min(...rows.map((r) => r.zipBytes)) / 1024).toFixed(1)}–${(Math.max(...rows.map((r) => r.zipBytes)) / 1024).toFixed(1)} KB; ` +
      `median over bare node ${median(rows.map((r) => r.overBareMs)).toFixed(1)} ms, slowest ${worst.function} ${worst.overBareMs.toFixed(1)} ms; ` +
      (over.length === 0 ? `every function within ${GOAL_MS} ms` : `over ${GOAL_MS} ms (*): ${over.join(', ')}`),
  );
  const out = join(ROOT, 'bench', 'results', 'coldstart.json');
  mkdirSync(dirname(out), { recursive: true });
  const previous = existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as { runs?: number }) : undefined;
  if (runs < 7 && previous !== undefined && (previous.runs ?? 0) >= 7) {
    console.log(`${runs} run(s): ${out} (from ${previous.runs} runs) left as it is`);
    return;
  }
  const result = { date: new Date().toISOString(), node: process.version, package: pkg.hash, runs, goalMs: GOAL_MS, functions: rows };
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`written to ${out}`);
}
