/**
 * The polling baseline of bench/workflow-cost.bench.ts, made from the packaged template (the
 * local cloud's `editTemplate`): every image wait of image-factory (`.waitForTaskToken` with
 * `kind: image`) becomes the common loop
 *
 *   <Wait> (Wait 30 s) → <Wait>Poll (Task: pollImage, DescribeImages once) → <Wait>Check (Choice)
 *     available → the wait's Next; pending / not yet visible → <Wait>; otherwise → the wait's Catch
 *
 * and the function `benchPollImage` (bench/baseline/poll-image.ts) is added with a role of its
 * own granting what it calls (ec2:DescribeImages), as the product's functions have; the state
 * machine's role may invoke it. Everything else is the product's, untouched.
 */
import type { CfnResource, CfnTemplate } from '../../local/template/cfn.js';
import type { JsonObject, JsonValue } from '../../local/json.js';

export const POLL_INTERVAL_SECONDS = 30;
const FUNCTION_ID = 'BenchPollImageLambdaFunction';
const ROLE_ID = 'BenchPollImageRole';
const LOG_GROUP_ID = 'BenchPollImageLogGroup';
const SUB_VAR = 'benchPollImageArn';

/** The packaged template is not shaped as the baseline expects (the product changed under it). */
export class PollingTemplateError extends Error {
  override name = 'PollingTemplateError';
}

type State = Record<string, JsonValue>;

function isImageWait(s: State): boolean {
  const params = s.Parameters as JsonObject | undefined;
  const payload = params?.Payload as JsonObject | undefined;
  return typeof s.Resource === 'string' && s.Resource.endsWith(':lambda:invoke.waitForTaskToken') && payload?.kind === 'image';
}

/** Replaces the image waits of one States map (and of every Map's ItemProcessor in it); returns how many. */
function rewriteStates(states: Record<string, State>): number {
  let n = 0;
  for (const [name, s] of Object.entries(states)) {
    const processor = (s.ItemProcessor ?? s.Iterator) as { States?: Record<string, State> } | undefined;
    if (processor?.States !== undefined) n += rewriteStates(processor.States);
    if (!isImageWait(s)) continue;
    const payload = (s.Parameters as JsonObject).Payload as JsonObject;
    const next = s.Next;
    const catches = (s.Catch ?? []) as JsonObject[];
    const onError = catches[0]?.Next;
    if (typeof next !== 'string' || typeof onError !== 'string')
      throw new PollingTemplateError(`${name}: a wait without Next or Catch cannot become a polling loop`);
    const retry = ((s.Retry ?? []) as JsonObject[]).filter((r) => !(r.ErrorEquals as string[]).includes('States.HeartbeatTimeout'));
    const resource = String(s.Resource).replace(/\.waitForTaskToken$/, '');
    const queryLanguage: State = s.QueryLanguage !== undefined ? { QueryLanguage: s.QueryLanguage } : {};
    states[name] = {
      Type: 'Wait',
      Comment: `Polling baseline: ${POLL_INTERVAL_SECONDS} s between checks`,
      Seconds: POLL_INTERVAL_SECONDS,
      Next: `${name}Poll`,
      ...queryLanguage,
    };
    states[`${name}Poll`] = {
      Type: 'Task',
      Resource: resource,
      Parameters: {
        FunctionName: `\${${SUB_VAR}}`,
        Payload: { 'region.$': payload['region.$'] ?? null, 'imageId.$': payload['resourceId.$'] ?? null },
      },
      ResultSelector: { 'state.$': '$.Payload.state', 'reason.$': '$.Payload.reason' },
      ResultPath: '$.poll',
      Retry: retry,
      Catch: catches,
      Next: `${name}Check`,
      ...queryLanguage,
    };
    states[`${name}Check`] = {
      Type: 'Choice',
      Choices: [
        { Variable: '$.poll.state', StringEquals: 'available', Next: next },
        {
          Or: [
            { Variable: '$.poll.state', StringEquals: 'pending' },
            { Variable: '$.poll.state', StringEquals: 'missing' },
          ],
          Next: name,
        },
      ],
      Default: `${name}Failed`,
      ...queryLanguage,
    };
    states[`${name}Failed`] = {
      Type: 'Pass',
      Parameters: { Error: 'ImageFailed', 'Cause.$': '$.poll.reason' },
      ResultPath: catches[0]?.ResultPath ?? '$.error',
      Next: onError,
      ...queryLanguage,
    };
    n++;
  }
  return n;
}

