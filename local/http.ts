import type { IncomingHttpHeaders } from 'node:http';

/** A request as the local cloud's services see it: body read, region and service decoded from SigV4. */
export interface LocalRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Region from the SigV4 credential scope (`Credential=AKID/date/<region>/<service>/aws4_request`), default us-east-1. */
  region: string;
  /** Service from the SigV4 credential scope (`ec2`, `states`, `events`, `s3`), if signed. */
  service: string | undefined;
  /** Access key id of the SigV4 credential (`Credential=<AKID>/…`), if signed: who is calling (IAM). */
  accessKeyId: string | undefined;
}

export interface LocalResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

/** One AWS API served by the local cloud. */
export interface LocalService {
  readonly name: string;
  /** True when this service should answer the request. */
  matches(req: LocalRequest): boolean;
  handle(req: LocalRequest): Promise<LocalResponse>;
  /** The API operations it serves (its action table's names). */
  actionNames?(): string[];
  close?(): Promise<void> | void;
}

/** The parts of a SigV4 credential scope: `<access key id>/<yyyymmdd>/<region>/<service>/aws4_request`. */
export interface SigV4Scope {
  accessKeyId?: string;
  region?: string;
  service?: string;
}

const SCOPE = /Credential=([^/,\s]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/;
const PRESIGNED_SCOPE = /^([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request$/;

/** Access key id, region and service of an `Authorization: AWS4-HMAC-SHA256 Credential=…` header. */
export function parseSigV4Scope(authorization: string | undefined): SigV4Scope {
  if (authorization === undefined) return {};
  const m = SCOPE.exec(authorization);
  if (m === null) return {};
  return { accessKeyId: m[1], region: m[2], service: m[3] };
}

/**
 * The SigV4 scope of a request: from its Authorization header, else from a presigned URL's
 * `X-Amz-Credential` query parameter (S3 presigned GETs), else empty (unsigned).
 */
export function requestScope(authorization: string | undefined, query: URLSearchParams): SigV4Scope {
  const header = parseSigV4Scope(authorization);
  if (header.accessKeyId !== undefined) return header;
  const m = PRESIGNED_SCOPE.exec(query.get('X-Amz-Credential') ?? '');
  return m === null ? {} : { accessKeyId: m[1], region: m[2], service: m[3] };
}

export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * An error a local service answers with: the AWS error `code` (the SDK raises an error of that
 * name) and the HTTP `status`. Each service has its own subclass, rendered in its protocol.
 */
export class LocalApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = code;
  }
}
