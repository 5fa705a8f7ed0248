import { randomUUID } from 'node:crypto';
import { headerValue, LocalApiError, type LocalRequest, type LocalResponse } from '../http.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../json.js';
import { AccessDeniedError, actionSpec, authorizeCall, type ActionTable, type Authorize } from './access.js';
import { keyedPage, type Page } from './paging.js';

/**
 * The AWS JSON protocols (awsJson1_0: Step Functions; awsJson1_1: EventBridge, SSM): a POST of
 * a JSON object to `/` with `X-Amz-Target: <TargetPrefix>.<Operation>` and `Content-Type:
 * application/x-amz-json-1.0` (or `-1.1`), as both the AWS CLI and the SDK send them; the answer
 * is a JSON object with the same content type. An error is HTTP 4xx/5xx with
 * `X-Amzn-ErrorType: <Code>` and `{"__type": "<Code>", "message": "…"}`: the SDK and the CLI
 * raise an error named by `__type`. A body that is not a JSON object is a
 * `SerializationException`, a target the service lacks `UnknownOperationException`, a refusal
 * of the authorization seam `AccessDeniedException` (400), anything unexpected
 * `InternalFailure` (500). A service is a table of actions plugged into handleJson.
 */
export interface JsonProtocol {
  /** `1.0` or `1.1`: the content type's version. */
  version: '1.0' | '1.1';
  /** What X-Amz-Target starts with: `AWSStepFunctions`, `AWSEvents`, `AmazonSSM`. */
  targetPrefix: string;
  /** The IAM service prefix: `states`, `events`, `ssm`. */
  iamPrefix: string;
}

export function jsonContentType(p: JsonProtocol): string {
  return `application/x-amz-json-${p.version}`;
}

/** The operation a request targets in this protocol, or undefined when its X-Amz-Target is another service's. */
export function jsonTarget(req: LocalRequest, p: JsonProtocol): string | undefined {
  const target = headerValue(req.headers, 'x-amz-target') ?? '';
  return target.startsWith(`${p.targetPrefix}.`) ? target.slice(p.targetPrefix.length + 1) : undefined;
}

/** One JSON call as its service sees it before the action runs. */
export interface JsonCall {
  req: LocalRequest;
  action: string;
  body: JsonObject;
  requestId: string;
}

export interface JsonService<C> {
  protocol: JsonProtocol;
  actions: ActionTable<C, JsonObject>;
  /** The authorization seam (default: allow). */
  authorize?: Authorize | undefined;
  /** Before the action is looked up (arming timers, region checks); throws an API error to refuse. */
  admit?(call: JsonCall): void;
  context(call: JsonCall): C | Promise<C>;
  /** Turns a service's own error classes into API errors (others than LocalApiError). */
  mapError?(e: unknown): LocalApiError | undefined;
}

export async function handleJson<C>(req: LocalRequest, service: JsonService<C>): Promise<LocalResponse> {
  const requestId = randomUUID();
  const { protocol } = service;
  try {
    let body: JsonValue;
    try {
      body = JSON.parse(req.body.length > 0 ? req.body.toString('utf8') : '{}') as JsonValue;
    } catch {
      body = null;
    }
    if (!isJsonObject(body)) throw new LocalApiError('SerializationException', 'Request body is not a JSON object');
    const call: JsonCall = { req, action: jsonTarget(req, protocol) ?? '', body, requestId };
    service.admit?.(call);
    const spec = actionSpec(service.actions, call.action);
    if (spec === undefined) throw new LocalApiError('UnknownOperationException', `Unknown operation ${call.action}`);
    const ctx = await service.context(call);
    await authorizeCall({ authorize: service.authorize, iamPrefix: protocol.iamPrefix, req, action: call.action, spec, ctx });
    const out = await spec.handler(ctx);
    return {
      status: 200,
      headers: { 'content-type': jsonContentType(protocol), 'x-amzn-requestid': requestId },
      body: JSON.stringify(out),
    };
  } catch (e) {
    return jsonErrorResponse(protocol, jsonError(service, e), requestId);
  }
}

function jsonError<C>(service: JsonService<C>, e: unknown): { code: string; message: string; status: number } {
  if (e instanceof AccessDeniedError) return { code: 'AccessDeniedException', message: e.message, status: 400 };
  const mapped = e instanceof LocalApiError ? e : service.mapError?.(e);
  if (mapped !== undefined) return { code: mapped.code, message: mapped.message, status: mapped.status };
  return { code: 'InternalFailure', message: `An internal error has occurred: ${e instanceof Error ? e.message : String(e)}`, status: 500 };
}

export function jsonErrorResponse(
  p: JsonProtocol,
  e: { code: string; message: string; status: number },
  requestId = randomUUID(),
): LocalResponse {
  return {
    status: e.status,
    headers: { 'content-type': jsonContentType(p), 'x-amzn-errortype': e.code, 'x-amzn-requestid': requestId },
    body: JSON.stringify({ __type: e.code, message: e.message }),
  };
}

// ---- paging -------------------------------------------------------------------------------------

/**
 * A page of `items` (ascending by `key`) after the token in the request member `tokenMember`
 * (`nextToken` in Step Functions, `NextToken` in EventBridge and SSM); the caller puts
 * `nextToken` in its answer under the same name.
 */
export function jsonPage<T>(
  body: JsonObject,
  items: readonly T[],
  key: (t: T) => string,
  opts: { tokenMember: string; max: number | undefined; invalid: (token: string) => Error; scope?: string },
): Page<T> {
  const token = body[opts.tokenMember];
  if (token !== undefined && token !== null && typeof token !== 'string') throw opts.invalid(String(token));
  const page: Parameters<typeof keyedPage>[2] = { token: token ?? undefined, max: opts.max, invalid: opts.invalid };
  if (opts.scope !== undefined) page.scope = opts.scope;
  return keyedPage(items, key, page);
}

/** A numeric request member within [min, max], or `dflt` when absent (0 counts as absent where `zeroIsDefault`). */
export function pageSize(
  body: JsonObject,
  member: string,
  bounds: { min: number; max: number; dflt: number; zeroIsDefault?: boolean },
  invalid: (message: string) => Error,
): number {
  const v = body[member];
  if (v === undefined || v === null || (bounds.zeroIsDefault === true && v === 0)) return bounds.dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < bounds.min || v > bounds.max) {
    throw invalid(
      `1 validation error detected: Value '${String(v)}' at '${member}' failed to satisfy constraint: Member must have value ${v !== null && typeof v === 'number' && v > bounds.max ? `less than or equal to ${bounds.max}` : `greater than or equal to ${bounds.min}`}`,
    );
  }
  return v;
}
