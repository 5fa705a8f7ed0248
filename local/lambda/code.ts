import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { createRequire } from 'node:module';
import type { Plugin } from 'esbuild';
import { unzipSync } from 'fflate';

/**
 * Where a function's code comes from. Two sources, the same handlers:
 * - `source` (the default, for fast iteration): the handlers' TypeScript bundled by esbuild
 *   with the very options `osls package` used (read from the package's `serverless-state.json`,
 *   the resolved `custom.esbuild`), cached by a hash of the sources;
 * - `package`: the `.mjs` files inside the packaged zips, unzipped once — what ships.
 * Both give an ESM file per handler module; the Lambda runtime imports it in a fresh worker.
 */
export type CodeSource = 'source' | 'package';

export interface CodeLocation {
  /** The module file the runtime imports. */
  entry: string;
  exportName: string;
  /** The deployment package's root (`LAMBDA_TASK_ROOT`: factory.config.yml is there). */
  taskRoot: string;
}

/** A handler string (`functions/create-image.handler`) split into module and export. */
export function splitHandler(handler: string): { module: string; exportName: string } {
  const dot = handler.lastIndexOf('.');
  if (dot <= 0) throw new CodeError(`Handler "${handler}" is not <module>.<export>`);
  return { module: handler.slice(0, dot), exportName: handler.slice(dot + 1) };
}

export class CodeError extends Error {
  override name = 'CodeError';
}

interface EsbuildOptions {
  [key: string]: unknown;
}

function filesUnder(root: string, dir: string): string[] {
  const abs = join(root, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(root, join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : [],
  );
}

/** The resolved esbuild options of the package (serverless-esbuild's `custom.esbuild`). */
export function packagedEsbuildOptions(packageDir: string): EsbuildOptions {
  const statePath = join(packageDir, 'serverless-state.json');
  if (!existsSync(statePath)) throw new CodeError(`${statePath} is missing: the package has no resolved esbuild options`);
  const state = JSON.parse(readFileSync(statePath, 'utf8')) as { service?: { custom?: { esbuild?: EsbuildOptions } } };
  return state.service?.custom?.esbuild ?? {};
}

/**
 * Bundles every handler module from source (one esbuild call), cached by the hash of the
 * sources, the dependency lock and the options. Returns the directory holding
 * `<module>.mjs` per handler module.
 */
export async function sourceBundles(opts: {
  projectRoot: string;
  cacheDir: string;
  modules: string[];
  esbuild: EsbuildOptions;
}): Promise<string> {
  const h = createHash('sha256');
  h.update(JSON.stringify(opts.esbuild));
  if (typeof opts.esbuild.plugins === 'string' && existsSync(join(opts.projectRoot, opts.esbuild.plugins))) {
    h.update(readFileSync(join(opts.projectRoot, opts.esbuild.plugins)));
  }
  h.update(JSON.stringify([...opts.modules].sort()));
  // A handler outside functions/ (a benchmark's, added with editTemplate) is hashed too.
  const outside = opts.modules.filter((m) => !m.startsWith('functions/')).map((m) => `${m}.ts`);
  for (const f of [...filesUnder(opts.projectRoot, 'functions'), ...outside, 'package-lock.json', 'factory.config.yml'].sort()) {
    const abs = join(opts.projectRoot, f);
    if (!existsSync(abs)) continue;
    h.update(`\0${f}\0`);
    h.update(readFileSync(abs));
  }
  const hash = h.digest('hex').slice(0, 24);
  const base = join(opts.cacheDir, 'code');
  const dir = join(base, hash);
  if (existsSync(join(dir, '.complete'))) return dir;
  const { build } = await import('esbuild');
  const tmp = join(base, `.${hash}.${process.pid}.${Date.now()}.tmp`);
  const e = opts.esbuild;
  const ext = typeof e.outputFileExtension === 'string' ? e.outputFileExtension : '.mjs';
  const banner = e.banner as { js?: string } | undefined;
  // serverless-esbuild's `plugins`: a file (relative to the service) exporting esbuild plugins,
  // or a function returning them (serverless-esbuild passes the serverless instance; here there
  // is none, which the factory's plugins file reads as "not packaging").
  const plugins = typeof e.plugins === 'string' ? loadPlugins(join(opts.projectRoot, e.plugins)) : [];
  await build({
    plugins,
    absWorkingDir: opts.projectRoot,
    entryPoints: opts.modules.map((m) => `${m}.ts`),
    outdir: tmp,
    outbase: opts.projectRoot,
    outExtension: { '.js': ext },
    bundle: true,
    platform: 'node',
    format: e.format === 'cjs' ? 'cjs' : 'esm',
    target: typeof e.target === 'string' ? e.target : 'node24',
    minify: e.minify === true,
    keepNames: e.keepNames === true,
    // Linked maps beside the bundle: stack traces point at the TypeScript sources.
    sourcemap: 'linked',
    mainFields: Array.isArray(e.mainFields) ? (e.mainFields as string[]) : ['module', 'main'],
    external: Array.isArray(e.external) ? (e.external as string[]) : [],
    ...(banner?.js !== undefined ? { banner: { js: banner.js } } : {}),
    logLevel: 'error',
  });
  writeFileSync(join(tmp, '.complete'), hash);
  if (!existsSync(dir)) {
    mkdirSync(base, { recursive: true });
    try {
      renameSync(tmp, dir);
    } catch {
      // Another process published the same bundles first.
      rmSync(tmp, { recursive: true, force: true });
    }
  } else {
    rmSync(tmp, { recursive: true, force: true });
  }
  pruneOld(base, hash, 3);
  return dir;
}

type PluginsExport = Plugin[] | ((serverless?: unknown) => Plugin[]);

function loadPlugins(file: string): Plugin[] {
  let exported = createRequire(import.meta.url)(file) as PluginsExport | { default: PluginsExport };
  if (!Array.isArray(exported) && typeof exported !== 'function') exported = exported.default;
  return typeof exported === 'function' ? exported() : exported;
}

/** Unzips a packaged function once (per package) and returns its root. */
export function unpackedZip(opts: { zipPath: string; cacheDir: string; packageHash: string; name: string }): string {
  const dir = join(opts.cacheDir, 'unzipped', opts.packageHash, opts.name);
  if (existsSync(join(dir, '.complete'))) return dir;
  const files = unzipSync(readFileSync(opts.zipPath));
  const tmp = `${dir}.${process.pid}.${Date.now()}.tmp`;
  for (const [path, data] of Object.entries(files)) {
    if (path.endsWith('/')) continue;
    const out = join(tmp, path);
    if (relative(tmp, out).startsWith('..')) throw new CodeError(`${opts.zipPath}: entry ${path} escapes the package`);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, data);
  }
  writeFileSync(join(tmp, '.complete'), opts.packageHash);
  mkdirSync(dirname(dir), { recursive: true });
  try {
    renameSync(tmp, dir);
  } catch {
    rmSync(tmp, { recursive: true, force: true });
  }
  pruneOld(join(opts.cacheDir, 'unzipped'), opts.packageHash, 3);
  return dir;
}

function pruneOld(base: string, keep: string, count: number): void {
  if (!existsSync(base)) return;
  const dirs = readdirSync(base, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('.') && d.name !== keep)
    .map((d) => ({ name: d.name, mtime: statSync(join(base, d.name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const d of dirs.slice(count - 1)) rmSync(join(base, d.name), { recursive: true, force: true });
}
