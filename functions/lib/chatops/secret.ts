import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { ssmClient } from '../clients.js';
import { env } from '../env.js';
import { SSM_ERROR } from '../error-codes.js';
import { ConfigurationError, hasErrorName } from '../errors.js';

/**
 * Slack's secrets, SecureString parameters read once per container (a rotation reaches new
 * containers; `resetSigningSecretCache` / `resetBotTokenCache` for tests). The local cloud
 * serves them from its SSM, as AWS does.
 *
 * - The signing secret (`AMI_FACTORY_SLACK_SECRET_PARAM`): required; every request is verified with it.
 * - The bot token (`AMI_FACTORY_SLACK_BOT_TOKEN_PARAM`, `xoxb-…`): optional. Without it (the
 *   variable unset, or the parameter not created) there is no Web API: approval messages are not
 *   updated in place and approvers given as user groups cannot be resolved.
 */
let cachedSecret: Promise<string> | undefined;
let cachedToken: Promise<string | undefined> | undefined;

/** A read that is cached until it fails (the next request tries again). */
function cache<T>(get: () => Promise<T> | undefined, set: (p: Promise<T> | undefined) => void, read: () => Promise<T>): Promise<T> {
  const existing = get();
  if (existing !== undefined) return existing;
  const p = read();
  set(p);
  p.catch(() => set(undefined));
  return p;
}

export function signingSecret(client: Pick<SSMClient, 'send'> = ssmClient()): Promise<string> {
  return cache(
    () => cachedSecret,
    (p) => (cachedSecret = p),
    async () => {
      const name = env().AMI_FACTORY_SLACK_SECRET_PARAM;
      if (name === undefined) {
        throw new ConfigurationError('Set AMI_FACTORY_SLACK_SECRET_PARAM (the SSM parameter of the Slack signing secret)');
      }
      const r = await client.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
      const value = r.Parameter?.Value;
      if (value === undefined || value === '') throw new ConfigurationError(`The SSM parameter ${name} holds no signing secret`);
      return value;
    },
  );
}

/** The bot token, or undefined when none is configured (see above). */
export function botToken(client: Pick<SSMClient, 'send'> = ssmClient()): Promise<string | undefined> {
  return cache(
    () => cachedToken,
    (p) => (cachedToken = p),
    async () => {
      const name = env().AMI_FACTORY_SLACK_BOT_TOKEN_PARAM;
      if (name === undefined) return undefined;
      try {
        const r = await client.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
        const value = r.Parameter?.Value;
        return value === undefined || value === '' ? undefined : value;
      } catch (e) {
        if (hasErrorName(e, SSM_ERROR.parameterNotFound)) return undefined;
        throw e;
      }
    },
  );
}

export function resetSigningSecretCache(): void {
  cachedSecret = undefined;
}

export function resetBotTokenCache(): void {
  cachedToken = undefined;
}
