import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { ssmClient } from '../clients.js';
import { env } from '../env.js';
import { ConfigurationError } from '../errors.js';

/**
 * The Slack signing secret: the SecureString parameter named by `AMI_FACTORY_SLACK_SECRET_PARAM`,
 * read once per container (a rotation reaches new containers; `resetSigningSecretCache` for
 * tests). The local cloud serves it from its SSM, as AWS does.
 */
let cached: Promise<string> | undefined;

export function signingSecret(client: Pick<SSMClient, 'send'> = ssmClient()): Promise<string> {
  cached ??= (async () => {
    const name = env().AMI_FACTORY_SLACK_SECRET_PARAM;
    if (name === undefined) {
      throw new ConfigurationError('Set AMI_FACTORY_SLACK_SECRET_PARAM (the SSM parameter of the Slack signing secret)');
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
