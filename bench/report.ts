/**
 * The benchmark report: `bench/results.json` (the machine, date, commit and every section's
 * figures) and `bench/RESULTS.md`, rendered from results.json alone so that a run of some
 * benchmarks merges into what earlier runs wrote (each section keeps its own date and commit).
 */
import { execFileSync } from 'node:child_process';
import { cpus, release, totalmem, type } from 'node:os';
import { isAbsolute, normalize } from 'node:path';
import type { JsonValue } from '../local/json.js';
import type { BenchChart, BenchGoal, BenchSection } from './section.js';

export interface MachineFacts {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  os: string;
}

export interface RunFacts {
  date: string;
  commit: string;
  dirty: boolean;
  machine: MachineFacts;
  small: boolean;
  runs: number;
}

export interface StoredSection extends RunFacts {
  name: string;
  title: string;
  markdown: string;
  results: JsonValue;
  goals: BenchGoal[];
  charts: { file: string; alt: string }[];
}

export interface ResultsFile extends RunFacts {
  /** By module name, in the order the report shows them. */
  sections: Record<string, StoredSection>;
}

/** A section or results file the writer cannot use (a chart path outside bench/, a missing field). */
export class BenchReportError extends Error {
  override name = 'BenchReportError';
}

export function machineFacts(): MachineFacts {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown';
  return {
    cpu,
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${type()} ${release()}`,
  };
}

/** The commit the run measured and whether the work tree had changes (then the figures are of no commit exactly). */
export function gitFacts(cwd: string): { commit: string; dirty: boolean } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd, encoding: 'utf8' }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, encoding: 'utf8' });
    return { commit, dirty: status.trim() !== '' };
  } catch {
    return { commit: 'unknown', dirty: false };
  }
}

/** A chart's file must be a relative `.svg` path inside bench/. */
export function checkChartFile(file: string): string {
  const n = normalize(file);
  if (isAbsolute(file) || n.startsWith('..') || !n.endsWith('.svg') || n.includes('\0'))
    throw new BenchReportError(`chart file "${file}" must be a relative .svg path inside bench/`);
  return n.split('\\').join('/');
}

export function storeSection(section: BenchSection, facts: RunFacts): StoredSection {
  if (section.name === '' || section.title === '') throw new BenchReportError('a section needs a name and a title');
  const charts: BenchChart[] = section.charts ?? [];
  return {
    ...facts,
    name: section.name,
    title: section.title,
    markdown: section.markdown.trim(),
    results: section.results,
    goals: section.goals ?? [],
    charts: charts.map((c) => ({ file: checkChartFile(c.file), alt: c.alt })),
  };
}

/**
 * The new results file: the previous one's sections, those of this run replacing theirs, in
 * `order` (names not in it after, alphabetically). The header facts are this run's.
 */
export function mergeResults(previous: ResultsFile | undefined, facts: RunFacts, sections: StoredSection[], order: string[]): ResultsFile {
  const byName = new Map<string, StoredSection>(Object.entries(previous?.sections ?? {}));
  for (const s of sections) byName.set(s.name, s);
  const rank = (n: string): number => {
    const i = order.indexOf(n);
    return i === -1 ? order.length : i;
  };
  const names = [...byName.keys()].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  return { ...facts, sections: Object.fromEntries(names.map((n) => [n, byName.get(n) as StoredSection])) };
}

/** Reads a results.json written by an earlier run; anything else is refused (the writer would drop its sections). */
export function parseResults(text: string, where: string): ResultsFile {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new BenchReportError(`${where} is not JSON`, { cause: e });
  }
  const d = doc as Partial<ResultsFile> | null;
  if (d === null || typeof d !== 'object' || typeof d.sections !== 'object' || d.sections === null || typeof d.date !== 'string')
    throw new BenchReportError(`${where} is not a benchmark results file (no date or sections)`);
  return d as ResultsFile;
}

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function factsLine(f: RunFacts): string {
  const m = f.machine;
  return (
    `${f.date} · commit \`${f.commit.slice(0, 12)}\`${f.dirty ? ' (with uncommitted changes)' : ''} · ` +
    `${f.small ? 'small (CI) configuration' : `${f.runs} run(s) per configuration`} · ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, node ${m.node}, ${m.os}`
  );
}

export function renderMarkdown(r: ResultsFile): string {
  const sections = Object.values(r.sections);
  const out: string[] = [
    '# Benchmark results',
    '',
    '<!-- Generated by `npm run bench` (bench/run.ts) from bench/results.json: do not edit by hand. -->',
    '',
    `Last run: ${factsLine(r)}.`,
    '',
    'Every figure comes from the local cloud (`local/`): the real state machines, handlers and SDK clients against a simulated ' +
      'EC2 whose clock is compressed; times quoted as "simulated" are on that clock. Each section says when and at which commit it was measured.',
    '',
  ];
  const goals = sections.flatMap((s) => s.goals.map((g) => ({ section: s, goal: g })));
  if (goals.length > 0) {
    out.push('## Goals', '', '| section | goal | target | measured | met |', '|---|---|---|---|---|');
    for (const { section, goal } of goals)
      out.push(
        `| [${cell(section.title)}](#${anchor(section.title)}) | ${cell(goal.what)} | ${cell(goal.target)} | ${cell(goal.measured)} | ${goal.met === null ? 'n/a' : goal.met ? 'yes' : '**no**'} |`,
      );
    out.push('');
  }
  for (const s of sections) {
    out.push(`## ${s.title}`, '', `_Measured ${factsLine(s)}._`, '', s.markdown, '');
    for (const c of s.charts) out.push(`![${c.alt.replace(/[[\]]/g, '')}](${c.file})`, '');
  }
  return `${out.join('\n').trimEnd()}\n`;
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
export function anchor(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s-]/gu, '')
    .trim()
    .replace(/\s/g, '-');
}
