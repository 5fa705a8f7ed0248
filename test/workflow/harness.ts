import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { parse, stringify } from 'yaml';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand, type DescribeExecutionCommandOutput } from '@aws-sdk/client-sfn';
import { startLocalCloud, type LocalCloud, type LocalCloudOptions } from '../../local/server.js';
import { fullHistory } from '../../bin/execution-progress.js';
import { BuildRequestSchema, type BuildRequest, type BuildRequestInput } from '../../functions/lib/build-request.js';
import { parseFactoryConfig } from '../../functions/lib/config.js';
import { approversOf, type ApprovalRecord, type ClickOutcome, type DecisionKind } from '../../functions/lib/approvals/decide.js';
import { INTERACTIVITY_PATH } from '../../functions/lib/approvals/endpoint.js';
import { approvalClickBody } from '../../functions/lib/approvals/interactivity.js';
import { slackRequestHeaders } from '../../functions/lib/chatops/signature.js';
import { LOCAL_SLACK_SIGNING_SECRET } from '../../local/function-url.js';
import type { GateKind } from '../../functions/lib/approvals/gates.js';
import { approvalIdFor } from '../../functions/lib/approvals/request.js';
import { ApprovalStore } from '../../functions/lib/approvals/store.js';

/** The account the workflow tests share with (the demo config's). */
export const SHARE_ACCOUNT = '444455556666';

/**
 * A build request of the demo family `web` from its golden instance (no reboot), in us-east-1,
 * started by a test; `over` adds or replaces fields (copies, sharing, tests, …).
 */
export function webBuildRequest(over: Partial<BuildRequestInput> = {}): BuildRequest {
  return BuildRequestSchema.parse({
    buildId: randomUUID(),
    family: 'web',
    requestedAt: new Date().toISOString(),
    region: 'us-east-1',
    source: { type: 'instance', tags: { Role: 'web', Golden: 'true' }, noReboot: true },
    trigger: { type: 'test' },
    ...over,
  });
}

/** The two copies of the demo family: us-west-2, and eu-west-1 encrypted with the region's key. */
export const WEB_COPIES = [{ region: 'us-west-2' }, { region: 'eu-west-1', kmsKeyId: 'alias/ami-factory' }];

/**
 * A local cloud on a free port with real SDK clients pointed at it. Time runs 600× fast:
 * EC2's 5 minutes take half a second, a function's cold start (a few hundred ms) a few simulated minutes.
 */
export interface Harness {
  cloud: LocalCloud;
  ec2: EC2Client;
  sfn: SFNClient;
  close(): Promise<void>;
}

export interface HarnessOptions extends LocalCloudOptions {
  /**
   * Families added to the config before the cloud starts. A family added later (runBuild widens
   * the functions' config) is not in the packaged IAM scopes made from the config at start: its
   * channel parameters, for one, cannot be written.
   */
  families?: Record<string, Record<string, unknown>>;
}

/**
 * Without a `configFile` the cloud gets a copy of factory.config.yml, so that runBuild can widen
 * it for the hand-made requests of a test (planBuild refuses a request its family's config does
 * not allow).
 */
export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const { families, ...cloudOptions } = opts;
  let configFile = cloudOptions.configFile;
  if (configFile === undefined) {
    configFile = join(mkdtempSync(join(tmpdir(), 'harness-config-')), 'factory.config.yml');
    copyFileSync('factory.config.yml', configFile);
  }
  if (families !== undefined) {
    const doc = parse(readFileSync(configFile, 'utf8')) as { families: Record<string, Yaml> };
    Object.assign(doc.families, families);
    const text = stringify(doc);
    parseFactoryConfig(text, `${configFile} (with ${Object.keys(families).join(', ')})`);
    writeFileSync(configFile, text);
  }
  const cloud = await startLocalCloud({ port: 0, stateDir: null, timeScale: 600, familySchedules: false, ...cloudOptions, configFile });
  const config = {
    region: 'us-east-1',
    endpoint: cloud.endpoint,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' },
    maxAttempts: 1,
  };
  const ec2 = new EC2Client(config);
  const sfn = new SFNClient(config);
  return {
    cloud,
    ec2,
    sfn,
    close: async () => {
      ec2.destroy();
      sfn.destroy();
      await cloud.close();
    },
  };
}

