import { randomUUID } from 'node:crypto';
import { LocalApiError, type LocalRequest, type LocalResponse } from '../http.js';
import { AccessDeniedError, actionSpec, authorizeCall, encodeAuthorizationMessage, type ActionTable, type Authorize } from './access.js';
import { keyedPage, pageScope, type Page } from './paging.js';
import { XML_DECLARATION, xmlDocument } from './xml.js';

/**
 * The AWS Query protocol, in its two flavours (aws-facts.md):
 *
 * - `ec2`: `<OpResponse xmlns=…><requestId/>…</OpResponse>`, lowerCamel members, no Result
 *   wrapper, lists as a wrapper element of `<item>`s; errors
 *   `<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>`;
 *   every action takes `DryRun`.
 * - `awsquery` (Auto Scaling and the other Query APIs): `<OpResponse xmlns=…><OpResult>…</OpResult>
 *   <ResponseMetadata><RequestId/></ResponseMetadata></OpResponse>` (no Result element for an
 *   action without output), lists of `<member>`s; errors `<ErrorResponse xmlns=…><Error><Type>
 *   Sender|Receiver</Type><Code/><Message/></Error><RequestId/></ErrorResponse>`.
 *
 * Requests are form-urlencoded (body, or query string) with `Action=<Op>`; structures and lists
 * are flattened into dotted names numbered from 1 (`Filter.1.Value.2`, `Names.member.1`),
 * parsed into a Params tree. A service is a table of actions plugged into handleQuery.
 */

// ---- request parameters ---------------------------------------------------------------------

export type ParamNode = string | ParamTree;
export interface ParamTree {
  [key: string]: ParamNode;
}

/**
 * A parameter that is missing or malformed. EC2 answers these codes as they are; the
 * awsquery flavour answers `ValidationError` (Auto Scaling has no MissingParameter).
 */
export class QueryParameterError extends LocalApiError {}

export const missingParameter = (param: string): QueryParameterError =>
  new QueryParameterError('MissingParameter', `The request must contain the parameter ${param}`);

export const invalidParameterValue = (message: string): QueryParameterError => new QueryParameterError('InvalidParameterValue', message);

/** `Filter.1.Value.2=x` becomes `{ Filter: { '1': { Value: { '2': 'x' } } } }`. */
export function parseQueryParams(body: string): Params {
  // Trees without a prototype: a parameter named `__proto__` or `toString` is only a parameter
  // (on a plain object `__proto__.x=1` would write into Object.prototype).
  const tree = (): ParamTree => Object.create(null) as ParamTree;
  const root: ParamTree = tree();
  for (const [key, value] of new URLSearchParams(body)) {
    const parts = key.split('.');
    let node: ParamTree = root;
    for (let i = 0; i < parts.length - 1; i++) {
      const part = parts[i] as string;
      const next = node[part];
      if (typeof next === 'object') {
        node = next;
      } else {
        const created: ParamTree = tree();
        // A scalar and a structure under the same key: the structure wins (EC2 ignores the scalar).
        node[part] = created;
        node = created;
      }
    }
    const leaf = parts[parts.length - 1] as string;
    if (typeof node[leaf] !== 'object') node[leaf] = value;
  }
  return new Params(root, '');
}

/** The parameters of a Query request: the form body, and the query string for names the body lacks. */
export function queryRequestParams(req: LocalRequest): Params {
  const params = parseQueryParams(req.body.toString('utf8'));
  for (const [k, v] of req.query) if (params.tree[k] === undefined) params.tree[k] = v;
  return params;
}

const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** Typed access to a parameter tree; `path` names it in error messages. */
export class Params {
  constructor(
    readonly tree: ParamTree,
    readonly path: string,
  ) {}

  private name(key: string): string {
    return this.path === '' ? key : `${this.path}.${key}`;
  }

  has(key: string): boolean {
    return this.tree[key] !== undefined;
  }

  str(key: string): string | undefined {
    const v = this.tree[key];
    return typeof v === 'string' ? v : undefined;
  }

  required(key: string): string {
    const v = this.str(key);
    if (v === undefined || v === '') throw missingParameter(this.name(key));
    return v;
  }

  bool(key: string): boolean | undefined {
    const v = this.str(key);
    if (v === undefined) return undefined;
    const lower = v.toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
    throw invalidParameterValue(`Invalid value '${v}' for ${this.name(key)}; a boolean (true|false) is expected`);
  }

  int(key: string): number | undefined {
    const v = this.str(key);
    if (v === undefined) return undefined;
    if (!/^-?\d+$/.test(v)) throw invalidParameterValue(`Invalid value '${v}' for ${this.name(key)}; an integer is expected`);
    return Number(v);
  }

