import { execFile } from 'node:child_process';
import { execFileSync } from 'node:child_process';

/**
 * The AWS CLI, for tests that check the local cloud answers it as AWS does: `AMI_FACTORY_AWS_CLI`
 * (CI sets it to the AWS CLI v1 it installs, .ci/run), else `aws` on the PATH.
 */
export function awsCli(): { bin: string } | { missing: string } {
  const bin = process.env.AMI_FACTORY_AWS_CLI ?? 'aws';
  try {
    execFileSync(bin, ['--version'], { stdio: 'ignore', timeout: 30_000 });
    return { bin };
  } catch {
    return { missing: `the AWS CLI (${bin}) is not installed` };
  }
}

/** Runs `aws <args> --endpoint-url <endpoint> --output json` with test credentials; its parsed output, or its stderr as the error. */
export function runAwsCli(bin: string, endpoint: string, args: string[], region = 'us-east-1'): Promise<unknown> {
  return new Promise((resolve, reject) => {
    execFile(
      bin,
      [...args, '--endpoint-url', endpoint, '--region', region, '--output', 'json'],
      {
        timeout: 60_000,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '/tmp',
          AWS_ACCESS_KEY_ID: 'AKIDAWSCLI',
          AWS_SECRET_ACCESS_KEY: 'test',
          AWS_CONFIG_FILE: '/dev/null',
          AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
          AWS_MAX_ATTEMPTS: '1',
        },
      },
      (error, stdout, stderr) => {
        if (error !== null) reject(new Error(stderr.trim() === '' ? error.message : stderr.trim()));
        else resolve(stdout.trim() === '' ? {} : (JSON.parse(stdout) as unknown));
      },
    );
  });
}
