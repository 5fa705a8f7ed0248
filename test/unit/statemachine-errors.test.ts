import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import * as errors from '../../functions/lib/errors.js';
import { EC2_ERROR, KNOWN_AWS_ERROR_NAMES, STATES_ERROR } from '../../functions/lib/error-codes.js';

/**
 * Step Functions `Retry`/`Catch` match an error's `name`: a name in the ASL that no code can
 * raise is a retry that never happens. Every name must be a known AWS or Step Functions
 * error (functions/lib/error-codes.ts) or one of the factory's error classes.
 */
const MACHINES = ['statemachines/image-factory.asl.yml', 'statemachines/image-retention.asl.yml'];

function errorEquals(node: unknown, where: string, out: { name: string; where: string }[] = []): { name: string; where: string }[] {
  if (Array.isArray(node)) node.forEach((n, i) => errorEquals(n, `${where}[${i}]`, out));
  else if (typeof node === 'object' && node !== null) {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'ErrorEquals' && Array.isArray(v)) for (const name of v) out.push({ name: String(name), where });
      else errorEquals(v, `${where}.${k}`, out);
    }
  }
  return out;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The factory's error classes, by the names they are declared with. */
const factoryErrorClasses = new Set(
  sourceFiles('functions').flatMap((f) =>
    [...readFileSync(f, 'utf8').matchAll(/export class (\w+Error) extends \w*Error\b/g)].map((m) => m[1] as string),
  ),
);

describe('state machine error names', () => {
  const names = MACHINES.flatMap((file) => errorEquals(parse(readFileSync(file, 'utf8')), file));

  it('finds the Retry and Catch lists of both machines', () => {
    expect(names.length).toBeGreaterThan(10);
    expect(names.map((n) => n.name)).toEqual(expect.arrayContaining([STATES_ERROR.all, EC2_ERROR.requestLimitExceeded]));
    expect(factoryErrorClasses).toContain('ImageNotVisibleYetError');
  });

  it('names only known AWS and Step Functions errors and the factory error classes', () => {
    const unknown = names.filter((n) => !KNOWN_AWS_ERROR_NAMES.has(n.name) && !factoryErrorClasses.has(n.name));
    expect(unknown).toEqual([]);
  });

  it('gives the factory error classes it names that same name at run time', () => {
    const classes = errors as unknown as Record<string, new (message: string) => Error>;
    const named = names.filter((n) => factoryErrorClasses.has(n.name));
    expect(named.map((n) => n.name)).toContain('ImageNotVisibleYetError');
    for (const { name } of named) {
      const ErrorClass = classes[name];
      expect(ErrorClass).toBeDefined();
      expect(ErrorClass === undefined ? undefined : new ErrorClass('m').name).toBe(name);
    }
  });
});