type Yaml = Record<string, unknown>;
const union = (a: unknown, b: string[]): string[] => [...new Set([...((a as string[] | undefined) ?? []), ...b])];

/**
 * The family config that allows `r` (and what `existing` allowed: copies and sharing are
 * unions; source, tags, description and deprecation become the request's; instance sources
 * get `reboot: either`). Its chatops and triggers are kept.
 */
export function familyAllowing(existing: Yaml | undefined, r: BuildRequest): Yaml {
  const prev: Yaml = existing ?? {};
  const { noReboot: _noReboot, ...instance } = r.source.type === 'instance' ? r.source : { noReboot: false };
  const prevCopies = (prev.copies as { region: string }[] | undefined) ?? [];
  const prevSharing = (prev.sharing as Yaml | undefined) ?? {};
  const retention: Yaml = { ...((prev.retention as Yaml | undefined) ?? {}) };
  delete retention.deprecateAfterDays;
  if (r.deprecateAfterDays !== undefined) {
    retention.deprecateAfterDays = r.deprecateAfterDays;
    retention.maxAgeDays = Math.max(Number(retention.maxAgeDays ?? 90), r.deprecateAfterDays);
  }
  const f: Yaml = {
    ...prev,
    region: r.region,
    source: r.source.type === 'instance' ? instance : r.source,
    copies: [...prevCopies.filter((c) => !r.copies.some((x) => x.region === c.region)), ...r.copies],
    sharing: {
      accounts: union(prevSharing.accounts, r.sharing.accounts),
      organizationArns: union(prevSharing.organizationArns, r.sharing.organizationArns),
      organizationalUnitArns: union(prevSharing.organizationalUnitArns, r.sharing.organizationalUnitArns),
      public: prevSharing.public === true || r.sharing.public,
      snapshotVolumePermission: prevSharing.snapshotVolumePermission !== false || r.sharing.snapshotVolumePermission,
    },
    acknowledgeUnsanitizedPublic: prev.acknowledgeUnsanitizedPublic === true || r.acknowledgeUnsanitizedPublic,
    retention,
    tags: r.tags,
  };
  if (r.source.type === 'instance') f.reboot = 'either';
  else delete f.reboot;
  if (r.description !== undefined) f.description = r.description;
  else delete f.description;
  if (r.tests !== undefined) f.tests = r.tests;
  else delete f.tests;
  return f;
}

/** Widens the config the cloud's functions read so that it allows `request` (a malformed request is left to planBuild). */
export function allowRequest(h: Harness, request: BuildRequest): void {
  const file = h.cloud.functionConfigFile;
  if (file === undefined) throw new Error('the cloud was started without a config file of its own');
  const parsed = BuildRequestSchema.safeParse(request);
  if (!parsed.success) return;
  // The functions' copy is JSON, as the zips carry it (deploy/config-json.cjs).
  const doc = JSON.parse(readFileSync(file, 'utf8')) as { families: Record<string, Yaml> };
  doc.families[parsed.data.family] = familyAllowing(doc.families[parsed.data.family], parsed.data);
  const text = JSON.stringify(doc);
  parseFactoryConfig(text, `${file} (widened for ${parsed.data.family})`);
  writeFileSync(file, text);
}

/**
 * Starts an image-factory execution through the real SFN API and waits (bounded) for its end;
 * the cloud's config is first widened to allow the request (allowRequest).
 */
export async function runBuild(
  h: Harness,
  request: BuildRequest,
  name = `test-${request.buildId}`,
): Promise<DescribeExecutionCommandOutput> {
  allowRequest(h, request);
  const { executionArn } = await h.sfn.send(
    new StartExecutionCommand({ stateMachineArn: h.cloud.stateMachineArn('image-factory'), name, input: JSON.stringify(request) }),
  );
  if (executionArn === undefined) throw new Error('no executionArn');
  return waitForExecution(h, executionArn);
}

