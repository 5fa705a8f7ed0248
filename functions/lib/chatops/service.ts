import { randomUUID } from 'node:crypto';
import { DescribeImagesCommand, type EC2Client, type Image } from '@aws-sdk/client-ec2';
import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  StartExecutionCommand,
  type ExecutionListItem,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import * as z from 'zod';
import { BuildIdSchema, FamilySchema } from '../build-request.js';
import { buildRequestFor, type FactoryConfig, type FamilyConfig } from '../config.js';
import { TAG } from '../constants.js';
import { shareGates } from '../approvals/hold.js';
import { applySharing } from '../ec2/share.js';
import { familyImages, imageTags } from '../ec2/images.js';
import { ConfigurationError, ValidationError, hasErrorName } from '../errors.js';
import type { Logger } from '../logger.js';
import { now as clockNow } from '../clock.js';
import { retentionExecutionName, retentionRequestFor } from '../retention/request.js';
import { executionNameFor } from '../triggers/ids.js';
import { startBuildExecution, startRetentionExecution } from '../triggers/runtime.js';
import {
  SlackBodyTooLargeError,
  assertSlackBodySize,
  parseChatCommand,
  parseSlashCommandForm,
  type ChatCommand,
  type SlashCommand,
} from './command.js';
import { jsonResult, rawBodyOf, slackResult, type FunctionUrlEvent, type FunctionUrlResult } from './http.js';
import { authorize, authorizeShareTarget, shareTargetLabel, type Permission, type Requester } from './permissions.js';
import {
  bakeAcknowledgedReply,
  buildReportReply,
  deniedReply,
  errorReply,
  executionStatusReply,
  helpReply,
  imageListReply,
  noticeReply,
  recentBuildsReply,
  retentionAcknowledgedReply,
  shareReply,
  type BuildReport,
  type ExecutionSummary,
  type SlackMessage,
} from './replies.js';
import { checkResponseUrl } from './response-url.js';
import { SlackSignatureError, slackRetryOf, verifySlackRequest, type VerifiedSlackRequest } from './signature.js';
import type { ChatOpsRecord, ChatOpsStore } from './store.js';
import { EC2_ERROR } from '../error-codes.js';

/**
 * The Slack slash command endpoint's logic: verify the signature, parse, authorize with the
 * family's `chatops` permissions, run the command, answer with a Block Kit reply (and a text
 * fallback). Every command is a handful of AWS calls, well inside Slack's 3 seconds; a bake
 * and an expire answer as soon as their execution started (image-factory, image-retention),
 * and the notifier posts the result (the retention plan) later to the request's response_url.
 */
export interface ChatOpsDeps {
  config: FactoryConfig;
  sfn: SFNClient;
  ec2: (region: string) => EC2Client;
  store: ChatOpsStore;
  /** The image-factory state machine (bake, status). */
  stateMachineArn: string;
  /** The image-retention state machine (expire). */
  retentionStateMachineArn: string;
  /** The image-channels state machine (promote); without it `promote` says it is not deployed. */
  channelsStateMachineArn?: string;
  /** The account the factory runs in (owner of its images). */
  accountId: string;
  signingSecret: () => Promise<string>;
  logger: Logger;
  /** The time (default: the factory clock, functions/lib/clock.ts). */
  now?: () => Date;
  /** A fresh id for a build (bake) or a retention run (expire); default randomUUID. */
  newBuildId?: () => string;
  /** Accept loopback response URLs (the local cloud's Slack stand-in; chatops/response-url.ts). */
  allowLoopbackResponseUrls?: boolean;
}

const BuildIdentitySchema = z.lazy(() => z.object({ buildId: BuildIdSchema, family: FamilySchema }));

/** Status of builds is searched among this many most recent executions. */
const STATUS_SEARCH_LIMIT = 500;
const RECENT_BUILDS = 10;

