import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonFileStore, StateFileError } from '../../local/persist.js';
import { startLocalCloud } from '../../local/server.js';

/** A state file that cannot be read back is a named error naming the file and the problem; the file is left as it was. */
describe('state files', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ami-factory-state-files-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const empty = (): { version: number; regions: Record<string, unknown> } => ({ version: 1, regions: {} });

  it.each([
    ['truncated', '{"version":1,"regions":{"us-east-1":{"ima', /is not valid JSON/],
    ['empty', '', /is empty/],
    ['an array', '[1,2]', /holds an array, not a state object/],
    ['null', 'null', /holds null, not a state object/],
    ['a member of the wrong type', '{"version":"1","regions":{}}', /"version" is a string, not a number/],
    ['a missing object member', '{"version":1}', /"regions" is missing/],
    ['an object member that is not one', '{"version":1,"regions":[]}', /"regions" is not an object/],
  ])('refuses a file that is %s, naming it, and leaves it untouched', (_what, text, problem) => {
    const file = join(dir, 'ec2.json');
    writeFileSync(file, text);
    let error: unknown;
    try {
      new JsonFileStore(file, empty);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StateFileError);
    expect((error as StateFileError).name).toBe('StateFileError');
    expect((error as StateFileError).file).toBe(file);
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).toMatch(problem);
    expect(readFileSync(file, 'utf8')).toBe(text);
  });

  it('reads back what it wrote, and writes a new file when there is none', () => {
    const file = join(dir, 'sub', 'sfn.json');
    const a = new JsonFileStore(file, empty);
    expect(existsSync(file)).toBe(true);
    a.data.regions['us-east-1'] = { images: 3 };
    a.markDirty();
    a.flush();
    const b = new JsonFileStore(file, empty);
    expect(b.data).toEqual({ version: 1, regions: { 'us-east-1': { images: 3 } } });
  });

  it('a local cloud on a folder with a truncated state file refuses to start, keeps the file and gives the folder back', async () => {
    const first = await startLocalCloud({ port: 0, stateDir: dir, timeScale: 1, seed: false });
    await first.close();
    const file = join(dir, 'ec2.json');
    const whole = readFileSync(file, 'utf8');
    const truncated = whole.slice(0, Math.floor(whole.length / 2));
    writeFileSync(file, truncated);
    await expect(startLocalCloud({ port: 0, stateDir: dir, timeScale: 1, seed: false })).rejects.toThrow(StateFileError);
    expect(readFileSync(file, 'utf8')).toBe(truncated);
    expect(existsSync(join(dir, 'cloud.lock'))).toBe(false);
  }, 120_000);
});