export function pollingTemplate(template: CfnTemplate): CfnTemplate {
  const r = template.Resources;
  const machine = r.ImageFactoryStateMachine;
  const sub = (machine?.Properties?.DefinitionString as { 'Fn::Sub'?: [string, JsonObject] } | undefined)?.['Fn::Sub'];
  const waitFn = r.RegisterWaitLambdaFunction;
  const waitRole = r.RegisterWaitRole;
  const smRole = r.ImageFactoryStateMachineRole;
  if (machine === undefined || sub === undefined || waitFn?.Properties === undefined || waitRole === undefined || smRole === undefined)
    throw new PollingTemplateError(
      'the packaged template has no image-factory machine (Fn::Sub definition), registerWait function or their roles',
    );

  const definition = JSON.parse(sub[0]) as { States: Record<string, State> };
  const replaced = rewriteStates(definition.States);
  if (replaced === 0) throw new PollingTemplateError('image-factory has no image wait to replace');
  (machine.Properties as JsonObject).DefinitionString = {
    'Fn::Sub': [JSON.stringify(definition, null, 2), { ...sub[1], [SUB_VAR]: { 'Fn::GetAtt': [FUNCTION_ID, 'Arn'] } }],
  };

  const fnProps = structuredClone(waitFn.Properties);
  const stack = String(fnProps.FunctionName).replace(/-registerWait$/, '');
  fnProps.FunctionName = `${stack}-benchPollImage`;
  fnProps.Handler = 'bench/baseline/poll-image.handler';
  fnProps.Description = 'Polling baseline (bench only): DescribeImages once, returns the state.';
  fnProps.Environment = { Variables: { AMI_FACTORY_LOG_LEVEL: 'warn' } };
  fnProps.Role = { 'Fn::GetAtt': [ROLE_ID, 'Arn'] };
  const code = fnProps.Code as JsonObject;
  code.S3Key = String(code.S3Key).replace(/registerWait\.zip$/, 'benchPollImage.zip');
  r[LOG_GROUP_ID] = {
    Type: 'AWS::Logs::LogGroup',
    Properties: { LogGroupName: `/aws/lambda/${stack}-benchPollImage`, RetentionInDays: 1 },
  };
  r[FUNCTION_ID] = { Type: 'AWS::Lambda::Function', Properties: fnProps, DependsOn: [LOG_GROUP_ID] } as CfnResource;

  // The role pattern of the product's functions: its log group, and what it calls (DescribeImages) in the regions registerWait may read.
  const waitStatements = (((waitRole.Properties?.Policies as JsonObject[])[0]?.PolicyDocument as JsonObject).Statement ??
    []) as JsonObject[];
  const describe = waitStatements.find((st) => JSON.stringify(st.Action).includes('ec2:DescribeImages'));
  if (describe === undefined)
    throw new PollingTemplateError('registerWait has no ec2:DescribeImages grant to scope the poll function like it');
  r[ROLE_ID] = {
    Type: 'AWS::IAM::Role',
    Properties: {
      AssumeRolePolicyDocument: structuredClone(waitRole.Properties?.AssumeRolePolicyDocument ?? null),
      Policies: [
        {
          PolicyName: 'bench-poll-image',
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: { 'Fn::GetAtt': [LOG_GROUP_ID, 'Arn'] } },
              { ...structuredClone(describe), Action: ['ec2:DescribeImages'] },
            ],
          },
        },
      ],
    },
  };

  const invoke = (((smRole.Properties?.Policies as JsonObject[])[0]?.PolicyDocument as JsonObject).Statement as JsonObject[]).find((st) =>
    JSON.stringify(st.Action).includes('lambda:InvokeFunction'),
  );
  if (invoke === undefined || !Array.isArray(invoke.Resource))
    throw new PollingTemplateError('the state machine role has no lambda:InvokeFunction list');
  invoke.Resource.push({ 'Fn::GetAtt': [FUNCTION_ID, 'Arn'] });
  return template;
}

/** How many image waits the baseline replaced (for the report). */
export function imageWaitCount(template: CfnTemplate): number {
  const sub = (
    template.Resources.ImageFactoryStateMachine?.Properties?.DefinitionString as { 'Fn::Sub'?: [string, JsonObject] } | undefined
  )?.['Fn::Sub'];
  if (sub === undefined) return 0;
  return rewriteStates((JSON.parse(sub[0]) as { States: Record<string, State> }).States);
}