/** What admitting a request needs: the slash command and the interactivity paths share it. */
export type AdmissionDeps = Pick<ChatOpsDeps, 'signingSecret' | 'logger' | 'now'> & { store: Pick<ChatOpsStore, 'claimRequest'> };

/** A request admitted (verified, first delivery, claimed once), or the answer that refuses or acknowledges it. */
export type Admission =
  { admitted: true; rawBody: string; verified: VerifiedSlackRequest } | { admitted: false; result: FunctionUrlResult };

/**
 * Whether a Slack request (slash command or interactivity) may be acted on: 413 for an oversized
 * body; 401 unless its signature verifies (signature.ts: timestamp window, constant-time compare);
 * an empty 200 for Slack's retry of a request (`X-Slack-Retry-Num`: the first delivery is, or was,
 * being answered, and a retry must not act twice); 401 for a request whose signature was already
 * accepted (a replay inside the 5-minute window: each digest is written once,
 * ChatOpsStore.claimRequest).
 */
export async function admitSlackRequest(deps: AdmissionDeps, event: FunctionUrlEvent): Promise<Admission> {
  const rawBody = rawBodyOf(event);
  const headers = event.headers ?? {};
  const now = deps.now ?? clockNow;
  let verified: VerifiedSlackRequest;
  try {
    // Before the signature is computed over it: an oversized body is refused unread.
    assertSlackBodySize(rawBody);
    verified = verifySlackRequest({ signingSecret: await deps.signingSecret(), headers, rawBody, now: () => now().getTime() });
  } catch (e) {
    if (e instanceof SlackBodyTooLargeError) {
      deps.logger.warn('slack request refused', { reason: 'too-large' });
      return { admitted: false, result: jsonResult(413, { error: 'request_too_large' }) };
    }
    if (e instanceof SlackSignatureError) {
      deps.logger.warn('slack request refused', { reason: e.reason });
      return { admitted: false, result: jsonResult(401, { error: 'invalid_signature' }) };
    }
    if (e instanceof ConfigurationError) {
      deps.logger.error('slack endpoint misconfigured', { errorMessage: e.message });
      return { admitted: false, result: jsonResult(500, { error: 'not_configured' }) };
    }
    throw e;
  }
  const retry = slackRetryOf(headers);
  if (retry !== undefined) {
    deps.logger.info('slack retry acknowledged; not run again', { retryNum: retry.num, retryReason: retry.reason });
    return { admitted: false, result: { statusCode: 200, headers: {}, body: '' } };
  }
  if (!(await deps.store.claimRequest(verified.digest, now()))) {
    deps.logger.warn('slack request refused', { reason: 'replayed' });
    return { admitted: false, result: jsonResult(401, { error: 'replayed_request' }) };
  }
  return { admitted: true, rawBody, verified };
}

/**
 * One slash command: refused or acknowledged as admitSlackRequest says; an error reply for a
 * response_url off Slack's host; otherwise the command's reply.
 */
export async function handleSlackRequest(deps: ChatOpsDeps, event: FunctionUrlEvent, requestId?: string): Promise<FunctionUrlResult> {
  const admission = await admitSlackRequest(deps, event);
  if (!admission.admitted) return admission.result;
  const { rawBody } = admission;
  let form: SlashCommand;
  try {
    form = parseSlashCommandForm(rawBody);
    checkResponseUrl(form.response_url, { allowLoopback: deps.allowLoopbackResponseUrls === true });
  } catch (e) {
    deps.logger.warn('slash command refused', { errorName: e instanceof Error ? e.name : typeof e });
    return slackResult(errorReply(e, requestId));
  }
  deps.logger.appendKeys({ slackUser: form.user_id, slackChannel: form.channel_id });
  try {
    const command = parseChatCommand(form.text);
    deps.logger.info('slash command', { command: command.kind });
    return slackResult(await runCommand(deps, form, command));
  } catch (e) {
    deps.logger.warn('slash command failed', {
      errorName: e instanceof Error ? e.name : typeof e,
      errorMessage: e instanceof Error ? e.message : String(e),
    });
    return slackResult(errorReply(e, requestId));
  }
}

