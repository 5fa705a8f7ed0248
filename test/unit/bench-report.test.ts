import { lineChart, ChartInputError } from '../../bench/chart.js';
import { BenchReportError, mergeResults, parseResults, renderMarkdown, storeSection, type RunFacts } from '../../bench/report.js';
import { coldStartSection, ColdStartFiguresError } from '../../bench/sections/coldstart.js';

const facts = (date: string, commit: string): RunFacts => ({
  date,
  commit,
  dirty: false,
  machine: { cpu: 'Test CPU', cores: 2, memoryGiB: 4, node: 'v20.0.0', os: 'Linux 6' },
  small: false,
  runs: 3,
});

describe('bench report writer', () => {
  it('renders a section with its goal in the goals table and its chart embedded, with its own date and commit', () => {
    const run = facts('2026-12-01T10:00:00.000Z', 'a'.repeat(40));
    const s = storeSection(
      {
        name: 'fanout',
        title: 'Fan-out: 16 regions × 500 accounts',
        markdown: '| a | b |\n|---|---|\n| 1 | 2 |\n',
        results: { wallOverBound: 1.05 },
        goals: [
          { what: 'wall / bound', target: '≤ 1.2', measured: '1.05', met: true },
          { what: 'failures', target: '0', measured: '2 | 3', met: false },
          { what: 'wall / bound, small', target: '≤ 1.1', measured: 'no bound', met: null },
        ],
        charts: [{ file: 'charts/fanout.svg', alt: 'calls over time', svg: '<svg/>' }],
      },
      run,
    );
    const md = renderMarkdown(mergeResults(undefined, run, [s], ['fanout']));
    expect(md).toContain('| [Fan-out: 16 regions × 500 accounts](#fan-out-16-regions--500-accounts) | wall / bound | ≤ 1.2 | 1.05 | yes |');
    expect(md).toContain('| failures | 0 | 2 \\| 3 | **no** |');
    expect(md).toContain('| wall / bound, small | ≤ 1.1 | no bound | n/a |');
    expect(md).toContain('## Fan-out: 16 regions × 500 accounts');
    expect(md).toContain(`_Measured 2026-12-01T10:00:00.000Z · commit \`aaaaaaaaaaaa\``);
    expect(md).toContain('![calls over time](charts/fanout.svg)');
    expect(md.indexOf('## Goals')).toBeLessThan(md.indexOf('## Fan-out'));
  });

  it('merges a partial run into the previous results: other sections kept with their own facts, in the report order', () => {
    const old = facts('2026-11-01T00:00:00.000Z', 'b'.repeat(40));
    const now = facts('2026-12-01T00:00:00.000Z', 'c'.repeat(40));
    const section = (name: string, f: RunFacts, markdown: string) => storeSection({ name, title: name, markdown, results: null }, f);
    const previous = mergeResults(undefined, old, [section('latency', old, 'old latency'), section('coldstart', old, 'old cold')], []);
    const reread = parseResults(JSON.stringify(previous), 'results.json');
    const merged = mergeResults(reread, now, [section('latency', now, 'new latency')], ['workflow-cost', 'latency', 'coldstart']);
    expect(Object.keys(merged.sections)).toEqual(['latency', 'coldstart']);
    expect(merged.sections.latency?.markdown).toBe('new latency');
    expect(merged.sections.latency?.commit).toBe('c'.repeat(40));
    expect(merged.sections.coldstart?.markdown).toBe('old cold');
    expect(merged.sections.coldstart?.date).toBe('2026-11-01T00:00:00.000Z');
    expect(merged.date).toBe('2026-12-01T00:00:00.000Z');
  });

  it('refuses a chart outside bench/ and a results file it cannot merge into', () => {
    const f = facts('2026-12-01T00:00:00.000Z', 'd'.repeat(40));
    for (const file of ['../README.svg', '/tmp/x.svg', 'charts/x.png'])
      expect(() => storeSection({ name: 'x', title: 'X', markdown: '', results: null, charts: [{ file, alt: '', svg: '' }] }, f)).toThrow(
        BenchReportError,
      );
    expect(() => parseResults('{"sections": {}}', 'results.json')).toThrow(BenchReportError);
    expect(() => parseResults('not json', 'results.json')).toThrow(BenchReportError);
  });

  it('draws a line chart as SVG with its axis titles and a legend entry per series', async () => {
    const c = await lineChart({
      file: 'charts/t.svg',
      alt: 'cost',
      title: 'Cost per build',
      xTitle: 'EC2 image time (min)',
      yTitle: 'USD per 1,000 builds',
      series: [
        {
          name: 'callbacks',
          points: [
            [1, 2],
            [60, 2],
          ],
        },
        {
          name: 'polling',
          points: [
            [1, 1],
            [60, 30],
          ],
          dashed: true,
        },
      ],
    });
    expect(c.svg.startsWith('<svg')).toBe(true);
    for (const text of ['Cost per build', 'EC2 image time (min)', 'USD per 1,000 builds', 'callbacks', 'polling'])
      expect(c.svg).toContain(text);
    await expect(lineChart({ file: 'x.svg', alt: '', title: '', xTitle: '', yTitle: '', series: [] })).rejects.toThrow(ChartInputError);
  });

  it('formats the cold-start figures into a section with its goal', () => {
    const spread = { median: 10, min: 9, max: 12 };
    const row = (fn: string, over: number) => ({
      function: fn,
      zipBytes: 2048,
      bundleBytes: 4096,
      overBareMs: over,
      importMs: spread,
      importCpuMs: spread,
    });
    const s = coldStartSection({ runs: 7, goalMs: 80, functions: [row('b', 90), row('a', 20)] });
    expect(s.markdown).toContain('| a | 2.0 KB | 4.0 KB | 20.0 | 10.0 (9.0–12.0) | 10.0 (9.0–12.0) |');
    expect(s.markdown.indexOf('| a |')).toBeLessThan(s.markdown.indexOf('| b |'));
    expect(s.goals).toEqual([
      { what: 'cold start over bare node, every function', target: '≤ 80 ms', measured: 'slowest b 90.0 ms (1 over)', met: false },
    ]);
    expect(() => coldStartSection({ runs: 1 })).toThrow(ColdStartFiguresError);
  });
});
