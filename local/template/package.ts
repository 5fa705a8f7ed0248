import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { readTemplate, type CfnTemplate } from './cfn.js';

/**
 * The packaged stack: what `osls package` writes (the CloudFormation template and one zip per
 * function), cached by a content hash of everything that shapes it — serverless.yml,
 * resources/, deploy/, statemachines/, the factory config, the handlers' sources and the
 * dependency lock — so a warm start reads the template in milliseconds and a cold one runs
 * the real packager once (about 25 s) and says so. Packages live under
 * `node_modules/.cache/ami-factory/package/<hash>/`; the newest few are kept.
 *
 * Two processes may want the same package at once (jest workers, `npm start` beside a test
 * run); a lock file (with the holder's pid; a dead holder's lock is taken over) lets one
 * package while the others wait, then they all read the result.
 */
export interface PackageOptions {
  projectRoot: string;
  stage?: string;
  region?: string;
  /** The factory config the package is made for (default `<projectRoot>/factory.config.yml`). */
  configFile?: string;
  /** Progress lines (a cold package takes a while). */
  log?: (line: string) => void;
  /** Where packages are cached (default `<projectRoot>/node_modules/.cache/ami-factory`). */
  cacheDir?: string;
}

export interface PackagedStack {
  /** The directory holding the template and the zips. */
  dir: string;
  templatePath: string;
  template: CfnTemplate;
  hash: string;
  stage: string;
  region: string;
  /** True when this call ran the packager. */
  packaged: boolean;
}

/** The packager failed; its output is in the message. */
export class PackageError extends Error {
  override name = 'PackageError';
}

const INPUT_DIRS = ['functions', 'resources', 'deploy', 'statemachines'];
const INPUT_FILES = ['serverless.yml', 'package.json', 'package-lock.json', 'tsconfig.json'];
const KEEP = 4;
const TEMPLATE = 'cloudformation-template-update-stack.json';

function files(root: string, dir: string): string[] {
  const abs = join(root, dir);
  if (!existsSync(abs)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(abs, { withFileTypes: true })) {
    const rel = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...files(root, rel));
    else if (entry.isFile()) out.push(rel);
  }
  return out;
}

/** The content hash of the package's inputs (paths and bytes), with the stage, region and config. */
export function packageInputsHash(opts: PackageOptions): string {
  const root = resolve(opts.projectRoot);
  const h = createHash('sha256');
  h.update(`stage=${opts.stage ?? 'dev'}\nregion=${opts.region ?? 'us-east-1'}\n`);
  const config = configPath(opts);
  h.update(`config\0`);
  if (existsSync(config)) h.update(readFileSync(config));
  const all = [...INPUT_FILES.filter((f) => existsSync(join(root, f))), ...INPUT_DIRS.flatMap((d) => files(root, d))].sort();
  for (const f of all) {
    h.update(`\0${f}\0`);
    h.update(readFileSync(join(root, f)));
  }
  return h.digest('hex').slice(0, 24);
}

function configPath(opts: PackageOptions): string {
  return resolve(opts.configFile ?? join(opts.projectRoot, 'factory.config.yml'));
}

/** The packaged stack for the current inputs: from the cache, or packaged now. */
export async function ensurePackaged(opts: PackageOptions): Promise<PackagedStack> {
  const root = resolve(opts.projectRoot);
  const stage = opts.stage ?? 'dev';
  const region = opts.region ?? 'us-east-1';
  const cache = opts.cacheDir ?? join(root, 'node_modules', '.cache', 'ami-factory');
  const base = join(cache, 'package');
  mkdirSync(base, { recursive: true });
  const hash = packageInputsHash(opts);
  const dir = join(base, hash);
  const done = (packaged: boolean): PackagedStack => {
    const templatePath = join(dir, TEMPLATE);
    return { dir, templatePath, template: readTemplate(templatePath), hash, stage, region, packaged };
  };
  if (existsSync(join(dir, TEMPLATE))) return done(false);

  const release = await lock(join(base, '.lock'), opts.log);
  try {
    if (existsSync(join(dir, TEMPLATE))) return done(false);
    const started = Date.now();
    opts.log?.(`packaging the stack with osls (inputs changed; about 25 s, cached afterwards under ${relative(root, base)}/)`);
    const tmp = join(base, `.${hash}.${process.pid}.tmp`);
    rmSync(tmp, { recursive: true, force: true });
    await runPackager(root, tmp, stage, region, configPath(opts));
    if (!existsSync(join(tmp, TEMPLATE))) throw new PackageError(`osls package wrote no ${TEMPLATE} into ${tmp}`);
    renameSync(tmp, dir);
    prune(base, hash);
    opts.log?.(`packaged in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return done(true);
  } finally {
    release();
  }
}

function runPackager(root: string, out: string, stage: string, region: string, config: string): Promise<void> {
  const bin = join(root, 'node_modules', 'osls', 'bin', 'serverless.js');
  const env = { ...process.env, AMI_FACTORY_CONFIG: config, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' };
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [bin, 'package', '--package', out, '--stage', stage, '--region', region], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', (e) => reject(new PackageError(`cannot run osls: ${e.message}`, { cause: e })));
    child.on('close', (code) => {
      if (code === 0) resolveRun();
      else reject(new PackageError(`osls package failed (exit ${code}):\n${output.trim().split('\n').slice(-30).join('\n')}`));
    });
  });
}

/** Keeps the newest packages, removes the rest. */
function prune(base: string, keep: string): void {
  const dirs = readdirSync(base, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('.') && d.name !== keep)
    .map((d) => ({ name: d.name, mtime: statSync(join(base, d.name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const d of dirs.slice(KEEP - 1)) rmSync(join(base, d.name), { recursive: true, force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** An exclusive lock file holding the owner's pid; a lock whose owner is gone is taken over. */
async function lock(path: string, log?: (line: string) => void): Promise<() => void> {
  let told = false;
  for (;;) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let owner: number;
    let age: number;
    try {
      owner = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
      age = Date.now() - statSync(path).mtimeMs;
    } catch {
      continue; // released meanwhile
    }
    // An empty lock is being written by its owner; an old empty one, or a dead owner's, is stale.
    if ((Number.isInteger(owner) && !alive(owner)) || (!Number.isInteger(owner) && age > 5000)) {
      rmSync(path, { force: true });
      continue;
    }
    if (!told) log?.(`waiting for process ${owner}, which is packaging the stack`);
    told = true;
    await new Promise((r) => setTimeout(r, 250));
  }
}
