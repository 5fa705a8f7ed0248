import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import * as z from 'zod';
import { BuildRequestSchema, type BuildRequest } from './build-request.js';
import { failureCauseMessage } from './errors.js';
import { publishEvents } from './events/publish.js';
import { BuildRegionResultSchema, TestResultSchema, type BuildOutcome, type EventDetail, type GateOutcome } from './events/schemas.js';

/**
 * The end of every build: the per-region result and the outcome (succeeded, partially
 * succeeded, failed), published as BuildSucceeded / BuildPartiallySucceeded / BuildFailed.
 */
export const ReportBuildInputSchema = z.lazy(() =>
  z
    .object({
      request: BuildRequestSchema,
      /** The build region's image (CreateImage / RegisterImage), or null when the build failed before. */
      home: z.object({ imageId: z.string(), imageName: z.string() }).passthrough().nullable(),
      /** The build region's image test verdict (null: no tests, or the build failed before its test). */
      homeTest: TestResultSchema.nullable().default(null),
      /**
       * One result per copy region (the Distribute map), each succeeded or failed on its own;
       * `created` (CopySucceeded: CopyImage made the copy) and `untouched` (CopyUntouched) give its `action`.
       */
      copies: z
        .array(BuildRegionResultSchema.unwrap().extend({ created: z.boolean().optional(), untouched: z.boolean().optional() }))
        .default([]),
      /** The build region's failure (a Catch's `{Error, Cause}`), or null. */
      error: z.object({ Error: z.string(), Cause: z.string().optional() }).passthrough().nullable().default(null),
      /** The build region's publication (PublishHome; HomeUntouched says `untouched`), or null. */
      homePublished: z
        .object({ channel: z.string(), parameter: z.string(), untouched: z.boolean().optional() })
        .passthrough()
        .nullable()
        .default(null),
      /** PublishHome's failure: the image is kept, the build partially succeeded. */
      homePublishError: z.object({ Error: z.string(), Cause: z.string().optional() }).passthrough().nullable().default(null),
      /** The approvals of the gates that held the share (AskShareApprovals' outputs), or null. */
      approvals: z
        .array(z.object({ approvalId: z.string(), status: z.literal('approved'), approvers: z.array(z.string()), decidedAt: z.string() }))
        .nullable()
        .default(null),
      /** Why the share was not approved (ApprovalRejected, ApprovalExpired, or the request's failure): nothing was shared. */
      approvalError: z.object({ Error: z.string(), Cause: z.string().optional() }).passthrough().nullable().default(null),
    })
    .strict(),
);
export type ReportBuildInput = z.infer<typeof ReportBuildInputSchema>;
/** What buildReport reads: the test and publication fields may be left out (a build that never reached them). */
export type BuildReportInput = Omit<ReportBuildInput, 'homeTest' | 'homePublished' | 'homePublishError' | 'approvals' | 'approvalError'> &
  Partial<Pick<ReportBuildInput, 'homeTest' | 'homePublished' | 'homePublishError' | 'approvals' | 'approvalError'>>;

/** The gates' outcomes for the report: each approval, or the one rejection (expiry, failure) that withheld the share. */
export function gateOutcomes(
  approvals: ReportBuildInput['approvals'] | undefined,
  approvalError: ReportBuildInput['approvalError'] | undefined,
): GateOutcome[] | undefined {
  if (approvalError !== null && approvalError !== undefined) {
    const status =
      approvalError.Error === 'ApprovalRejected' ? 'rejected' : approvalError.Error === 'ApprovalExpired' ? 'expired' : 'failed';
    const cause = causeText(approvalError.Cause);
    return [{ status, reason: status === 'failed' ? `${approvalError.Error}${cause !== '' ? `: ${cause}` : ''}` : cause }];
  }
  if (approvals === null || approvals === undefined || approvals.length === 0) return undefined;
  return approvals.map((a) => ({ status: 'approved', approvalId: a.approvalId, approvers: a.approvers, decidedAt: a.decidedAt }));
}

export type BuildReportDetail = EventDetail<BuildOutcome>;

/** The message of a failure's cause ('' when there is none). */
function causeText(cause: string | undefined): string {
  return cause === undefined ? '' : failureCauseMessage(cause);
}

