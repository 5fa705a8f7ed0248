'use strict';
/**
 * CloudFormation for the factory's alarms, for osls's variable resolver:
 *
 *   resources:
 *     - ${file(deploy/alarms.cjs)}
 *
 * - `AlarmTopic`, an SNS topic whose email subscriptions are the `alarmEmails` stage parameter
 *   (`params.<stage>.alarmEmails`, else `params.default.alarmEmails`, a list; or
 *   `--param="alarmEmails=a@example.com,b@example.com"`); none by default.
 * - Per state machine: ExecutionsFailed, ExecutionsTimedOut and ExecutionsAborted (AWS/States).
 * - Per function: Errors and Throttles (AWS/Lambda).
 * - Per dead-letter queue (resources/dead-letters.yml): ApproximateNumberOfMessagesVisible
 *   (AWS/SQS), its maximum above 0: a message waits to be read or redriven.
 * Every other alarm fires on a sum above 0 in 5 minutes and treats missing data as not breaching (no
 * execution, no invocation: nothing is wrong); its alarm and OK actions notify the topic.
 * Generated, not written out: one alarm pair per function of serverless.yml, whatever is added.
 */

const STATE_MACHINES = {
  ImageFactory: 'ImageFactoryStateMachine',
  ImageRetention: 'ImageRetentionStateMachine',
  ImageChannels: 'ImageChannelsStateMachine',
};
const STATE_MACHINE_METRICS = ['ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionsAborted'];
const FUNCTION_METRICS = ['Errors', 'Throttles'];
/** Alarm name prefix → the queue's logical id (resources/dead-letters.yml). */
const DEAD_LETTER_QUEUES = { EventTargetDeadLetters: 'EventTargetDeadLetterQueue', AsyncFailures: 'AsyncFailureQueue' };
const QUEUE_DEPTH = 'ApproximateNumberOfMessagesVisible';
const EMAIL = /^[^\s@,]+@[^\s@,]+\.[^\s@,]+$/;

const pascal = (s) => s.charAt(0).toUpperCase() + s.slice(1);

/** serverless's logical id of a function (`planBuild` → `PlanBuildLambdaFunction`). */
function functionLogicalId(key) {
  return `${pascal(key.replace(/-/g, 'Dash').replace(/_/g, 'Underscore'))}LambdaFunction`;
}

function alarm(description, namespace, metric, dimension, statistic = 'Sum') {
  return {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmDescription: description,
      Namespace: namespace,
      MetricName: metric,
      Dimensions: [dimension],
      Statistic: statistic,
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: 'AlarmTopic' }],
      OKActions: [{ Ref: 'AlarmTopic' }],
    },
  };
}

/** The emails of the `alarmEmails` stage parameter (a list, or a comma-separated string). */
function alarmEmails(value) {
  if (value === undefined || value === null || value === '') return [];
  const list = Array.isArray(value) ? value : String(value).split(',');
  return list.map((e) => {
    const email = String(e).trim();
    if (!EMAIL.test(email)) throw new Error(`alarmEmails: "${email}" is not an email address`);
    return email;
  });
}

/** `{ Resources }` for the function keys of serverless.yml and the subscribers' emails. */
function alarmResources(functionKeys, emails) {
  const Resources = {
    AlarmTopic: {
      Type: 'AWS::SNS::Topic',
      Properties: {
        DisplayName: 'ami-factory alarms',
        Subscription: emails.map((Endpoint) => ({ Protocol: 'email', Endpoint })),
      },
    },
  };
  for (const [name, id] of Object.entries(STATE_MACHINES)) {
    for (const metric of STATE_MACHINE_METRICS) {
      Resources[`${name}${metric}Alarm`] = alarm(`ami-factory: ${metric} of ${name}`, 'AWS/States', metric, {
        Name: 'StateMachineArn',
        Value: { Ref: id },
      });
    }
  }
  for (const key of functionKeys) {
    const id = functionLogicalId(key);
    for (const metric of FUNCTION_METRICS) {
      Resources[`${id.replace(/LambdaFunction$/, '')}${metric}Alarm`] = alarm(`ami-factory: ${metric} of ${key}`, 'AWS/Lambda', metric, {
        Name: 'FunctionName',
        Value: { Ref: id },
      });
    }
  }
  for (const [name, id] of Object.entries(DEAD_LETTER_QUEUES)) {
    Resources[`${name}Alarm`] = alarm(
      `ami-factory: messages in the dead-letter queue ${name}`,
      'AWS/SQS',
      QUEUE_DEPTH,
      { Name: 'QueueName', Value: { 'Fn::GetAtt': [id, 'QueueName'] } },
      'Maximum',
    );
  }
  return { Resources };
}

/** `alarmEmails` from `--param`, else the stage's params, else the default params. */
function emailsFrom(options, params) {
  const flags = [].concat((options && options.param) || []);
  for (const flag of flags) {
    const [k, ...v] = String(flag).split('=');
    if (k === 'alarmEmails') return alarmEmails(v.join('='));
  }
  const stage = (options && options.stage) || 'dev';
  const p = params || {};
  const own = p[stage] && p[stage].alarmEmails;
  return alarmEmails(own !== undefined ? own : p.default && p.default.alarmEmails);
}

/** osls calls this with `{ options, resolveVariable, resolveConfigurationProperty }`. */
async function alarms({ options, resolveConfigurationProperty }) {
  const functions = (await resolveConfigurationProperty(['functions'])) || {};
  const params = await resolveConfigurationProperty(['params']);
  return alarmResources(Object.keys(functions), emailsFrom(options, params));
}

module.exports = alarms;
module.exports.alarmResources = alarmResources;
module.exports.alarmEmails = alarmEmails;
module.exports.emailsFrom = emailsFrom;
module.exports.functionLogicalId = functionLogicalId;
