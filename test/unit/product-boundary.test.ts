import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('product code', () => {
  it('does import nothing from local/', () => {
    const offenders = sourceFiles('functions').filter((f) => /from '(\.\.\/)+local\//.test(readFileSync(f, 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('does have no branch for the local cloud: no local key directories, no secret bypass, no log file sink', () => {
    const offenders = sourceFiles('functions').filter((f) =>
      /AMI_FACTORY_(LOCAL_KEYS_DIR|SLACK_SIGNING_SECRET|LOG_FILE|AWS_ENDPOINT)\b/.test(readFileSync(f, 'utf8')),
    );
    expect(offenders).toEqual([]);
  });
});