/** Who asked, for the audit trail in the request's trigger: `<user id> (<user name>)`. */
function actorOf(form: SlashCommand): string {
  return form.user_name !== '' ? `${form.user_id} (${form.user_name})` : form.user_id;
}

/** What the notifier needs to answer a request later (keyed by the build or retention run id): where, and who asked. */
function chatOpsRecord(form: SlashCommand, id: string, family: string, now: Date): ChatOpsRecord {
  return {
    buildId: id,
    family,
    responseUrl: form.response_url,
    userId: form.user_id,
    channelId: form.channel_id,
    teamId: form.team_id,
    createdAt: now.toISOString(),
    posts: 0,
    posted: [],
  };
}

function requesterOf(form: SlashCommand): Requester {
  // User groups need a Slack API token (usergroups.users.list); rules by user and channel work without.
  return { userId: form.user_id, userGroups: [], channelId: form.channel_id };
}

function familyConfig(config: FactoryConfig, family: string): FamilyConfig {
  const f = config.families[family];
  if (f === undefined)
    throw new ValidationError(`Unknown family "${family}"; the factory builds: ${Object.keys(config.families).join(', ')}`);
  return f;
}

/** The reply refusing the command, or undefined when the requester may run it for the family. */
function refusal(deps: ChatOpsDeps, permission: ChatCommand | Permission, form: SlashCommand, family: string): SlackMessage | undefined {
  const a = authorize(permission, requesterOf(form), familyConfig(deps.config, family).chatops, family);
  if (a.allowed) return undefined;
  deps.logger.warn('slash command not allowed', { family, permission: typeof permission === 'string' ? permission : permission.kind });
  return deniedReply(a.reason);
}

async function runCommand(deps: ChatOpsDeps, form: SlashCommand, command: ChatCommand): Promise<SlackMessage> {
  switch (command.kind) {
    case 'help':
      return helpReply(form.command, command.topic);
    case 'bake':
      return bake(deps, form, command);
    case 'status':
      return command.buildId === undefined ? recentBuilds(deps, form) : buildStatus(deps, form, command.buildId);
    case 'list':
      return listImages(deps, form, command);
    case 'expire':
      return expire(deps, form, command);
    case 'share':
      return share(deps, form, command);
    case 'promote':
      return promote(deps, form, command);
  }
}

/**
 * `promote <family> <build|ami> <channel>` (needs the family's `promote` permission): starts an
 * image-channels execution (functions/lib/channels/promote.ts) and answers at once.
 */
async function promote(deps: ChatOpsDeps, form: SlashCommand, command: Extract<ChatCommand, { kind: 'promote' }>): Promise<SlackMessage> {
  const denied = refusal(deps, command, form, command.family);
  if (denied !== undefined) return denied;
  const f = familyConfig(deps.config, command.family);
  if (!f.channels.includes(command.channel)) {
    return noticeReply(`${command.family} has no channel ${command.channel}; its channels: ${f.channels.join(', ')}.`);
  }
  if (deps.channelsStateMachineArn === undefined) throw new ConfigurationError('The image-channels state machine is not configured');
  const name = `promote-${command.family}-${command.channel}-${(deps.newBuildId ?? randomUUID)()}`.slice(0, 80);
  const input = {
    operation: 'promote',
    family: command.family,
    channel: command.channel,
    target: command.target,
    by: { type: 'chatops', actor: actorOf(form), channel: form.channel_id },
  };
  const started = await deps.sfn.send(
    new StartExecutionCommand({ stateMachineArn: deps.channelsStateMachineArn, name, input: JSON.stringify(input) }),
  );
  deps.logger.info('promote started', { family: command.family, channel: command.channel, executionArn: started.executionArn });
  return noticeReply(
    `Promoting ${command.target} of ${command.family} to ${command.channel} in every region it was published in (execution ${name}), requested by <@${form.user_id}>.`,
  );
}

