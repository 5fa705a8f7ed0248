import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBridgeClient, ListRulesCommand, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { startLocalCloud } from '../../local/server.js';

/**
 * The rules the local cloud installs from serverless.yml and the factory config have stable
 * names, and rules of that naming that nothing asks for any more (left in a persisted state dir
 * by an earlier version) are removed at start, so an event is never delivered twice.
 */
describe('local cloud: provisioned rules', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ami-factory-rules-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const names = async (client: EventBridgeClient, bus?: string): Promise<string[]> =>
    ((await client.send(new ListRulesCommand(bus !== undefined ? { EventBusName: bus } : {}))).Rules ?? []).map((r) => r.Name ?? '').sort();

  it('names rules per function and removes stale ones of that naming at the next start', async () => {
    const first = await startLocalCloud({ port: 0, stateDir: dir, timeScale: 1, seed: false });
    const client = new EventBridgeClient({
      region: 'us-east-1',
      endpoint: first.endpoint,
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      maxAttempts: 1,
    });
    try {
      expect(await names(client)).toEqual(
        expect.arrayContaining([
          'completeWaits-events-0',
          'completeWaits-events-1',
          'sweepWaits-schedule-0',
          'triggerBuild-events-1',
          'ami-factory-retention-al2023-base',
        ]),
      );
      expect(await names(client, 'ami-factory')).toEqual(expect.arrayContaining(['triggerBuild-events-0', 'notifySlack-events-0']));
      // What an older layout left behind, and a rule of the user's own.
      for (const name of ['triggerBuild-events-7', 'ami-factory-build-gone-family', 'my-own-rule']) {
        await client.send(new PutRuleCommand({ Name: name, EventPattern: JSON.stringify({ source: ['ami-factory'] }) }));
        await client.send(
          new PutTargetsCommand({
            Rule: name,
            Targets: [{ Id: 'triggerBuild', Arn: 'arn:aws:lambda:us-east-1:111122223333:function:triggerBuild' }],
          }),
        );
      }
    } finally {
      client.destroy();
      await first.close();
    }
    const second = await startLocalCloud({ port: 0, stateDir: dir, timeScale: 1, seed: false });
    const again = new EventBridgeClient({
      region: 'us-east-1',
      endpoint: second.endpoint,
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      maxAttempts: 1,
    });
    try {
      const left = await names(again);
      expect(left).not.toContain('triggerBuild-events-7');
      expect(left).not.toContain('ami-factory-build-gone-family');
      expect(left).toContain('my-own-rule');
      expect(left).toContain('triggerBuild-events-1');
    } finally {
      again.destroy();
      await second.close();
    }
  });
});