export async function waitForExecution(h: Harness, executionArn: string, timeoutMs = 90_000): Promise<DescribeExecutionCommandOutput> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await h.sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (d.status !== 'RUNNING') return d;
    if (Date.now() > deadline) throw new Error(`execution ${executionArn} still RUNNING after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function tagMap(tags: { Key?: string | undefined; Value?: string | undefined }[] | undefined): Record<string, string> {
  return Object.fromEntries((tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
}

function approvalStore(h: Harness): { store: ApprovalStore; s3: S3Client } {
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint: h.cloud.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  return { store: new ApprovalStore(s3, h.cloud.stateBucket), s3 };
}

/**
 * The approval request an execution's gate made (approvals/<id>.json: the id is derived from the
 * execution, its waiting step and the gate), once requestApproval has recorded it (bounded wait).
 */
export async function approvalRequest(
  h: Harness,
  executionArn: string,
  step: string,
  gate: GateKind,
  timeoutMs = 60_000,
): Promise<ApprovalRecord> {
  const { store, s3 } = approvalStore(h);
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const record = await store.get(approvalIdFor(executionArn, step, gate));
      if (record !== undefined) return record;
      if (Date.now() > deadline) throw new Error(`no ${gate} approval request for ${executionArn} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    s3.destroy();
  }
}

/**
 * A click on an approval request's button, as Slack sends it: a signed interactivity payload
 * POSTed to the Slack function URL's /interactivity route at the cloud's simulated time. The
 * endpoint applies it (who may decide, two-person rule, one vote each), updates the message and,
 * on a final decision, resumes the waiting execution. The outcome is read back from the record
 * (and the refusal's reason from the ephemeral answer on the local Slack stand-in).
 */
export async function clickApproval(
  h: Harness,
  approvalId: string,
  userId: string,
  decision: DecisionKind,
  comment?: string,
): Promise<ClickOutcome> {
  const { store, s3 } = approvalStore(h);
  try {
    const before = await store.get(approvalId);
    if (before === undefined) throw new Error(`no approval record ${approvalId}`);
    const responseId = randomUUID();
    const body = approvalClickBody({
      approvalId,
      decision,
      userId,
      channelId: before.message?.channel ?? before.rule.channel,
      ...(before.message !== undefined ? { messageTs: before.message.ts } : {}),
      responseUrl: `${h.cloud.endpoint}/slack/response/${responseId}`,
      ...(comment !== undefined ? { comment } : {}),
    });
    const r = await fetch(`${h.cloud.functionUrl('slackCommand').replace(/\/$/, '')}${INTERACTIVITY_PATH}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...slackRequestHeaders(LOCAL_SLACK_SIGNING_SECRET, body, h.cloud.clock.nowMs()),
      },
      body,
      signal: AbortSignal.timeout(15_000),
    });
    if (r.status !== 200) throw new Error(`the interactivity endpoint answered ${r.status}: ${await r.text()}`);
    const after = (await store.get(approvalId)) ?? before;
    if (before.status !== 'pending') return { kind: 'closed', status: before.status };
    if (after.status === 'approved' || after.status === 'rejected') return { kind: 'decided', status: after.status };
    if (after.status === 'expired') return { kind: 'closed', status: 'expired' };
    if (after.decisions.length > before.decisions.length)
      return { kind: 'recorded', remaining: after.rule.required - approversOf(after).length };
    const answers = await fetch(`${h.cloud.endpoint}/slack/_responses/${responseId}`, { signal: AbortSignal.timeout(5000) });
    const { responses } = (await answers.json()) as { responses: { text?: string }[] };
    return { kind: 'refused', reason: responses.map((x) => x.text ?? '').join(' ') };
  } finally {
    s3.destroy();
  }
}

/** The number of states an execution entered (Step Functions bills standard workflows per state transition). */
export async function stateTransitions(h: Harness, executionArn: string): Promise<number> {
  return (await fullHistory(h.sfn, executionArn)).filter((e) => e.type?.endsWith('StateEntered') === true).length;
}
