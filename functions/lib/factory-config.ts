import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadFactoryConfig, type FactoryConfig } from './config.js';
import { env } from './env.js';

/**
 * The factory config a function runs with: the `factory.config.yml` of its deployment package,
 * read and validated once per container. Every function that decides what a request may do
 * (the triggers, the Slack endpoint, planBuild) reads the same file the package was made from.
 */

/**
 * Where the factory config is: `AMI_FACTORY_CONFIG`, else `factory.config.yml` at the root of
 * the deployment package (`LAMBDA_TASK_ROOT`; serverless `package.patterns` puts it there), else
 * the project root of this source tree (the local cloud and the CLI).
 */
export function factoryConfigPath(): string {
  const { AMI_FACTORY_CONFIG: explicit, LAMBDA_TASK_ROOT: taskRoot } = env();
  if (explicit !== undefined) return resolve(explicit);
  if (taskRoot !== undefined && existsSync(join(taskRoot, 'factory.config.yml'))) {
    return join(taskRoot, 'factory.config.yml');
  }
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'factory.config.yml');
}

const configs = new Map<string, { mtimeMs: number; config: FactoryConfig }>();

/**
 * The factory config, read and validated once per container (per path and version of the
 * file: a deployment package never changes, so in Lambda it is read once; the local cloud's
 * tests may widen the config between builds, and the next invocation reads the new one).
 */
export function factoryConfig(path: string = factoryConfigPath()): FactoryConfig {
  let mtimeMs = -1;
  try {
    mtimeMs = statSync(path).mtimeMs;
  } catch {
    // Missing: loadFactoryConfig says so with the path.
  }
  const cached = configs.get(path);
  if (cached !== undefined && cached.mtimeMs === mtimeMs) return cached.config;
  const config = loadFactoryConfig(path);
  configs.set(path, { mtimeMs, config });
  return config;
}

/** Forgets cached configs (tests that switch AMI_FACTORY_CONFIG). */
export function resetFactoryConfigCache(): void {
  configs.clear();
}
