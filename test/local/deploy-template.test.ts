import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBridgeClient, ListRulesCommand, ListTargetsByRuleCommand, PutRuleCommand } from '@aws-sdk/client-eventbridge';
import { parse, stringify } from 'yaml';
import { startLocalCloud, type LocalCloud } from '../../local/server.js';
import { ensurePackaged } from '../../local/template/package.js';
import { planStack, type StackPlan } from '../../local/template/stack.js';

/**
 * The local cloud deploys the packaged template, and nothing else: its functions, roles,
 * rules, targets, buses, buckets, state machines and function URL are the template's.
 */
const client = (cloud: LocalCloud, region = 'us-east-1'): EventBridgeClient =>
  new EventBridgeClient({ region, endpoint: cloud.endpoint, credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });

async function ruleNames(events: EventBridgeClient, bus?: string): Promise<string[]> {
  const r = await events.send(new ListRulesCommand({ ...(bus !== undefined ? { EventBusName: bus } : {}), Limit: 100 }));
  return (r.Rules ?? []).map((x) => x.Name ?? '').sort();
}

describe('local cloud: the deployed template', () => {
  let cloud: LocalCloud;
  let events: EventBridgeClient;
  let plan: StackPlan;

  beforeAll(async () => {
    const pkg = await ensurePackaged({ projectRoot: process.cwd() });
    plan = planStack(pkg.template, { stackName: 'ami-factory-dev', region: 'us-east-1', accountId: '111122223333' });
    // Real time: no schedule fires while the tests read the rules.
    cloud = await startLocalCloud({ port: 0, stateDir: null, timeScale: 1, seed: false });
    events = client(cloud);
  });
  afterAll(async () => {
    events.destroy();
    await cloud.close();
  });

  it('does run every function of the template with its own handler, role, memory, timeout and environment', () => {
    expect(cloud.lambda.functionNames().sort()).toEqual(plan.functions.map((f) => f.shortName).sort());
    for (const spec of plan.functions) {
      const fn = cloud.lambda.lookup(spec.name);
      expect(fn).toMatchObject({ handler: spec.handler, roleArn: spec.roleArn, memoryMb: spec.memoryMb, timeoutS: spec.timeoutS });
      for (const [k, v] of Object.entries(spec.environment)) expect([k, fn?.environment[k]]).toEqual([k, v]);
      expect(fn?.environment.AWS_LAMBDA_FUNCTION_NAME).toBe(spec.name);
    }
    // Only bundleImage has the bundle key parameters; only the starters know the state machines.
    const env = (key: string): Record<string, string> => cloud.lambda.lookup(key)?.environment ?? {};
    expect(env('bundleImage').AMI_FACTORY_BUNDLE_KEYS_PARAM).toBe('/ami-factory/dev/bundle-keys');
    expect(env('createImage').AMI_FACTORY_BUNDLE_KEYS_PARAM).toBeUndefined();
    expect(env('triggerBuild').AMI_FACTORY_STATE_MACHINE_ARN).toBe(cloud.stateMachineArn('image-factory'));
    expect(env('createImage').AMI_FACTORY_STATE_MACHINE_ARN).toBeUndefined();
    // Each function's credentials are its own role's session.
    const keys = new Set(plan.functions.map((f) => env(f.shortName).AWS_ACCESS_KEY_ID));
    expect(keys.size).toBe(plan.functions.length);
    const caller = cloud.identity.callerFor(env('createImage').AWS_ACCESS_KEY_ID);
    expect(caller.arn).toBe(`arn:aws:sts::111122223333:assumed-role/${caller.role?.name}/ami-factory-dev-createImage`);
    expect(caller.role?.arn).toBe(cloud.lambda.lookup('createImage')?.roleArn);
  });

  it('does create the rules of the template with their targets, and the region forwarder in the other regions', async () => {
    const bus = plan.eventBuses[0]?.name ?? '';
    const byBus = (b: string): string[] =>
      plan.rules
        .filter((r) => r.busName === b)
        .map((r) => r.name)
        .sort();
    expect(await ruleNames(events)).toEqual(byBus('default'));
    expect(await ruleNames(events, bus)).toEqual(byBus(bus));
    for (const rule of plan.rules) {
      const { Targets } = await events.send(
        new ListTargetsByRuleCommand({ Rule: rule.name, ...(rule.busName === 'default' ? {} : { EventBusName: rule.busName }) }),
      );
      expect(Targets?.map((t) => t.Arn)).toEqual(rule.targets.map((t) => t.Arn));
    }
    const west = client(cloud, 'us-west-2');
    try {
      expect(await ruleNames(west)).toEqual(['ami-factory-forward-ec2-events']);
      const { Targets } = await west.send(new ListTargetsByRuleCommand({ Rule: 'ami-factory-forward-ec2-events' }));
      expect(Targets?.[0]).toMatchObject({
        Arn: 'arn:aws:events:us-east-1:111122223333:event-bus/default',
        RoleArn: expect.stringContaining(':role/'),
      });
    } finally {
      west.destroy();
    }
  });

  it('does deploy both state machines with the definitions and roles the template gives them', () => {
    expect(cloud.sfn.stateMachineNames().sort()).toEqual(plan.stateMachines.map((m) => m.name).sort());
    expect(cloud.stateBucket).toBe(plan.buckets.find((b) => b.logicalId === 'FactoryStateBucket')?.name);
    expect(cloud.eventBus).toBe('ami-factory-dev');
  });

  it('does serve the function URL of the template, refusing requests without a valid Slack signature', async () => {
    const r = await fetch(cloud.functionUrl('slackCommand'), { method: 'POST', body: 'command=%2Fami&text=help' });
    expect(r.status).toBe(401);
    await expect(fetch(`${cloud.endpoint}/lambda-url/nope/`)).resolves.toMatchObject({ status: 404 });
  });
});

