import { jsonResult, type FunctionUrlEvent, type FunctionUrlResult } from '../chatops/http.js';
import { checkResponseUrl } from '../chatops/response-url.js';
import { admitSlackRequest, type AdmissionDeps } from '../chatops/service.js';
import { applyApprovalClick, type ApplyDeps, type ApplyResult, type ResponseMessage } from './apply.js';
import { SlackInteractionError, parseApprovalClick, type ApprovalClick } from './interactivity.js';

/**
 * Slack interactivity (button clicks on approval requests) on the Slack function's URL, at the
 * path `/interactivity`: the Slack app's "Interactivity & Shortcuts → Request URL" is the
 * function URL followed by `interactivity` (`https://<url-id>.lambda-url.<region>.on.aws/interactivity`);
 * every other path is the slash command. The path, not the body, decides: a slash command whose
 * text happened to start with `payload=` is still a slash command.
 *
 * A click is admitted exactly as a slash command is (admitSlackRequest: signature, timestamp
 * window, Slack's retries acknowledged without acting, a replayed request refused), then applied
 * (apply.ts). Slack wants the HTTP 200 within 3 s and shows nothing of its body for a
 * block_actions click, so the answer is an empty 200 and what the clicker is told (refused,
 * already decided, waiting for more) goes to the click's response_url as an ephemeral message.
 */
export const INTERACTIVITY_PATH = '/interactivity';

/**
 * The Web API budget of a click (SlackWebApiOptions): up to three calls (user groups, chat.update)
 * must fit Slack's 3 s with the AWS calls, so each gets 1 s and a 429 is waited for once, at most
 * 1 s. Past Slack's 3 s the click is still applied (Slack's retry is acknowledged without a second
 * application); the clicker only sees Slack's timeout notice.
 */
export const CLICK_WEB_API_BUDGET = { timeoutMs: 1000, maxRetries: 1, maxRetryAfterSeconds: 1 } as const;

export interface InteractionDeps extends Omit<AdmissionDeps, 'store'>, Omit<ApplyDeps, 'respond' | 'logger' | 'now'> {
  /** Where accepted requests are claimed once (ChatOpsStore.claimRequest, shared with the slash command). */
  replay: AdmissionDeps['store'];
  /** Accept loopback response URLs (the local cloud's Slack stand-in; chatops/response-url.ts). */
  allowLoopbackResponseUrls?: boolean;
  /** Posts JSON to a response_url (default fetch, 1.5 s). */
  post?: (url: string, body: string) => Promise<{ status: number }>;
}

export function isInteractivityRequest(event: FunctionUrlEvent): boolean {
  const path = event.rawPath ?? event.requestContext?.http?.path ?? '/';
  return path.replace(/\/+$/, '') === INTERACTIVITY_PATH;
}

async function defaultPost(url: string, body: string): Promise<{ status: number }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(1500) });
  return { status: r.status };
}

export async function handleSlackInteraction(deps: InteractionDeps, event: FunctionUrlEvent): Promise<FunctionUrlResult> {
  const admission = await admitSlackRequest({ ...deps, store: deps.replay }, event);
  if (!admission.admitted) return admission.result;
  let click: ApprovalClick;
  try {
    click = parseApprovalClick(admission.rawBody);
  } catch (e) {
    if (!(e instanceof SlackInteractionError)) throw e;
    deps.logger.warn('interaction refused', { errorMessage: e.message });
    return jsonResult(400, { error: 'unsupported_interaction' });
  }
  if (click.responseUrl !== undefined) {
    try {
      checkResponseUrl(click.responseUrl, { allowLoopback: deps.allowLoopbackResponseUrls === true });
    } catch {
      // Nothing is posted off Slack's host; the click itself still counts.
      deps.logger.warn('response_url off Slack’s host ignored', { approvalId: click.approvalId });
      delete click.responseUrl;
    }
  }
  deps.logger.appendKeys({ slackUser: click.userId, approvalId: click.approvalId });
  const post = deps.post ?? defaultPost;
  const respond = async (url: string, message: ResponseMessage): Promise<void> => {
    const r = await post(url, JSON.stringify(message));
    if (r.status >= 300) deps.logger.warn('response_url refused the answer', { status: r.status });
  };
  const result: ApplyResult = await applyApprovalClick({ ...deps, respond }, click);
  if (result.answer !== undefined && click.responseUrl !== undefined) {
    try {
      await respond(click.responseUrl, { response_type: 'ephemeral', replace_original: false, text: result.answer });
    } catch (e) {
      deps.logger.warn('click answer not posted', { errorName: e instanceof Error ? e.name : typeof e });
    }
  }
  return { statusCode: 200, headers: {}, body: '' };
}
