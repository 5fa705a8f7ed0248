import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DisableRuleCommand, EnableRuleCommand, EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DescribeExecutionCommand, ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { parse, stringify } from 'yaml';
import { slackRequestHeaders } from '../../functions/lib/chatops/signature.js';
import type { SlackMessage } from '../../functions/lib/chatops/replies.js';
import { retentionExecutionName } from '../../functions/lib/retention/request.js';
import { buildIdFromEvent } from '../../functions/lib/triggers/ids.js';
import { LOCAL_SLACK_SIGNING_SECRET } from '../../local/function-url.js';
import type { DeliveredEvent } from '../../local/events/service.js';
import { startHarness, waitForExecution, type Harness } from './harness.js';

/**
 * ChatOps and the triggers on the local cloud: the real handlers behind their function URL,
 * the EventBridge rules and schedules of the deployed template, the real state machines, and
 * a local response_url receiver.
 */
const BAKER = 'U0BAKER';
const PARAMETER = '/golden/al2023-base-ami';

function writeConfig(): string {
  const doc = parse(readFileSync('factory.config.yml', 'utf8')) as { families: Record<string, Record<string, unknown>> };
  doc.families.web = {
    ...doc.families.web,
    chatops: {
      bake: { users: [BAKER] },
      share: { users: [BAKER], allowedTargets: { accounts: ['999988887777'] } },
      expireApply: { users: [BAKER] },
      promote: { users: [BAKER] },
    },
    // Expired images are deregistered at once (no grace), so `expire --apply` retires something.
    // No deprecateAfterDays: an apply step's DeprecateAt is one (simulated) minute ahead of the
    // step's start, which this 6000x clock overtakes before the call lands.
    retention: { keepNewest: 3, maxAgeDays: 180, disableGraceDays: 0 },
  };
  // Schedules of web (their rules stay disabled until a test enables one), and a parameter trigger.
  doc.families.web.triggers = { schedule: 'rate(1 hour)' };
  (doc.families.web.retention as Record<string, unknown>).schedule = 'rate(1 hour)';
  doc.families['al2023-base'] = { ...doc.families['al2023-base'], triggers: { ssmParameter: PARAMETER } };
  const file = join(mkdtempSync(join(tmpdir(), 'chatops-')), 'factory.config.yml');
  writeFileSync(file, stringify(doc));
  return file;
}

interface Receiver {
  url: string;
  posts: SlackMessage[];
  server: Server;
}

