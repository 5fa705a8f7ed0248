import { readFileSync } from 'node:fs';
import {
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  DescribeSnapshotAttributeCommand,
  EC2Client,
  ModifyImageAttributeCommand,
  ModifySnapshotAttributeCommand,
} from '@aws-sdk/client-ec2';
import { PutObjectCommand, S3Client, type PutObjectCommandInput } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { parse, stringify } from 'yaml';
import { parseFactoryConfig } from '../../functions/lib/config.js';
import { Logger } from '../../functions/lib/logger.js';
import { handleSlackRequest, type ChatOpsDeps } from '../../functions/lib/chatops/service.js';
import { SLACK_BODY_MAX_BYTES } from '../../functions/lib/chatops/command.js';
import { slackRequestHeaders } from '../../functions/lib/chatops/signature.js';
import { ChatOpsStore } from '../../functions/lib/chatops/store.js';
import { RetentionRequestSchema } from '../../functions/lib/retention/request.js';
import type { SlackMessage } from '../../functions/lib/chatops/replies.js';
import { ACCOUNT, awsError } from '../fixtures.js';

const SECRET = 'test-signing-secret';
const SM = `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:image-factory`;
const RSM = `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:image-retention`;
const NOW = new Date('2026-11-23T08:00:00Z');
const BAKER = 'U0BAKER';
const BUILD_ID = '0b5e55ed-0000-4000-8000-000000000001';

const sfn = mockClient(SFNClient);
const ec2 = mockClient(EC2Client);
const s3 = mockClient(S3Client);

const doc = parse(readFileSync('factory.config.yml', 'utf8')) as { families: Record<string, Record<string, unknown>> };
doc.families.web = {
  ...doc.families.web,
  chatops: {
    bake: { users: [BAKER] },
    share: {
      users: [BAKER],
      allowedTargets: { accounts: ['999988887777'], organizationArns: ['arn:aws:organizations::111122223333:organization/o-exampleorgid'] },
    },
    list: { users: [BAKER] },
    expireApply: { users: [BAKER] },
  },
};
const config = parseFactoryConfig(stringify(doc));

function deps(): ChatOpsDeps {
  return {
    config,
    sfn: new SFNClient({}),
    ec2: () => new EC2Client({}),
    store: new ChatOpsStore(new S3Client({}), 'state-bucket'),
    stateMachineArn: SM,
    retentionStateMachineArn: RSM,
    accountId: ACCOUNT,
    signingSecret: async () => SECRET,
    logger: new Logger('test'),
    now: () => NOW,
    newBuildId: () => BUILD_ID,
  };
}

function request(
  text: string,
  user = BAKER,
  secret = SECRET,
  extra: { responseUrl?: string; headers?: Record<string, string>; signedAt?: Date } = {},
): Parameters<typeof handleSlackRequest>[1] {
  const body = new URLSearchParams({
    command: '/ami',
    text,
    user_id: user,
    user_name: 'alice',
    channel_id: 'C0PLATFORM',
    team_id: 'T0TEAM',
    response_url: extra.responseUrl ?? 'https://hooks.slack.com/commands/T0TEAM/1/abc',
    trigger_id: 't-1',
  }).toString();
  const headers = Object.fromEntries(
    Object.entries(slackRequestHeaders(secret, body, (extra.signedAt ?? NOW).getTime())).map(([k, v]) => [k.toLowerCase(), v]),
  );
  return {
    headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded', ...extra.headers },
    body: Buffer.from(body).toString('base64'),
    isBase64Encoded: true,
  };
}

async function reply(text: string, user = BAKER): Promise<SlackMessage> {
  const r = await handleSlackRequest(deps(), request(text, user), 'req-1');
  expect(r.statusCode).toBe(200);
  return JSON.parse(r.body) as SlackMessage;
}

const managedImage = (id: string, created: string, extra: Record<string, string> = {}): Record<string, unknown> => ({
  ImageId: id,
  Name: `web-${created.slice(0, 10)}`,
  OwnerId: ACCOUNT,
  CreationDate: created,
  State: 'available',
  BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: 'snap-0123456789abcdef0', Encrypted: false } }],
  Tags: Object.entries({ 'ami-factory:managed': 'true', 'ami-factory:family': 'web', ...extra }).map(([Key, Value]) => ({ Key, Value })),
});

