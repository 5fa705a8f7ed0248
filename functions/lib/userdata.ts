import { TAG } from './constants.js';

/**
 * The builder's user data: the family's build script, then (unless turned off) the
 * sanitize step from the AMI sharing guidelines, then the done signal. The builder runs it
 * once at first boot (cloud-init runs a `#!` script as root).
 */
export const DEFAULT_SANITIZE_SCRIPT = `# --- ami-factory sanitize (AMI sharing guidelines) ---
# SSH host keys: regenerated at first boot of every instance launched from the image.
rm -f /etc/ssh/ssh_host_*_key /etc/ssh/ssh_host_*_key.pub
# Authorized keys of root and build users.
find /root /home -maxdepth 3 -path '*/.ssh/authorized_keys' -type f -delete 2>/dev/null || true
# No password logins for root, no local root password.
if [ -f /etc/ssh/sshd_config ]; then
  sed -i -E 's/^#?PermitRootLogin.*/PermitRootLogin without-password/' /etc/ssh/sshd_config
  sed -i -E 's/^#?PasswordAuthentication.*/PasswordAuthentication no/' /etc/ssh/sshd_config
  # Disable sshd DNS checks (slow logins when DNS is unreachable).
  sed -i -E 's/^#?UseDNS.*/UseDNS no/' /etc/ssh/sshd_config
  grep -q '^UseDNS' /etc/ssh/sshd_config || echo 'UseDNS no' >> /etc/ssh/sshd_config
fi
passwd -l root >/dev/null 2>&1 || true
# Shell history and cloud-init state, so the next boot is a first boot.
find /root /home -maxdepth 2 -name '.*history' -type f -delete 2>/dev/null || true
unset HISTFILE
cloud-init clean --logs >/dev/null 2>&1 || rm -rf /var/lib/cloud/instances /var/lib/cloud/instance
# --- end sanitize ---`;

export interface BuilderScriptInput {
  userData: string;
  sanitize: boolean;
  sanitizeScript?: string;
  doneSignal: 'stopped' | 'tag';
}

export function builderScript(input: BuilderScriptInput): string {
  const body = input.userData.startsWith('#!') ? input.userData.split('\n').slice(1).join('\n') : input.userData;
  const lines = ['#!/bin/bash', 'set -euo pipefail', '# --- family build script ---', body.trimEnd(), '# --- end build script ---'];
  if (input.sanitize) lines.push(input.sanitizeScript ?? DEFAULT_SANITIZE_SCRIPT);
  if (input.doneSignal === 'stopped') {
    // Stop behaviour is `stop` (set at launch): shutting down stops the instance, EC2 reports it stopped.
    lines.push('# ami-factory done signal', 'sync', 'shutdown -h now');
  } else {
    lines.push(
      '# ami-factory done signal',
      'TOKEN=$(curl -sX PUT http://169.254.169.254/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 60")',
      'ID=$(curl -s -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/instance-id)',
      `aws ec2 create-tags --resources "$ID" --tags Key=${TAG.buildStatus},Value=done`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The markers around the family's test script in a test instance's user data (the local cloud reads them). */
export const TEST_SCRIPT_BEGIN = '# --- family test script ---';
export const TEST_SCRIPT_END = '# --- end test script ---';

export interface TestScriptInput {
  script: string;
  report: 'stop' | 'tag';
}

/**
 * A test instance's user data: the family's test script written to a file and run by bash;
 * its exit status is the result. `stop`: the instance stops itself when the script passed (a
 * failing script leaves it running, so the wait ends at its timeout with the console output);
 * `tag`: the instance tags itself ami-factory:test-status=passed|failed. The script's output
 * goes to the console (GetConsoleOutput), where the judge reads its tail.
 */
export function testScript(input: TestScriptInput): string {
  const body = input.script.startsWith('#!') ? input.script.split('\n').slice(1).join('\n') : input.script;
  const lines = [
    '#!/bin/bash',
    'set -uo pipefail',
    'mkdir -p /var/lib/ami-factory',
    "cat > /var/lib/ami-factory/test.sh <<'END_OF_FACTORY_TEST_SCRIPT'",
    '#!/bin/bash',
    'set -euo pipefail',
    TEST_SCRIPT_BEGIN,
    body.trimEnd(),
    TEST_SCRIPT_END,
    'END_OF_FACTORY_TEST_SCRIPT',
    'if bash /var/lib/ami-factory/test.sh 2>&1 | tee /dev/console; then STATUS=passed; else STATUS=failed; fi',
    'echo "ami-factory test: $STATUS" | tee /dev/console',
    '# ami-factory test report',
  ];
  if (input.report === 'stop') {
    lines.push('if [ "$STATUS" = passed ]; then sync; shutdown -h now; fi');
  } else {
    lines.push(
      'TOKEN=$(curl -sX PUT http://169.254.169.254/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 60")',
      'ID=$(curl -s -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/instance-id)',
      `aws ec2 create-tags --resources "$ID" --tags Key=${TAG.testStatus},Value=$STATUS`,
    );
  }
  return `${lines.join('\n')}\n`;
}
