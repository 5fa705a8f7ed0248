import { callerContext, type AccessContext, type AccessRequest, type AccessTable } from '../iam/access-request.js';

/**
 * What Step Functions authorizes for each action the local endpoint serves (service.ts's
 * dispatch), after the Service Authorization Reference for AWS Step Functions:
 *
 * - StartExecution, DescribeStateMachine and ListExecutions act on the state machine ARN the
 *   request names (`arn:aws:states:<region>:<account>:stateMachine:<name>`). A version or alias
 *   ARN (`…:<name>:<qualifier>`) is authorized on the state machine's own ARN, with the qualifier
 *   as `states:StateMachineQualifier` (developer guide, "Authorization for versions and aliases").
 *   ListExecutions of a Map Run acts on its `mapRun` ARN.
 * - DescribeExecution, StopExecution and GetExecutionHistory act on the execution ARN
 *   (`arn:aws:states:<region>:<account>:execution:<machine-name>:<execution-name>`).
 * - SendTaskSuccess/Failure/Heartbeat take a task token, ListStateMachines nothing: `*`.
 */

/** The parsed JSON body and where the request went. */
export interface SfnAccessInput {
  body: Readonly<Record<string, unknown>>;
  region: string;
  account: string;
}

const str = (body: Readonly<Record<string, unknown>>, key: string): string | undefined => {
  const v = body[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
};

const QUALIFIED = /^(arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[^:]+):([^:]+)$/;

function sfnRequest(input: SfnAccessInput, action: string, resource: string, extra: AccessContext = {}): AccessRequest {
  return { action: `states:${action}`, resource, context: { ...callerContext(input.region), ...extra } };
}

const onStateMachine =
  (action: string) =>
  (input: SfnAccessInput): AccessRequest[] => {
    const arn = str(input.body, 'stateMachineArn') ?? '*';
    const qualified = QUALIFIED.exec(arn);
    if (qualified === null) return [sfnRequest(input, action, arn)];
    return [sfnRequest(input, action, qualified[1] as string, { 'states:StateMachineQualifier': [qualified[2] as string] })];
  };

const onExecution =
  (action: string) =>
  (input: SfnAccessInput): AccessRequest[] => [sfnRequest(input, action, str(input.body, 'executionArn') ?? '*')];

const wildcard =
  (action: string) =>
  (input: SfnAccessInput): AccessRequest[] => [sfnRequest(input, action, '*')];

/** Every action of local/sfn/service.ts → what Step Functions authorizes for it. */
export const SFN_ACCESS: AccessTable<SfnAccessInput> = {
  StartExecution: onStateMachine('StartExecution'),
  DescribeStateMachine: onStateMachine('DescribeStateMachine'),
  ListExecutions: (input) => {
    const mapRun = str(input.body, 'mapRunArn');
    return mapRun !== undefined ? [sfnRequest(input, 'ListExecutions', mapRun)] : onStateMachine('ListExecutions')(input);
  },
  DescribeExecution: onExecution('DescribeExecution'),
  StopExecution: onExecution('StopExecution'),
  GetExecutionHistory: onExecution('GetExecutionHistory'),
  SendTaskSuccess: wildcard('SendTaskSuccess'),
  SendTaskFailure: wildcard('SendTaskFailure'),
  SendTaskHeartbeat: wildcard('SendTaskHeartbeat'),
  ListStateMachines: wildcard('ListStateMachines'),
};
