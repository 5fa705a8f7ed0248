'use strict';
/**
 * An osls plugin that gives every asynchronous delivery of the packaged template a place to fail
 * to (the queues are in resources/dead-letters.yml):
 *
 * - every target of every AWS::Events::Rule gets `DeadLetterConfig` (the event-target queue) and,
 *   where it has none, a `RetryPolicy`; the queue policy's `aws:SourceArn` condition lists the ARN
 *   of every rule, so EventBridge may write to the queue for the stack's rules only;
 * - every function a rule targets (EventBridge invokes Lambda asynchronously) gets an
 *   AWS::Lambda::EventInvokeConfig: two retries, then its failure record to the async-failure
 *   queue (`DestinationConfig.OnFailure`). Its role must allow `sqs:SendMessage` on that queue
 *   (resources/iam.yml); Lambda checks that when the config is created.
 *
 * It runs after osls merged the `resources` section (the rules of deploy/schedules.cjs are there),
 * on the whole template, so a rule or an EventBridge-invoked function added later is covered
 * without a line here. No library does this: it rewrites the one template the framework hands its
 * plugins (as deploy/cfn-tidy.cjs does).
 */

const EVENT_QUEUE = 'EventTargetDeadLetterQueue';
const EVENT_QUEUE_POLICY = 'EventTargetDeadLetterQueuePolicy';
const ASYNC_QUEUE = 'AsyncFailureQueue';
/** A target's retries when it sets none: about a quarter of an hour of backoff, within an hour. */
const RETRY_POLICY = { MaximumRetryAttempts: 4, MaximumEventAgeInSeconds: 3600 };
/** Lambda's asynchronous retries (its default, explicit) and how long an event may wait for them. */
const ASYNC_RETRIES = { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 };

class DeadLetterTemplateError extends Error {
  constructor(message) {
    super(message);
    this.name = 'DeadLetterTemplateError';
  }
}

/** The logical id a target's Arn names with Fn::GetAtt [id, Arn], if any. */
function targetId(arn) {
  const att = arn && arn['Fn::GetAtt'];
  if (Array.isArray(att) && att[1] === 'Arn') return String(att[0]);
  if (typeof att === 'string' && att.endsWith('.Arn')) return att.slice(0, -'.Arn'.length);
  return undefined;
}

/** The EventInvokeConfig logical id of a function (`CompleteWaitsLambdaFunction` → `CompleteWaitsEventInvokeConfig`). */
function invokeConfigId(functionId) {
  return `${functionId.replace(/LambdaFunction$/, '')}EventInvokeConfig`;
}

function addDeadLetters(template) {
  const resources = template.Resources || {};
  for (const id of [EVENT_QUEUE, EVENT_QUEUE_POLICY, ASYNC_QUEUE]) {
    if (resources[id] === undefined)
      throw new DeadLetterTemplateError(`deploy/dead-letters.cjs: the template has no ${id} (resources/dead-letters.yml)`);
  }
  const rules = Object.keys(resources)
    .filter((id) => resources[id].Type === 'AWS::Events::Rule')
    .sort();
  const invoked = new Set();
  for (const id of rules) {
    const targets = (resources[id].Properties && resources[id].Properties.Targets) || [];
    for (const t of targets) {
      t.DeadLetterConfig = { Arn: { 'Fn::GetAtt': [EVENT_QUEUE, 'Arn'] } };
      if (t.RetryPolicy === undefined) t.RetryPolicy = { ...RETRY_POLICY };
      const fn = targetId(t.Arn);
      if (fn !== undefined && resources[fn] && resources[fn].Type === 'AWS::Lambda::Function') invoked.add(fn);
    }
  }
  const statement = resources[EVENT_QUEUE_POLICY].Properties.PolicyDocument.Statement[0];
  statement.Condition = { ArnEquals: { 'aws:SourceArn': rules.map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] })) } };
  for (const fn of [...invoked].sort()) {
    resources[invokeConfigId(fn)] = {
      Type: 'AWS::Lambda::EventInvokeConfig',
      Properties: {
        FunctionName: { Ref: fn },
        Qualifier: '$LATEST',
        ...ASYNC_RETRIES,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [ASYNC_QUEUE, 'Arn'] } } },
      },
    };
  }
  return template;
}

class DeadLetters {
  constructor(serverless) {
    this.hooks = {
      // After the `resources` section is merged into the compiled template, before it is written.
      'after:aws:package:finalize:mergeCustomProviderResources': () => {
        addDeadLetters(serverless.service.provider.compiledCloudFormationTemplate);
      },
    };
  }
}

module.exports = DeadLetters;
module.exports.addDeadLetters = addDeadLetters;
module.exports.invokeConfigId = invokeConfigId;
module.exports.DeadLetterTemplateError = DeadLetterTemplateError;
module.exports.RETRY_POLICY = RETRY_POLICY;
module.exports.ASYNC_RETRIES = ASYNC_RETRIES;
