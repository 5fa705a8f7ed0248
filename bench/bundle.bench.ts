/**
 * `npm run bench -- bundle`: bundling speed and memory, ours against the EC2 AMI tools' shell
 * pipeline with the same tools otherwise:
 *   tar -c -h -S --owner 0 --group 0 | tee >(sha1sum) | COMPRESSOR | openssl enc -aes-128-cbc |
 *   split -b 10M, then sha1sum of the parts,
 * where COMPRESSOR is `gzip -9` or `pigz -9 -p <cores>` (the same level as ours, `--level 9`).
 *
 * Inputs (made streamed, never held in memory; the zeros are holes, which both sides skip as
 * tar -S does): "random+zeros" (the first half random bytes, the second half zeros) and "text"
 * (deterministic log-like text, every byte data). Every configuration runs `runs` times,
 * alternating the tools so the machine's load hits them alike; medians and min–max are
 * quoted, with the CPU time (user + system, children included: the figure least moved by
 * other processes) and the compressed size, so the comparison is honest. Ours is the CLI
 * (`ami-factory bundle`) in a child process; its peak RSS is read at exit, at 256 MiB and at
 * 4 GiB (full configuration), and must not grow with the image. On Linux the peak is the child's
 * own `VmHWM` (/proc/self/status), not getrusage's maxRSS: Linux carries ru_maxrss over exec
 * from the forked copy of the parent, so after another benchmark in the same `npm run bench`
 * left the parent at 200 MiB, every child "peaked" at 200 MiB whatever it did.
 *
 * Full: random+zeros 256 MiB, text 64 MiB, the 4 GiB memory point. Small (CI): 16 MiB each,
 * no 4 GiB point; pigz is skipped when it is not installed (said so in the report).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JsonValue } from '../local/json.js';
import { goalOutcome, type BenchGoal, type BenchOptions, type BenchSection } from './section.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MIB = 1024 * 1024;

/** Deterministic log-like text: timestamps, levels, ids and words of a 4000-word vocabulary. */
function textGenerator(seed = 42): (n: number) => Buffer {
  let s = seed >>> 0;
  const rnd = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const syllables = [
    'ka',
    'lo',
    'mi',
    'ne',
    'ru',
    'sa',
    'ti',
    'vo',
    'ze',
    'an',
    'el',
    'in',
    'or',
    'us',
    'bra',
    'cle',
    'dri',
    'fro',
    'gla',
    'pre',
    'sto',
    'tra',
    'ex',
    'qu',
    'ph',
    'th',
    'sh',
    'ch',
  ];
  const vocabulary = Array.from({ length: 4000 }, () => {
    let w = '';
    const n = 1 + Math.floor(rnd() * 4);
    for (let i = 0; i < n; i++) w += syllables[Math.floor(rnd() * syllables.length)] as string;
    return w;
  });
  const levels = ['INFO', 'WARN', 'DEBUG', 'ERROR'];
  const word = (): string => vocabulary[Math.floor(vocabulary.length * rnd() ** 3)] as string;
  let t = 1_700_000_000_000;
  return (n) => {
    const lines: string[] = [];
    let len = 0;
    while (len < n) {
      t += Math.floor(rnd() * 5000);
      const words = Array.from({ length: 4 + Math.floor(rnd() * 14) }, word).join(' ');
      const line = `${new Date(t).toISOString()} ${levels[Math.floor(rnd() * rnd() * 4)] as string} [${word()}-${Math.floor(rnd() * 64)}] req=${Math.floor(rnd() * 0xffffffff).toString(16)} ${words} took=${(rnd() * 900).toFixed(2)}ms\n`;
      lines.push(line);
      len += line.length;
    }
    return Buffer.from(lines.join('')).subarray(0, n);
  };
}

type Kind = 'random+zeros' | 'text';

/** Writes an image chunk by chunk (1 MiB in memory at most); zeros are left as a hole. */
function makeImage(path: string, kind: Kind, mib: number): void {
  const fd = openSync(path, 'w');
  try {
    const text = textGenerator();
    const dataMiB = kind === 'text' ? mib : Math.floor(mib / 2);
    for (let i = 0; i < dataMiB; i++) writeSync(fd, kind === 'text' ? text(MIB) : randomBytes(MIB));
    ftruncateSync(fd, mib * MIB);
  } finally {
    closeSync(fd);
  }
}

interface Timed {
  ms: number;
  cpuS: number;
  stderr: string;
}

function spawnTimed(cmd: string, args: string[]): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      const cpu = /cpu-s=([0-9.]+)/.exec(stderr);
      if (code === 0) resolve({ ms, cpuS: cpu === null ? NaN : Number(cpu[1]), stderr });
      else reject(new Error(`${cmd} exited ${code}: ${stderr.slice(-2000)}`));
    });
  });
}

function partBytes(dir: string): number {
  return readdirSync(dir)
    .filter((f) => f.includes('.part.'))
    .reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

interface Stats {
  median: number;
  min: number;
  max: number;
}

function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  const median = s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
  return { median, min: s[0] as number, max: s[s.length - 1] as number };
}

interface Keys {
  cert: string;
  key: string;
  ec2cert: string;
}