/** The ChatOps records written (the replay markers left out). */
function recordPuts(): PutObjectCommandInput[] {
  return s3
    .commandCalls(PutObjectCommand)
    .map((c) => c.args[0].input)
    .filter((i) => i.Key?.startsWith('chatops/replay/') !== true);
}

/** The replay markers written: the conditional writes of accepted requests' digests. */
function replayPuts(): PutObjectCommandInput[] {
  return s3
    .commandCalls(PutObjectCommand)
    .map((c) => c.args[0].input)
    .filter((i) => i.Key?.startsWith('chatops/replay/') === true);
}

describe('slack-command', () => {
  beforeEach(() => {
    sfn.reset();
    ec2.reset();
    s3.reset();
    // S3's conditional write: If-None-Match: * on an existing key is 412 PreconditionFailed.
    const keys = new Set<string>();
    s3.on(PutObjectCommand).callsFake((i: PutObjectCommandInput) => {
      if (i.IfNoneMatch === '*' && keys.has(i.Key ?? ''))
        throw awsError('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
      keys.add(i.Key ?? '');
      return {};
    });
    sfn
      .on(StartExecutionCommand)
      .callsFake((i: { name: string }) => ({ executionArn: `${SM.replace(':stateMachine:', ':execution:')}:${i.name}`, startDate: NOW }));
  });

  it('does answer 401 and change nothing when the signature does not verify', async () => {
    const r = await handleSlackRequest(deps(), request('bake web', BAKER, 'wrong-secret'));
    expect(r.statusCode).toBe(401);
    expect(r.body).not.toMatch(/at |Error/);
    expect(sfn).not.toHaveReceivedAnyCommand();
    expect(s3).not.toHaveReceivedAnyCommand();
  });

  it('does answer 401 and start nothing when a correctly signed request is replayed six minutes later', async () => {
    // Prepare: signed with the right secret, but 360 s before the service's clock.
    const replayed = request('bake web', BAKER, SECRET, { signedAt: new Date(NOW.getTime() - 360_000) });
    // Act
    const r = await handleSlackRequest(deps(), replayed);
    // Assess
    expect(r.statusCode).toBe(401);
    expect(sfn).not.toHaveReceivedAnyCommand();
    expect(s3).not.toHaveReceivedAnyCommand();
  });

  it('does answer 413 and start nothing for a correctly signed body over 64 KiB, before reading it', async () => {
    // Prepare: a real bake request with 64 KiB of padding, signed with the right secret.
    const base = request('bake web');
    const body = `${Buffer.from(base.body ?? '', 'base64').toString('utf8')}&pad=${'x'.repeat(SLACK_BODY_MAX_BYTES)}`;
    const headers = Object.fromEntries(
      Object.entries(slackRequestHeaders(SECRET, body, NOW.getTime())).map(([k, v]) => [k.toLowerCase(), v]),
    );
    // Act
    const r = await handleSlackRequest(deps(), { headers, body, isBase64Encoded: false });
    // Assess
    expect(r.statusCode).toBe(413);
    expect(JSON.parse(r.body)).toEqual({ error: 'request_too_large' });
    expect(sfn).not.toHaveReceivedAnyCommand();
    expect(s3).not.toHaveReceivedAnyCommand();
  });

  it('does accept a signed request once: a replay inside the 5-minute window gets 401 and starts nothing', async () => {
    const bake = request('bake web');
    expect((await handleSlackRequest(deps(), bake)).statusCode).toBe(200);
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
    const marker = replayPuts();
    expect(marker).toHaveLength(1);
    expect(marker[0]).toMatchObject({ Bucket: 'state-bucket', IfNoneMatch: '*' });
    expect(marker[0]?.Key).toMatch(/^chatops\/replay\/[0-9a-f]{64}$/);

    const replay = await handleSlackRequest(deps(), bake);
    expect(replay).toEqual({ statusCode: 401, headers: { 'content-type': 'application/json' }, body: '{"error":"replayed_request"}' });
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
    expect(recordPuts()).toHaveLength(1);
    // Another request (another signature) is accepted.
    expect((await handleSlackRequest(deps(), request('bake web --regions us-west-2'))).statusCode).toBe(200);
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 2);
  });

  it("does acknowledge Slack's retry with an empty 200 and run nothing a second time", async () => {
    const retry = request('bake web', BAKER, SECRET, { headers: { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' } });
    expect(await handleSlackRequest(deps(), retry)).toEqual({ statusCode: 200, headers: {}, body: '' });
    expect(sfn).not.toHaveReceivedAnyCommand();
    expect(s3).not.toHaveReceivedAnyCommand();
    // A retry must still be signed.
    const forged = request('bake web', BAKER, 'wrong-secret', { headers: { 'x-slack-retry-num': '1' } });
    expect((await handleSlackRequest(deps(), forged)).statusCode).toBe(401);
  });

  it("does refuse a response_url off Slack's host, recording and starting nothing", async () => {
    for (const responseUrl of [
      'https://hooks.slack.com.evil.example/x',
      'https://evil.example/hooks.slack.com/x',
      'http://127.0.0.1:9/x',
    ]) {
      const r = await handleSlackRequest(deps(), request('bake web', BAKER, SECRET, { responseUrl }), 'req-1');
      expect(r.statusCode).toBe(200);
      expect((JSON.parse(r.body) as SlackMessage).text).toMatch(/response_url is not on Slack's host/);
    }
    expect(sfn).not.toHaveReceivedAnyCommand();
    expect(recordPuts()).toEqual([]);
    // The local cloud's loopback receiver where allowed.
    const local = await handleSlackRequest(
      { ...deps(), allowLoopbackResponseUrls: true },
      request('bake web', BAKER, SECRET, { responseUrl: 'http://127.0.0.1:4567/commands/1' }),
    );
    expect((JSON.parse(local.body) as SlackMessage).text).not.toMatch(/response_url/);
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
  });

  it('does answer 401 without the Slack headers', async () => {
    const r = await handleSlackRequest(deps(), { ...request('help'), headers: {} });
    expect(r.statusCode).toBe(401);
  });

  it('does answer help with every command', async () => {
    const m = await reply('help');
    expect(m.response_type).toBe('ephemeral');
    for (const c of ['bake', 'status', 'list', 'expire', 'share']) expect(m.text).toContain(c);
  });

  it('does refuse bake to a user the family does not allow, starting nothing', async () => {
    const m = await reply('bake web', 'U0SOMEONE');
    expect(m.text).toMatch(/Not allowed: You are not allowed to run `bake` for web/);
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('does refuse bake of a family without a chatops.bake rule', async () => {
    const m = await reply('bake al2023-base');
    expect(m.text).toMatch(/not enabled for al2023-base/);
  });

  it('does start a bake, record the response_url and the requester, and acknowledge in channel', async () => {
    const m = await reply('bake web --regions us-west-2 --no-reboot');
    expect(m.response_type).toBe('in_channel');
    expect(m.text).toContain(BUILD_ID);
    expect(m.text).toMatch(/us-east-1, us-west-2/);
    const started = JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input.input ?? '{}') as Record<string, unknown>;
    expect(started).toMatchObject({
      buildId: BUILD_ID,
      copies: [{ region: 'us-west-2' }],
      source: { noReboot: true },
      trigger: { type: 'chatops', actor: `${BAKER} (alice)`, channel: 'C0PLATFORM' },
    });
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, { name: `web-${BUILD_ID}`, stateMachineArn: SM });
    const put = recordPuts()[0];
    expect(put?.Key).toBe(`chatops/${BUILD_ID}.json`);
    expect(JSON.parse(String(put?.Body))).toMatchObject({
      responseUrl: 'https://hooks.slack.com/commands/T0TEAM/1/abc',
      userId: BAKER,
      posts: 0,
    });
  });

  it('does explain a bad command with its usage, never a stack trace', async () => {
    const m = await reply('bake web --regions');
    expect(m.text).toMatch(/--regions needs a value/);
    expect(m.text).toMatch(/Usage: bake/);
    const u = await reply('bak web');
    expect(u.text).toMatch(/Did you mean `bake`/);
  });

  it('does hide unexpected errors behind their name', async () => {
    sfn.on(StartExecutionCommand).rejects(awsError('ServiceUnavailable', 'secret internal detail'));
    const m = await reply('bake web');
    expect(m.text).toMatch(/Something went wrong \(ServiceUnavailable\).*reference req-1/);
    expect(JSON.stringify(m)).not.toContain('secret internal detail');
  });

  it('does report the status of a build by its id', async () => {
    const arn = `${SM.replace(':stateMachine:', ':execution:')}:web-${BUILD_ID}`;
    sfn
      .on(ListExecutionsCommand)
      .resolves({ executions: [{ executionArn: arn, name: `web-${BUILD_ID}`, stateMachineArn: SM, status: 'SUCCEEDED', startDate: NOW }] });
    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: arn,
      stateMachineArn: SM,
      status: 'SUCCEEDED',
      startDate: NOW,
      input: JSON.stringify({
        ...config.families.web,
        buildId: BUILD_ID,
        family: 'web',
        requestedAt: NOW.toISOString(),
        region: 'us-east-1',
        source: { type: 'instance', tags: { Role: 'web' } },
        trigger: { type: 'cli' },
        copies: [],
      }),
      output: JSON.stringify({
        outcome: 'BuildSucceeded',
        imageName: 'web-x',
        regions: [{ region: 'us-east-1', status: 'succeeded', imageId: 'ami-0123456789abcdef0' }],
      }),
    });
    const m = await reply(`status ${BUILD_ID}`);
    expect(m.text).toMatch(/Build of web succeeded/);
    expect(m.text).toContain('ami-0123456789abcdef0');
    const missing = await reply('status 00000000-dead-beef');
    expect(missing.text).toMatch(/No build 00000000-dead-beef/);
  });

  it('does list the recent builds', async () => {
    sfn.on(ListExecutionsCommand).resolves({ executions: [] });
    const m = await reply('status');
    expect(m.text).toBe('No recent builds');
  });

  it('does list the images of a family with the factory tag filters', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [managedImage('ami-0000000000000000a', '2026-11-01T00:00:00Z')] as never });
    const m = await reply('list web --region us-west-2');
    expect(m.text).toMatch(/1 image of web in us-west-2/);
    expect(m.text).toContain('ami-0000000000000000a');
    expect(ec2).toHaveReceivedCommandWith(DescribeImagesCommand, {
      Owners: ['self'],
      Filters: [
        { Name: 'tag:ami-factory:family', Values: ['web'] },
        { Name: 'tag:ami-factory:managed', Values: ['true'] },
      ],
    });
  });

  function startedRetention(): { stateMachineArn: string | undefined; name: string | undefined; input: unknown } | undefined {
    const call = sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    return call === undefined
      ? undefined
      : { stateMachineArn: call.stateMachineArn, name: call.name, input: JSON.parse(call.input ?? '{}') };
  }

  it('does start a dry-run retention run for expire, record the response_url, and acknowledge ephemerally', async () => {
    const m = await reply('expire web');
    expect(m.response_type).toBe('ephemeral');
    expect(m.text).toMatch(/Planning retention of web in us-east-1, us-west-2, eu-west-1 \(dry run\)/);
    expect(m.text).toContain(BUILD_ID);
    expect(m.blocks.length).toBeGreaterThan(0);
    const started = startedRetention();
    expect(started?.stateMachineArn).toBe(RSM);
    expect(started?.name).toBe(`retention-web-${BUILD_ID}`);
    const request = RetentionRequestSchema.parse(started?.input);
    expect(request).toMatchObject({
      runId: BUILD_ID,
      family: 'web',
      dryRun: true,
      regions: ['us-east-1', 'us-west-2', 'eu-west-1'],
      requestedAt: NOW.toISOString(),
      policy: { keepNewest: 3, maxAgeDays: 365, deprecateAfterDays: 180, disableGraceDays: 14 },
      trigger: { type: 'chatops', actor: `${BAKER} (alice)`, channel: 'C0PLATFORM' },
    });
    const put = recordPuts()[0];
    expect(put?.Key).toBe(`chatops/${BUILD_ID}.json`);
    expect(JSON.parse(String(put?.Body))).toMatchObject({
      buildId: BUILD_ID,
      kind: 'retention',
      family: 'web',
      responseUrl: 'https://hooks.slack.com/commands/T0TEAM/1/abc',
      command: '/ami',
      posts: 0,
    });
    // The plan is made by the state machine (with in-use checks), not in the request path.
    expect(ec2).not.toHaveReceivedAnyCommand();
  });

  it('does let everyone run the expire dry run, since it changes nothing', async () => {
    const m = await reply('expire web', 'U0SOMEONE');
    expect(m.text).toMatch(/Planning retention of web/);
    expect(RetentionRequestSchema.parse(startedRetention()?.input).dryRun).toBe(true);
  });

  it('does refuse expire --apply to a user without the expireApply permission, starting nothing', async () => {
    const denied = await reply('expire web --apply', 'U0SOMEONE');
    expect(denied.response_type).toBe('ephemeral');
    expect(denied.text).toMatch(/Not allowed: You are not allowed to run `expire --apply` for web/);
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
    expect(recordPuts()).toEqual([]);
    // A family without an expireApply rule refuses it to everyone.
    const off = await reply('expire al2023-base --apply');
    expect(off.text).toMatch(/Not allowed/);
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('does start an applying retention run for expire --apply when allowed, and acknowledge in channel', async () => {
    const m = await reply('expire web --apply');
    expect(m.response_type).toBe('in_channel');
    expect(m.text).toMatch(new RegExp(`<@${BAKER}> started retention of web in us-east-1, us-west-2, eu-west-1`));
    const started = startedRetention();
    expect(started?.stateMachineArn).toBe(RSM);
    expect(started?.name).toBe(`retention-web-${BUILD_ID}`);
    const request = RetentionRequestSchema.parse(started?.input);
    expect(request.dryRun).toBe(false);
    expect(request.trigger).toEqual({ type: 'chatops', actor: `${BAKER} (alice)`, channel: 'C0PLATFORM' });
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
  });

  it('does explain an expire of an unknown family without starting anything', async () => {
    const m = await reply('expire nosuch');
    expect(m.response_type).toBe('ephemeral');
    expect(m.text).toMatch(/nosuch/);
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('does share a managed image with an account and report it', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [managedImage('ami-0000000000000000a', '2026-11-01T00:00:00Z')] as never });
    ec2.on(DescribeImageAttributeCommand).resolves({ LaunchPermissions: [] });
    ec2.on(DescribeSnapshotAttributeCommand).resolves({ CreateVolumePermissions: [] });
    ec2.on(ModifyImageAttributeCommand).resolves({});
    ec2.on(ModifySnapshotAttributeCommand).resolves({});
    const m = await reply('share ami-0000000000000000a --account 999988887777');
    expect(m.response_type).toBe('in_channel');
    expect(m.text).toMatch(/Shared ami-0000000000000000a \(web, us-east-1\) with account 999988887777/);
    expect(ec2).toHaveReceivedCommandWith(ModifyImageAttributeCommand, {
      ImageId: 'ami-0000000000000000a',
      LaunchPermission: { Add: [{ UserId: '999988887777' }] },
    });
  });

  it('does share with an organization that chatops.share.allowedTargets lists', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [managedImage('ami-0000000000000000a', '2026-11-01T00:00:00Z')] as never });
    ec2.on(DescribeImageAttributeCommand).resolves({ LaunchPermissions: [] });
    ec2.on(ModifyImageAttributeCommand).resolves({});
    const m = await reply('share ami-0000000000000000a --organization arn:aws:organizations::111122223333:organization/o-exampleorgid');
    expect(m.text).toMatch(
      /Shared ami-0000000000000000a \(web, us-east-1\) with organization arn:aws:organizations::111122223333:organization\/o-exampleorgid/,
    );
    expect(ec2).toHaveReceivedCommandWith(ModifyImageAttributeCommand, {
      ImageId: 'ami-0000000000000000a',
      LaunchPermission: { Add: [{ OrganizationArn: 'arn:aws:organizations::111122223333:organization/o-exampleorgid' }] },
    });
  });

  it('does refuse to share with an account, organization or OU that chatops.share.allowedTargets does not list', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [managedImage('ami-0000000000000000a', '2026-11-01T00:00:00Z')] as never });
    const account = await reply('share ami-0000000000000000a --account 123456789012');
    expect(account.text).toBe(
      'Not allowed: `share` for web may not add account 123456789012; chatops.share.allowedTargets allows accounts: 999988887777; ' +
        'organizations: arn:aws:organizations::111122223333:organization/o-exampleorgid; OUs: none',
    );
    const ou = await reply('share ami-0000000000000000a --ou arn:aws:organizations::111122223333:ou/o-exampleorgid/ou-ab12-cd34ef56');
    expect(ou.text).toMatch(/may not add OU arn:aws:organizations::111122223333:ou\/o-exampleorgid\/ou-ab12-cd34ef56/);
    expect(ec2).not.toHaveReceivedCommand(ModifyImageAttributeCommand);
    expect(ec2).not.toHaveReceivedCommand(ModifySnapshotAttributeCommand);
  });

  it('does refuse a share the family’s newAccounts gate holds (the command cannot wait for an approver), and shares what the family lists', async () => {
    const gated = structuredClone(doc);
    const web = gated.families.web as Record<string, unknown>;
    web.gates = { newAccounts: { approvers: { users: ['U0APPROVER', 'U0OTHER'] }, channel: 'C0APPROVALS' } };
    const chatops = web.chatops as { share: { allowedTargets: { accounts: string[] } } };
    chatops.share.allowedTargets.accounts = ['999988887777', '444455556666'];
    const d = { ...deps(), config: parseFactoryConfig(stringify(gated)) };
    ec2.on(DescribeImagesCommand).resolves({ Images: [managedImage('ami-0000000000000000a', '2026-11-01T00:00:00Z')] as never });
    ec2.on(DescribeImageAttributeCommand).resolves({ LaunchPermissions: [] });
    ec2.on(DescribeSnapshotAttributeCommand).resolves({ CreateVolumePermissions: [] });
    ec2.on(ModifyImageAttributeCommand).resolves({});
    ec2.on(ModifySnapshotAttributeCommand).resolves({});
    const held = await handleSlackRequest(d, request('share ami-0000000000000000a --account 999988887777'), 'req-1');
    const heldText = (JSON.parse(held.body) as SlackMessage).text;
    expect(heldText).toMatch(/^Not allowed: sharing web images with account 999988887777 needs approval \(the family's newAccounts gate\)/);
    expect(ec2).not.toHaveReceivedCommand(ModifyImageAttributeCommand);
    // An account the family's sharing already lists is not new: shared at once.
    const listed = await handleSlackRequest(d, request('share ami-0000000000000000a --account 444455556666'), 'req-2');
    expect((JSON.parse(listed.body) as SlackMessage).text).toMatch(
      /Shared ami-0000000000000000a \(web, us-east-1\) with account 444455556666/,
    );
    expect(ec2).toHaveReceivedCommandWith(ModifyImageAttributeCommand, { LaunchPermission: { Add: [{ UserId: '444455556666' }] } });
  });

  it('does refuse to share an image the factory does not manage', async () => {
    ec2
      .on(DescribeImagesCommand)
      .resolves({ Images: [{ ...managedImage('ami-0000000000000000a', '2026-11-01T00:00:00Z'), Tags: [] }] as never });
    const m = await reply('share ami-0000000000000000a --account 999988887777');
    expect(m.text).toMatch(/not an image this factory manages/);
    expect(ec2).not.toHaveReceivedCommand(ModifyImageAttributeCommand);
  });

  it('does refuse share to users without the share permission', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [managedImage('ami-0000000000000000a', '2026-11-01T00:00:00Z')] as never });
    const m = await reply('share ami-0000000000000000a --account 999988887777', 'U0SOMEONE');
    expect(m.text).toMatch(/Not allowed/);
    expect(ec2).not.toHaveReceivedCommand(ModifyImageAttributeCommand);
  });
});
