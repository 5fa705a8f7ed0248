import middy from '@middy/core';
import type { MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import type * as z from 'zod';
import { parseInput } from './build-request.js';
import { env } from './env.js';
import { Logger } from './logger.js';

/**
 * Middleware: puts the build id and image id of the event on every log line, logs the
 * outcome, and lets errors propagate unchanged (Step Functions Retry/Catch match `name`).
 * It never logs the whole event.
 */
export function logContext(logger: Logger): MiddlewareObj<unknown, unknown> {
  return {
    name: 'logContext',
    before: (request) => {
      logger.resetKeys();
      logger.appendKeys({ ...correlationKeys(request.event), requestId: request.context.awsRequestId });
    },
    after: () => {
      logger.info('task succeeded');
    },
    onError: (request) => {
      const e = request.error;
      logger.error('task failed', { errorName: e?.name, errorMessage: e?.message });
    },
  };
}

function correlationKeys(event: unknown): Record<string, unknown> {
  if (typeof event !== 'object' || event === null) return {};
  const e = event as Record<string, unknown>;
  const request = (typeof e.request === 'object' && e.request !== null ? e.request : e) as Record<string, unknown>;
  return { buildId: request.buildId ?? request.runId, family: request.family, imageId: e.imageId, region: e.region ?? request.region };
}

export type TaskHandler<R> = middy.MiddyfiedHandler<unknown, R, Error, Context>;

/**
 * A Step Functions task handler: middy with the log middleware, the input validated
 * against `schema` (a bad input is a ValidationError, which the state machine does not
 * retry), then the business function from `functions/lib`. The environment is checked when
 * the handler is made (env.ts): a misconfigured function fails at cold start.
 */
export function taskHandler<S extends z.ZodType, R>(
  name: string,
  schema: S,
  fn: (input: z.infer<S>, logger: Logger, context: Context) => Promise<R>,
): TaskHandler<R> {
  env();
  const logger = new Logger(name);
  return middy<unknown, R, Error, Context>()
    .use(logContext(logger) as MiddlewareObj<unknown, R, Error, Context>)
    .handler(async (event: unknown, context: Context) => fn(parseInput(schema, event, `${name} input`), logger, context));
}
