import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { ssmClient } from '../clients.js';
import { env } from '../env.js';
import { ConfigurationError } from '../errors.js';

/**
 * The Slack signing secret. Locally (and in tests) `AMI_FACTORY_SLACK_SIGNING_SECRET`; in AWS
 * the SecureString parameter named by `AMI_FACTORY_SLACK_SECRET_PARAM`, read once per
 * container (a rotation reaches new containers; `resetSigningSecretCache` for tests).
 */
let cached: Promise<string> | undefined;

export function signingSecret(client: Pick<SSMClient, 'send'> = ssmClient()): Promise<string> {
  const local = process.env.AMI_FACTORY_SLACK_SIGNING_SECRET;
  if (local !== undefined && local !== '') return Promise.resolve(local);
  cached ??= (async () => {
    const name = env().AMI_FACTORY_SLACK_SECRET_PARAM;
    if (name === undefined) {
      throw new ConfigurationError('Set AMI_FACTORY_SLACK_SECRET_PARAM (or AMI_FACTORY_SLACK_SIGNING_SECRET locally)');
    }
    const r = await client.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    const value = r.Parameter?.Value;
    if (value === undefined || value === '') throw new ConfigurationError(`The SSM parameter ${name} holds no signing secret`);
    return value;
  })();
  // A failed read is not cached: the next request tries again.
  cached.catch(() => {
    cached = undefined;
  });
  return cached;
}

export function resetSigningSecretCache(): void {
  cached = undefined;
}