  /** An ISO-8601 timestamp, as epoch milliseconds. */
  time(key: string): number | undefined {
    const v = this.str(key);
    if (v === undefined) return undefined;
    const ms = Date.parse(v);
    if (!ISO.test(v) || Number.isNaN(ms))
      throw invalidParameterValue(`Invalid value '${v}' for ${this.name(key)}; an ISO-8601 timestamp is expected`);
    return ms;
  }

  child(key: string): Params | undefined {
    const v = this.tree[key];
    return typeof v === 'object' ? new Params(v, this.name(key)) : undefined;
  }

  /** `Key.1`, `Key.2`, ... as strings (in index order). */
  strings(key: string): string[] {
    return this.indexed(key).flatMap(([, v]) => (typeof v === 'string' ? [v] : []));
  }

  /** `Key.1.*`, `Key.2.*`, ... as structures (in index order). */
  list(key: string): Params[] {
    return this.indexed(key).flatMap(([i, v]) => (typeof v === 'object' ? [new Params(v, `${this.name(key)}.${i}`)] : []));
  }

  /** `Key.member.N` strings (awsquery lists). */
  members(key: string): string[] {
    return this.child(key)?.strings('member') ?? [];
  }

  /** `Key.member.N.*` structures (awsquery lists). */
  memberList(key: string): Params[] {
    return this.child(key)?.list('member') ?? [];
  }

  private indexed(key: string): [number, ParamNode][] {
    const v = this.tree[key];
    if (typeof v !== 'object') return [];
    return Object.entries(v)
      .filter(([k]) => /^\d+$/.test(k))
      .map(([k, n]): [number, ParamNode] => [Number(k), n])
      .sort((a, b) => a[0] - b[0]);
  }
}

// ---- response XML -----------------------------------------------------------------------------

/**
 * A Query response body: nested objects are elements, arrays are lists (a wrapper element of
 * `<item>`s or `<member>`s; an empty list is `<name/>`), undefined members are left out.
 */
export type XmlValue = string | number | boolean | undefined | XmlObject | XmlValue[];
export interface XmlObject {
  [key: string]: XmlValue;
}

export type QueryFlavour = { kind: 'ec2'; xmlns: string } | { kind: 'awsquery'; xmlns: string };

export const EC2_XMLNS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