async function startReceiver(): Promise<Receiver> {
  const posts: SlackMessage[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      posts.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as SlackMessage);
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/commands/1`, posts, server };
}

async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('ChatOps and triggers on the local cloud', () => {
  let h: Harness;
  let events: EventBridgeClient;
  let receiver: Receiver;
  let SM: string;

  beforeAll(async () => {
    // Managed images of web up to 400 days old in two regions, so expire has something to plan and retire.
    h = await startHarness({ configFile: writeConfig(), seedImages: { count: 12, regions: ['us-east-1', 'eu-west-1'], family: 'web' } });
    SM = h.cloud.stateMachineArn('image-factory');
    events = new EventBridgeClient({
      region: 'us-east-1',
      endpoint: h.cloud.endpoint,
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      maxAttempts: 1,
    });
    receiver = await startReceiver();
  });

  afterAll(async () => {
    events.destroy();
    receiver.server.close();
    receiver.server.closeAllConnections();
    await h.close();
  });

  async function slash(text: string, opts: { user?: string; secret?: string } = {}): Promise<{ status: number; reply: SlackMessage }> {
    const body = new URLSearchParams({
      command: '/ami',
      text,
      user_id: opts.user ?? BAKER,
      user_name: 'alice',
      channel_id: 'C0PLATFORM',
      team_id: 'T0LOCAL',
      response_url: receiver.url,
      trigger_id: 'trigger-1',
    }).toString();
    const r = await fetch(h.cloud.functionUrl('slackCommand'), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...slackRequestHeaders(opts.secret ?? LOCAL_SLACK_SIGNING_SECRET, body),
      },
      body,
    });
    return { status: r.status, reply: (await r.json()) as SlackMessage };
  }

  async function executionNames(prefix: string, stateMachineArn?: string): Promise<string[]> {
    const r = await h.sfn.send(new ListExecutionsCommand({ stateMachineArn: stateMachineArn ?? SM, maxResults: 1000 }));
    return (r.executions ?? []).map((e) => e.name ?? '').filter((n) => n.startsWith(prefix));
  }

  const retentionMachine = (): string => h.cloud.stateMachineArn('image-retention');

  it('does answer 401 to a bad signature and start nothing', async () => {
    const before = await executionNames('');
    const { status, reply } = await slash('bake web', { secret: 'not-the-secret' });
    expect(status).toBe(401);
    expect(JSON.stringify(reply)).not.toMatch(/\bat\b.*\.ts/);
    expect(await executionNames('')).toEqual(before);
  });

  it('does refuse bake to a user without the permission', async () => {
    const { status, reply } = await slash('bake web', { user: 'U0SOMEONE' });
    expect(status).toBe(200);
    expect(reply.text).toMatch(/Not allowed: You are not allowed to run `bake` for web/);
  });

  it('does refuse promote to a user without the permission, and starts no channel operation', async () => {
    const channels = h.cloud.stateMachineArn('image-channels');
    const before = await executionNames('', channels);
    const { status, reply } = await slash('promote web ami-0123456789abcdef0 stable', { user: 'U0SOMEONE' });
    expect(status).toBe(200);
    expect(reply.text).toMatch(/Not allowed: You are not allowed to run `promote` for web/);
    expect(await executionNames('', channels)).toEqual(before);
  });

  it('does bake end to end and post the final result with the image ids to the response_url', async () => {
    const { reply } = await slash('bake web --no-reboot');
    expect(reply.response_type).toBe('in_channel');
    expect(reply.text).toMatch(/started a build of web/i);
    const buildId = /Build ([0-9a-f-]{36})/.exec(reply.text)?.[1] ?? '';
    const final = await until('the final result post', () =>
      receiver.posts.find((p) => /^Build of web (succeeded|partially|failed)/.test(p.text)),
    );
    expect(final.text).toMatch(/^Build of web succeeded/);
    expect(final.text).toContain(buildId);
    const ids = [...final.text.matchAll(/(us-east-1|us-west-2|eu-west-1) (ami-[0-9a-f]+)/g)].map((m) => [m[1], m[2]]);
    expect(ids.map(([region]) => region).sort()).toEqual(['eu-west-1', 'us-east-1', 'us-west-2']);
    for (const [region, imageId] of ids) {
      const ec2 = new EC2Client({
        region,
        endpoint: h.cloud.endpoint,
        credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
        maxAttempts: 1,
      });
      const image = (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId as string] }))).Images?.[0];
      ec2.destroy();
      expect(image?.State).toBe('available');
    }
    expect(receiver.posts.length).toBeLessThanOrEqual(5);

    // status, list, expire and share of what was just built.
    const status = await slash(`status ${buildId}`);
    expect(status.reply.text).toMatch(/Build of web succeeded/);
    const recent = await slash('status');
    expect(recent.reply.text).toContain(buildId);
    const list = await slash('list web');
    expect(list.reply.text).toMatch(/image.? of web in us-east-1/);
    const homeImage = ids.find(([r]) => r === 'us-east-1')?.[1] ?? '';
    expect(list.reply.text).toContain(homeImage);
    const share = await slash(`share ${homeImage} --account 999988887777`);
    expect(share.reply.text).toMatch(new RegExp(`Shared ${homeImage} \\(web, us-east-1\\) with account 999988887777`));
    const help = await slash('help');
    expect(help.reply.text).toContain('/ami bake');
  });

  it('does expire web end to end: acknowledge at once, then post the plan of a dry-run retention run', async () => {
    const { status, reply } = await slash('expire web');
    expect(status).toBe(200);
    expect(reply.response_type).toBe('ephemeral');
    expect(reply.text).toMatch(/^Planning retention of web in us-east-1, us-west-2, eu-west-1 \(dry run\)/);
    const runId = /Run ([0-9a-f-]{36})/.exec(reply.text)?.[1] ?? '';
    expect(runId).not.toBe('');
    const plan = await until('the retention plan post', () => receiver.posts.find((p) => p.text.includes(`(run ${runId})`)));
    expect(plan.response_type).toBe('ephemeral');
    expect(plan.text).toMatch(/^Retention plan for web \(dry run\): \d+ deregister, \d+ keep \(run /);
    expect(plan.text).toMatch(/us-east-1: \d+ images? — /);
    expect(plan.text).toMatch(/eu-west-1: \d+ images? — /);
    // The table: the seeded images past 180 days are to go; the images the bake above made are kept.
    expect(plan.text).toMatch(/ACTION +IMAGE +REGION +AGE +NAME +REASON/);
    expect(plan.text).toMatch(/^deregister +ami-[0-9a-f]+ +(us-east-1|eu-west-1) +\d+d +web-\S+ +expired/m);
    expect(plan.text).toMatch(/^keep +ami-[0-9a-f]+ +us-west-2 +0d /m);
    const [name] = await executionNames(`retention-web-${runId}`, retentionMachine());
    expect(name).toBe(`retention-web-${runId}`);
    const d = await h.sfn.send(
      new DescribeExecutionCommand({ executionArn: `${retentionMachine().replace(':stateMachine:', ':execution:')}:${name}` }),
    );
    expect(JSON.parse(d.input ?? '{}')).toMatchObject({
      runId,
      family: 'web',
      dryRun: true,
      trigger: { type: 'chatops', actor: `${BAKER} (alice)`, channel: 'C0PLATFORM' },
    });
  });

  it('does refuse expire --apply without expireApply, and apply it for a user who has it', async () => {
    const before = await executionNames('retention-', retentionMachine());
    const denied = await slash('expire web --apply', { user: 'U0SOMEONE' });
    expect(denied.reply.text).toMatch(/Not allowed: You are not allowed to run `expire --apply` for web/);
    expect(await executionNames('retention-', retentionMachine())).toEqual(before);

    const { reply } = await slash('expire web --apply');
    expect(reply.response_type).toBe('in_channel');
    expect(reply.text).toMatch(new RegExp(`^<@${BAKER}> started retention of web`));
    const runId = /Run ([0-9a-f-]{36})/.exec(reply.text)?.[1] ?? '';
    const result = await until('the retention result post', () => receiver.posts.find((p) => p.text.includes(`(run ${runId})`)));
    expect(result.response_type).toBe('in_channel');
    expect(result.text).toMatch(/^Retention of web applied: \d+ deregistered \(run /);
    expect(result.text).toMatch(/us-east-1: \d+ images — \d+ deregister, \d+ keep · done: \d+ deregistered/);
    expect(result.text).toMatch(/eu-west-1: \d+ images — \d+ deregister, \d+ keep · done: \d+ deregistered/);
    expect(result.text).not.toMatch(/^failed:/m);
    // What the post says was deregistered is gone from EC2; what it kept is still there.
    const rows = [...result.text.matchAll(/^(deregister|keep) +(ami-[0-9a-f]+) +(us-east-1|eu-west-1|us-west-2) /gm)].map((m) => ({
      action: m[1],
      imageId: m[2] ?? '',
      region: m[3] ?? '',
    }));
    expect(rows.some((r) => r.action === 'deregister')).toBe(true);
    for (const r of rows) {
      const ec2 = new EC2Client({
        region: r.region,
        endpoint: h.cloud.endpoint,
        credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
        maxAttempts: 1,
      });
      const found =
        (await ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'image-id', Values: [r.imageId] }] }))).Images ??
        [];
      ec2.destroy();
      expect([r.imageId, found.filter((i) => i.State !== 'deregistered').length]).toEqual([r.imageId, r.action === 'keep' ? 1 : 0]);
    }
    const d = await h.sfn.send(
      new DescribeExecutionCommand({
        executionArn: `${retentionMachine().replace(':stateMachine:', ':execution:')}:retention-web-${runId}`,
      }),
    );
    expect(JSON.parse(d.input ?? '{}')).toMatchObject({ runId, dryRun: false });
  });

  it('does start one build for a Build Requested event delivered twice', async () => {
    const event = {
      version: '0',
      id: '0dd1e5e5-0000-4000-8000-0000000000aa',
      'detail-type': 'Build Requested',
      source: 'ami-factory',
      account: '111122223333',
      time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: 'us-east-1',
      resources: [],
      detail: { family: 'web', regions: ['us-west-2'], reboot: false },
    };
    const first = (await h.cloud.lambda.invoke('triggerBuild', event)) as { started: { executionName: string; duplicate: boolean }[] };
    const second = (await h.cloud.lambda.invoke('triggerBuild', event)) as { started: { executionName: string; duplicate: boolean }[] };
    const name = first.started[0]?.executionName ?? '';
    expect(second.started[0]?.executionName).toBe(name);
    expect(await executionNames(name)).toEqual([name]);
  });

  it('does deliver a Build Requested event from the bus to a build, and reject a refused override', async () => {
    const put = async (detail: unknown): Promise<string> => {
      const r = await events.send(
        new PutEventsCommand({
          Entries: [
            { EventBusName: h.cloud.eventBus, Source: 'ami-factory', DetailType: 'Build Requested', Detail: JSON.stringify(detail) },
          ],
        }),
      );
      return r.Entries?.[0]?.EventId ?? '';
    };
    const ok = await put({ family: 'web', regions: ['us-west-2'], reboot: false });
    const refused = await put({ family: 'web', regions: ['ap-southeast-2'] });
    await h.cloud.events.idle();
    const delivered = h.cloud.events.log().find((l) => l.event.id === ok);
    expect(delivered?.targets.find((t) => t.arn === h.cloud.lambda.lookup('triggerBuild')?.arn)?.status).toBe('succeeded');
    const rejected = await until('BuildRequestRejected', () =>
      h.cloud.events.log().find((l) => l.event['detail-type'] === 'BuildRequestRejected'),
    );
    expect(rejected.event.detail).toMatchObject({
      trigger: 'Build Requested',
      eventId: refused,
      family: 'web',
      reason: expect.stringContaining('ap-southeast-2'),
    });
  });

  it('does rebuild the families on a changed parameter', async () => {
    const before = await executionNames('al2023-base-');
    await h.cloud.events.emit({
      source: 'aws.ssm',
      detailType: 'Parameter Store Change',
      detail: { name: PARAMETER, type: 'String', operation: 'Update' },
      region: 'us-east-1',
    });
    await h.cloud.events.idle();
    const after = await executionNames('al2023-base-');
    expect(after.length).toBe(before.length + 1);
  });

  /** The template's schedule rule of a family (deploy/schedules.cjs made it for the test's config). */
  function familyRule(kind: 'Build' | 'Retention', family: string): string {
    const rule = h.cloud.stack.rules.find((r) => r.logicalId.startsWith(`Schedule${kind}`) && r.description?.endsWith(` of ${family}`));
    if (rule === undefined) throw new Error(`no ${kind} schedule rule for ${family} in the stack`);
    return rule.name;
  }

  async function fireOnce(rule: string): Promise<DeliveredEvent> {
    await events.send(new EnableRuleCommand({ Name: rule }));
    try {
      const fired = await until('the schedule to fire', () =>
        h.cloud.events
          .log()
          .find((l) => l.origin === 'schedule' && l.rules.includes(rule) && l.targets.every((t) => t.status !== 'pending')),
      );
      // A delivery succeeds once Lambda accepted the event (an asynchronous invocation): idle() waits for the function too.
      await h.cloud.events.idle();
      return fired;
    } finally {
      await events.send(new DisableRuleCommand({ Name: rule }));
    }
  }

  it('does start a build when a family schedule fires', async () => {
    const before = await executionNames('web-');
    const fired = await fireOnce(familyRule('Build', 'web'));
    expect(fired.targets.map((t) => t.status)).toEqual(['succeeded']);
    expect((await executionNames('web-')).length).toBeGreaterThan(before.length);
  });

  it('does start a retention run when a family retention schedule fires', async () => {
    const before = await executionNames('retention-web-', retentionMachine());
    const fired = await fireOnce(familyRule('Retention', 'web'));
    expect(fired.targets.map((t) => t.status)).toEqual(['succeeded']);
    // The run is named from the Scheduled Event's id (a duplicate delivery finds it), and applies the family's policy.
    const name = retentionExecutionName('web', buildIdFromEvent('schedule', String(fired.event.id), 'web'));
    const after = await executionNames('retention-web-', retentionMachine());
    expect(after.filter((n) => !before.includes(n))).toContain(name);
    const d = await waitForExecution(h, `${retentionMachine().replace(':stateMachine:', ':execution:')}:${name}`, 60_000);
    expect(d.status).toBe('SUCCEEDED');
    expect(JSON.parse(d.input ?? '{}')).toMatchObject({
      family: 'web',
      dryRun: false,
      trigger: { type: 'schedule', eventId: fired.event.id },
    });
  });
});
