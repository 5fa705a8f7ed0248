import type { Context } from 'aws-lambda';
import { BuildRequestSchema, type BuildRequest, type BuildRequestInput } from '../functions/lib/build-request.js';

/** Shared test fixtures: typed inputs, ids and a fake Lambda context. */
export const ACCOUNT = '111122223333';
export const INSTANCE_ID = 'i-0123456789abcdef0';
export const IMAGE_ID = 'ami-0123456789abcdef0';
export const BUILD_ID = '3f2a1b2c-0000-4000-8000-000000000001';

/** A valid BuildRequest (defaults filled by the schema, as a trigger would). */
export function buildRequest(overrides: Partial<BuildRequestInput> = {}): BuildRequest {
  return BuildRequestSchema.parse({
    buildId: BUILD_ID,
    family: 'web',
    requestedAt: '2026-11-23T07:42:10.000Z',
    region: 'us-east-1',
    source: { type: 'instance', tags: { Role: 'web', Golden: 'true' }, noReboot: false },
    trigger: { type: 'test' },
    ...overrides,
  });
}

export const lambdaContext: Context = {
  callbackWaitsForEmptyEventLoop: false,
  functionName: 'test',
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:test`,
  memoryLimitInMB: '256',
  awsRequestId: 'req-1',
  logGroupName: '/aws/lambda/test',
  logStreamName: 'test',
  getRemainingTimeInMillis: () => 60_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
};

/** An AWS SDK-style error: `name` is the AWS error code. */
export function awsError(code: string, message = code): Error {
  const e = new Error(message);
  e.name = code;
  return e;
}

/** The error name and HTTP status of a call that must fail (an SDK error); throws if it succeeds. */
export async function failure(p: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; $metadata?: { httpStatusCode?: number } };
    return { name: err.name, status: err.$metadata?.httpStatusCode };
  }
  throw new Error('expected the call to fail');
}