/** The outcome and the per-region results: the build region first, then each copy region. */
export function buildReport(input: BuildReportInput): { outcome: BuildOutcome; detail: BuildReportDetail } {
  const { request, home, homeTest = null, copies, error, homePublished = null, homePublishError = null } = input;
  const test = homeTest !== null ? { test: homeTest } : {};
  const homeAction = homeActionOf(home, homePublished);
  const regions: BuildReportDetail['regions'] = [
    home !== null && error === null
      ? { ...homeSucceeded(request.region, home.imageId, homePublished, homePublishError), ...test, ...homeAction }
      : {
          region: request.region,
          status: 'failed',
          imageId: home?.imageId ?? null,
          error: error?.Error ?? 'Unknown',
          cause: causeText(error?.Cause),
          ...test,
        },
    ...copies.map(({ created, untouched, ...c }) => ({ ...c, cause: causeText(c.cause), ...copyAction(c.status, created, untouched) })),
  ];
  // A build-region image that was not published (its publication failed) is a partial success.
  const failed = regions.filter((r) => r.status === 'failed' || r.error !== undefined).length;
  // A share the gates did not approve was withheld: the images are good, the build did not do all it was asked.
  const approvals = gateOutcomes(input.approvals, input.approvalError);
  const withheld = approvals?.some((a) => a.status !== 'approved') === true;
  const outcome: BuildOutcome =
    regions[0]?.status === 'failed' ? 'BuildFailed' : failed > 0 || withheld ? 'BuildPartiallySucceeded' : 'BuildSucceeded';
  const detail = detailOf(request, home?.imageName ?? null, regions);
  if (approvals !== undefined) detail.approvals = approvals;
  return { outcome, detail };
}

/** The build region's `action`: untouched (a distribution found it published), created or adopted (`home.created`). */
function homeActionOf(
  home: BuildReportInput['home'],
  published: ReportBuildInput['homePublished'],
): Pick<BuildReportDetail['regions'][number], 'action'> {
  if (home === null) return {};
  if (published?.untouched === true) return { action: 'untouched' };
  const created = (home as { created?: unknown }).created;
  return typeof created === 'boolean' ? { action: created ? 'created' : 'adopted' } : {};
}

/** A copy region's `action`, from the Distribute map's CopySucceeded / CopyUntouched. */
function copyAction(status: string, created?: boolean, untouched?: boolean): Pick<BuildReportDetail['regions'][number], 'action'> {
  if (untouched === true) return { action: 'untouched' };
  if (status !== 'succeeded' || created === undefined) return {};
  return { action: created ? 'created' : 'adopted' };
}

/** The build region's result: its image, and the channel it was published to (or why it was not). */
function homeSucceeded(
  region: string,
  imageId: string,
  published: ReportBuildInput['homePublished'],
  publishError: ReportBuildInput['homePublishError'],
): BuildReportDetail['regions'][number] {
  const out: BuildReportDetail['regions'][number] = {
    region,
    status: 'succeeded',
    imageId,
    published: published === null ? null : { channel: published.channel, parameter: published.parameter },
  };
  if (publishError !== null) {
    out.error = publishError.Error;
    out.cause = causeText(publishError.Cause);
  }
  return out;
}

function detailOf(request: BuildRequest, imageName: string | null, regions: BuildReportDetail['regions']): BuildReportDetail {
  return {
    buildId: request.buildId,
    family: request.family,
    region: request.region,
    imageName,
    trigger: request.trigger,
    regions,
    ...(request.distribute !== undefined ? { distribution: request.distribute } : {}),
  };
}

/** Reports the build: its outcome event on the factory bus, and the report the execution ends with. */
export async function reportBuild(
  deps: { events: EventBridgeClient; bus: string },
  input: ReportBuildInput,
): Promise<{
  outcome: BuildOutcome;
  buildId: string;
  family: string;
  imageName: string | null;
  regions: BuildReportDetail['regions'];
  /** The distribution run (null: a build). */
  distribution: NonNullable<BuildReportDetail['distribution']> | null;
  approvals?: GateOutcome[];
}> {
  const { outcome, detail } = buildReport(input);
  await publishEvents(deps.events, deps.bus, [{ type: outcome, detail }]);
  const out = {
    outcome,
    buildId: detail.buildId,
    family: detail.family,
    imageName: detail.imageName,
    regions: detail.regions,
    distribution: detail.distribution ?? null,
  };
  return detail.approvals !== undefined ? { ...out, approvals: detail.approvals } : out;
}
