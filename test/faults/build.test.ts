import type { BuildRequest } from '../../functions/lib/build-request.js';
import type { FaultSpec } from '../../local/faults.js';
import { startHarness, type Harness } from '../workflow/harness.js';
import { baseline, checkBuildInvariants } from './invariants.js';
import {
  buildRequest,
  invariantsCell,
  outcomeOf,
  putFaults,
  resultsTable,
  startBuild,
  until,
  waitAll,
  scenarioSfn,
  type ScenarioRow,
} from './scenario.js';
import type { SFNClient } from '@aws-sdk/client-sfn';

/**
 * Fault scenarios of the image-factory workflow: real executions of the deployed state
 * machine on the local cloud, with faults injected (local/faults.ts), then the world checked
 * against the build invariants (invariants.ts). One cloud for the file; each scenario sets its
 * faults, records the world before, runs its builds and checks what they left.
 */
const rows: ScenarioRow[] = [];
let h: Harness;
let sfn: SFNClient;

beforeAll(async () => {
  h = await startHarness({ familySchedules: false });
  sfn = scenarioSfn(h);
});
afterAll(async () => {
  sfn?.destroy();
  await h?.close();
  process.stdout.write(`\n${resultsTable('image-factory under faults', rows)}\n\n`);
});

interface Scenario {
  faults?: FaultSpec;
  /** The builds to run (default one). */
  requests?: BuildRequest[];
  /** Executions per request (default 1): two executions of one BuildRequest. */
  perRequest?: number;
  /** Called once the executions started (mid-run fault changes). */
  during?: (arns: string[]) => Promise<void>;
  /** What the outcome must be, per execution. */
  expectOutcome?: RegExp;
}

async function scenario(name: string, s: Scenario): Promise<void> {
  await putFaults(h, {});
  h.cloud.ec2.resetThrottling();
  const before = baseline(h.cloud);
  const requests = s.requests ?? [buildRequest()];
  await putFaults(h, s.faults ?? {});
  const arns: string[] = [];
  for (const r of requests) for (let i = 0; i < (s.perRequest ?? 1); i++) arns.push(await startBuild(sfn, h, r));
  let outcome = '';
  let violations: string[] = [];
  try {
    await s.during?.(arns);
    const done = await waitAll(sfn, arns);
    // The faults end with the runs: what is checked is what they left behind.
    await putFaults(h, {});
    await h.cloud.events.idle();
    outcome = [...new Set(done.map(outcomeOf))].join('; ');
    violations = await checkBuildInvariants({ cloud: h.cloud, sfn, before, requests });
    if (s.expectOutcome !== undefined) for (const d of done) expect(outcomeOf(d)).toMatch(s.expectOutcome);
  } finally {
    rows.push({ scenario: name, executions: arns.length, outcome: outcome || 'error', invariants: invariantsCell(violations) });
  }
  expect(violations).toEqual([]);
}

describe('image-factory under faults', () => {
  it('holds the invariants without faults (control)', async () => {
    await scenario('no faults (control)', { expectOutcome: /^BuildSucceeded$/ });
  });

  it('holds them with 30 % of EC2 calls throttled', async () => {
    await scenario('EC2 throttling 30 %', { faults: { seed: 1, requests: [{ service: 'ec2', throttle: 0.3 }] } });
  });

  it('holds them with 5 % of all calls answering 5xx', async () => {
    await scenario('5xx on 5 % of all calls', { faults: { seed: 2, requests: [{ service: '*', error: 0.05 }] } });
  });

  it('holds them when new image ids answer NotFound for a while', async () => {
    await scenario('new image ids NotFound for 2 simulated min', {
      faults: { ec2: { notFoundWindowMs: 120_000 } },
      expectOutcome: /^BuildSucceeded$/,
    });
  });

  it('holds them when the image ends failed', async () => {
    await scenario('image ends failed', {
      faults: { ec2: { failImages: [{ region: 'us-east-1', namePrefix: 'web-', reason: 'simulated snapshot failure' }] } },
      // The report (the BuildFailed event) is published, then the execution fails with EC2's reason as its error.
      expectOutcome: /^FAILED ImageFailedError$/,
    });
  });

  it('holds them when a copy fails in one region', async () => {
    await scenario('copy fails in eu-west-1', {
      faults: { ec2: { failCopiesTo: ['eu-west-1'] } },
      expectOutcome: /^BuildPartiallySucceeded \(failed: eu-west-1\)$/,
    });
  });

  it('holds them when a region stops answering mid-run', async () => {
    await scenario('us-west-2 stops answering mid-run (connection reset)', {
      during: async () => {
        // Once the home image exists, us-west-2 resets every connection.
        await until(
          () =>
            Object.values(h.cloud.ec2.regionState('us-east-1').images).some((i) => i.name.startsWith('web-') && i.state === 'available'),
          30_000,
          'the home image',
        );
        await putFaults(h, { requests: [{ service: '*', region: 'us-west-2', unreachable: 'reset' }] });
      },
      expectOutcome: /^BuildPartiallySucceeded \(failed: us-west-2\)$/,
    });
  });

  it('holds them when handlers crash after their side effects (each response dropped once)', async () => {
    const lambda = h.cloud.lambda.functionNames().map((f) => ({ function: f, dropResponse: 1, times: 1 }));
    await scenario('every handler’s first response dropped (each ran twice with the same input)', {
      faults: { lambda },
      expectOutcome: /^BuildSucceeded$/,
    });
  });

  it('holds them for two executions of one BuildRequest', async () => {
    await scenario('two executions of one BuildRequest', { perRequest: 2 });
  });

  it('holds them when the AMI state-change event is lost', async () => {
    await scenario('EC2 AMI State Change lost', {
      faults: { events: [{ detailType: 'EC2 AMI State Change', lose: 1 }] },
      expectOutcome: /^BuildSucceeded$/,
    });
  });

  it('holds them when the AMI state-change event comes after the sweeper', async () => {
    await scenario('EC2 AMI State Change delayed 15 simulated min (past the sweeper)', {
      faults: { events: [{ detailType: 'EC2 AMI State Change', delayMs: 1500 }] },
      expectOutcome: /^BuildSucceeded$/,
    });
  });

  it('holds them when the AMI state-change event is delivered twice', async () => {
    await scenario('EC2 AMI State Change delivered twice', {
      faults: { events: [{ detailType: 'EC2 AMI State Change', duplicate: 1 }] },
      expectOutcome: /^BuildSucceeded$/,
    });
  });
});
