import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateFileError } from '../../local/persist.js';
import { startLocalCloud } from '../../local/server.js';

/** A local cloud whose state file cannot be read back stops with a named error, the file left as it was (the file-level cases: persist.test.ts). */
describe('state files', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ami-factory-state-files-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

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
