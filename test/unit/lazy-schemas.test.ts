import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as z from 'zod';

/**
 * The factory's schemas are built on first use, not when a handler's bundle is imported (a cold
 * start pays for every schema it constructs): each exported `…Schema` is a `z.lazy`. zod 4 keeps
 * a lazy's schema, once built, on its definition (`_cachedInner`); the test reads that to tell
 * built from not built, and checks it does become built by a parse, so a zod that no longer
 * records it fails the test instead of passing it vacuously.
 */
const cached = (s: z.ZodLazy): unknown => (s.def as { _cachedInner?: unknown })._cachedInner;

function schemaModules(dir = 'functions/lib'): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return schemaModules(path);
    return e.name.endsWith('.ts') && /export const \w+Schema = z\.lazy\(/.test(readFileSync(path, 'utf8')) ? [path] : [];
  });
}

describe('lazy schemas', () => {
  it('does build no exported schema when its module is imported, and builds one on its first parse', async () => {
    // Prepare
    const lazies: [string, z.ZodLazy][] = [];
    for (const path of schemaModules()) {
      const mod = (await import(pathToFileURL(join(process.cwd(), path)).href)) as Record<string, unknown>;
      for (const [name, value] of Object.entries(mod))
        if (value instanceof z.ZodLazy) lazies.push([`${relative('functions/lib', path)}: ${name}`, value]);
    }
    expect(lazies.length).toBeGreaterThanOrEqual(40);
    const buildRequest = lazies.find(([where]) => where === 'build-request.ts: BuildRequestSchema')?.[1];
    if (buildRequest === undefined) throw new Error('BuildRequestSchema is not a lazy schema');
    // Assess: nothing built by the imports
    expect(lazies.filter(([, s]) => cached(s) !== undefined).map(([where]) => where)).toEqual([]);
    // Act
    const parsed = buildRequest.safeParse({});
    // Assess: built by the parse, with its nested schemas
    expect(parsed.success).toBe(false);
    expect(cached(buildRequest)).toBeInstanceOf(z.ZodType);
    expect(cached(lazies.find(([where]) => where === 'build-request.ts: BuildIdSchema')?.[1] as z.ZodLazy)).toBeInstanceOf(z.ZodType);
  });
});
