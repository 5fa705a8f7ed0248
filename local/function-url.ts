import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { LocalRequest, LocalResponse, LocalService } from './http.js';
import type { LambdaInvoker } from './lambda.js';
import type { JsonObject, JsonValue } from './json.js';

/**
 * Lambda function URLs on the local cloud's port: an HTTP request on one of `routes` becomes
 * the function-URL event (payload 2.0: `{version, rawPath, headers, body, isBase64Encoded,
 * requestContext}`) for the real handler, and its result becomes the HTTP response, as AWS
 * does. Only unsigned requests match (SDK calls carry SigV4), so the AWS APIs are unaffected.
 */
export interface FunctionUrlServiceOptions {
  lambda: LambdaInvoker;
  /** Path → function name in serverless.yml, e.g. `{ '/slack/commands': 'slackCommand' }`. */
  routes: Record<string, string>;
  accountId?: string;
  region?: string;
}

/** The signing secret the local Slack endpoint verifies with (`ami-factory chat` signs with it). */
export const LOCAL_SLACK_SIGNING_SECRET = 'local-signing-secret';

/** Default routes of the local cloud. */
export const LOCAL_FUNCTION_URL_ROUTES: Readonly<Record<string, string>> = { '/slack/commands': 'slackCommand' };

function headersOf(req: LocalRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  }
  return out;
}

/** Function URLs hand text bodies over as they are and everything else base64-encoded. */
function isText(contentType: string | undefined): boolean {
  return contentType !== undefined && /^(text\/|application\/(json|xml|javascript))/i.test(contentType);
}

export function functionUrlEvent(req: LocalRequest, accountId: string): JsonObject {
  const headers = headersOf(req);
  const text = isText(headers['content-type']);
  const now = Date.now();
  const query = req.query.toString();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: req.path,
    rawQueryString: query,
    headers,
    ...(query !== '' ? { queryStringParameters: Object.fromEntries(req.query) } : {}),
    requestContext: {
      accountId,
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: {
        method: req.method,
        path: req.path,
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    body: text ? req.body.toString('utf8') : req.body.toString('base64'),
    isBase64Encoded: !text,
  };
}

/** A function URL result: `{statusCode, headers, body, isBase64Encoded}`, or any other value as a JSON 200. */
export function functionUrlResponse(result: JsonValue): LocalResponse {
  if (typeof result === 'object' && result !== null && !Array.isArray(result) && typeof result.statusCode === 'number') {
    const headers: Record<string, string> = {};
    if (typeof result.headers === 'object' && result.headers !== null && !Array.isArray(result.headers)) {
      for (const [k, v] of Object.entries(result.headers)) if (v !== null) headers[k] = String(v);
    }
    const body = typeof result.body === 'string' ? result.body : '';
    return {
      status: result.statusCode,
      headers,
      body: result.isBase64Encoded === true ? Buffer.from(body, 'base64') : body,
    };
  }
  return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(result) };
}

export interface FunctionUrlService extends LocalService {
  readonly routes: Readonly<Record<string, string>>;
}

export function createFunctionUrlService(opts: FunctionUrlServiceOptions): FunctionUrlService {
  const accountId = opts.accountId ?? '111122223333';
  return {
    name: 'function-url',
    routes: opts.routes,
    matches: (req) => req.service === undefined && Object.hasOwn(opts.routes, req.path),
    handle: async (req) => {
      const fn = opts.routes[req.path] as string;
      if (!opts.lambda.has(fn)) {
        return { status: 404, headers: { 'content-type': 'text/plain' }, body: `function ${fn} is not declared in serverless.yml` };
      }
      try {
        return functionUrlResponse(await opts.lambda.invoke(fn, functionUrlEvent(req, accountId)));
      } catch {
        // As AWS: an unhandled error is a 502 with no details for the caller.
        return { status: 502, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'Internal Server Error' }) };
      }
    },
  };
}

/**
 * A Lambda invoker that also runs handlers serverless.yml does not declare (yet), straight
 * from their modules: `{ slackCommand: 'functions/slack-command' }`. For tests and the CLI.
 */
export function withHandlers(lambda: LambdaInvoker, projectRoot: string, modules: Record<string, string>): LambdaInvoker {
  const context = (name: string): Record<string, unknown> => ({
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:111122223333:function:${name}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => 60_000,
  });
  return {
    has: (name) => lambda.has(name) || Object.hasOwn(modules, name),
    invoke: async (name, payload) => {
      if (lambda.has(name)) return lambda.invoke(name, payload);
      const module = modules[name];
      if (module === undefined) throw new Error(`Function not found: ${name}`);
      const mod = (await import(pathToFileURL(join(projectRoot, `${module}.ts`)).href)) as {
        handler: (event: unknown, ctx: unknown) => Promise<unknown>;
      };
      const result = await mod.handler(JSON.parse(JSON.stringify(payload)) as unknown, context(name));
      return (result === undefined ? null : JSON.parse(JSON.stringify(result))) as JsonValue;
    },
  };
}
