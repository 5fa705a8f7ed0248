import type { Readable } from 'node:stream';
import type { LocalRequest } from '../http.js';
import { AccessDeniedError, actionSpec, authorizeCall, type ActionTable, type Authorize } from './access.js';
import { parseXmlDocument, xmlDocument, type ParsedXml, type XmlElement } from './xml.js';

/**
 * The REST-XML protocol as S3 speaks it: the operation is the method, the path (bucket, key)
 * and the subresource query parameters; inputs and outputs travel in headers and XML bodies.
 *
 * - Bodies: `<Root xmlns="http://s3.amazonaws.com/doc/2006-03-01/">…</Root>`, lists flattened
 *   (a repeated element: an array in the builder's tree) or wrapped (`<Buckets><Bucket>…`), as
 *   the API model says. Text is escaped as S3 escapes it: the five markup characters as
 *   entities, and control characters (which XML 1.0 cannot hold literally, and which a parser
 *   would rewrite: `\r` becomes `\n`) as character references (`&#xD;`), so object keys holding
 *   them survive a listing.
 * - Errors: `<Error><Code/><Message/>…<RequestId/></Error>` (no namespace), with the error's extra
 *   elements (`Key`, `BucketName`…); a HEAD answer has no body. A refusal of the authorization
 *   seam is `AccessDenied`, HTTP 403.
 * - Continuation tokens: opaque, naming the last key or name returned.
 */
export const S3_XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** A REST-XML error: `code` becomes `<Code>`, `status` the HTTP status, `fields` extra elements of `<Error>`. */
export class RestXmlError extends Error {
  override name = 'RestXmlError';
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly fields: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** A response with its body in memory, or a stream (object data read from disk). */
export interface RestXmlResponse {
  status: number;
  headers: Record<string, string>;
  body?: string | Buffer;
  stream?: Readable;
}

// eslint-disable-next-line no-control-regex -- matching the control characters is the point
const CONTROL = /[\x00-\x08\x0b-\x1f]/g;

/** A document: `root` holding `body` (xmlns S3's unless `xmlns` is false). */
export function restXmlDocument(root: string, body: XmlElement | string, xmlns = true): string {
  const content: XmlElement = typeof body === 'string' ? { '#text': body } : body;
  // The builder escapes the markup characters; control characters only occur in text (the
  // element names are ours), so they are replaced in the document as written.
  const tree: XmlElement = { [root]: xmlns ? { '@_xmlns': S3_XMLNS, ...content } : content };
  return xmlDocument(tree).replace(CONTROL, (c) => `&#x${c.charCodeAt(0).toString(16).toUpperCase()};`);
}

export function xmlResponse(root: string, body: XmlElement | string, headers: Record<string, string> = {}, status = 200): RestXmlResponse {
  return { status, headers: { 'content-type': 'application/xml', ...headers }, body: restXmlDocument(root, body) };
}

/** An error's answer (no body for HEAD). */
export function restXmlErrorResponse(e: RestXmlError, req: Pick<LocalRequest, 'method'>, requestId: string): RestXmlResponse {
  if (req.method.toUpperCase() === 'HEAD') return { status: e.status, headers: {} };
  const body: XmlElement = { Code: e.code, Message: e.message };
  for (const [k, v] of Object.entries(e.fields)) body[k] = v;
  body.RequestId = requestId;
  return { status: e.status, headers: { 'content-type': 'application/xml' }, body: restXmlDocument('Error', body, false) };
}

/** S3's answer to a refusal: AccessDenied 403, with IAM's sentence (S3 quotes the resource ARN). */
export function accessDeniedError(e: AccessDeniedError): RestXmlError {
  const d = e.denial;
  if (d === undefined) return new RestXmlError('AccessDenied', 403, e.message === '' ? 'Access Denied' : e.message);
  const why = d.explicit
    ? 'with an explicit deny in an identity-based policy'
    : `because no identity-based policy allows the ${d.request.action} action`;
  return new RestXmlError(
    'AccessDenied',
    403,
    `User: ${d.principal} is not authorized to perform: ${d.request.action} on resource: "${d.request.resource}" ${why}`,
  );
}

/** A request body as XML; `malformed` is the API's error when it is not well-formed. */
export function parseXmlBody(body: Buffer, arrays: readonly string[], malformed: () => Error): ParsedXml {
  const doc = parseXmlDocument(body.toString('utf8'), arrays);
  if (doc === undefined) throw malformed();
  return doc;
}

// ---- continuation tokens ------------------------------------------------------------------------

const TOKEN_PREFIX = 'ami-factory-local-s3:';

/** An opaque continuation token naming `after` (the last key or name returned). */
export function continuationToken(after: string): string {
  return Buffer.from(TOKEN_PREFIX + after, 'utf8').toString('base64');
}

/** What a continuation token names, or undefined when this endpoint did not issue it. */
export function continuationAfter(token: string): string | undefined {
  const decoded = Buffer.from(token, 'base64').toString('utf8');
  return token !== '' && decoded.startsWith(TOKEN_PREFIX) ? decoded.slice(TOKEN_PREFIX.length) : undefined;
}

// ---- dispatch -----------------------------------------------------------------------------------

export interface RestXmlCall {
  req: LocalRequest;
  /** The operation the request is (`PutObject`, `ListObjectsV2`…). */
  operation: string;
  requestId: string;
}

export interface RestXmlService<C> {
  /** The IAM service prefix (`s3`). */
  iamPrefix: string;
  actions: ActionTable<C, RestXmlResponse>;
  authorize?: Authorize | undefined;
  /** The operation a request is; throws a RestXmlError for requests the endpoint does not serve. */
  route(req: LocalRequest): string;
  context(call: RestXmlCall): C;
  /** The answer to an error that is not a RestXmlError (S3: InternalError, 500). */
  internalError(e: unknown): RestXmlError;
}

/** Routes, authorizes and runs one request; errors answered as REST-XML errors. */
export async function handleRestXml<C>(req: LocalRequest, service: RestXmlService<C>, requestId: string): Promise<RestXmlResponse> {
  try {
    const operation = service.route(req);
    const spec = actionSpec(service.actions, operation);
    if (spec === undefined)
      throw new RestXmlError('NotImplemented', 501, 'A header you provided implies functionality that is not implemented');
    const ctx = service.context({ req, operation, requestId });
    await authorizeCall({ authorize: service.authorize, iamPrefix: service.iamPrefix, req, action: operation, spec, ctx });
    return await spec.handler(ctx);
  } catch (e) {
    const err = e instanceof RestXmlError ? e : e instanceof AccessDeniedError ? accessDeniedError(e) : service.internalError(e);
    return restXmlErrorResponse(err, req, requestId);
  }
}