async function bake(deps: ChatOpsDeps, form: SlashCommand, command: Extract<ChatCommand, { kind: 'bake' }>): Promise<SlackMessage> {
  const denied = refusal(deps, command, form, command.family);
  if (denied !== undefined) return denied;
  const buildId = (deps.newBuildId ?? randomUUID)();
  const now = (deps.now ?? clockNow)();
  const request = buildRequestFor(deps.config, command.family, {
    buildId,
    requestedAt: now.toISOString(),
    trigger: { type: 'chatops', actor: actorOf(form), channel: form.channel_id },
    ...(command.regions !== undefined ? { regions: command.regions } : {}),
    ...(command.reboot !== undefined ? { noReboot: !command.reboot } : {}),
  });
  // Recorded before the execution starts, so even a very fast build finds where to report.
  await deps.store.put(chatOpsRecord(form, buildId, command.family, now));
  const executionName = executionNameFor(command.family, buildId);
  const started = await startBuildExecution(deps.sfn, deps.stateMachineArn, { request, executionName });
  deps.logger.info('bake started', { buildId, family: command.family, executionArn: started.executionArn });
  return bakeAcknowledgedReply({
    family: command.family,
    regions: [request.region, ...request.copies.map((c) => c.region)],
    buildId,
    executionName,
    executionArn: started.executionArn,
    requestedBy: form.user_id,
    ...(request.source.type === 'instance' ? { reboot: !request.source.noReboot } : {}),
  });
}

async function listExecutions(deps: ChatOpsDeps, limit: number): Promise<ExecutionListItem[]> {
  const out: ExecutionListItem[] = [];
  let nextToken: string | undefined;
  do {
    const page = await deps.sfn.send(
      new ListExecutionsCommand({ stateMachineArn: deps.stateMachineArn, maxResults: Math.min(100, limit - out.length), nextToken }),
    );
    out.push(...(page.executions ?? []));
    nextToken = page.nextToken;
  } while (nextToken !== undefined && out.length < limit);
  return out;
}

