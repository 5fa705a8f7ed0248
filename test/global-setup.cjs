// Before any test starts a local cloud: the packaged template for the current inputs (a cold
// cache packages once here, instead of inside a test's time limit).
const { execFileSync } = require('node:child_process');
const { join } = require('node:path');

module.exports = async function globalSetup() {
  const root = join(__dirname, '..');
  execFileSync(process.execPath, [join(root, 'bin', 'ami-factory.js'), 'package'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
};
