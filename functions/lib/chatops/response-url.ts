import { ValidationError } from '../errors.js';

/**
 * Where the factory may post a Slack command's results: Slack's own host only. The
 * response_url comes from the request body; a URL anywhere else would make the notifier POST
 * build results (image ids, accounts, regions) to a server of the requester's choosing, from
 * inside the factory's network. Slack documents response URLs as `https://hooks.slack.com/…`.
 *
 * The URL is parsed (WHATWG URL, as fetch parses it) and its parts compared exactly: scheme
 * https, host `hooks.slack.com` (so neither `hooks.slack.com.evil.example`, `evilhooks.slack.com`,
 * `hooks.slack.com.` nor `evil.example/?hooks.slack.com` pass), the default port, no user info.
 *
 * The local cloud plays Slack with a receiver on the loopback interface: when its functions run
 * with `allowLoopback` (AMI_FACTORY_SLACK_LOOPBACK_RESPONSE_URLS=true, set by the local cloud,
 * never by serverless.yml) `http://127.0.0.1:<port>/…` is accepted as well.
 */
export const SLACK_RESPONSE_URL_HOST = 'hooks.slack.com';

/** A response_url that is not on Slack's host: nothing is recorded, nothing is posted. */
export class ResponseUrlNotAllowedError extends ValidationError {
  override name = 'ResponseUrlNotAllowedError';
}

export interface ResponseUrlPolicy {
  /** Also accept `http://127.0.0.1:<port>/…` (the local cloud's Slack stand-in). */
  allowLoopback?: boolean;
}

/** The parsed response_url, or a ResponseUrlNotAllowedError saying which URLs are accepted. */
export function checkResponseUrl(url: string, policy: ResponseUrlPolicy = {}): URL {
  let u: URL | undefined;
  try {
    u = new URL(url);
  } catch {
    u = undefined;
  }
  const noUserInfo = u !== undefined && u.username === '' && u.password === '';
  const slack = u !== undefined && noUserInfo && u.protocol === 'https:' && u.hostname === SLACK_RESPONSE_URL_HOST && u.port === '';
  const loopback = u !== undefined && noUserInfo && policy.allowLoopback === true && u.protocol === 'http:' && u.hostname === '127.0.0.1';
  if (u === undefined || !(slack || loopback)) {
    throw new ResponseUrlNotAllowedError(
      `The response_url is not on Slack's host: only https://${SLACK_RESPONSE_URL_HOST}/… is accepted${policy.allowLoopback === true ? ' (and http://127.0.0.1 locally)' : ''}`,
    );
  }
  return u;
}
