import { callerContext, type AccessContext, type AccessRequest } from './iam/access-request.js';

/**
 * What Lambda authorizes when the local cloud invokes a function (Step Functions tasks,
 * EventBridge targets, the function URL), after the Service Authorization Reference for AWS
 * Lambda and the Lambda developer guide ("Control access to Lambda function URLs"):
 *
 * - lambda:InvokeFunction on `arn:aws:lambda:<region>:<account>:function:<name>`; a version or
 *   alias invocation on the qualified ARN `…:function:<name>:<qualifier>`, which a grant on the
 *   unqualified ARN does not cover.
 * - A service invoking on its own behalf (EventBridge for a rule's target) is authorized by the
 *   function's resource-based policy, with `aws:SourceArn` (the rule) and `aws:SourceAccount`.
 * - A function URL call needs lambda:InvokeFunctionUrl with `lambda:FunctionUrlAuthType` and,
 *   since October 2025, lambda:InvokeFunction with `lambda:InvokedViaFunctionUrl=true` as well.
 *   With AuthType NONE the caller is anonymous: only the resource-based policy can allow it.
 */

export interface FunctionRef {
  /** A function name, a partial ARN (`<account>:function:<name>`) or a full ARN (a qualifier may follow either). */
  function: string;
  region: string;
  account: string;
  /** A version or alias (`Qualifier`), when not part of `function`. */
  qualifier?: string;
}

export interface InvokingService {
  /** The ARN of what makes the call (an EventBridge rule). */
  sourceArn: string;
  sourceAccount: string;
}

const FULL = /^arn:(aws[a-z-]*):lambda:([a-z0-9-]+):(\d{12}):function:([A-Za-z0-9_-]+)(?::([A-Za-z0-9$_-]+))?$/;
const PARTIAL = /^(\d{12}):function:([A-Za-z0-9_-]+)(?::([A-Za-z0-9$_-]+))?$/;
const NAME = /^([A-Za-z0-9_-]+)(?::([A-Za-z0-9$_-]+))?$/;

/** The function ARN an invocation acts on (qualified when a version or alias is invoked). */
export function functionArn(ref: FunctionRef): string {
  let region = ref.region;
  let account = ref.account;
  let name = ref.function;
  let qualifier = ref.qualifier;
  const full = FULL.exec(ref.function);
  const partial = PARTIAL.exec(ref.function);
  const plain = NAME.exec(ref.function);
  if (full !== null) {
    region = full[2] as string;
    account = full[3] as string;
    name = full[4] as string;
    qualifier = full[5] ?? qualifier;
  } else if (partial !== null) {
    account = partial[1] as string;
    name = partial[2] as string;
    qualifier = partial[3] ?? qualifier;
  } else if (plain !== null) {
    name = plain[1] as string;
    qualifier = plain[2] ?? qualifier;
  }
  const base = `arn:aws:lambda:${region}:${account}:function:${name}`;
  return qualifier === undefined || qualifier === '$LATEST' ? base : `${base}:${qualifier}`;
}

function sourceContext(via: InvokingService | undefined): AccessContext {
  return via === undefined ? {} : { 'aws:SourceArn': via.sourceArn, 'aws:SourceAccount': via.sourceAccount };
}

/** lambda:InvokeFunction, by a caller (a state machine's role) or by a service (`via`). */
export function invokeFunctionAccess(ref: FunctionRef, via?: InvokingService): AccessRequest {
  return { action: 'lambda:InvokeFunction', resource: functionArn(ref), context: { ...callerContext(ref.region), ...sourceContext(via) } };
}

/** A function URL request: lambda:InvokeFunctionUrl and lambda:InvokeFunction, both on the function. */
export function invokeFunctionUrlAccess(ref: FunctionRef, authType: 'NONE' | 'AWS_IAM'): AccessRequest[] {
  const resource = functionArn(ref);
  const base = callerContext(ref.region);
  return [
    {
      action: 'lambda:InvokeFunctionUrl',
      resource,
      context: { ...base, 'lambda:FunctionUrlAuthType': authType, 'lambda:FunctionArn': resource },
    },
    { action: 'lambda:InvokeFunction', resource, context: { ...base, 'lambda:InvokedViaFunctionUrl': true } },
  ];
}
