import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateEventBusCommand,
  DeleteEventBusCommand,
  DeleteRuleCommand,
  DescribeEventBusCommand,
  DescribeRuleCommand,
  DisableRuleCommand,
  EnableRuleCommand,
  EventBridgeClient,
  ListEventBusesCommand,
  ListRulesCommand,
  ListTargetsByRuleCommand,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
  RemoveTargetsCommand,
  TestEventPatternCommand,
  type Target,
} from '@aws-sdk/client-eventbridge';
import { VirtualClock } from '../../local/clock.js';
import type { LocalService } from '../../local/http.js';
import { serveLocalServices } from '../../local/server.js';
import { createEventsService, type EventsService, type EventTargetDispatcher, type TargetContext } from '../../local/events/service.js';

const ACCOUNT = '111122223333';
const lambdaArn = (name: string, region = 'us-east-1'): string => `arn:aws:lambda:${region}:${ACCOUNT}:function:${name}`;
const SM_ARN = `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:image-factory`;
const AMI_PATTERN = { source: ['aws.ec2'], 'detail-type': ['EC2 AMI State Change'], detail: { State: ['available', 'failed'] } };

class TargetFailedError extends Error {
  override name = 'TargetFailedError';
}

/** Records what the endpoint delivers; functions named in `failing` throw. */
class FakeDispatcher implements EventTargetDispatcher {
  readonly lambda: { name: string; payload: unknown }[] = [];
  readonly executions: { arn: string; input: string }[] = [];
  readonly failing = new Set<string>();

