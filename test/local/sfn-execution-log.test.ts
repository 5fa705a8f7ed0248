import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { isJsonObject, type JsonObject } from '../../local/json.js';
import { startLocalCloud, type LocalCloud } from '../../local/server.js';
import type { CfnTemplate } from '../../local/template/cfn.js';

/**
 * The state machines log to CloudWatch Logs as their LoggingConfiguration says (ERROR by default,
 * no execution data): the local cloud writes the events to the log group's file.
 */
const LOG_FILE = 'aws.vendedlogs.states.ami-factory-dev-image-factory.log';
const BAD_INPUT = JSON.stringify({ not: 'a build request' });

interface LogEvent {
  id: string;
  type: string;
  details: Record<string, unknown>;
  previous_event_id: string;
  event_timestamp: string;
  execution_arn: string;
}

/** The template with the image-factory machine logging at ALL, with execution data. */
function logAll(template: CfnTemplate): CfnTemplate {
  const sm = template.Resources.ImageFactoryStateMachine?.Properties ?? {};
  const logging = sm.LoggingConfiguration;
  if (logging !== undefined && isJsonObject(logging))
    sm.LoggingConfiguration = { ...(logging as JsonObject), Level: 'ALL', IncludeExecutionData: true };
  return template;
}

describe('local Step Functions: execution logs', () => {
  let dir: string;
  let cloud: LocalCloud | undefined;
  let sfn: SFNClient | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sfn-logs-'));
  });
  afterEach(async () => {
    sfn?.destroy();
    await cloud?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function failOnce(edit?: (t: CfnTemplate) => CfnTemplate): Promise<{ executionArn: string; events: LogEvent[] }> {
    cloud = await startLocalCloud({
      port: 0,
      stateDir: dir,
      timeScale: 6000,
      schedules: false,
      seed: false,
      ...(edit ? { editTemplate: edit } : {}),
    });
    sfn = new SFNClient({
      region: 'us-east-1',
      endpoint: cloud.endpoint,
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      maxAttempts: 1,
    });
    const { executionArn = '' } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: cloud.stateMachineArn('image-factory'), input: BAD_INPUT }),
    );
    await cloud.sfn.waitFor(executionArn);
    const file = join(dir, 'logs', LOG_FILE);
    const events = existsSync(file)
      ? readFileSync(file, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as LogEvent)
      : [];
    return { executionArn, events };
  }

  it('does log only the failure events of a failed execution, without its data, at the default level ERROR', async () => {
    // Act
    const { executionArn, events } = await failOnce();

    // Assess
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => /(Failed|TimedOut|Aborted)$/.test(e.type))).toBe(true);
    const failed = events.find((e) => e.type === 'ExecutionFailed');
    expect(failed).toMatchObject({ execution_arn: executionArn, details: { error: 'ValidationError' } });
    expect(Number(failed?.event_timestamp)).toBeGreaterThan(0);
    expect(events.some((e) => 'input' in e.details || 'output' in e.details)).toBe(false);
  });

  it('does log every event with its input when the level is ALL with execution data', async () => {
    // Act
    const { events } = await failOnce(logAll);

    // Assess
    const started = events.find((e) => e.type === 'ExecutionStarted');
    expect(started?.details.input).toBe(BAD_INPUT);
    expect(events.at(-1)?.type).toBe('ExecutionFailed');
    expect(events.map((e) => Number(e.id))).toEqual(events.map((_, i) => i + 1));
  });
});
