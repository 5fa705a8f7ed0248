/**
 * The cold-start section of the report, from the figures bench/coldstart.bench.ts measures
 * (its `measure({ runs })`, or the bench/results/coldstart.json its `run()` writes): per
 * function, the zip and bundle sizes and the import time of the packaged bundle in a fresh
 * Node process over bare `node`.
 */
import type { JsonValue } from '../../local/json.js';
import type { BenchSection } from '../section.js';

interface Spread {
  median: number;
  min: number;
  max: number;
}

/** What the cold-start bench reports (structurally: its own types stay in its file). */
export interface ColdStartFigures {
  date?: string;
  node?: string;
  runs: number;
  goalMs: number;
  functions: {
    function: string;
    zipBytes: number;
    bundleBytes: number;
    overBareMs: number;
    importMs: Spread;
    importCpuMs: Spread;
    processMs?: Spread;
    bareMs?: Spread;
  }[];
}

/** The cold-start bench gave figures the section cannot read. */
export class ColdStartFiguresError extends Error {
  override name = 'ColdStartFiguresError';
}

export function isColdStartFigures(x: unknown): x is ColdStartFigures {
  const f = x as Partial<ColdStartFigures> | null;
  return f !== null && typeof f === 'object' && Array.isArray(f.functions) && typeof f.goalMs === 'number' && typeof f.runs === 'number';
}

const kb = (b: number): string => `${(b / 1024).toFixed(1)} KB`;
const spread = (s: Spread): string => `${s.median.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)})`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export function coldStartSection(figures: unknown): BenchSection {
  if (!isColdStartFigures(figures) || figures.functions.length === 0)
    throw new ColdStartFiguresError('the cold-start bench returned no per-function figures (functions, goalMs, runs)');
  const rows = [...figures.functions].sort((a, b) => a.function.localeCompare(b.function));
  const worst = rows.reduce((a, b) => (b.overBareMs > a.overBareMs ? b : a));
  const over = rows.filter((r) => r.overBareMs > figures.goalMs);
  const lines = [
    `Every function of the packaged stack: the zip \`osls package\` makes, the bundle in it, and a fresh \`node\` importing the bundle ` +
      `(the function's environment set as Lambda sets it, nothing called) against a bare \`node -e ''\` run alternately with it; ` +
      `${figures.runs} run(s) of each per function${figures.node !== undefined ? `, node ${figures.node}` : ''}. ` +
      `"Over bare node" is the median process time minus the median bare one; import wall and CPU time are measured inside the child. Times in ms, median (min–max).`,
    '',
    '| function | zip | bundle | over bare node | import (wall) | import (CPU) |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.function} | ${kb(r.zipBytes)} | ${kb(r.bundleBytes)} | ${r.overBareMs.toFixed(1)}${r.overBareMs > figures.goalMs ? ' ⚠' : ''} | ${spread(r.importMs)} | ${spread(r.importCpuMs)} |`,
    ),
    '',
    `Median over bare node ${median(rows.map((r) => r.overBareMs)).toFixed(1)} ms; slowest ${worst.function} ${worst.overBareMs.toFixed(1)} ms. ` +
      (figures.runs < 3 ? 'One run per function (CI configuration): the times are indicative only.' : ''),
  ];
  return {
    name: 'coldstart',
    title: 'Cold start',
    markdown: lines.join('\n').trim(),
    results: figures as unknown as JsonValue,
    goals: [
      {
        what: 'cold start over bare node, every function',
        target: `≤ ${figures.goalMs} ms`,
        measured: `slowest ${worst.function} ${worst.overBareMs.toFixed(1)} ms${over.length > 0 ? ` (${over.length} over)` : ''}`,
        met: over.length === 0,
      },
    ],
  };
}
