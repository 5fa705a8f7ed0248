import { randomUUID } from 'node:crypto';
import type { LocalRequest, LocalResponse, LocalService } from './http.js';
import { LambdaServiceError, type LambdaInvoker } from './lambda/runtime.js';
import type { JsonObject, JsonValue } from './json.js';

/**
 * Lambda function URLs on the local cloud's port. AWS serves a function URL at
 * `https://<url-id>.lambda-url.<region>.on.aws/<path>`; locally the same URL is
 * `<endpoint>/lambda-url/<url-id>/<path>`. A request becomes the function-URL event (payload
 * 2.0: `{version, rawPath, headers, body, isBase64Encoded, requestContext}`), invoked as a
 * public caller (`lambda:InvokeFunctionUrl` must be granted by the function's resource policy
 * for AuthType NONE, else 403 as AWS answers), and its result becomes the HTTP response.
 * Only unsigned requests match (SDK calls carry SigV4), so the AWS APIs are unaffected.
 */
export interface FunctionUrlServiceOptions {
  lambda: LambdaInvoker;
  accountId: string;
  region: string;
  /** The account's clock (epoch ms): the event's request time. */
  now: () => number;
}

/** The signing secret the demo's Slack app uses (the local cloud seeds it; `ami-factory chat` signs with it). */
export const LOCAL_SLACK_SIGNING_SECRET = 'local-signing-secret';

/** The path prefix of function URLs on the local cloud's port. */
export const FUNCTION_URL_PREFIX = '/lambda-url/';

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

export function functionUrlEvent(req: LocalRequest, accountId: string, rawPath: string, urlId: string, now: number): JsonObject {
  const headers = headersOf(req);
  const text = isText(headers['content-type']);
  const query = req.query.toString();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString: query,
    headers,
    ...(query !== '' ? { queryStringParameters: Object.fromEntries(req.query) } : {}),
    requestContext: {
      accountId,
      apiId: urlId,
      domainName: `${urlId}.lambda-url.local`,
      domainPrefix: urlId,
      http: {
        method: req.method,
        path: rawPath,
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

export interface FunctionUrl {
  urlId: string;
  functionArn: string;
  authType: string;
}

export interface FunctionUrlService extends LocalService {
  register(url: FunctionUrl): void;
  /** The local URL of a function URL id (`<endpoint>/lambda-url/<id>/`). */
  urlOf(urlId: string, endpoint: string): string;
  urls(): FunctionUrl[];
}

export function createFunctionUrlService(opts: FunctionUrlServiceOptions): FunctionUrlService {
  const urls = new Map<string, FunctionUrl>();
  const split = (path: string): { urlId: string; rawPath: string } | undefined => {
    if (!path.startsWith(FUNCTION_URL_PREFIX)) return undefined;
    const rest = path.slice(FUNCTION_URL_PREFIX.length);
    const slash = rest.indexOf('/');
    return slash < 0 ? { urlId: rest, rawPath: '/' } : { urlId: rest.slice(0, slash), rawPath: rest.slice(slash) };
  };
  return {
    name: 'function-url',
    register: (u) => void urls.set(u.urlId, u),
    urlOf: (urlId, endpoint) => `${endpoint}${FUNCTION_URL_PREFIX}${urlId}/`,
    urls: () => [...urls.values()],
    matches: (req) => req.service === undefined && split(req.path) !== undefined,
    handle: async (req) => {
      const where = split(req.path);
      const url = where === undefined ? undefined : urls.get(where.urlId);
      if (where === undefined || url === undefined) {
        return { status: 404, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Message: null }) };
      }
      try {
        const event = functionUrlEvent(req, opts.accountId, where.rawPath, where.urlId, opts.now());
        return functionUrlResponse(
          await opts.lambda.invoke(url.functionArn, event, { caller: { kind: 'function-url', authType: url.authType } }),
        );
      } catch (e) {
        if (e instanceof LambdaServiceError && e.code === 'AccessDeniedException') {
          return { status: 403, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Message: 'Forbidden' }) };
        }
        // As AWS: an unhandled error is a 502 with no details for the caller.
        return { status: 502, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Message: 'Internal Server Error' }) };
      }
    },
  };
}
