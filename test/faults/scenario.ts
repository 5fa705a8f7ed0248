import { randomUUID } from 'node:crypto';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand, type DescribeExecutionCommandOutput } from '@aws-sdk/client-sfn';
import { type BuildRequest, type BuildRequestInput } from '../../functions/lib/build-request.js';
import type { FaultSpec } from '../../local/faults.js';
import { allowRequest, type Harness, webBuildRequest, WEB_COPIES, SHARE_ACCOUNT } from '../workflow/harness.js';

/** What each scenario adds to the table the suite prints (scenario, executions, outcome, invariants held). */
export interface ScenarioRow {
  scenario: string;
  executions: number;
  outcome: string;
  invariants: string;
}

export { SHARE_ACCOUNT };

/** A build of `web` from the golden instance, copied to two regions (one encrypted) and shared with one account. */
export function buildRequest(over: Partial<BuildRequestInput> = {}): BuildRequest {
  return webBuildRequest({ copies: WEB_COPIES, sharing: { accounts: [SHARE_ACCOUNT] }, deprecateAfterDays: 30, ...over });
}

/**
 * The scenario's own Step Functions client: the faults apply to every signed call, the test's
 * too, so it retries as the SDK's standard mode does (the harness's client does not retry).
 */
export function scenarioSfn(h: Harness): SFNClient {
  return new SFNClient({
    region: 'us-east-1',
    endpoint: h.cloud.endpoint,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' },
    maxAttempts: 10,
  });
}

export async function startBuild(
  sfn: SFNClient,
  h: Harness,
  request: BuildRequest,
  name = `fault-${randomUUID().slice(0, 12)}`,
): Promise<string> {
  // planBuild refuses what the family's config does not allow: the cloud's copy allows this request.
  allowRequest(h, request);
  const { executionArn } = await sfn.send(
    new StartExecutionCommand({ stateMachineArn: h.cloud.stateMachineArn('image-factory'), name, input: JSON.stringify(request) }),
  );
  if (executionArn === undefined) throw new Error('StartExecution returned no executionArn');
  return executionArn;
}

/** The outcome column: the report's outcome and its regions' statuses (`BuildSucceeded (3/3)`), or the execution's status. */
export function outcomeOf(d: DescribeExecutionCommandOutput): string {
  if (d.status !== 'SUCCEEDED') return `${d.status ?? '?'} ${d.error ?? ''}`.trim();
  const r = JSON.parse(d.output ?? '{}') as { outcome?: string; regions?: { region: string; status: string }[] };
  const failed = (r.regions ?? []).filter((x) => x.status !== 'succeeded').map((x) => x.region);
  return `${r.outcome ?? '?'}${failed.length > 0 ? ` (failed: ${failed.join(', ')})` : ''}`;
}

/** Waits (bounded) for each execution to end. */
export async function waitAll(sfn: SFNClient, arns: string[], timeoutMs = 60_000): Promise<DescribeExecutionCommandOutput[]> {
  const deadline = Date.now() + timeoutMs;
  const one = async (executionArn: string): Promise<DescribeExecutionCommandOutput> => {
    for (;;) {
      const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      if (d.status !== 'RUNNING') return d;
      if (Date.now() > deadline) throw new Error(`execution ${executionArn} still RUNNING after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  return Promise.all(arns.map(one));
}

/** Sets faults through the admin endpoint, as a test or an operator would mid-run. */
export async function putFaults(h: Harness, spec: FaultSpec): Promise<void> {
  const r = await fetch(`${h.cloud.endpoint}/_local/faults`, { method: 'PUT', body: JSON.stringify(spec) });
  if (!r.ok) throw new Error(`PUT /_local/faults: ${r.status} ${await r.text()}`);
}

/** Waits (bounded) until `predicate` holds. */
export async function until(predicate: () => boolean, timeoutMs = 30_000, what = 'a condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The markdown table of the rows, as the suite prints it. */
export function resultsTable(title: string, rows: ScenarioRow[]): string {
  const lines = [
    `### ${title}`,
    '',
    '| scenario | executions | outcome | invariants held |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.scenario} | ${r.executions} | ${r.outcome.replace(/\|/g, '\\|')} | ${r.invariants} |`),
  ];
  return lines.join('\n');
}

/** The invariants column: `yes`, or the number of violations and the first one. */
export function invariantsCell(violations: string[]): string {
  return violations.length === 0 ? 'yes' : `NO (${violations.length}): ${violations[0] ?? ''}`;
}
