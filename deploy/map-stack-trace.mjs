#!/usr/bin/env node
/**
 * `node deploy/map-stack-trace.mjs [MAPS_DIR] < trace.txt`: rewrites the bundle positions in a
 * stack trace copied from CloudWatch Logs (`/var/task/functions/create-image.mjs:1:48211`) to
 * the TypeScript sources they came from (`functions/lib/ec2.ts:42:11`), with the source maps
 * that `osls package` / `osls deploy` keep beside the zips (MAPS_DIR, default
 * `.serverless/sourcemaps`; the local cloud's packages have them under
 * `node_modules/.cache/ami-factory/package/<hash>/sourcemaps`). Keep the maps of a deployed
 * package as a build artefact: they match that package's bundles only.
 *
 * Node's own `module.SourceMap` does the lookup, so no library is needed (written here).
 */
import { readFileSync, existsSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { join } from 'node:path';

const mapsDir = process.argv[2] ?? join('.serverless', 'sourcemaps');
const POSITION = /(?:file:\/\/)?(?:\/var\/task\/)?((?:[\w.-]+\/)*[\w.-]+\.mjs):(\d+):(\d+)/g;
const maps = new Map();

function mapFor(bundle) {
  if (!maps.has(bundle)) {
    const file = join(mapsDir, `${bundle}.map`);
    maps.set(bundle, existsSync(file) ? new SourceMap(JSON.parse(readFileSync(file, 'utf8'))) : undefined);
  }
  return maps.get(bundle);
}

/** One line with every bundle position it holds mapped (positions without a map stay). */
function mapLine(line) {
  return line.replace(POSITION, (whole, bundle, line1, column1) => {
    const entry = mapFor(bundle)?.findEntry(Number(line1) - 1, Number(column1) - 1);
    if (entry?.originalSource === undefined) return whole;
    const source = entry.originalSource.replace(/^(?:\.\.\/)+/, '');
    return `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
  });
}

const input = readFileSync(0, 'utf8');
process.stdout.write(input.split('\n').map(mapLine).join('\n'));
