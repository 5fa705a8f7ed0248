import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { iamTable, README_END, README_START, ReadmeMarkersError, withTable } from '../../bin/commands/iam-table.js';
import type { CfnTemplate } from '../../local/template/cfn.js';
import { ensurePackaged } from '../../local/template/package.js';

/** The README's IAM table is the script's output for the current template (it cannot go stale). */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let template: CfnTemplate;

beforeAll(async () => {
  template = (await ensurePackaged({ projectRoot: ROOT, log: () => undefined })).template;
}, 300_000);

describe('ami-factory iam-table', () => {
  it("is what the README's IAM (generated) section says", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toBe(withTable(readme, iamTable(template)));
  });

  it('lists every function with its role, its actions and their conditions', () => {
    const table = iamTable(template);
    expect(table).toMatch(
      /^\| \*\*applyRetention\*\* \(ApplyRetentionRole\) \| Allow \| `logs:CreateLogStream`<br>`logs:PutLogEvents` \| `\$\{ApplyRetentionLogGroup\.Arn\}` \| {2}\|$/m,
    );
    expect(table).toMatch(/\| Allow \| `ec2:DeregisterImage`.*StringEquals aws:ResourceTag\/ami-factory:managed = true/);
    expect(table.match(/^\| \*\*/gm)).toHaveLength(
      Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function').length,
    );
  });

  it('refuses a README without its markers', () => {
    expect(() => withTable('# no markers\n', 'x')).toThrow(ReadmeMarkersError);
    expect(withTable(`a\n${README_START}\nold\n${README_END}\nb`, '| t |\n')).toBe(`a\n${README_START}\n\n| t |\n\n${README_END}\nb`);
  });
});
