import { DescribeImageAttributeCommand, DescribeImagesCommand } from '@aws-sdk/client-ec2';
import { DescribeExecutionCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { GateOutcome } from '../../functions/lib/events/schemas.js';
import type { RetentionReport } from '../../functions/lib/retention/report.js';
import type { RetentionRequestInput } from '../../functions/lib/retention/request.js';
import {
  allowRequest,
  approvalRequest,
  clickApproval,
  stateTransitions,
  startHarness,
  waitForExecution,
  webBuildRequest,
  type Harness,
} from './harness.js';

/**
 * Approval gates on the local cloud, through the real state machines and handlers: a build
 * whose share a gate holds waits (a .waitForTaskToken task) until a click decides it or the
 * sweeper expires it; a retention run above its gate's threshold waits, one at or below runs.
 * Clicks go through the approval store's rules and resume the execution as the Slack endpoint
 * does (harness `clickApproval`).
 */
const FAMILY = 'release';
const APPROVERS = { users: ['U0ALICE', 'U0BOB', 'U0CAROL'] };
const NEW_ACCOUNT = '999988887777';
const DAY_MS = 86_400_000;

const gated = {
  region: 'us-east-1',
  source: { type: 'instance', tags: { Role: 'web', Golden: 'true' } },
  reboot: 'either',
  sharing: { public: true },
  acknowledgeUnsanitizedPublic: true,
  gates: {
    publicShare: { approvers: APPROVERS, channel: 'C0APPROVALS' },
    newAccounts: { approvers: APPROVERS, required: 2, channel: 'C0APPROVALS' },
    retentionApply: { aboveImages: 10, approvers: APPROVERS, channel: 'C0APPROVALS' },
  },
};

/** A build of the gated family asked for by U0ALICE in Slack (the requester, for the two-person rule). */
function releaseRequest(sharing: { public?: boolean; accounts?: string[] } = { public: true }) {
  return webBuildRequest({
    family: FAMILY,
    sharing,
    acknowledgeUnsanitizedPublic: true,
    trigger: { type: 'chatops', actor: 'U0ALICE (alice)', channel: 'C0BUILDS' },
  });
}

interface BuildOutput {
  outcome: string;
  regions: { region: string; imageId?: string | null; status: string }[];
  approvals?: GateOutcome[];
}

describe('approval gates (local cloud)', () => {
  let h: Harness;
  beforeAll(async () => {
    // The sweeper runs only when a test invokes it (its 5-minute schedule would expire requests by itself).
    // The added family changes the packaged IAM scopes: the first start packages the stack for it.
    h = await startHarness({
      schedules: false,
      families: { [FAMILY]: gated },
      seedImages: { count: 20, regions: ['us-east-1'], family: FAMILY },
    });
  }, 240_000);
  afterAll(async () => {
    await h.close();
  });

  /** Starts a build; `widen` first lets the family's config allow the request (not for targets a gate should hold). */
  async function startBuild(request: ReturnType<typeof releaseRequest>, widen = true): Promise<string> {
    if (widen) allowRequest(h, request);
    const { executionArn } = await h.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: h.cloud.stateMachineArn('image-factory'),
        name: `gate-${request.buildId}`,
        input: JSON.stringify(request),
      }),
    );
    if (executionArn === undefined) throw new Error('no executionArn');
    return executionArn;
  }

  async function finished(executionArn: string): Promise<BuildOutput> {
    const d = await waitForExecution(h, executionArn);
    expect(d.status).toBe('SUCCEEDED');
    return JSON.parse(d.output ?? '{}') as BuildOutput;
  }

  async function launchPermissions(imageId: string): Promise<unknown[]> {
    const r = await h.ec2.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'launchPermission' }));
    return r.LaunchPermissions ?? [];
  }

  async function status(executionArn: string): Promise<string | undefined> {
    return (await h.sfn.send(new DescribeExecutionCommand({ executionArn }))).status;
  }

  it('waits at a public share until an allowed approver approves, then shares it publicly', async () => {
    const arn = await startBuild(releaseRequest());
    const record = await approvalRequest(h, arn, 'share', 'publicShare');
    expect(record.status).toBe('pending');
    expect(record.requester.userId).toBe('U0ALICE');
    expect(record.changes[0]).toMatch(/^Make release-.* public: ami-[0-9a-f]+ in us-east-1$/);
    expect(await status(arn)).toBe('RUNNING');

    expect(await clickApproval(h, record.id, 'U0BOB', 'approve')).toEqual({ kind: 'decided', status: 'approved' });
    const out = await finished(arn);
    expect(out.outcome).toBe('BuildSucceeded');
    expect(out.approvals).toEqual([expect.objectContaining({ status: 'approved', approvalId: record.id, approvers: ['U0BOB'] })]);
    expect(await launchPermissions(out.regions[0]?.imageId ?? '')).toEqual([{ Group: 'all' }]);
    // The request was posted in the gate's channel and, once approved, updated in place without its buttons.
    const r = await fetch(`${h.cloud.endpoint}/slack/_messages?channel=C0APPROVALS`);
    const { messages } = (await r.json()) as { messages: { text: string; blocks: { type: string }[]; versions: unknown[] }[] };
    const posted = messages.find((m) => JSON.stringify(m.blocks).includes(out.regions[0]?.imageId ?? '?'));
    expect(posted?.versions.length).toBeGreaterThanOrEqual(1);
    expect(posted?.blocks.some((b) => b.type === 'actions')).toBe(false);
    expect(JSON.stringify(posted?.blocks)).toContain('U0BOB');
  });

  it('refuses the requester’s own approval (two-person rule); a rejection shares nothing and is reported', async () => {
    const arn = await startBuild(releaseRequest());
    const record = await approvalRequest(h, arn, 'share', 'publicShare');
    const own = await clickApproval(h, record.id, 'U0ALICE', 'approve');
    expect(own).toEqual({ kind: 'refused', reason: expect.stringMatching(/two-person rule/) as unknown });
    expect(await clickApproval(h, record.id, 'U0MALLORY', 'approve')).toEqual({
      kind: 'refused',
      reason: expect.stringMatching(/not an approver/) as unknown,
    });
    expect(await status(arn)).toBe('RUNNING');

    expect(await clickApproval(h, record.id, 'U0CAROL', 'reject', 'not this week')).toEqual({ kind: 'decided', status: 'rejected' });
    const out = await finished(arn);
    expect(out.outcome).toBe('BuildPartiallySucceeded');
    expect(out.approvals).toEqual([
      { status: 'rejected', reason: expect.stringMatching(/rejected by U0CAROL at .*: not this week/) as unknown },
    ]);
    // The image is kept (it is fine), with no launch permission at all.
    const imageId = out.regions[0]?.imageId ?? '';
    expect((await h.ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images?.[0]?.State).toBe('available');
    expect(await launchPermissions(imageId)).toEqual([]);
    // A late click changes nothing.
    expect(await clickApproval(h, record.id, 'U0BOB', 'approve')).toEqual({ kind: 'closed', status: 'rejected' });
  });

  it('needs two distinct approvers for new accounts', async () => {
    // Not widened: the account stays outside the family's sharing, which only the gate lets the request ask for.
    const arn = await startBuild(releaseRequest({ public: false, accounts: [NEW_ACCOUNT] }), false);
    const record = await approvalRequest(h, arn, 'share', 'newAccounts', 30_000);
    expect(record.changes).toContain(`${NEW_ACCOUNT} (not in the family's sharing)`);
    expect(await clickApproval(h, record.id, 'U0BOB', 'approve')).toEqual({ kind: 'recorded', remaining: 1 });
    expect(await clickApproval(h, record.id, 'U0BOB', 'approve')).toEqual({
      kind: 'refused',
      reason: expect.stringMatching(/already decided/) as unknown,
    });
    expect(await status(arn)).toBe('RUNNING');
    expect(await clickApproval(h, record.id, 'U0CAROL', 'approve')).toEqual({ kind: 'decided', status: 'approved' });
    const out = await finished(arn);
    expect(out.approvals?.[0]?.approvers).toEqual(['U0BOB', 'U0CAROL']);
    expect(await launchPermissions(out.regions[0]?.imageId ?? '')).toEqual([{ UserId: NEW_ACCOUNT }]);
  });

  it('rejects a request nobody decides once its timeout has passed (the sweeper expires it)', async () => {
    const arn = await startBuild(releaseRequest());
    const record = await approvalRequest(h, arn, 'share', 'publicShare');
    // Before the deadline the sweeper leaves it pending.
    await h.cloud.lambda.invoke('sweepWaits', {});
    expect(await status(arn)).toBe('RUNNING');

    h.cloud.clock.advance(Date.parse(record.expiresAt) - h.cloud.clock.nowMs() + 1000);
    const swept = (await h.cloud.lambda.invoke('sweepWaits', {})) as { approvals: { expired: number; resumed: number } };
    expect(swept.approvals).toMatchObject({ expired: 1, resumed: 1 });
    const out = await finished(arn);
    expect(out.outcome).toBe('BuildPartiallySucceeded');
    expect(out.approvals).toEqual([{ status: 'expired', reason: expect.stringMatching(/no decision within 86400s/) as unknown }]);
    expect(await launchPermissions(out.regions[0]?.imageId ?? '')).toEqual([]);
    // Idempotent: a second sweep finds nothing to expire.
    const again = (await h.cloud.lambda.invoke('sweepWaits', {})) as { approvals: { expired: number } };
    expect(again.approvals.expired).toBe(0);
  });

  it('costs the same number of state transitions whether the wait lasts a minute or a day', async () => {
    const counts: number[] = [];
    for (const waitMs of [60_000, DAY_MS - 3_600_000]) {
      const arn = await startBuild(releaseRequest());
      const record = await approvalRequest(h, arn, 'share', 'publicShare');
      h.cloud.clock.advance(waitMs);
      expect(await clickApproval(h, record.id, 'U0BOB', 'approve')).toEqual({ kind: 'decided', status: 'approved' });
      const out = await finished(arn);
      expect(Date.parse(out.approvals?.[0]?.decidedAt ?? '') - Date.parse(record.requestedAt)).toBeGreaterThanOrEqual(waitMs);
      counts.push(await stateTransitions(h, arn));
    }
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[1]).toBe(counts[0]);
  });

  describe('retention', () => {
    function retentionRequest(maxAgeDays: number): RetentionRequestInput {
      return {
        runId: `run-${Math.random().toString(16).slice(2, 10)}`,
        family: FAMILY,
        requestedAt: h.cloud.clock.now().toISOString(),
        regions: ['us-east-1'],
        dryRun: false,
        trigger: { type: 'test' },
        policy: { keepNewest: 2, maxAgeDays, disableGraceDays: 0, excludeTags: { 'ami-factory:keep': 'true' } },
      };
    }

    async function startRetention(input: RetentionRequestInput): Promise<string> {
      const { executionArn } = await h.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: h.cloud.stateMachineArn('image-retention'),
          name: `retention-${input.runId}`,
          input: JSON.stringify(input),
        }),
      );
      return executionArn ?? '';
    }

    async function report(executionArn: string): Promise<RetentionReport> {
      const d = await waitForExecution(h, executionArn, 60_000);
      expect(d.status).toBe('SUCCEEDED');
      return JSON.parse(d.output ?? '{}') as RetentionReport;
    }

    const retired = (r: RetentionReport): number => (r.regions[0]?.outcomes.deregistered ?? 0) + (r.regions[0]?.outcomes.disabled ?? 0);

    it('applies a plan at or below the threshold without waiting', async () => {
      // The seeded images span 400 days: a few are older than 300 days.
      const r = await report(await startRetention(retentionRequest(300)));
      expect(r.approval).toBeUndefined();
      expect(r.status).toBe('succeeded');
      expect({ status: r.regions[0]?.status, planned: r.regions[0]?.planned }).toMatchObject({ status: 'applied' });
      expect(retired(r)).toBeGreaterThan(0);
      expect(retired(r)).toBeLessThanOrEqual(10);
    });

    it('waits for approval when a plan would retire more than the threshold; rejected, nothing is applied', async () => {
      const arn = await startRetention(retentionRequest(30));
      const record = await approvalRequest(h, arn, 'retention', 'retentionApply');
      expect(record.changes[0]).toMatch(/^Retire (\d+) images of release:$/);
      expect(Number(/Retire (\d+)/.exec(record.changes[0] ?? '')?.[1])).toBeGreaterThan(10);
      expect(await status(arn)).toBe('RUNNING');
      expect(await clickApproval(h, record.id, 'U0ALICE', 'reject', 'too many at once')).toEqual({ kind: 'decided', status: 'rejected' });
      const r = await report(arn);
      expect(r.status).toBe('rejected');
      expect(r.approval).toEqual({
        status: 'rejected',
        reason: expect.stringMatching(/rejected by U0ALICE .*too many at once/) as unknown,
      });
      expect(r.regions[0]?.status).toBe('skipped');
      expect(retired(r)).toBe(0);
    });
  });
});
