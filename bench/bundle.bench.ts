/**
 * `npm run bench -- bundle`: bundling throughput and memory.
 *
 * Makes an image (half random bytes, half compressible log-like text; BENCH_SIZE_MIB, default
 * 1024 MiB) and bundles it BENCH_RUNS times (default 3), alternating:
 *   - ours: `ami-factory bundle` in a child process (its peak RSS read at exit);
 *   - the tools' shell pipeline: tar -c -h -S --owner 0 --group 0 | tee >(sha1sum) | gzip -9 |
 *     openssl enc -aes-128-cbc -K .. -iv .. | split -b 10M, then sha1sum of the parts.
 * Reports the median MB/s of each and their ratio, and our peak RSS at 256 MiB and at the full
 * size (it must not grow with the image).
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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

async function makeImage(path: string, mib: number): Promise<void> {
  const out = createWriteStream(path);
  const text = textGenerator();
  for (let i = 0; i < mib; i++) {
    const chunk = i < mib / 2 ? randomBytes(MIB) : text(MIB);
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
}

function spawnTimed(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ ms: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (code === 0) resolve({ ms, stderr });
      else reject(new Error(`${cmd} exited ${code}: ${stderr.slice(-2000)}`));
    });
  });
}

function dirBytes(dir: string): number {
  return readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

interface Keys {
  cert: string;
  key: string;
  ec2cert: string;
}

async function ours(work: string, image: string, keys: Keys, rssProbe: string): Promise<{ ms: number; rssMiB: number; bundled: number }> {
  const dest = join(work, 'ours');
  rmSync(dest, { recursive: true, force: true });
  const args = [
    '--require',
    rssProbe,
    join(ROOT, 'bin', 'ami-factory.js'),
    'bundle',
    '-i',
    image,
    '-c',
    keys.cert,
    '-k',
    keys.key,
    '-u',
    '123456789012',
    '-r',
    'x86_64',
    '-d',
    dest,
    '--ec2cert',
    keys.ec2cert,
  ];
  const { ms, stderr } = await spawnTimed(process.execPath, args);
  const rss = /maxrss-kib=(\d+)/.exec(stderr);
  if (rss === null) throw new Error(`no RSS from the child: ${stderr}`);
  const bundled = dirBytes(dest) - statSync(join(dest, `${image.split('/').pop() as string}.manifest.xml`)).size;
  return { ms, rssMiB: Number(rss[1]) / 1024, bundled };
}

async function shell(work: string, image: string): Promise<{ ms: number; bundled: number }> {
  const dest = join(work, 'shell');
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest);
  const key = randomBytes(16).toString('hex');
  const iv = randomBytes(16).toString('hex');
  const name = image.split('/').pop() as string;
  const script = [
    'set -euo pipefail',
    `tar -c -h -S --owner 0 --group 0 -C '${dirname(image)}' '${name}' | tee >(sha1sum > '${dest}/tar.sha1') | gzip -9 | ` +
      `openssl enc -e -aes-128-cbc -K ${key} -iv ${iv} | split -b 10M -d -a 3 - '${dest}/${name}.part.'`,
    `sha1sum '${dest}/${name}'.part.* > '${dest}/parts.sha1'`,
  ].join('\n');
  const { ms } = await spawnTimed('bash', ['-c', script]);
  const bundled = readdirSync(dest)
    .filter((f) => f.includes('.part.'))
    .reduce((n, f) => n + statSync(join(dest, f)).size, 0);
  return { ms, bundled };
}

export async function run(): Promise<void> {
  const sizeMiB = Number(process.env.BENCH_SIZE_MIB ?? 1024);
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  if (!Number.isInteger(sizeMiB) || sizeMiB < 2 || !Number.isInteger(runs) || runs < 1)
    throw new Error('BENCH_SIZE_MIB must be an integer ≥ 2 and BENCH_RUNS ≥ 1');
  const work = mkdtempSync(join(tmpdir(), 'ami-factory-bench-bundle-'));
  try {
    const keys: Keys = { cert: join(work, 'cert.pem'), key: join(work, 'key.pem'), ec2cert: join(work, 'ec2-cert.pem') };
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=bench', '-days', '1', '-keyout', keys.key, '-out', keys.cert],
      { stdio: 'ignore' },
    );
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        '/CN=ec2',
        '-days',
        '1',
        '-keyout',
        join(work, 'ec2-key.pem'),
        '-out',
        keys.ec2cert,
      ],
      { stdio: 'ignore' },
    );
    const rssProbe = join(work, 'rss-probe.cjs');
    writeFileSync(
      rssProbe,
      "process.on('exit', () => require('node:fs').writeSync(2, `\\nmaxrss-kib=${process.resourceUsage().maxRSS}\\n`));\n",
    );

    const image = join(work, 'bench.img');
    console.log(`making a ${sizeMiB} MiB image (half random, half log-like text) in ${work} …`);
    await makeImage(image, sizeMiB);
    const smallMiB = Math.min(256, sizeMiB);
    const small = join(work, 'small.img');
    await makeImage(small, smallMiB);

    console.log(`${availableParallelism()} CPUs, ${runs} run(s) each, alternating`);
    const oursMs: number[] = [];
    const shellMs: number[] = [];
    const rssFull: number[] = [];
    let oursBundled = 0;
    let shellBundled = 0;
    for (let i = 0; i < runs; i++) {
      const s = await shell(work, image);
      shellMs.push(s.ms);
      shellBundled = s.bundled;
      console.log(`  run ${i + 1}: shell ${(s.ms / 1000).toFixed(1)} s (${((sizeMiB * MIB) / 1e6 / (s.ms / 1000)).toFixed(1)} MB/s)`);
      const o = await ours(work, image, keys, rssProbe);
      oursMs.push(o.ms);
      rssFull.push(o.rssMiB);
      oursBundled = o.bundled;
      console.log(
        `  run ${i + 1}: ours  ${(o.ms / 1000).toFixed(1)} s (${((sizeMiB * MIB) / 1e6 / (o.ms / 1000)).toFixed(1)} MB/s), peak RSS ${o.rssMiB.toFixed(0)} MiB`,
      );
    }
    const rssSmall: number[] = [];
    for (let i = 0; i < Math.min(runs, 2); i++) rssSmall.push((await ours(work, small, keys, rssProbe)).rssMiB);

    const mbps = (ms: number): number => (sizeMiB * MIB) / 1e6 / (ms / 1000);
    const oursRate = mbps(median(oursMs));
    const shellRate = mbps(median(shellMs));
    console.log(
      [
        '',
        `image                 ${sizeMiB} MiB (${smallMiB} MiB for the small RSS point)`,
        `shell pipeline        ${shellRate.toFixed(1)} MB/s  (median of ${runs}; bundled ${(shellBundled / MIB).toFixed(1)} MiB)`,
        `ami-factory bundle    ${oursRate.toFixed(1)} MB/s  (median of ${runs}; bundled ${(oursBundled / MIB).toFixed(1)} MiB)`,
        `speed-up              ${(oursRate / shellRate).toFixed(2)}×  (goal ≥ 1.6×)`,
        `peak RSS, ours        ${Math.max(...rssSmall).toFixed(0)} MiB at ${smallMiB} MiB, ${Math.max(...rssFull).toFixed(0)} MiB at ${sizeMiB} MiB (max of runs)`,
      ].join('\n'),
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
