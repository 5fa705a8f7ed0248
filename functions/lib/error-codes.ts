/**
 * The AWS error codes the factory tells apart, in one place. The SDK raises an error whose
 * `name` is the service's code (shared/specs/aws-facts.md, "Errors"), so code compares
 * `name`s with these constants, never with a bare string; `hasErrorName` (errors.ts) only
 * accepts them. The factory's own errors are classes (errors.ts and beside the domain code):
 * compare those with `instanceof`, and name them with the class's `name`.
 *
 * The state machines' `Retry`/`Catch` lists name errors too; a test checks that each is one of
 * these, a Step Functions error (`States.*`, `Lambda.*`) or one of the factory's error classes.
 */

/** EC2 (Query protocol: `<Errors><Error><Code>`). */
export const EC2_ERROR = {
  /** A name already used by an image of the account in the region (CreateImage/RegisterImage/CopyImage). */
  imageNameDuplicate: 'InvalidAMIName.Duplicate',
  /** Unknown image id — also, for a short while, one EC2 just returned (eventual consistency). */
  imageNotFound: 'InvalidAMIID.NotFound',
  imageUnavailable: 'InvalidAMIID.Unavailable',
  imageIdMalformed: 'InvalidAMIID.Malformed',
  instanceNotFound: 'InvalidInstanceID.NotFound',
  instanceIdMalformed: 'InvalidInstanceID.Malformed',
  snapshotNotFound: 'InvalidSnapshot.NotFound',
  snapshotInUse: 'InvalidSnapshot.InUse',
  /** E.g. DeregisterImage of an image with deregistration protection. */
  operationNotPermitted: 'OperationNotPermitted',
  incorrectInstanceState: 'IncorrectInstanceState',
  /** Throttling (HTTP 503): the SDK retries it with backoff. */
  requestLimitExceeded: 'RequestLimitExceeded',
  unavailable: 'Unavailable',
  internalError: 'InternalError',
  unauthorizedOperation: 'UnauthorizedOperation',
} as const;

/** S3 (REST-XML). A HEAD has no body, so a missing key there is `NotFound`, not `NoSuchKey`. */
export const S3_ERROR = {
  noSuchKey: 'NoSuchKey',
  notFound: 'NotFound',
  preconditionFailed: 'PreconditionFailed',
  /** A conditional write raced another write of the same key (409). */
  conditionalRequestConflict: 'ConditionalRequestConflict',
  accessDenied: 'AccessDenied',
} as const;

/** SSM Parameter Store (JSON protocol). */
export const SSM_ERROR = {
  parameterNotFound: 'ParameterNotFound',
} as const;

/** Step Functions (JSON protocol). */
export const SFN_ERROR = {
  executionAlreadyExists: 'ExecutionAlreadyExists',
  executionDoesNotExist: 'ExecutionDoesNotExist',
  taskDoesNotExist: 'TaskDoesNotExist',
  taskTimedOut: 'TaskTimedOut',
  invalidToken: 'InvalidToken',
} as const;

/** Transient failures any service or the SDK's HTTP layer can raise; the state machines retry them. */
export const TRANSIENT_ERROR = {
  serviceUnavailable: 'ServiceUnavailable',
  internalFailure: 'InternalFailure',
  /** The SDK's request timeout (and AbortSignal.timeout). */
  timeout: 'TimeoutError',
} as const;

/** Errors Step Functions itself raises, and those of its Lambda integration (`arn:aws:states:::lambda:invoke`). */
export const STATES_ERROR = {
  all: 'States.ALL',
  timeout: 'States.Timeout',
  heartbeatTimeout: 'States.HeartbeatTimeout',
  taskFailed: 'States.TaskFailed',
  lambdaService: 'Lambda.ServiceException',
  lambdaAws: 'Lambda.AWSLambdaException',
  lambdaSdkClient: 'Lambda.SdkClientException',
  lambdaTooManyRequests: 'Lambda.TooManyRequestsException',
} as const;

type ValueOf<T> = T[keyof T];

/** A code an AWS service (or the SDK) puts in an error's `name`. */
export type AwsErrorCode =
  | ValueOf<typeof EC2_ERROR>
  | ValueOf<typeof S3_ERROR>
  | ValueOf<typeof SSM_ERROR>
  | ValueOf<typeof SFN_ERROR>
  | ValueOf<typeof TRANSIENT_ERROR>;

export type StatesErrorName = ValueOf<typeof STATES_ERROR>;

/** Every AWS and Step Functions error name above. */
export const KNOWN_AWS_ERROR_NAMES: ReadonlySet<string> = new Set<string>(
  [EC2_ERROR, S3_ERROR, SSM_ERROR, SFN_ERROR, TRANSIENT_ERROR, STATES_ERROR].flatMap((group) => Object.values(group)),
);