interface RunResult extends Timed {
  bundled: number;
  rssMiB?: number;
}

async function ours(work: string, image: string, keys: Keys, probe: string): Promise<RunResult> {
  const dest = join(work, 'ours');
  rmSync(dest, { recursive: true, force: true });
  const args = ['--require', probe, join(ROOT, 'bin', 'ami-factory.js'), 'bundle', '-q', '-i', image, '-c', keys.cert, '-k', keys.key];
  args.push('-u', '123456789012', '-r', 'x86_64', '-d', dest, '--ec2cert', keys.ec2cert, '--level', '9');
  const t = await spawnTimed(process.execPath, args);
  const rss = /maxrss-kib=(\d+)/.exec(t.stderr);
  if (rss === null) throw new Error(`no RSS from the child: ${t.stderr}`);
  const result = { ...t, bundled: partBytes(dest), rssMiB: Number(rss[1]) / 1024 };
  rmSync(dest, { recursive: true, force: true });
  return result;
}

async function shell(work: string, image: string, compressor: string): Promise<RunResult> {
  const dest = join(work, 'shell');
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest);
  const key = randomBytes(16).toString('hex');
  const iv = randomBytes(16).toString('hex');
  const name = image.split('/').pop() as string;
  const script = [
    'set -euo pipefail',
    `tar -c -h -S --owner 0 --group 0 -C '${dirname(image)}' '${name}' | tee >(sha1sum > '${dest}/tar.sha1') | ${compressor} | ` +
      `openssl enc -e -aes-128-cbc -K ${key} -iv ${iv} | split -b 10M -d -a 3 - '${dest}/${name}.part.'`,
    `sha1sum '${dest}/${name}'.part.* > '${dest}/parts.sha1'`,
    // The children's user and system time: the second line of bash's `times` (not in a pipe: that is a subshell).
    'times >&2',
  ].join('\n');
  const t = await spawnTimed('bash', ['-c', script]);
  const times = [...t.stderr.matchAll(/(\d+)m([\d.]+)s (\d+)m([\d.]+)s/g)].pop();
  const seconds = (m: string | undefined, s: string | undefined): number => Number(m) * 60 + Number(s);
  const cpuS = times === undefined ? NaN : seconds(times[1], times[2]) + seconds(times[3], times[4]);
  const result = { ...t, cpuS, bundled: partBytes(dest) };
  rmSync(dest, { recursive: true, force: true });
  return result;
}

function haveCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

interface ToolFigures {
  tool: string;
  wallS: Stats;
  cpuS: Stats;
  mbPerS: number;
  bundledMiB: number;
}

interface InputFigures {
  input: Kind;
  sizeMiB: number;
  tools: ToolFigures[];
  /** Ours' speed over each pipeline's (> 1: ours is faster), from the medians of this run. */
  speedup: Record<string, number>;
}

const fmt = (n: number, d = 2): string => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

