import middy from '@middy/core';
import type { MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import { env } from '../env.js';
import { Logger } from '../logger.js';
import type { SlackMessage } from './replies.js';

/**
 * The HTTP side of ChatOps: the event a Lambda function URL (or an HTTP API, payload 2.0)
 * hands the function, and the response it expects back.
 */
export interface FunctionUrlEvent {
  version?: string;
  rawPath?: string;
  rawQueryString?: string;
  headers?: Record<string, string | undefined>;
  body?: string;
  isBase64Encoded?: boolean;
  requestContext?: {
    requestId?: string;
    http?: { method?: string; path?: string; sourceIp?: string };
    [key: string]: unknown;
  };
}

export interface FunctionUrlResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/** The body exactly as the client sent it (function URLs base64-encode form posts). */
export function rawBodyOf(event: FunctionUrlEvent): string {
  const body = event.body ?? '';
  return event.isBase64Encoded === true ? Buffer.from(body, 'base64').toString('utf8') : body;
}

export function jsonResult(statusCode: number, value: unknown): FunctionUrlResult {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) };
}

/** A Slack reply as the immediate answer to the slash command (HTTP 200, JSON message). */
export function slackResult(message: SlackMessage): FunctionUrlResult {
  return jsonResult(200, message);
}

export type HttpHandler = middy.MiddyfiedHandler<FunctionUrlEvent, FunctionUrlResult, Error, Context>;

/**
 * A function-URL handler: middy with a log middleware that keys every line on the request
 * id (never the body or headers: they carry the signature and user data). The business
 * function answers every outcome it knows with a response; only bugs propagate.
 */
export function httpHandler(
  name: string,
  fn: (event: FunctionUrlEvent, context: Context, logger: Logger) => Promise<FunctionUrlResult>,
): HttpHandler {
  env(); // the whole environment is checked at cold start
  const logger = new Logger(name);
  const log: MiddlewareObj<FunctionUrlEvent, FunctionUrlResult, Error, Context> = {
    name: 'httpLogContext',
    before: (request) => {
      logger.resetKeys();
      logger.appendKeys({
        requestId: request.context.awsRequestId,
        path: request.event.rawPath ?? request.event.requestContext?.http?.path,
      });
    },
    after: (request) => {
      logger.info('request answered', { statusCode: request.response?.statusCode });
    },
    onError: (request) => {
      logger.error('request failed', { errorName: request.error?.name, errorMessage: request.error?.message });
    },
  };
  return middy<FunctionUrlEvent, FunctionUrlResult, Error, Context>()
    .use(log)
    .handler(async (event, context) => fn(event, context, logger));
}
