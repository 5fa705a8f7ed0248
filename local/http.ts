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
  close?(): Promise<void> | void;
}

const SCOPE = /Credential=[^/]+\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/;

export function parseSigV4Scope(authorization: string | undefined): { region?: string; service?: string } {
  if (authorization === undefined) return {};
  const m = SCOPE.exec(authorization);
  if (m === null) return {};
  return { region: m[1], service: m[2] };
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
