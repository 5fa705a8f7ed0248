import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { botToken, resetBotTokenCache } from '../../functions/lib/chatops/secret.js';

// Read by env() on first use (functions/lib/env.ts), before any test runs.
process.env.AMI_FACTORY_SLACK_BOT_TOKEN_PARAM = '/ami-factory/test/slack-bot-token';

const ssm = mockClient(SSMClient);

describe('the Slack bot token', () => {
  beforeEach(() => {
    ssm.reset();
    resetBotTokenCache();
  });

  it('is read once per container, decrypted, from the parameter the environment names', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: 'xoxb-1' } });
    const client = new SSMClient({});
    expect(await botToken(client)).toBe('xoxb-1');
    expect(await botToken(client)).toBe('xoxb-1');
    expect(ssm).toHaveReceivedCommandTimes(GetParameterCommand, 1);
    expect(ssm).toHaveReceivedCommandWith(GetParameterCommand, { Name: '/ami-factory/test/slack-bot-token', WithDecryption: true });
  });

  it('is absent (no Web API) when the operator did not create the parameter', async () => {
    ssm.on(GetParameterCommand).rejects(Object.assign(new Error('not found'), { name: 'ParameterNotFound' }));
    await expect(botToken(new SSMClient({}))).resolves.toBeUndefined();
  });

  it('is not cached when the read failed otherwise: the next request tries again', async () => {
    ssm
      .on(GetParameterCommand)
      .rejectsOnce(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }))
      .resolves({ Parameter: { Value: 'xoxb-2' } });
    const client = new SSMClient({});
    await expect(botToken(client)).rejects.toMatchObject({ name: 'ThrottlingException' });
    expect(await botToken(client)).toBe('xoxb-2');
  });
});