  /** EventBridge invokes the function by its ARN, on behalf of the rule. */
  async invokeLambda(arn: string, payload: unknown, via: TargetContext): Promise<unknown> {
    const name = arn.split(':function:')[1]?.split(':')[0] ?? arn;
    expect(via.ruleArn).toMatch(/^arn:aws:events:[a-z0-9-]+:\d{12}:rule\//);
    this.lambda.push({ name, payload });
    if (this.failing.has(name)) throw new TargetFailedError(`${name} is down`);
    return null;
  }

  async startExecution(arn: string, input: string): Promise<void> {
    this.executions.push({ arn, input });
  }

  payloads(name: string): unknown[] {
    return this.lambda.filter((c) => c.name === name).map((c) => c.payload);
  }
}

/** One LocalService on port 0, routed as the local cloud routes requests. */
function serve(service: LocalService): Promise<{ endpoint: string; close(): Promise<void> }> {
  return serveLocalServices([service]);
}

/** Polls `condition` every 5 ms for at most `timeoutMs`. */
async function eventually(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

interface Harness {
  events: EventsService;
  dispatcher: FakeDispatcher;
  client(region?: string): EventBridgeClient;
  close(): Promise<void>;
}

async function start(opts: { timeScale?: number; startAt?: number; stateFile?: string } = {}): Promise<Harness> {
  const dispatcher = new FakeDispatcher();
  const clock = new VirtualClock(opts.timeScale ?? 60_000, opts.startAt ?? Date.now());
  const events = createEventsService({
    accountId: ACCOUNT,
    clock,
    dispatcher,
    ...(opts.stateFile !== undefined ? { stateFile: opts.stateFile } : {}),
  });
  const http = await serve(events);
  const clients: EventBridgeClient[] = [];
  return {
    events,
    dispatcher,
    client: (region = 'us-east-1') => {
      const c = new EventBridgeClient({
        region,
        endpoint: http.endpoint,
        credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
        maxAttempts: 1,
      });
      clients.push(c);
      return c;
    },
    close: async () => {
      for (const c of clients) c.destroy();
      events.close();
      await http.close();
    },
  };
}

async function rule(eb: EventBridgeClient, name: string, pattern: object, targets: Target[], bus?: string): Promise<void> {
  await eb.send(new PutRuleCommand({ Name: name, EventPattern: JSON.stringify(pattern), EventBusName: bus }));
  await eb.send(new PutTargetsCommand({ Rule: name, EventBusName: bus, Targets: targets }));
}

function entry(source: string, detailType: string, detail: object, bus?: string) {
  return { Source: source, DetailType: detailType, Detail: JSON.stringify(detail), EventBusName: bus };
}

describe('local EventBridge endpoint', () => {
  let h: Harness;
  let eb: EventBridgeClient;
  beforeEach(async () => {
    h = await start();
    eb = h.client();
  });
  afterEach(async () => {
    await h.close();
  });

  it('routes PutEvents to the matching rules of the same bus and region only', async () => {
    // Prepare
    await eb.send(new CreateEventBusCommand({ Name: 'factory' }));
    await rule(
      eb,
      'built',
      { source: ['ami-factory'], 'detail-type': ['ImageAvailable'] },
      [{ Id: 'a', Arn: lambdaArn('onBuilt') }],
      'factory',
    );
    await rule(
      eb,
      'failed',
      { source: ['ami-factory'], 'detail-type': ['BuildFailed'] },
      [{ Id: 'a', Arn: lambdaArn('onFailed') }],
      'factory',
    );
    await rule(eb, 'default-built', { source: ['ami-factory'] }, [{ Id: 'a', Arn: lambdaArn('onDefault') }]);
    const west = h.client('us-west-2');
    await west.send(new CreateEventBusCommand({ Name: 'factory' }));
    await rule(west, 'built', { source: ['ami-factory'] }, [{ Id: 'a', Arn: lambdaArn('onWest', 'us-west-2') }], 'factory');

    // Act
    const out = await eb.send(new PutEventsCommand({ Entries: [entry('ami-factory', 'ImageAvailable', { imageId: 'ami-1' }, 'factory')] }));
    await h.events.idle();

    // Assess
    expect(out.FailedEntryCount).toBe(0);
    expect(out.Entries?.[0]?.EventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(h.dispatcher.lambda.map((c) => c.name)).toEqual(['onBuilt']);
    expect(h.dispatcher.payloads('onBuilt')[0]).toMatchObject({
      version: '0',
      id: out.Entries?.[0]?.EventId,
      source: 'ami-factory',
      'detail-type': 'ImageAvailable',
      account: ACCOUNT,
      region: 'us-east-1',
      resources: [],
      detail: { imageId: 'ami-1' },
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
    });
    const [logged] = h.events.log();
    expect(logged).toMatchObject({
      bus: 'factory',
      region: 'us-east-1',
      origin: 'put-events',
      rules: ['built'],
      targets: [{ rule: 'built', targetId: 'a', status: 'succeeded', attempts: 1 }],
    });
  });

  it('keeps the entry Time and Resources of PutEvents', async () => {
    await rule(eb, 'all', { source: ['app'] }, [{ Id: 'a', Arn: lambdaArn('f') }]);
    await eb.send(
      new PutEventsCommand({ Entries: [{ ...entry('app', 'T', {}), Time: new Date('2026-03-04T05:06:07Z'), Resources: ['arn:x'] }] }),
    );
    await h.events.idle();
    expect(h.dispatcher.payloads('f')[0]).toMatchObject({ time: '2026-03-04T05:06:07Z', resources: ['arn:x'] });
  });

  it('shapes the target input with Input, InputPath and InputTransformer, and starts state machines', async () => {
    await rule(eb, 'shaped', { source: ['app'] }, [
      { Id: 'whole', Arn: lambdaArn('whole') },
      { Id: 'constant', Arn: lambdaArn('constant'), Input: '{"fixed":true}' },
      { Id: 'path', Arn: lambdaArn('path'), InputPath: '$.detail.build' },
      {
        Id: 'transformed',
        Arn: SM_ARN,
        InputTransformer: {
          InputPathsMap: { image: '$.detail.build.imageId', region: '$.region', n: '$.detail.n' },
          InputTemplate: '{"imageId": <image>, "where": "in <region>", "n": <n>, "rule": <aws.events.rule-name>}',
        },
      },
    ]);
    await eb.send(new PutEventsCommand({ Entries: [entry('app', 'Built', { build: { imageId: 'ami-9', family: 'web' }, n: 2 })] }));
    await h.events.idle();

    expect(h.dispatcher.payloads('whole')[0]).toMatchObject({ detail: { n: 2 } });
    expect(h.dispatcher.payloads('constant')).toEqual([{ fixed: true }]);
    expect(h.dispatcher.payloads('path')).toEqual([{ imageId: 'ami-9', family: 'web' }]);
    expect(h.dispatcher.executions).toHaveLength(1);
    expect(h.dispatcher.executions[0]?.arn).toBe(SM_ARN);
    expect(JSON.parse(h.dispatcher.executions[0]?.input ?? '')).toEqual({ imageId: 'ami-9', where: 'in us-east-1', n: 2, rule: 'shaped' });
  });

  it('delivers nothing to a disabled rule until it is enabled again', async () => {
    await rule(eb, 'r', { source: ['app'] }, [{ Id: 'a', Arn: lambdaArn('f') }]);
    await eb.send(new DisableRuleCommand({ Name: 'r' }));
    await eb.send(new PutEventsCommand({ Entries: [entry('app', 'T', { n: 1 })] }));
    await h.events.idle();
    expect(h.dispatcher.lambda).toEqual([]);
    expect((await eb.send(new DescribeRuleCommand({ Name: 'r' }))).State).toBe('DISABLED');

    await eb.send(new EnableRuleCommand({ Name: 'r' }));
    await eb.send(new PutEventsCommand({ Entries: [entry('app', 'T', { n: 2 })] }));
    await h.events.idle();
    expect(h.dispatcher.payloads('f')).toEqual([expect.objectContaining({ detail: { n: 2 } })]);
  });

  it('creates, describes, lists, pages and deletes rules and targets', async () => {
    // Prepare
    const pattern = JSON.stringify({ source: ['app'] });
    for (const n of ['ops-a', 'ops-b', 'ops-c', 'other']) {
      const r = await eb.send(new PutRuleCommand({ Name: n, EventPattern: pattern, Description: `rule ${n}` }));
      expect(r.RuleArn).toBe(`arn:aws:events:us-east-1:${ACCOUNT}:rule/${n}`);
    }

    // Act / Assess: describe
    expect(await eb.send(new DescribeRuleCommand({ Name: 'ops-a' }))).toMatchObject({
      Name: 'ops-a',
      Arn: `arn:aws:events:us-east-1:${ACCOUNT}:rule/ops-a`,
      EventPattern: pattern,
      State: 'ENABLED',
      Description: 'rule ops-a',
      EventBusName: 'default',
    });

    // list with a prefix, two per page
    const names: string[] = [];
    let NextToken: string | undefined;
    let pages = 0;
    do {
      const p = await eb.send(new ListRulesCommand({ NamePrefix: 'ops-', Limit: 2, NextToken }));
      names.push(...(p.Rules ?? []).map((r) => r.Name ?? ''));
      NextToken = p.NextToken;
      pages++;
    } while (NextToken !== undefined);
    expect(names).toEqual(['ops-a', 'ops-b', 'ops-c']);
    expect(pages).toBe(2);

    // targets: put (replace by Id), list, remove
    await eb.send(
      new PutTargetsCommand({
        Rule: 'ops-a',
        Targets: [
          { Id: '1', Arn: lambdaArn('f') },
          { Id: '2', Arn: SM_ARN, Input: '{}' },
        ],
      }),
    );
    const put = await eb.send(new PutTargetsCommand({ Rule: 'ops-a', Targets: [{ Id: '1', Arn: lambdaArn('g') }] }));
    expect(put.FailedEntryCount).toBe(0);
    const listed = await eb.send(new ListTargetsByRuleCommand({ Rule: 'ops-a' }));
    expect(listed.Targets).toEqual([
      { Id: '1', Arn: lambdaArn('g') },
      { Id: '2', Arn: SM_ARN, Input: '{}' },
    ]);

    // a rule with targets cannot be deleted
    await expect(eb.send(new DeleteRuleCommand({ Name: 'ops-a' }))).rejects.toMatchObject({ name: 'ValidationException' });
    await eb.send(new RemoveTargetsCommand({ Rule: 'ops-a', Ids: ['1', '2'] }));
    await eb.send(new DeleteRuleCommand({ Name: 'ops-a' }));
    await expect(eb.send(new DescribeRuleCommand({ Name: 'ops-a' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });

    // PutRule replaces the definition but keeps the targets
    await eb.send(new PutTargetsCommand({ Rule: 'ops-b', Targets: [{ Id: '1', Arn: lambdaArn('f') }] }));
    await eb.send(new PutRuleCommand({ Name: 'ops-b', EventPattern: JSON.stringify({ source: ['other'] }) }));
    expect((await eb.send(new DescribeRuleCommand({ Name: 'ops-b' }))).Description).toBeUndefined();
    expect((await eb.send(new ListTargetsByRuleCommand({ Rule: 'ops-b' }))).Targets).toHaveLength(1);
  });

  it('answers the SDK with the EventBridge error names', async () => {
    const reject = (p: Promise<unknown>, name: string) => expect(p).rejects.toMatchObject({ name });
    await reject(eb.send(new PutRuleCommand({ Name: 'bad', EventPattern: '{"source": "aws.ec2"}' })), 'InvalidEventPatternException');
    await reject(eb.send(new PutRuleCommand({ Name: 'bad', EventPattern: '{not json' })), 'InvalidEventPatternException');
    await reject(eb.send(new PutRuleCommand({ Name: 'bad' })), 'ValidationException');
    await reject(eb.send(new PutRuleCommand({ Name: 'bad name!', EventPattern: '{"source":["a"]}' })), 'ValidationException');
    await reject(eb.send(new PutRuleCommand({ Name: 'bad', ScheduleExpression: 'rate(1 minutes)' })), 'ValidationException');
    await reject(
      eb.send(new PutRuleCommand({ Name: 'r', EventPattern: '{"source":["a"]}', EventBusName: 'nope' })),
      'ResourceNotFoundException',
    );
    await reject(eb.send(new DescribeRuleCommand({ Name: 'nope' })), 'ResourceNotFoundException');
    await reject(eb.send(new EnableRuleCommand({ Name: 'nope' })), 'ResourceNotFoundException');
    await reject(
      eb.send(new PutTargetsCommand({ Rule: 'nope', Targets: [{ Id: '1', Arn: lambdaArn('f') }] })),
      'ResourceNotFoundException',
    );
    await reject(eb.send(new ListTargetsByRuleCommand({ Rule: 'nope' })), 'ResourceNotFoundException');

    await eb.send(new CreateEventBusCommand({ Name: 'custom' }));
    await reject(eb.send(new CreateEventBusCommand({ Name: 'custom' })), 'ResourceAlreadyExistsException');
    await reject(
      eb.send(new PutRuleCommand({ Name: 's', ScheduleExpression: 'rate(5 minutes)', EventBusName: 'custom' })),
      'ValidationException',
    );

    await eb.send(new PutRuleCommand({ Name: 'r', EventPattern: '{"source":["a"]}' }));
    await reject(
      eb.send(new PutTargetsCommand({ Rule: 'r', Targets: [{ Id: '1', Arn: lambdaArn('f'), Input: '{}', InputPath: '$.detail' }] })),
      'ValidationException',
    );
    await reject(
      eb.send(new PutTargetsCommand({ Rule: 'r', Targets: [{ Id: '1', Arn: lambdaArn('f'), Input: '{nope' }] })),
      'ValidationException',
    );
    await reject(
      eb.send(new PutTargetsCommand({ Rule: 'r', Targets: [{ Id: '1', Arn: 'arn:aws:sqs:us-east-1:111122223333:q' }] })),
      'ValidationException',
    );
    const six = Array.from({ length: 6 }, (_, i) => ({ Id: `t${i}`, Arn: lambdaArn(`f${i}`) }));
    await reject(eb.send(new PutTargetsCommand({ Rule: 'r', Targets: six })), 'LimitExceededException');
  });

  it('always has a default bus, and manages custom buses', async () => {
    expect(await eb.send(new DescribeEventBusCommand({}))).toMatchObject({
      Name: 'default',
      Arn: `arn:aws:events:us-east-1:${ACCOUNT}:event-bus/default`,
    });
    const created = await eb.send(new CreateEventBusCommand({ Name: 'factory', Description: 'ours' }));
    expect(created.EventBusArn).toBe(`arn:aws:events:us-east-1:${ACCOUNT}:event-bus/factory`);
    const d = await eb.send(new DescribeEventBusCommand({ Name: 'factory' }));
    expect(d).toMatchObject({ Name: 'factory', Description: 'ours' });
    expect(d.CreationTime).toBeInstanceOf(Date);
    expect((await eb.send(new ListEventBusesCommand({}))).EventBuses?.map((b) => b.Name)).toEqual(['default', 'factory']);
    expect((await eb.send(new ListEventBusesCommand({ NamePrefix: 'fac' }))).EventBuses?.map((b) => b.Name)).toEqual(['factory']);
    // Buses are regional.
    expect((await h.client('eu-west-1').send(new ListEventBusesCommand({}))).EventBuses?.map((b) => b.Name)).toEqual(['default']);

    await expect(eb.send(new DeleteEventBusCommand({ Name: 'default' }))).rejects.toMatchObject({ name: 'ValidationException' });
    await eb.send(new DeleteEventBusCommand({ Name: 'factory' }));
    await expect(eb.send(new DescribeEventBusCommand({ Name: 'factory' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('reports malformed PutEvents entries one by one and accepts the rest', async () => {
    await rule(eb, 'all', { source: ['app'] }, [{ Id: 'a', Arn: lambdaArn('f') }]);
    const out = await eb.send(
      new PutEventsCommand({
        Entries: [
          entry('app', 'Good', { ok: 1 }),
          { Source: 'app', DetailType: 'NoDetail' },
          { DetailType: 'NoSource', Detail: '{}' },
          { Source: 'app', DetailType: 'Bad', Detail: '{not json' },
          { Source: 'app', DetailType: 'Array', Detail: '[1]' },
          entry('aws.ec2', 'Spoofed', {}),
          entry('app', 'NoBus', {}, 'nope'),
        ],
      }),
    );
    expect(out.FailedEntryCount).toBe(6);
    expect(out.Entries?.map((e) => e.ErrorCode ?? 'ok')).toEqual([
      'ok',
      'InvalidArgument',
      'InvalidArgument',
      'MalformedDetail',
      'MalformedDetail',
      'NotAuthorizedForSourceException',
      'ResourceNotFoundException',
    ]);
    expect(out.Entries?.[1]?.ErrorMessage).toContain('Detail');
    await h.events.idle();
    expect(h.dispatcher.payloads('f')).toEqual([expect.objectContaining({ 'detail-type': 'Good' })]);

    const eleven = Array.from({ length: 11 }, () => entry('app', 'T', {}));
    await expect(eb.send(new PutEventsCommand({ Entries: eleven }))).rejects.toMatchObject({ name: 'ValidationException' });
  });

  it('tests an event pattern against an event', async () => {
    const event = JSON.stringify({
      id: '1',
      account: ACCOUNT,
      source: 'aws.ec2',
      time: '2026-01-01T00:00:00Z',
      region: 'us-east-1',
      resources: [],
      'detail-type': 'EC2 AMI State Change',
      detail: { State: 'available' },
    });
    expect((await eb.send(new TestEventPatternCommand({ EventPattern: JSON.stringify(AMI_PATTERN), Event: event }))).Result).toBe(true);
    const pending = event.replace('available', 'pending');
    expect((await eb.send(new TestEventPatternCommand({ EventPattern: JSON.stringify(AMI_PATTERN), Event: pending }))).Result).toBe(false);
    await expect(eb.send(new TestEventPatternCommand({ EventPattern: '{"source":[]}', Event: event }))).rejects.toMatchObject({
      name: 'InvalidEventPatternException',
    });
    await expect(eb.send(new TestEventPatternCommand({ EventPattern: '{"source":["a"]}', Event: '{"source":"a"}' }))).rejects.toMatchObject(
      {
        name: 'ValidationException',
      },
    );
  });

  it("delivers emit()'s EC2 AMI State Change events to the rule that waits for them", async () => {
    // Prepare: the factory's rule (serverless.yml) on the default bus
    await rule(eb, 'ami-state', AMI_PATTERN, [{ Id: 'completeWaits', Arn: lambdaArn('completeWaits') }]);
    const ami = (state: string) => ({
      source: 'aws.ec2',
      detailType: 'EC2 AMI State Change',
      detail: { RequestId: 'r-1', ImageId: 'ami-0123', State: state, ErrorMessage: '' },
      region: 'us-east-1',
      resources: ['arn:aws:ec2:us-east-1::image/ami-0123'],
    });

    // Act
    await h.events.emit(ami('pending'));
    const id = await h.events.emit(ami('available'));
    await h.events.emit({ ...ami('available'), region: 'eu-west-1' });
    await h.events.idle();

    // Assess: only the available event of this region, as EventBridge delivers it
    expect(h.dispatcher.payloads('completeWaits')).toEqual([
      expect.objectContaining({
        id,
        source: 'aws.ec2',
        'detail-type': 'EC2 AMI State Change',
        region: 'us-east-1',
        account: ACCOUNT,
        detail: expect.objectContaining({ State: 'available' }),
      }),
    ]);
    expect(h.events.log().map((e) => [e.origin, e.region, e.rules])).toEqual([
      ['emit', 'us-east-1', []],
      ['emit', 'us-east-1', ['ami-state']],
      ['emit', 'eu-west-1', []],
    ]);
  });

  it('forwards events to an event bus target in another region', async () => {
    const west = h.client('eu-west-1');
    await rule(west, 'to-home', { source: ['aws.ec2'] }, [{ Id: 'home', Arn: `arn:aws:events:us-east-1:${ACCOUNT}:event-bus/default` }]);
    await rule(eb, 'ami-state', AMI_PATTERN, [{ Id: 'f', Arn: lambdaArn('completeWaits') }]);
    await h.events.emit({
      source: 'aws.ec2',
      detailType: 'EC2 AMI State Change',
      detail: { ImageId: 'ami-7', State: 'available' },
      region: 'eu-west-1',
    });
    await h.events.idle();
    expect(h.dispatcher.payloads('completeWaits')).toEqual([
      expect.objectContaining({ region: 'eu-west-1', detail: { ImageId: 'ami-7', State: 'available' } }),
    ]);
    expect(h.events.log().map((e) => `${e.origin}:${e.region}`)).toEqual(['emit:eu-west-1', 'forwarded:us-east-1']);
  });

  it('retries a failing target, records it as failed, and still delivers to the other target', async () => {
    h.dispatcher.failing.add('broken');
    await rule(eb, 'both', { source: ['app'] }, [
      { Id: 'broken', Arn: lambdaArn('broken') },
      { Id: 'fine', Arn: lambdaArn('fine') },
      { Id: 'once', Arn: lambdaArn('broken'), RetryPolicy: { MaximumRetryAttempts: 0 } },
    ]);
    await eb.send(new PutEventsCommand({ Entries: [entry('app', 'T', {})] }));
    await h.events.idle();

    expect(h.dispatcher.payloads('fine')).toHaveLength(1);
    const targets = h.events.log()[0]?.targets ?? [];
    expect(targets).toEqual([
      expect.objectContaining({ targetId: 'broken', status: 'failed', attempts: 3, error: 'TargetFailedError: broken is down' }),
      expect.objectContaining({ targetId: 'fine', status: 'succeeded', attempts: 1 }),
      expect.objectContaining({ targetId: 'once', status: 'failed', attempts: 1 }),
    ]);
    expect(h.dispatcher.payloads('broken')).toHaveLength(4);
  });

  it('fires a rate schedule on the simulated clock with Scheduled Events', async () => {
    // 60 000× : rate(1 minute) fires every millisecond of real time
    const r = await eb.send(new PutRuleCommand({ Name: 'tick', ScheduleExpression: 'rate(1 minute)', State: 'DISABLED' }));
    await eb.send(new PutTargetsCommand({ Rule: 'tick', Targets: [{ Id: 'sweep', Arn: lambdaArn('sweepWaits') }] }));
    await eb.send(new EnableRuleCommand({ Name: 'tick' }));
    await eventually(() => h.dispatcher.payloads('sweepWaits').length >= 3);
    await eb.send(new DisableRuleCommand({ Name: 'tick' }));
    await h.events.idle();

    const [first] = h.dispatcher.payloads('sweepWaits');
    expect(first).toMatchObject({
      source: 'aws.events',
      'detail-type': 'Scheduled Event',
      detail: {},
      resources: [r.RuleArn],
      account: ACCOUNT,
      region: 'us-east-1',
    });
    const fired = h.events.log().filter((e) => e.origin === 'schedule');
    const times = fired.map((e) => Date.parse(e.event.time));
    for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThan(times[i - 1] as number);
    expect(fired.every((e) => e.rules[0] === 'tick' && e.targets[0]?.status === 'succeeded')).toBe(true);
  });
});

describe('local EventBridge persistence', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ami-factory-events-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps buses, rules and targets across restarts, and fires a missed schedule once on resume', async () => {
    // Prepare: a world at real speed, where a 5-minute schedule does not fire during the test
    const stateFile = join(dir, 'events.json');
    const t0 = Date.now();
    let h = await start({ timeScale: 1, startAt: t0, stateFile });
    let eb = h.client();
    await eb.send(new CreateEventBusCommand({ Name: 'factory' }));
    await rule(eb, 'built', { source: ['app'] }, [{ Id: 'a', Arn: lambdaArn('f') }], 'factory');
    await eb.send(new PutRuleCommand({ Name: 'sweep', ScheduleExpression: 'rate(5 minutes)' }));
    await eb.send(new PutTargetsCommand({ Rule: 'sweep', Targets: [{ Id: 's', Arn: lambdaArn('sweepWaits') }] }));
    await h.close();

    // Act: restart three simulated hours and a half period later (36 firings were missed);
    // mid-period, so the next regular firing is minutes away, not a few milliseconds.
    h = await start({ timeScale: 1, startAt: t0 + 3 * 3600_000 + 150_000, stateFile });
    eb = h.client();
    h.events.resume();
    await h.events.idle();

    // Assess: the missed schedule fired once, not 36 times; everything else is back
    expect(h.dispatcher.payloads('sweepWaits')).toHaveLength(1);
    expect((await eb.send(new ListEventBusesCommand({}))).EventBuses?.map((b) => b.Name)).toEqual(['default', 'factory']);
    expect((await eb.send(new ListTargetsByRuleCommand({ Rule: 'built', EventBusName: 'factory' }))).Targets).toEqual([
      { Id: 'a', Arn: lambdaArn('f') },
    ]);
    await eb.send(new PutEventsCommand({ Entries: [entry('app', 'T', {}, 'factory')] }));
    await h.events.idle();
    expect(h.dispatcher.payloads('f')).toHaveLength(1);
    expect(h.dispatcher.payloads('sweepWaits')).toHaveLength(1);
    await h.close();
  });
});
