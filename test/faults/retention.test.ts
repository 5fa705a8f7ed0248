import { CreateLaunchTemplateCommand, CreateTagsCommand, DeleteTagsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { StartExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { RetentionReport } from '../../functions/lib/retention/report.js';
import type { FaultSpec } from '../../local/faults.js';
import { startHarness, type Harness } from '../workflow/harness.js';
import { baseline, checkRetentionInvariants } from './invariants.js';
import { invariantsCell, putFaults, resultsTable, scenarioSfn, waitAll, type ScenarioRow } from './scenario.js';

/**
 * Retention under faults: the real image-retention state machine over 24 seeded managed images
 * of `web` in two regions, one of them in use (a launch template), one excluded by tag and one
 * not managed; after the run no image the run may not act on has changed, and every failure
 * the report lists has its reason, and what the report says was done is what the world holds.
 */
const EAST = 'us-east-1';
const WEST = 'us-west-2';
const DAY = 86_400_000;
const rows: ScenarioRow[] = [];

afterAll(() => {
  process.stdout.write(`\n${resultsTable('image-retention under faults', rows)}\n\n`);
});

interface Fixture {
  h: Harness;
  sfn: SFNClient;
  protectedIds: Set<string>;
}

async function fixture(): Promise<Fixture> {
  const h = await startHarness({ seed: false, familySchedules: false, seedImages: { count: 24, regions: [EAST, WEST], family: 'web' } });
  const sfn = scenarioSfn(h);
  const east = new EC2Client({ region: EAST, endpoint: h.cloud.endpoint, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 't' } });
  const protectedIds = new Set<string>();
  try {
    for (const region of [EAST, WEST]) {
      const newest = Object.values(h.cloud.ec2.regionState(region).images)
        .sort((a, b) => b.createdMs - a.createdMs)
        .slice(0, 2);
      for (const i of newest) protectedIds.add(`${region}/${i.imageId}`);
    }
    const expired = Object.values(h.cloud.ec2.regionState(EAST).images)
      .filter((i) => h.cloud.clock.nowMs() - i.createdMs > 120 * DAY)
      .sort((a, b) => a.createdMs - b.createdMs);
    const [inUse, excluded, unmanaged] = expired;
    if (inUse === undefined || excluded === undefined || unmanaged === undefined) throw new Error('the seed has too few expired images');
    await east.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: 'web-prod',
        LaunchTemplateData: { ImageId: inUse.imageId, InstanceType: 't3.micro' },
      }),
    );
    await east.send(new CreateTagsCommand({ Resources: [excluded.imageId], Tags: [{ Key: 'ami-factory:keep', Value: 'true' }] }));
    await east.send(new DeleteTagsCommand({ Resources: [unmanaged.imageId], Tags: [{ Key: 'ami-factory:managed' }] }));
    for (const i of [inUse, excluded, unmanaged]) protectedIds.add(`${EAST}/${i.imageId}`);
  } finally {
    east.destroy();
  }
  return { h, sfn, protectedIds };
}

async function scenario(name: string, faults: FaultSpec, during?: (f: Fixture) => Promise<void>): Promise<void> {
  const f = await fixture();
  const { h, sfn } = f;
  let outcome = 'error';
  let violations: string[] = [];
  let executions = 0;
  try {
    const before = baseline(h.cloud);
    const actionable = new Set([...before.images.keys()].filter((k) => !f.protectedIds.has(k)));
    await putFaults(h, faults);
    const runId = `run-${Math.random().toString(16).slice(2, 10)}`;
    const input = {
      runId,
      family: 'web',
      requestedAt: new Date().toISOString(),
      regions: [EAST, WEST],
      dryRun: false,
      trigger: { type: 'test' },
      policy: { keepNewest: 2, maxAgeDays: 90, disableGraceDays: 0, excludeTags: { 'ami-factory:keep': 'true' } },
    };
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: h.cloud.stateMachineArn('image-retention'),
        name: `retention-${runId}`,
        input: JSON.stringify(input),
      }),
    );
    executions = 1;
    await during?.(f);
    const [done] = await waitAll(sfn, [executionArn ?? ''], 90_000);
    await putFaults(h, {});
    await h.cloud.events.idle();
    violations = await checkRetentionInvariants({ cloud: h.cloud, sfn, before, actionable });
    if (done?.status === 'SUCCEEDED') {
      const report = JSON.parse(done.output ?? '{}') as RetentionReport;
      const counts = report.regions.map(
        (r) => `${r.region.replace(/-\d$/, '')} ${r.status}${r.failures.length > 0 ? ` ${r.failures.length} failed` : ''}`,
      );
      outcome = `${report.status}: ${counts.join(', ')}`;
      for (const r of report.regions) {
        for (const x of r.failures)
          if ((x.error ?? '') === '') violations.push(`${r.region}: failure of ${x.imageId} reported without a reason`);
        if (r.status === 'plan-failed' || r.status === 'apply-failed')
          if ((r.error ?? '') === '') violations.push(`${r.region} ${r.status} reported without a reason`);
      }
    } else {
      outcome = `${done?.status ?? '?'} ${done?.error ?? ''}`;
    }
  } finally {
    rows.push({ scenario: name, executions, outcome, invariants: invariantsCell(violations) });
    f.sfn.destroy();
    await h.close();
  }
  expect(violations).toEqual([]);
}

describe('image-retention under faults', () => {
  it('touches no in-use, excluded or unmanaged image with 30 % of EC2 calls throttled', async () => {
    await scenario('retention, EC2 throttling 30 %', { seed: 3, requests: [{ service: 'ec2', throttle: 0.3 }] });
  });

  it('touches none with 5 % of all calls answering 5xx', async () => {
    await scenario('retention, 5xx on 5 % of all calls', { seed: 4, requests: [{ service: '*', error: 0.05 }] });
  });

  it('touches none and reports the region when one stops answering', async () => {
    await scenario('retention, us-west-2 unreachable (reset)', { requests: [{ service: 'ec2', region: WEST, unreachable: 'reset' }] });
  });

  it('touches none when the apply step’s response is dropped (it runs again with the same input)', async () => {
    await scenario('retention, applyRetention’s first responses dropped', {
      lambda: [{ function: 'applyRetention', dropResponse: 1, times: 2 }],
    });
  });
});
