import type { AwsErrorCode } from './error-codes.js';

/**
 * The factory's named errors. Step Functions `Retry`/`Catch` match on `name`, so every
 * class sets a stable `name` ending in `Error`, and `cause` is kept through ErrorOptions.
 * The name is a string field of each class, never read from the class itself: the bundles
 * are minified without esbuild's `keepNames` (its `__name` call on every function of the SDK
 * and zod slowed each cold start by about a third), so class names do not survive. A
 * subclass without its own `name` would report its parent's (test/unit/error-names.test.ts).
 */
export class FactoryError extends Error {
  override name = 'FactoryError';
}

/** Bad input (event, config, request): not retried, changes nothing. */
export class ValidationError extends FactoryError {
  override name = 'ValidationError';
  constructor(
    message: string,
    readonly issues: string[] = [],
    options?: ErrorOptions,
  ) {
    super(issues.length > 0 ? `${message}: ${issues.join('; ')}` : message, options);
  }
}

/** A required environment variable is missing or malformed (cold-start failure). */
export class ConfigurationError extends FactoryError {
  override name = 'ConfigurationError';
}

/** No instance matches the build's source selector. */
export class SourceNotFoundError extends FactoryError {
  override name = 'SourceNotFoundError';
}

/** More than one instance matches a tag selector that must select exactly one. */
export class AmbiguousSourceError extends FactoryError {
  override name = 'AmbiguousSourceError';
}

/** The source instance is in a state EC2 cannot image (terminated, shutting-down). */
export class SourceNotImageableError extends FactoryError {
  override name = 'SourceNotImageableError';
}

/** EC2 reported the image as failed (or otherwise unusable); the message carries EC2's reason. */
export class ImageFailedError extends FactoryError {
  override name = 'ImageFailedError';
}

/** The image is still pending after the wait budget of the build. */
export class ImageWaitTimeoutError extends FactoryError {
  override name = 'ImageWaitTimeoutError';
}

/** A fresh build's builder reported failure (the build-status tag) or stopped in a state that is not done. */
export class BuilderFailedError extends FactoryError {
  override name = 'BuilderFailedError';
}

/** A fresh build's builder was not done by the deadline of its wait. */
export class BuildTimeoutError extends FactoryError {
  override name = 'BuildTimeoutError';
}

/** An image test's instance reported failure (its test-status tag), or is gone before it reported. */
export class ImageTestFailedError extends FactoryError {
  override name = 'ImageTestFailedError';
}

/** An image test's instance did not report by the deadline of its wait (the test's timeout). */
export class ImageTestTimeoutError extends FactoryError {
  override name = 'ImageTestTimeoutError';
}

/**
 * EC2 said the name exists but the image is not visible yet (eventual consistency).
 * Retryable: the next attempt finds it.
 */
export class ImageNotVisibleYetError extends FactoryError {
  override name = 'ImageNotVisibleYetError';
}

/**
 * A channel's SSM parameter does not hold the image yet right after PutParameter (Parameter
 * Store validates an aws:ec2:image value asynchronously). Retryable: the next attempt reads it again.
 */
export class ChannelUpdatePendingError extends FactoryError {
  override name = 'ChannelUpdatePendingError';
}

/** An AWS API answered with something the factory cannot use (missing ids, unknown states). */
export class UnexpectedResponseError extends FactoryError {
  override name = 'UnexpectedResponseError';
}

/**
 * The `name` an error class gives its errors, for a result that names an error without throwing
 * it (a failed wait's outcome). Never the class's own `.name`: minified, that is a short
 * identifier such as `Ns`.
 */
export function errorNameOf(errorClass: new (message: string) => Error): string {
  return new errorClass('').name;
}

export function isError(value: unknown): value is Error {
  return value instanceof Error || (typeof value === 'object' && value !== null && 'name' in value && 'message' in value);
}

/** Narrows an unknown catch value; rethrows anything that is not an Error-like value. */
export function assertIsError(value: unknown): asserts value is Error {
  if (!isError(value)) {
    throw new TypeError(`Expected an Error, got ${typeof value}: ${String(value)}`, { cause: value });
  }
}

/**
 * True when `e` is an AWS error with one of the given codes (the SDK sets `name` to the
 * service's code; the codes are in error-codes.ts). The factory's own errors: `instanceof`.
 */
export function hasErrorName(e: unknown, ...codes: AwsErrorCode[]): boolean {
  return isError(e) && (codes as string[]).includes(e.name);
}

/** The message of an error-like value, or its string form. */
export function errorMessage(e: unknown): string {
  return isError(e) ? e.message : String(e);
}

/**
 * The message inside a Step Functions failure cause: a Lambda error's cause is the JSON
 * `{"errorType","errorMessage",...}`; any other cause is returned as it is.
 */
export function failureCauseMessage(cause: string): string {
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // not JSON: the cause is the message
  }
  return cause;
}
