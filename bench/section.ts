/**
 * The contract between a benchmark module and the report writer (`bench/run.ts`).
 *
 * Every `bench/<name>.bench.ts` exports `measure(options: BenchOptions): Promise<BenchSection>`.
 * The writer runs the selected modules in turn and turns their sections into `bench/results.json`
 * (every section's `results`, with the machine, date and commit) and `bench/RESULTS.md` (every
 * section's markdown, charts embedded as SVG files written next to it).
 */
import type { JsonValue } from '../local/json.js';

export interface BenchOptions {
  /** CI's configuration: every benchmark runs, small and once; no timing is asserted. */
  small: boolean;
  /** Runs per measured configuration (medians are quoted over them). */
  runs: number;
}

/** A goal an issue sets, with what this run measured. */
export interface BenchGoal {
  what: string;
  target: string;
  measured: string;
  /**
   * `null`: the run's configuration gives the goal nothing to measure (e.g. CI's small retention
   * run exhausts no token bucket, so there is no bound to be within); reported as "n/a".
   */
  met: boolean | null;
}

/** How a goal's outcome reads in the printed summary: met, MISSED or n/a. */
export function goalOutcome(goal: BenchGoal): string {
  return goal.met === null ? 'n/a' : goal.met ? 'met' : 'MISSED';
}

/** An SVG chart, written as `bench/<file>` and embedded in the section. */
export interface BenchChart {
  file: string;
  alt: string;
  svg: string;
}

export interface BenchSection {
  /** The module's name (`retention` for bench/retention.bench.ts). */
  name: string;
  title: string;
  /** The section's body in markdown (tables, notes); the writer adds the title and charts. */
  markdown: string;
  /** The structured figures, as they go into results.json. */
  results: JsonValue;
  goals?: BenchGoal[];
  charts?: BenchChart[];
}
