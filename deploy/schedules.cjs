'use strict';
/**
 * CloudFormation for the factory config's per-family triggers, for osls's variable resolver:
 *
 *   resources:
 *     - ${file(deploy/schedules.cjs)}
 *
 * One AWS::Events::Rule per family with `triggers.schedule` (a build) and one per family with
 * `retention.schedule` (a retention run), each targeting the triggerBuild function with an
 * InputTransformer that adds the family and, for retention, `"kind":"retention"` (what
 * functions/lib/triggers/schedule.ts parses), plus the permission
 * for EventBridge to invoke the function from that rule. The config is `AMI_FACTORY_CONFIG` or
 * `factory.config.yml` next to serverless.yml; the handler validates it fully at run time.
 */
const { readFileSync } = require('node:fs');
const { createHash } = require('node:crypto');
const { join, resolve } = require('node:path');
const { parse } = require('yaml');

const FAMILY = /^[a-z0-9][a-z0-9-]{0,62}$/;
const SCHEDULE = /^(cron\([^\s()]+( [^\s()]+){5}\)|rate\((1 (minute|hour|day)|([2-9]|[1-9]\d+) (minutes|hours|days))\))$/;
/** serverless's logical id of the `triggerBuild` function. */
const TARGET_FUNCTION = 'TriggerBuildLambdaFunction';

const KINDS = {
  build: { prefix: 'ScheduleBuild', path: 'triggers.schedule', what: 'scheduled build' },
  retention: { prefix: 'ScheduleRetention', path: 'retention.schedule', what: 'scheduled retention' },
};

function kindOf(kind) {
  const k = Object.hasOwn(KINDS, kind) ? KINDS[kind] : undefined;
  if (k === undefined) throw new Error(`"${kind}" is not a schedule kind (build, retention)`);
  return k;
}

function logicalId(family, kind = 'build') {
  const { prefix } = kindOf(kind);
  const pascal = family
    .split('-')
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
    .join('');
  // Different families can share a PascalCase form (a-b vs ab): a short hash keeps ids unique.
  const hash = createHash('sha256').update(family).digest('hex').slice(0, 6);
  return `${prefix}${pascal}${hash}`;
}

/** The InputTransformer a family's schedule target needs; the handler parses it with ScheduledBuildInputSchema (functions/lib/triggers/schedule.ts). */
function scheduleTargetInput(family, kind = 'build') {
  if (!FAMILY.test(family)) throw new Error(`"${family}" is not a valid family name`);
  kindOf(kind);
  const template =
    kind === 'build' ? `{"family":"${family}","id":<id>,"time":<time>}` : `{"family":"${family}","kind":"${kind}","id":<id>,"time":<time>}`;
  return { InputPathsMap: { id: '$.id', time: '$.time' }, InputTemplate: template };
}

/** The rule and invoke permission of one family schedule. */
function scheduleRule(Resources, family, kind, schedule) {
  const { path, what } = kindOf(kind);
  if (typeof schedule !== 'string' || !SCHEDULE.test(schedule)) {
    throw new Error(`families.${family}.${path}: "${schedule}" is not an EventBridge schedule such as cron(0 7 ? * MON *) or rate(7 days)`);
  }
  const id = logicalId(family, kind);
  Resources[`${id}Rule`] = {
    Type: 'AWS::Events::Rule',
    Properties: {
      Description: `ami-factory: ${what} of ${family}`,
      ScheduleExpression: schedule,
      State: 'ENABLED',
      Targets: [
        {
          Id: 'triggerBuild',
          Arn: { 'Fn::GetAtt': [TARGET_FUNCTION, 'Arn'] },
          InputTransformer: scheduleTargetInput(family, kind),
          RetryPolicy: { MaximumRetryAttempts: 4, MaximumEventAgeInSeconds: 3600 },
        },
      ],
    },
  };
  Resources[`${id}Permission`] = {
    Type: 'AWS::Lambda::Permission',
    Properties: {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [TARGET_FUNCTION, 'Arn'] },
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [`${id}Rule`, 'Arn'] },
    },
  };
}

/** `{ Resources }` for a parsed factory config. */
function scheduleResources(config) {
  const families = (config && config.families) || {};
  const Resources = {};
  for (const [family, f] of Object.entries(families)) {
    const build = f && f.triggers && f.triggers.schedule;
    if (build !== undefined) scheduleRule(Resources, family, 'build', build);
    const retention = f && f.retention && f.retention.schedule;
    if (retention !== undefined) scheduleRule(Resources, family, 'retention', retention);
  }
  return { Resources };
}

function configPath(serviceDir) {
  const explicit = process.env.AMI_FACTORY_CONFIG;
  return explicit !== undefined && explicit !== '' ? resolve(explicit) : join(serviceDir, 'factory.config.yml');
}

/** osls calls this with `{ options, resolveVariable, resolveConfigurationProperty }`. */
async function schedules(_variables, serviceDir = join(__dirname, '..')) {
  const path = configPath(serviceDir);
  let text;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`Cannot read the factory config ${path}: ${e.message}`, { cause: e });
  }
  return scheduleResources(parse(text));
}

module.exports = schedules;
module.exports.scheduleResources = scheduleResources;
module.exports.scheduleTargetInput = scheduleTargetInput;
module.exports.logicalId = logicalId;
