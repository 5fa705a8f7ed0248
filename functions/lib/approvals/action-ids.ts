/**
 * The identifiers of the approval request's interactive elements, shared by the message that
 * draws them (message.ts) and the parser of the clicks they send (interactivity.ts). Kept apart
 * from the parser so that the functions that only post or update a request (requestApproval,
 * sweepWaits, notifySlack) do not build its payload schemas at cold start.
 */
export const APPROVE_ACTION_ID = 'ami-factory.approval.approve';
export const REJECT_ACTION_ID = 'ami-factory.approval.reject';
/**
 * The request message's optional comment field (a plain_text_input in an input block): Slack
 * sends what was typed in it with the click, in the payload's `state.values`.
 */
export const COMMENT_ACTION_ID = 'ami-factory.approval.comment';
export const COMMENT_BLOCK_ID = 'approval-comment';
/** The most of a comment that is kept (Slack's plain_text_input allows 3000 characters). */
export const MAX_COMMENT_LENGTH = 3000;
