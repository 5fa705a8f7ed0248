import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { JsonFileStore, StateFileError } from '../../local/persist.js';

interface World {
  version: number;
  seeded: boolean;
  regions: Record<string, { images: string[] }>;
}
const empty = (): World => ({ version: 1, seeded: false, regions: {} });
const good: World = { version: 1, seeded: true, regions: { 'us-east-1': { images: ['ami-0123456789abcdef0'] } } };

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'persist-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Opens `text` as a state file; returns the error it raised (or undefined) and whether the folder changed. */
function open(name: string, text: string): { error: unknown; data?: World; untouched: boolean } {
  const path = join(dir, name);
  writeFileSync(path, text);
  let error: unknown;
  let data: World | undefined;
  try {
    data = new JsonFileStore<World>(path, empty).data;
  } catch (e) {
    error = e;
  }
  const untouched = readFileSync(path, 'utf8') === text && readdirSync(dir).filter((f) => f.endsWith('.tmp')).length === 0;
  return { error, data, untouched };
}

describe('JsonFileStore reading a state file', () => {
  it('does read a good state file as it is', () => {
    const r = open('good.json', JSON.stringify(good));
    expect(r.error).toBeUndefined();
    expect(r.data).toEqual(good);
    expect(r.untouched).toBe(true);
  });

  it.each([
    ['truncated', JSON.stringify(good).slice(0, 20), /ec2\.json cannot be read: it is not valid JSON, perhaps truncated/],
    ['empty', '', /it is empty/],
    ['an array', '[]', /it holds an array, not an object/],
    ['a number', '42', /it holds a number, not an object/],
    ['null', 'null', /it holds null, not an object/],
    ['missing a field', JSON.stringify({ version: 1, seeded: false }), /field "regions" is missing/],
    ['a field of the wrong kind', JSON.stringify({ ...good, regions: [] }), /field "regions" is an array, not an object/],
  ])(
    'does refuse a state file that is %s with a StateFileError naming the file and the problem, leaving it untouched',
    (_label, text, message) => {
      const r = open('ec2.json', text);
      expect(r.error).toBeInstanceOf(StateFileError);
      expect(r.error).toMatchObject({ name: 'StateFileError', path: join(dir, 'ec2.json'), message: expect.stringMatching(message) });
      expect(r.untouched).toBe(true);
    },
  );

  it('keeps the JSON parser error as the cause of a truncated file', () => {
    const r = open('cause.json', '{"version":');
    expect((r.error as Error).cause).toBeInstanceOf(SyntaxError);
  });

  it('answers any truncation or byte flip of a good file with the world or a StateFileError, never another error, and never writes', () => {
    const text = JSON.stringify(good);
    const mangled = fc.oneof(
      fc.nat({ max: text.length }).map((n) => text.slice(0, n)),
      fc
        .tuple(fc.nat({ max: text.length - 1 }), fc.string({ minLength: 1, maxLength: 3 }))
        .map(([i, s]) => text.slice(0, i) + s + text.slice(i + 1)),
      fc.json(),
      fc.string({ maxLength: 200 }),
    );
    fc.assert(
      fc.property(mangled, (input) => {
        const r = open('mangled.json', input);
        expect(r.untouched).toBe(true);
        if (r.error === undefined) {
          // What it read has the shape the services rely on.
          expect(r.data).toMatchObject({ version: expect.any(Number), seeded: expect.any(Boolean), regions: expect.any(Object) });
          expect(Array.isArray(r.data?.regions)).toBe(false);
        } else {
          expect(r.error).toBeInstanceOf(StateFileError);
          expect((r.error as Error).message).toContain(join(dir, 'mangled.json'));
        }
      }),
      { numRuns: 300 },
    );
  });
});