describe('local cloud: redeployment and another factory config', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ami-factory-deploy-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("does remove at the next start the rules of the stack the template no longer has, and keeps the user's own", async () => {
    const first = await startLocalCloud({ port: 0, stateDir: dir, timeScale: 1, seed: false });
    const a = client(first);
    try {
      for (const name of ['ami-factory-dev-gone-rule-1', 'my-own-rule']) {
        await a.send(new PutRuleCommand({ Name: name, EventPattern: JSON.stringify({ source: ['ami-factory'] }) }));
      }
    } finally {
      a.destroy();
      await first.close();
    }
    const second = await startLocalCloud({ port: 0, stateDir: dir, timeScale: 1, seed: false });
    const b = client(second);
    try {
      const left = await ruleNames(b);
      expect(left).not.toContain('ami-factory-dev-gone-rule-1');
      expect(left).toContain('my-own-rule');
      expect(left).toEqual(expect.arrayContaining(second.stack.rules.filter((r) => r.busName === 'default').map((r) => r.name)));
    } finally {
      b.destroy();
      await second.close();
    }
  });

  it('does generate the family schedule rules for another config, as deploy/schedules.cjs does when packaging', async () => {
    const doc = parse(readFileSync('factory.config.yml', 'utf8')) as { families: Record<string, Record<string, unknown>> };
    doc.families.web = { ...doc.families.web, triggers: { schedule: 'rate(3 hours)' } };
    const file = join(dir, 'other.config.yml');
    writeFileSync(file, stringify(doc));
    const cloud = await startLocalCloud({ port: 0, stateDir: null, timeScale: 1, seed: false, configFile: file });
    try {
      const web = cloud.stack.rules.find((r) => r.description === 'ami-factory: scheduled build of web');
      expect(web).toMatchObject({ scheduleExpression: 'rate(3 hours)' });
      // The functions read the same config from their package root, as the zips carry it: its JSON rendering.
      const root = cloud.lambda.lookup('triggerBuild')?.environment.LAMBDA_TASK_ROOT ?? '';
      expect(JSON.parse(readFileSync(join(root, 'factory.config.yml'), 'utf8'))).toEqual(parse(readFileSync(file, 'utf8')));
    } finally {
      await cloud.close();
    }
  });
});
