import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { evaluate, globalContext, loadIamCatalog, parsePolicy, type IamCatalog } from '../../local/iam/index.js';
import type { JsonObject } from '../../local/json.js';
import type { CfnTemplate } from '../../local/template/cfn.js';
import { ensurePackaged } from '../../local/template/package.js';
import { planStack, type StackPlan } from '../../local/template/stack.js';

/**
 * The packaged template's dead letters (resources/dead-letters.yml, deploy/dead-letters.cjs):
 * every EventBridge target has a dead-letter queue and a retry policy, every function a rule
 * invokes (asynchronously) has an OnFailure destination its role may send to, and the queue
 * policy lets EventBridge send for the stack's rules only.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const deadLetters = createRequire(import.meta.url)('../../deploy/dead-letters.cjs') as {
  addDeadLetters(t: CfnTemplate): CfnTemplate;
};

let template: CfnTemplate;
let plan: StackPlan;
let catalog: IamCatalog;

beforeAll(async () => {
  catalog = await loadIamCatalog();
  template = (await ensurePackaged({ projectRoot: ROOT, log: () => undefined })).template;
  plan = planStack(template, { stackName: 'ami-factory-dev', region: REGION, accountId: ACCOUNT });
}, 300_000);

const queueArn = (logicalId: string): string => plan.queues.find((q) => q.logicalId === logicalId)?.arn ?? '';

/** The functions the template's rules target. */
function ruleTargetFunctions(p: StackPlan): string[] {
  const arns = new Set(p.rules.flatMap((r) => r.targets.map((t) => String(t.Arn))));
  return p.functions.filter((f) => arns.has(f.arn)).map((f) => f.name);
}

function roleAllows(p: StackPlan, functionName: string, action: string, resource: string): boolean {
  const fn = p.functions.find((f) => f.name === functionName);
  const role = p.roles.find((r) => r.arn === fn?.roleArn);
  if (role === undefined) throw new Error(`${functionName} has no role`);
  const principal = {
    type: 'AssumedRole' as const,
    arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${role.name}/${functionName}`,
    roleArn: role.arn,
    sessionName: functionName,
    accountId: ACCOUNT,
  };
  const identity = role.policies.map((x) => parsePolicy(x.document, { name: x.name, kind: 'identity' }, catalog));
  const context = globalContext(principal, { time: new Date(), secureTransport: true, requestedRegion: REGION });
  return evaluate({ principal, action, resource, context }, { identity }).effect === 'Allow';
}

function eventsMaySend(p: StackPlan, sourceArn: string): boolean {
  const policy = p.queuePolicies[0];
  if (policy === undefined) return false;
  const principal = { type: 'Service' as const, arn: 'events.amazonaws.com', service: 'events.amazonaws.com', accountId: ACCOUNT };
  const resource = parsePolicy(policy.document, { name: 'queue policy', kind: 'resource' }, catalog);
  const context = {
    ...globalContext(principal, { time: new Date(), secureTransport: true, requestedRegion: REGION }),
    'aws:SourceArn': sourceArn,
    'aws:SourceAccount': ACCOUNT,
  };
  return (
    evaluate(
      { principal, action: 'sqs:SendMessage', resource: queueArn('EventTargetDeadLetterQueue'), context },
      { identity: [], resource: [resource] },
    ).effect === 'Allow'
  );
}

describe('the packaged template: dead letters', () => {
  it('gives every target of every rule the event-target queue and a retry policy', () => {
    expect(plan.rules.length).toBeGreaterThanOrEqual(7);
    for (const r of plan.rules) {
      for (const t of r.targets) {
        expect([r.logicalId, t.DeadLetterConfig]).toEqual([r.logicalId, { Arn: queueArn('EventTargetDeadLetterQueue') }]);
        const retry = t.RetryPolicy as JsonObject;
        expect([r.logicalId, Number(retry.MaximumRetryAttempts) >= 4, Number(retry.MaximumEventAgeInSeconds) >= 60]).toEqual([
          r.logicalId,
          true,
          true,
        ]);
      }
    }
  });

  it('gives every function a rule invokes two retries and the async-failure queue, which its role may send to', () => {
    const invoked = ruleTargetFunctions(plan);
    expect(invoked).toEqual(expect.arrayContaining(['ami-factory-dev-completeWaits', 'ami-factory-dev-triggerBuild']));
    const configured = plan.eventInvokeConfigs.map((c) => c.functionName).sort();
    expect(configured).toEqual([...invoked].sort());
    for (const c of plan.eventInvokeConfigs) {
      expect(c).toMatchObject({ qualifier: '$LATEST', maximumRetryAttempts: 2, onFailure: queueArn('AsyncFailureQueue') });
      expect([c.functionName, roleAllows(plan, c.functionName, 'sqs:SendMessage', queueArn('AsyncFailureQueue'))]).toEqual([
        c.functionName,
        true,
      ]);
      expect([c.functionName, roleAllows(plan, c.functionName, 'sqs:SendMessage', queueArn('EventTargetDeadLetterQueue'))]).toEqual([
        c.functionName,
        false,
      ]);
    }
    // The functions no rule invokes may send to no queue.
    for (const f of plan.functions.filter((x) => !invoked.includes(x.name))) {
      expect([f.name, roleAllows(plan, f.name, 'sqs:SendMessage', queueArn('AsyncFailureQueue'))]).toEqual([f.name, false]);
    }
  });

  it("lets EventBridge send dead letters for the stack's rules only", () => {
    for (const r of plan.rules) expect([r.name, eventsMaySend(plan, r.arn)]).toEqual([r.name, true]);
    expect(eventsMaySend(plan, `arn:aws:events:${REGION}:${ACCOUNT}:rule/someone-elses-rule`)).toBe(false);
  });

  it('keeps messages 14 days in queues encrypted with SQS-managed keys', () => {
    expect(plan.queues.map((q) => q.logicalId).sort()).toEqual(['AsyncFailureQueue', 'EventTargetDeadLetterQueue']);
    for (const q of plan.queues) expect(q.attributes).toMatchObject({ MessageRetentionPeriod: '1209600', SqsManagedSseEnabled: 'true' });
  });

  it('covers a rule added to the template (deploy/dead-letters.cjs works on the whole template)', () => {
    // Prepare
    const t = structuredClone(template);
    const ids = Object.keys(t.Resources).filter((k) => t.Resources[k]?.Type === 'AWS::Lambda::EventInvokeConfig');
    for (const id of ids) delete t.Resources[id];
    t.Resources.ExtraRule = {
      Type: 'AWS::Events::Rule',
      Properties: {
        ScheduleExpression: 'rate(1 day)',
        Targets: [{ Id: 'x', Arn: { 'Fn::GetAtt': ['PlanBuildLambdaFunction', 'Arn'] } }],
      },
    };

    // Act
    const out = deadLetters.addDeadLetters(t);

    // Assess
    expect((out.Resources.ExtraRule?.Properties?.Targets as JsonObject[])[0]).toMatchObject({
      DeadLetterConfig: { Arn: { 'Fn::GetAtt': ['EventTargetDeadLetterQueue', 'Arn'] } },
      RetryPolicy: { MaximumRetryAttempts: 4, MaximumEventAgeInSeconds: 3600 },
    });
    expect(out.Resources.PlanBuildEventInvokeConfig?.Properties).toMatchObject({
      FunctionName: { Ref: 'PlanBuildLambdaFunction' },
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['AsyncFailureQueue', 'Arn'] } } },
    });
    expect(JSON.stringify(out.Resources.EventTargetDeadLetterQueuePolicy)).toContain('"ExtraRule","Arn"');
  });
});