export async function measure(options: BenchOptions): Promise<BenchSection> {
  const runs = Math.max(1, options.small ? 1 : options.runs);
  const sizes: Record<Kind, number> = options.small ? { 'random+zeros': 16, text: 16 } : { 'random+zeros': 256, text: 64 };
  const bigMiB = options.small ? undefined : 4096;
  const cores = availableParallelism();
  const pigz = haveCommand('pigz');
  const compressors: [string, string][] = [['gzip -9 pipeline', 'gzip -9']];
  if (pigz) compressors.push([`pigz -9 -p ${cores} pipeline`, `pigz -9 -p ${cores}`]);
  const pigzTool = `pigz -9 -p ${cores} pipeline`;
  const work = mkdtempSync(join(tmpdir(), 'ami-factory-bench-bundle-'));
  try {
    const keys: Keys = { cert: join(work, 'cert.pem'), key: join(work, 'key.pem'), ec2cert: join(work, 'ec2-cert.pem') };
    for (const [cn, key, cert] of [
      ['bench', keys.key, keys.cert],
      ['ec2', join(work, 'ec2-key.pem'), keys.ec2cert],
    ] as const) {
      execFileSync(
        'openssl',
        ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-days', '1', '-keyout', key, '-out', cert],
        {
          stdio: 'ignore',
        },
      );
    }
    const probe = join(work, 'probe.cjs');
    writeFileSync(
      probe,
      [
        "const fs = require('node:fs');",
        "process.on('exit', () => {",
        '  const u = process.resourceUsage();',
        // The peak of this process's own memory (Linux), else getrusage's (see the module comment).
        '  let kib = u.maxRSS;',
        "  try { const m = /^VmHWM:\\s+(\\d+) kB$/m.exec(fs.readFileSync('/proc/self/status', 'utf8')); if (m) kib = Number(m[1]); } catch {}",
        '  fs.writeSync(2, `\\nmaxrss-kib=${kib}\\ncpu-s=${(u.userCPUTime + u.systemCPUTime) / 1e6}\\n`);',
        '});',
        '',
      ].join('\n'),
    );

    const inputs: InputFigures[] = [];
    const rss: { sizeMiB: number; peakMiB: number }[] = [];
    for (const kind of ['random+zeros', 'text'] as const) {
      const image = join(work, `${kind === 'text' ? 'text' : 'random-zeros'}.img`);
      makeImage(image, kind, sizes[kind]);
      const runsOf = new Map<string, RunResult[]>([
        ['ami-factory bundle', []],
        ...compressors.map(([t]) => [t, []] as [string, RunResult[]]),
      ]);
      for (let i = 0; i < runs; i++) {
        for (const [tool, cmd] of compressors) runsOf.get(tool)?.push(await shell(work, image, cmd));
        runsOf.get('ami-factory bundle')?.push(await ours(work, image, keys, probe));
      }
      const bytes = sizes[kind] * MIB;
      const tools = [...runsOf].map(([tool, rs]): ToolFigures => {
        const wall = stats(rs.map((r) => r.ms / 1000));
        return {
          tool,
          wallS: wall,
          cpuS: stats(rs.map((r) => r.cpuS)),
          mbPerS: bytes / 1e6 / wall.median,
          bundledMiB: (rs[0]?.bundled ?? 0) / MIB,
        };
      });
      const oursWall = tools[0]?.wallS.median ?? NaN;
      const speedup = Object.fromEntries(tools.slice(1).map((t) => [t.tool, t.wallS.median / oursWall]));
      inputs.push({ input: kind, sizeMiB: sizes[kind], tools, speedup });
      if (kind === 'random+zeros')
        rss.push({ sizeMiB: sizes[kind], peakMiB: Math.max(...(runsOf.get('ami-factory bundle') ?? []).map((r) => r.rssMiB ?? 0)) });
      rmSync(image, { force: true });
    }
    if (bigMiB !== undefined) {
      const image = join(work, 'big.img');
      makeImage(image, 'random+zeros', bigMiB);
      const r = await ours(work, image, keys, probe);
      rss.push({ sizeMiB: bigMiB, peakMiB: r.rssMiB ?? 0 });
      rmSync(image, { force: true });
    }

    const lines: string[] = [
      `${cores} CPUs; ${runs} run(s) of each configuration, alternating; compression level 9 on every side (ours: \`--level 9\`, the default). ` +
        'The zeros are holes: tar -S and ours both leave them out of the stream. Ours stores the blocks that a probe finds incompressible ' +
        '(deflate -9 stores random data too; compare the sizes).' +
        (pigz ? '' : ' **pigz is not installed: its pipeline was skipped.**'),
      '',
      '| input | tool | wall s, median (min–max) | CPU s, median | MB/s | bundled MiB | ours faster by |',
      '|---|---|---|---|---|---|---|',
    ];
    for (const f of inputs) {
      for (const t of f.tools) {
        const up = f.speedup[t.tool];
        lines.push(
          `| ${f.input} ${f.sizeMiB} MiB | ${t.tool} | ${fmt(t.wallS.median)} (${fmt(t.wallS.min)}–${fmt(t.wallS.max)}) | ${fmt(t.cpuS.median)} | ${fmt(t.mbPerS, 1)} | ${fmt(t.bundledMiB, 1)} | ${up === undefined ? '—' : `${fmt(up)}×`} |`,
        );
      }
    }
    lines.push(
      '',
      '| image (random+zeros) | peak RSS of ours, MiB |',
      '|---|---|',
      ...rss.map((r) => `| ${r.sizeMiB} MiB | ${fmt(r.peakMiB, 0)} |`),
    );

    const goals: BenchGoal[] = [];
    if (pigz) {
      for (const f of inputs) {
        const up = f.speedup[pigzTool] ?? NaN;
        goals.push({
          what: `bundling ${f.input}, ours vs the pigz pipeline (wall, medians)`,
          target: '≥ 1.00×',
          measured: `${fmt(up)}×`,
          met: up >= 1,
        });
      }
    }
    if (rss.length > 1) {
      const [small, big] = [rss[0] as { peakMiB: number }, rss[rss.length - 1] as { sizeMiB: number; peakMiB: number }];
      const growth = big.peakMiB / small.peakMiB;
      goals.push({
        what: `peak RSS flat: ${big.sizeMiB} MiB image over ${rss[0]?.sizeMiB} MiB`,
        target: '≤ 1.25×',
        measured: `${fmt(growth)}× (${fmt(small.peakMiB, 0)} → ${fmt(big.peakMiB, 0)} MiB)`,
        met: growth <= 1.25,
      });
    }
    const results = { cores, runs, pigz, inputs, rss } as unknown as JsonValue;
    return {
      name: 'bundle',
      title: 'Bundling: ours against the AMI tools pipeline (gzip, pigz)',
      markdown: lines.join('\n'),
      results,
      goals,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Prints the section (until the report writer runs every bench through `measure`). */
export async function run(): Promise<void> {
  const small = process.env.BENCH_SMALL === '1';
  const section = await measure({ small, runs: Number(process.env.BENCH_RUNS ?? 3) });
  console.log(`## ${section.title}\n\n${section.markdown}\n`);
  for (const g of section.goals ?? []) console.log(`- ${goalOutcome(g)}: ${g.what}: ${g.measured} (goal ${g.target})`);
}
