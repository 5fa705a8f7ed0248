import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/**
 * Properties of serverless.yml that `osls package` does not check but a CloudFormation
 * deploy does: a function a state machine invokes must not reference a state machine in
 * its environment (the machine's definition depends on the function's ARN: a cycle), and
 * every function has its own role from resources/iam.yml.
 */
interface Fn {
  role?: string;
  environment?: Record<string, unknown>;
}
const doc = parse(readFileSync('serverless.yml', 'utf8')) as {
  provider: { environment?: Record<string, unknown> };
  functions: Record<string, Fn>;
  stepFunctions: { stateMachines: Record<string, { id: string; definition: string }> };
};
const iam = parse(readFileSync('resources/iam.yml', 'utf8')) as { Resources: Record<string, unknown> };

function functionsInvokedBy(file: string): Set<string> {
  const text = readFileSync(file, 'utf8');
  return new Set([...text.matchAll(/Fn::GetAtt:\s*\[(\w+),\s*Arn\]/g)].map((m) => m[1] as string));
}

const machineIds = Object.values(doc.stepFunctions.stateMachines).map((m) => m.id);
const refsMachine = (env: Record<string, unknown> | undefined): string[] =>
  Object.entries(env ?? {})
    .filter(([, v]) => machineIds.some((id) => JSON.stringify(v).includes(`"${id}"`)))
    .map(([k]) => k);

describe('serverless.yml', () => {
  const invoked = new Set([
    ...functionsInvokedBy('statemachines/image-factory.asl.yml'),
    ...functionsInvokedBy('statemachines/image-retention.asl.yml'),
  ]);

  it('finds the functions the state machines invoke', () => {
    for (const f of ['planBuild', 'planRetention', 'applyRetention', 'reportRetention']) expect(invoked.has(f)).toBe(true);
    for (const f of invoked) expect(doc.functions[f]).toBeDefined();
  });

  it('has no dependency cycle between a state machine and the functions it invokes', () => {
    expect(refsMachine(doc.provider.environment)).toEqual([]);
    for (const f of invoked) expect({ [f]: refsMachine(doc.functions[f]?.environment) }).toEqual({ [f]: [] });
  });

  it('gives the functions that start executions the state machine ARNs', () => {
    expect(refsMachine(doc.functions.triggerBuild?.environment).sort()).toEqual([
      'AMI_FACTORY_RETENTION_STATE_MACHINE_ARN',
      'AMI_FACTORY_STATE_MACHINE_ARN',
    ]);
    // Slack also promotes (image-channels).
    expect(refsMachine(doc.functions.slackCommand?.environment).sort()).toEqual([
      'AMI_FACTORY_CHANNELS_STATE_MACHINE_ARN',
      'AMI_FACTORY_RETENTION_STATE_MACHINE_ARN',
      'AMI_FACTORY_STATE_MACHINE_ARN',
    ]);
  });

  it('gives every function a role defined in resources/iam.yml', () => {
    for (const [name, f] of Object.entries(doc.functions)) {
      expect({ name, role: f.role !== undefined && f.role in iam.Resources }).toEqual({ name, role: true });
    }
  });
});
