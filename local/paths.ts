import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root (where serverless.yml, statemachines/ and factory.config.yml live). */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
