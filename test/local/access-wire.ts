import type { HttpRequest } from '@smithy/types';
import { parseQueryParams as parseQueryBody, type Params } from '../../local/protocols/query.js';

/**
 * The requests the AWS SDK v3 sends, captured before they reach the network: the access tests
 * feed descriptors exactly what a service would receive (Query forms, REST paths and headers,
 * JSON bodies), built by the real SDK serializers rather than by hand.
 */
class Captured extends Error {
  override name = 'CapturedRequestError';
  constructor(readonly request: HttpRequest) {
    super('request captured');
  }
}

/** A request handler that never sends: it throws the request back at the caller. */
export const capturingHandler = {
  handle: (request: HttpRequest): Promise<never> => Promise.reject(new Captured(request)),
  updateHttpClientConfig: (): void => undefined,
  httpHandlerConfigs: (): Record<string, never> => ({}),
};

export const TEST_CREDENTIALS = { accessKeyId: 'AKIDACCESSTEST', secretAccessKey: 'access-test-secret' };

interface Sender {
  send(command: never): Promise<unknown>;
}

/** The HTTP request the client would send for `command`. */
export async function capture(client: Sender, command: unknown): Promise<HttpRequest> {
  try {
    await client.send(command as never);
  } catch (e) {
    if (e instanceof Captured) return e.request;
    throw e;
  }
  throw new Error('the client sent nothing');
}

async function bodyText(body: unknown): Promise<string> {
  if (body === undefined || body === null) return '';
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return new TextDecoder().decode(body);
  if (typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
    const chunks: Buffer[] = [];
    for await (const c of body as AsyncIterable<Uint8Array | string>) chunks.push(typeof c === 'string' ? Buffer.from(c) : Buffer.from(c));
    return Buffer.concat(chunks).toString('utf8');
  }
  return String(body);
}

/** The Query parameters of an EC2 (or Auto Scaling) request, parsed as the local endpoint parses them. */
export async function queryParams(client: Sender, command: unknown): Promise<Params> {
  const req = await capture(client, command);
  return parseQueryBody(await bodyText(req.body));
}

/** The JSON body of a JSON-protocol request (Step Functions, EventBridge, SSM). */
export async function jsonBody(client: Sender, command: unknown): Promise<Record<string, unknown>> {
  const req = await capture(client, command);
  const text = await bodyText(req.body);
  return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
}

export interface RestRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: string;
}

/** A REST request (S3): method, decoded-as-sent path, query, lower-case headers and body. */
export async function restRequest(client: Sender, command: unknown): Promise<RestRequest> {
  const req = await capture(client, command);
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(req.query ?? {})) {
    if (Array.isArray(v)) for (const x of v) query.append(k, x);
    else query.append(k, v ?? '');
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = v;
  return { method: req.method, path: req.path, query, headers, body: await bodyText(req.body) };
}
