import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Every error class of the factory reports its own name: Step Functions Retry/Catch and the
 * reports match on `name`. The bundles are minified without esbuild's keepNames, so the name
 * must be a field of the class itself (`override name = 'XError'`), not the class's name.
 */
function modulesDeclaringErrors(dir = 'functions'): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return modulesDeclaringErrors(path);
    return e.name.endsWith('.ts') && /class \w+Error extends/.test(readFileSync(path, 'utf8')) ? [path] : [];
  });
}

type ErrorClass = new (...args: unknown[]) => Error;

function isErrorClass(value: unknown): value is ErrorClass {
  return typeof value === 'function' && value.prototype instanceof Error;
}

function sources(dir = 'functions'): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

describe('factory error names', () => {
  it('does never name an error by its class’s own name (minified, that is a short identifier)', () => {
    const uses = sources().flatMap((path) =>
      [...readFileSync(path, 'utf8').matchAll(/\b[A-Z]\w*Error\.name\b/g)].map((m) => `${path}: ${m[0]}`),
    );
    expect(uses).toEqual([]);
  });

  it('does give every exported error class its own name, whatever the arguments', async () => {
    // Prepare
    const modules = modulesDeclaringErrors();
    const classes: [string, ErrorClass][] = [];
    for (const path of modules) {
      const mod = (await import(pathToFileURL(join(process.cwd(), path)).href)) as Record<string, unknown>;
      for (const [exported, value] of Object.entries(mod))
        if (isErrorClass(value)) classes.push([`${relative('functions', path)}: ${exported}`, value]);
    }
    expect(classes.length).toBeGreaterThanOrEqual(40);
    // Act
    const names = classes.map(([where, C]) => [where, new C('message', [], [], []).name]);
    // Assess
    expect(names).toEqual(classes.map(([where, C]) => [where, C.name]));
    expect(classes.map(([, C]) => C.name).filter((n) => !n.endsWith('Error'))).toEqual([]);
  });
});