function iso(d: Date | undefined): string | undefined {
  return d === undefined ? undefined : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

async function describeBuild(deps: ChatOpsDeps, executionArn: string): Promise<{ summary: ExecutionSummary; report?: BuildReport }> {
  const d = await deps.sfn.send(new DescribeExecutionCommand({ executionArn }));
  // Only the build id and family matter here; an older input shape must not hide the status.
  const input = BuildIdentitySchema.safeParse(JSON.parse(d.input ?? '{}'));
  const summary: ExecutionSummary = {
    buildId: input.success ? input.data.buildId : (d.name ?? ''),
    family: input.success ? input.data.family : '(unknown)',
    status: d.status ?? 'UNKNOWN',
  };
  const started = iso(d.startDate);
  if (started !== undefined) summary.startDate = started;
  const stopped = iso(d.stopDate);
  if (stopped !== undefined) summary.stopDate = stopped;
  if (d.error !== undefined) summary.error = d.error;
  if (d.cause !== undefined) summary.cause = d.cause;
  if (d.status === 'SUCCEEDED' && d.output !== undefined) {
    const out = JSON.parse(d.output) as Partial<BuildReport>;
    if (typeof out.outcome === 'string' && Array.isArray(out.regions)) {
      return {
        summary,
        report: {
          outcome: out.outcome,
          buildId: summary.buildId,
          family: summary.family,
          imageName: out.imageName ?? null,
          regions: out.regions,
        },
      };
    }
  }
  return { summary };
}

async function buildStatus(deps: ChatOpsDeps, form: SlashCommand, buildId: string): Promise<SlackMessage> {
  const executions = await listExecutions(deps, STATUS_SEARCH_LIMIT);
  const found = executions.find((e) => e.name === buildId || (e.name ?? '').endsWith(`-${buildId}`));
  if (found?.executionArn === undefined) return noticeReply(`No build ${buildId} among the ${executions.length} most recent.`);
  const { summary, report } = await describeBuild(deps, found.executionArn);
  if (deps.config.families[summary.family] !== undefined) {
    const denied = refusal(deps, 'status', form, summary.family);
    if (denied !== undefined) return denied;
  }
  return report !== undefined ? { ...buildReportReply(report), response_type: 'ephemeral' } : executionStatusReply(summary);
}

async function recentBuilds(deps: ChatOpsDeps, form: SlashCommand): Promise<SlackMessage> {
  const executions = (await listExecutions(deps, RECENT_BUILDS)).filter((e) => e.executionArn !== undefined);
  const described = await Promise.all(executions.map((e) => describeBuild(deps, e.executionArn as string)));
  const visible = described
    .map((d) => d.summary)
    .filter(
      (s) =>
        deps.config.families[s.family] === undefined ||
        authorize('status', requesterOf(form), deps.config.families[s.family]?.chatops).allowed,
    );
  return recentBuildsReply(visible);
}

function ageDays(creationDate: string | undefined, now: Date): number | undefined {
  const t = Date.parse(creationDate ?? '');
  return Number.isNaN(t) ? undefined : Math.max(0, (now.getTime() - t) / 86_400_000);
}

async function listImages(deps: ChatOpsDeps, form: SlashCommand, command: Extract<ChatCommand, { kind: 'list' }>): Promise<SlackMessage> {
  const denied = refusal(deps, command, form, command.family);
  if (denied !== undefined) return denied;
  const region = command.region ?? familyConfig(deps.config, command.family).region;
  const now = (deps.now ?? clockNow)();
  const images = (await familyImages(deps.ec2(region), command.family, { managedOnly: true })).sort(
    (a, b) => Date.parse(b.CreationDate ?? '') - Date.parse(a.CreationDate ?? '') || (b.Name ?? '').localeCompare(a.Name ?? ''),
  );
  return imageListReply(
    command.family,
    images.map((i) => {
      const item: Parameters<typeof imageListReply>[1][number] = { imageId: i.ImageId ?? '', region, name: i.Name ?? '' };
      const age = ageDays(i.CreationDate, now);
      if (age !== undefined) item.ageDays = age;
      if (i.State !== undefined) item.state = i.State;
      if (i.DeprecationTime !== undefined) item.deprecationTime = i.DeprecationTime;
      return item;
    }),
    region,
  );
}

/**
 * `expire <family>` (a dry run: the plan) or `expire <family> --apply` (needs `expireApply`):
 * starts an image-retention run with the family's policy in every region of the family and
 * answers at once; the notifier posts the plan or the result on RetentionPlanned /
 * RetentionCompleted. Like a bake, every request is a new run with a fresh id.
 */
async function expire(deps: ChatOpsDeps, form: SlashCommand, command: Extract<ChatCommand, { kind: 'expire' }>): Promise<SlackMessage> {
  const denied = refusal(deps, command, form, command.family);
  if (denied !== undefined) return denied;
  const runId = (deps.newBuildId ?? randomUUID)();
  const now = (deps.now ?? clockNow)();
  const request = retentionRequestFor(deps.config, command.family, {
    runId,
    requestedAt: now.toISOString(),
    dryRun: !command.apply,
    trigger: { type: 'chatops', actor: actorOf(form), channel: form.channel_id },
  });
  // Recorded before the execution starts, so even a very fast run finds where to report.
  await deps.store.put({ ...chatOpsRecord(form, runId, command.family, now), kind: 'retention', command: form.command });
  const executionName = retentionExecutionName(command.family, runId);
  const started = await startRetentionExecution(deps.sfn, deps.retentionStateMachineArn, { request, executionName });
  deps.logger.info('retention started', { runId, family: command.family, dryRun: request.dryRun, executionArn: started.executionArn });
  return retentionAcknowledgedReply({
    family: command.family,
    regions: request.regions,
    runId,
    executionName,
    executionArn: started.executionArn,
    dryRun: request.dryRun,
    requestedBy: form.user_id,
    policy: request.policy,
  });
}

/** The regions any family builds or copies to: where a factory image can be. */
function factoryRegions(config: FactoryConfig): string[] {
  return [...new Set(Object.values(config.families).flatMap((f) => [f.region, ...f.copies.map((c) => c.region)]))];
}

async function findImage(deps: ChatOpsDeps, imageId: string): Promise<{ region: string; image: Image } | undefined> {
  const found = await Promise.all(
    factoryRegions(deps.config).map(async (region) => {
      try {
        const r = await deps.ec2(region).send(new DescribeImagesCommand({ ImageIds: [imageId], IncludeDeprecated: true }));
        const image = r.Images?.[0];
        return image === undefined ? undefined : { region, image };
      } catch (e) {
        if (hasErrorName(e, EC2_ERROR.imageNotFound, EC2_ERROR.imageUnavailable)) return undefined;
        throw e;
      }
    }),
  );
  return found.find((f) => f !== undefined);
}

async function share(deps: ChatOpsDeps, form: SlashCommand, command: Extract<ChatCommand, { kind: 'share' }>): Promise<SlackMessage> {
  const found = await findImage(deps, command.imageId);
  if (found === undefined)
    return noticeReply(`No image ${command.imageId} in the factory's regions (${factoryRegions(deps.config).join(', ')}).`);
  const tags = imageTags(found.image);
  const family = tags[TAG.family];
  if (
    found.image.OwnerId !== deps.accountId ||
    tags[TAG.managed] !== 'true' ||
    family === undefined ||
    deps.config.families[family] === undefined
  ) {
    return deniedReply(`${command.imageId} is not an image this factory manages; only images of its families can be shared from Slack`);
  }
  const denied = refusal(deps, 'share', form, family);
  if (denied !== undefined) return denied;
  const target = authorizeShareTarget(command, familyConfig(deps.config, family).chatops?.share?.allowedTargets, family);
  if (!target.allowed) {
    deps.logger.warn('slash command not allowed', { family, permission: 'share', reason: 'target' });
    return deniedReply(target.reason);
  }
  const targets = {
    accounts: 'account' in command ? [command.account] : [],
    organizationArns: 'organizationArn' in command ? [command.organizationArn] : [],
    organizationalUnitArns: 'organizationalUnitArn' in command ? [command.organizationalUnitArn] : [],
  };
  // A share the family's gates hold (newAccounts: a target its sharing does not list) waits for
  // approval in a workflow; this command acts at once, so it does not act at all.
  const held = shareGates(deps.config.families[family], {
    public: false,
    targets: [...targets.accounts, ...targets.organizationArns, ...targets.organizationalUnitArns],
  });
  if (held.length > 0) {
    deps.logger.warn('slash command not allowed', { family, permission: 'share', reason: 'gate', gates: held });
    return deniedReply(
      `sharing ${family} images with ${shareTargetLabel(command)} needs approval (the family's ${held.join(', ')} gate), which \`share\` ` +
        `cannot wait for: add it to families.${family}.sharing, or build with it (the build waits at the gate for an approver)`,
    );
  }
  const result = await applySharing(deps.ec2(found.region), command.imageId, { ...targets, public: false, snapshotVolumePermission: true });
  const added = result.added.userIds.length + result.added.organizationArns.length + result.added.organizationalUnitArns.length;
  deps.logger.info('image shared from slack', {
    imageId: command.imageId,
    region: found.region,
    family,
    added,
  });
  return shareReply({
    imageId: command.imageId,
    region: found.region,
    family,
    target: shareTargetLabel(command),
    added: added > 0,
    snapshotsShared: result.snapshotPermissionsAdded.length,
  });
}
