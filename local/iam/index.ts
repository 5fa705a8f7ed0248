/** The local cloud's IAM policy evaluator: parse policies once, evaluate every request. */
export {
  IamCatalog,
  loadIamCatalog,
  type ActionInfo,
  type ActionResourceType,
  type ConditionKeyInfo,
  type ConditionKeyType,
} from './actions.js';
export {
  globalContext,
  type CallFacts,
  type ContextScalar,
  type ContextValue,
  type Principal,
  type PrincipalType,
  type RequestContext,
} from './context.js';
export { PolicyNotUnderstoodError, RequestNotUnderstoodError } from './errors.js';
export { evaluate, type Decision, type DecisionEffect, type DecisiveStatement, type PolicySet, type Request } from './evaluate.js';
export {
  parsePolicy,
  type Effect,
  type NamedPolicy,
  type PolicyKind,
  type PolicySource,
  type PolicyVersion,
  type Statement,
} from './policy.js';
