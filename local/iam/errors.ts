/**
 * A policy element the evaluator does not understand: refused, never guessed. The message
 * names the policy and the JSON path of the element (`$.Statement[1].Condition.StringEquals`).
 */
export class PolicyNotUnderstoodError extends Error {
  override name = 'PolicyNotUnderstoodError';

  constructor(
    readonly policy: string,
    readonly path: string,
    readonly reason: string,
  ) {
    super(`Policy ${policy} is not understood at ${path}: ${reason}`);
  }
}

/** A request the evaluator cannot evaluate (malformed action, principal or context). */
export class RequestNotUnderstoodError extends Error {
  override name = 'RequestNotUnderstoodError';

  constructor(reason: string) {
    super(`The request is not understood: ${reason}`);
  }
}
