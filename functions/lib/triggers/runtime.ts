import { StartExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { FactoryConfig } from '../config.js';
import { ValidationError, hasErrorName } from '../errors.js';
import type { Logger } from '../logger.js';
import { buildFromBuildRequestedEvent, distributionFromEvent, type DescribeImage, type TriggeredBuild } from './build-requested.js';
import { buildsFromParameterChange } from './parameter-change.js';
import { buildFromSchedule, isScheduledRetention, retentionFromSchedule, type TriggeredRetention } from './schedule.js';
import { publishEvents } from '../events/publish.js';
import { EVENT_TYPES, assertEventSize, type EventDetail } from '../events/schemas.js';
import { SFN_ERROR } from '../error-codes.js';

/**
 * What the trigger handlers share at run time (the factory config bundled with the function is
 * read by factory-config.ts): StartExecution with the deterministic execution name (a duplicate delivery is a success,
 * not a second build), and the `BuildRequestRejected` event for refused requests.
 */

export interface StartedBuild {
  buildId: string;
  family: string;
  executionName: string;
  executionArn: string;
  /** true: an execution of that name existed already (a duplicate delivery); nothing new started. */
  duplicate: boolean;
}

/** `arn:…:stateMachine:<m>` + name → `arn:…:execution:<m>:<name>`. */
export function executionArnFor(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
}

/**
 * StartExecution under a deterministic name. Step Functions answers `ExecutionAlreadyExists`
 * when that name was used before: the same event delivered again, so the execution already
 * exists and this is a success (`duplicate: true`).
 */
export async function startNamedExecution(
  sfn: SFNClient,
  stateMachineArn: string,
  name: string,
  input: unknown,
): Promise<{ executionArn: string; duplicate: boolean }> {
  try {
    const r = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
    return { executionArn: r.executionArn ?? executionArnFor(stateMachineArn, name), duplicate: false };
  } catch (e) {
    if (!hasErrorName(e, SFN_ERROR.executionAlreadyExists)) throw e;
    return { executionArn: executionArnFor(stateMachineArn, name), duplicate: true };
  }
}

/** StartExecution of the build under its deterministic name (a duplicate delivery is a success). */
export async function startBuildExecution(sfn: SFNClient, stateMachineArn: string, build: TriggeredBuild): Promise<StartedBuild> {
  const started = await startNamedExecution(sfn, stateMachineArn, build.executionName, build.request);
  return { buildId: build.request.buildId, family: build.request.family, executionName: build.executionName, ...started };
}

export interface StartedRetention {
  runId: string;
  family: string;
  dryRun: boolean;
  executionName: string;
  executionArn: string;
  /** true: an execution of that name existed already (a duplicate delivery); nothing new started. */
  duplicate: boolean;
}

/** StartExecution of a retention run (image-retention state machine) under its deterministic name. */
export async function startRetentionExecution(sfn: SFNClient, stateMachineArn: string, run: TriggeredRetention): Promise<StartedRetention> {
  const started = await startNamedExecution(sfn, stateMachineArn, run.executionName, run.request);
  return { runId: run.request.runId, family: run.request.family, dryRun: run.request.dryRun, executionName: run.executionName, ...started };
}

export const BUILD_REQUEST_REJECTED = 'BuildRequestRejected';

/** The detail of `BuildRequestRejected` (events/schemas.ts). */
export type Rejection = EventDetail<'BuildRequestRejected'>;

/** Publishes `BuildRequestRejected` (source ami-factory) so whoever asked can see why nothing was built. */
export async function publishRejection(events: EventBridgeClient, bus: string, rejection: Rejection): Promise<void> {
  await publishEvents(events, bus, [{ type: BUILD_REQUEST_REJECTED, detail: rejection }]);
}

export type TriggerKindName = Rejection['trigger'];

/**
 * Which trigger a delivery is, from its envelope (EventBridge targets of trigger-build); its
 * detail is parsed later with the trigger's schema, so a bad one is rejected, not retried.
 */
export function triggerKindOf(event: unknown): TriggerKindName {
  assertEventSize(event);
  if (typeof event === 'object' && event !== null) {
    const e = event as Record<string, unknown>;
    for (const kind of ['Build Requested', 'Distribute Requested', 'Parameter Store Change'] as const) {
      if (e.source === EVENT_TYPES[kind].source && e['detail-type'] === kind) return kind;
    }
    if (e.source === undefined && typeof e.family === 'string') return 'Scheduled Event';
  }
  throw new ValidationError(
    'trigger-build accepts Build Requested and Distribute Requested events (source ami-factory), Parameter Store Change events (aws.ssm) and scheduled {family, kind?, id, time} inputs',
  );
}

export interface TriggerDeps {
  config: FactoryConfig;
  sfn: SFNClient;
  events: EventBridgeClient;
  stateMachineArn: string;
  /** The image-retention state machine (a family's `retention.schedule` starts it). */
  retentionStateMachineArn: string;
  bus: string;
  /** DescribeImages of one image in a region (a `Distribute Requested` event's image). */
  describeImage: DescribeImage;
  logger: Logger;
}

export interface TriggerResult {
  trigger: TriggerKindName;
  started: StartedBuild[];
  /** The retention run a family's `retention.schedule` started (scheduled retention inputs only). */
  retention?: StartedRetention;
  rejected: Rejection | null;
}

function eventFacts(event: unknown): { eventId?: string; family?: string } {
  if (typeof event !== 'object' || event === null) return {};
  const e = event as { id?: unknown; family?: unknown; detail?: { family?: unknown } };
  const out: { eventId?: string; family?: string } = {};
  if (typeof e.id === 'string') out.eventId = e.id;
  const family = typeof e.family === 'string' ? e.family : e.detail?.family;
  if (typeof family === 'string') out.family = family;
  return out;
}

/**
 * An EventBridge delivery → BuildRequest(s) → StartExecution each; a scheduled retention input
 * (`kind: "retention"`) → RetentionRequest → StartExecution of the image-retention machine. A
 * request the config refuses (unknown family, a region the family does not copy to, reboot on a
 * fresh build) starts nothing and is reported as `BuildRequestRejected`; the delivery itself
 * succeeds, since retrying it cannot help. AWS errors propagate, so EventBridge retries the delivery.
 */
export async function triggerBuilds(deps: TriggerDeps, event: unknown): Promise<TriggerResult> {
  const trigger = triggerKindOf(event);
  const retention = trigger === 'Scheduled Event' && isScheduledRetention(event);
  let builds: TriggeredBuild[] = [];
  let run: TriggeredRetention | undefined;
  try {
    if (trigger === 'Build Requested') builds = [buildFromBuildRequestedEvent(event, deps.config)];
    else if (trigger === 'Distribute Requested') builds = [await distributionFromEvent(event, deps.config, deps.describeImage)];
    else if (trigger === 'Parameter Store Change') builds = buildsFromParameterChange(event, deps.config);
    else if (retention) run = retentionFromSchedule(event, deps.config);
    else builds = [buildFromSchedule(event, deps.config)];
  } catch (e) {
    if (!(e instanceof ValidationError)) throw e;
    const rejected: Rejection = { trigger, ...eventFacts(event), reason: e.message, issues: e.issues };
    deps.logger.warn(retention ? 'retention request rejected' : 'build request rejected', {
      trigger,
      eventId: rejected.eventId,
      family: rejected.family,
      reason: e.message,
    });
    await publishRejection(deps.events, deps.bus, rejected);
    return { trigger, started: [], rejected };
  }
  if (run !== undefined) {
    const s = await startRetentionExecution(deps.sfn, deps.retentionStateMachineArn, run);
    deps.logger.info(s.duplicate ? 'duplicate delivery: retention run already started' : 'retention run started', {
      runId: s.runId,
      family: s.family,
      executionArn: s.executionArn,
    });
    return { trigger, started: [], retention: s, rejected: null };
  }
  const started: StartedBuild[] = [];
  for (const build of builds) {
    const s = await startBuildExecution(deps.sfn, deps.stateMachineArn, build);
    deps.logger.info(s.duplicate ? 'duplicate delivery: build already started' : 'build started', {
      buildId: s.buildId,
      family: s.family,
      executionArn: s.executionArn,
    });
    started.push(s);
  }
  return { trigger, started, rejected: null };
}