/**
 * Query responses are written directly, not through the XML builder (protocols/xml.ts): a page
 * of 1,000 images through the builder's intermediate tree was most of the local cloud's CPU in
 * the retention benchmark's planning, and a Query body needs only elements, one xmlns
 * attribute, list wrappers and the five entities. test/local/protocols-query.test.ts checks the
 * output equals the builder's, byte for byte, on generated bodies.
 */
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
const escapeXml = (text: string): string => (/[&<>"']/.test(text) ? text.replace(/[&<>"']/g, (c) => ENTITIES[c] as string) : text);

function writeElement(name: string, value: XmlValue, listItem: 'item' | 'member', out: string[]): void {
  if (value === undefined) return;
  if (Array.isArray(value)) {
    if (value.length === 0) {
      out.push(`<${name}/>`);
      return;
    }
    out.push(`<${name}>`);
    for (const v of value) writeElement(listItem, v, listItem, out);
    out.push(`</${name}>`);
    return;
  }
  if (typeof value === 'object') {
    out.push(`<${name}>`);
    writeMembers(value, listItem, out);
    out.push(`</${name}>`);
    return;
  }
  out.push(`<${name}>${escapeXml(String(value))}</${name}>`);
}

function writeMembers(obj: XmlObject, listItem: 'item' | 'member', out: string[]): void {
  for (const k of Object.keys(obj)) writeElement(k, obj[k], listItem, out);
}

/** A successful answer's XML document. `body` undefined: an awsquery action without output (no Result element). */
export function queryResponseXml(flavour: QueryFlavour, action: string, requestId: string, body: XmlObject | undefined): string {
  const out: string[] = [XML_DECLARATION, `<${action}Response xmlns="${escapeXml(flavour.xmlns)}">`];
  if (flavour.kind === 'ec2') {
    writeElement('requestId', requestId, 'item', out);
    writeMembers(body ?? {}, 'item', out);
  } else {
    if (body !== undefined) writeElement(`${action}Result`, body, 'member', out);
    out.push(`<ResponseMetadata><RequestId>${escapeXml(requestId)}</RequestId></ResponseMetadata>`);
  }
  out.push(`</${action}Response>`);
  return out.join('');
}

/** An error's XML document. */
export function queryErrorXml(flavour: QueryFlavour, code: string, message: string, requestId: string, status: number): string {
  if (flavour.kind === 'ec2') {
    return xmlDocument({ Response: { Errors: { Error: { Code: code, Message: message } }, RequestID: requestId } });
  }
  return xmlDocument({
    ErrorResponse: {
      '@_xmlns': flavour.xmlns,
      Error: { Type: status >= 500 ? 'Receiver' : 'Sender', Code: code, Message: message },
      RequestId: requestId,
    },
  });
}

// ---- paging -------------------------------------------------------------------------------------

/**
 * A NextToken page of `items` (ascending by `key`) for a Query request: the token comes from
 * `NextToken`, and is bound to the action, region and the request's other parameters.
 */
export function queryPage<T>(
  p: Params,
  items: readonly T[],
  key: (t: T) => string,
  opts: { action: string; region: string; max: number | undefined; invalid: (token: string) => Error },
): Page<T> {
  const rest = Object.fromEntries(Object.entries(p.tree).filter(([k]) => k !== 'NextToken' && k !== 'MaxResults' && k !== 'MaxRecords'));
  return keyedPage(items, key, {
    token: p.str('NextToken'),
    max: opts.max,
    scope: pageScope(opts.action, opts.region, rest),
    invalid: opts.invalid,
  });
}

// ---- dispatch -------------------------------------------------------------------------------------

/** One Query call as its service sees it before the action runs. */
export interface QueryCall {
  req: LocalRequest;
  action: string;
  params: Params;
  requestId: string;
}

/** A Query service: its flavour, its table of actions, and the hooks around them. */
export interface QueryService<C> {
  flavour: QueryFlavour;
  /** The IAM service prefix (`ec2`, `autoscaling`). */
  iamPrefix: string;
  actions: ActionTable<C, XmlObject | undefined>;
  /** The authorization seam (default: allow). */
  authorize?: Authorize | undefined;
  /** Checks before the action is looked up (region served, faults); throws an API error to refuse. */
  admit?(call: QueryCall): void;
  /** The action's context; may throw an API error (throttling). */
  context(call: QueryCall): C | Promise<C>;
  /** After the handler answered (persisting what it changed). */
  completed?(call: QueryCall, ctx: C): void;
}

/** Serves one Query request: parses it, runs the action, renders the answer or the error as the flavour does. */
export async function handleQuery<C>(req: LocalRequest, service: QueryService<C>): Promise<LocalResponse> {
  const requestId = randomUUID();
  const { flavour } = service;
  const headers = { 'content-type': flavour.kind === 'ec2' ? 'text/xml;charset=UTF-8' : 'text/xml', 'x-amzn-requestid': requestId };
  try {
    const params = queryRequestParams(req);
    const call: QueryCall = { req, action: params.str('Action') ?? '', params, requestId };
    service.admit?.(call);
    const spec = actionSpec(service.actions, call.action);
    if (spec === undefined) {
      throw new LocalApiError(
        'InvalidAction',
        `The action ${call.action === '' ? '(none)' : call.action} is not valid for this web service.`,
      );
    }
    const ctx = await service.context(call);
    await authorizeCall({ authorize: service.authorize, iamPrefix: service.iamPrefix, req, action: call.action, spec, ctx });
    if (flavour.kind === 'ec2' && params.bool('DryRun') === true) {
      throw new LocalApiError('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412);
    }
    const body = await spec.handler(ctx);
    service.completed?.(call, ctx);
    return { status: 200, headers, body: queryResponseXml(flavour, call.action, requestId, body) };
  } catch (e) {
    const err = queryError(flavour, e);
    return { status: err.status, headers, body: queryErrorXml(flavour, err.code, err.message, requestId, err.status) };
  }
}

/** The code, message and status an error is answered with in the flavour. */
function queryError(flavour: QueryFlavour, e: unknown): { code: string; message: string; status: number } {
  if (e instanceof AccessDeniedError) {
    if (flavour.kind === 'ec2') {
      const who = e.message === '' ? '' : ` ${e.message.replace(/\.$/, '')}.`;
      return {
        code: 'UnauthorizedOperation',
        status: 403,
        message: `You are not authorized to perform this operation.${who} Encoded authorization failure message: ${encodeAuthorizationMessage(e)}`,
      };
    }
    return { code: 'AccessDenied', status: 403, message: e.message };
  }
  if (e instanceof QueryParameterError && flavour.kind === 'awsquery') return { code: 'ValidationError', status: 400, message: e.message };
  if (e instanceof LocalApiError) return { code: e.code, status: e.status, message: e.message };
  const message = e instanceof Error ? e.message : String(e);
  return {
    code: flavour.kind === 'ec2' ? 'InternalError' : 'InternalFailure',
    status: 500,
    message: `An internal error has occurred: ${message}`,
  };
}
