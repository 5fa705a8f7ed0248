import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EnvSchema, env, homeRegion, requireEnv, resetEnv } from '../../functions/lib/env.js';
import { ConfigurationError } from '../../functions/lib/errors.js';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

describe('env', () => {
  const saved = { ...process.env };
  beforeEach(() => {
    for (const k of Object.keys(process.env)) if (k.startsWith('AMI_FACTORY_') && k !== 'AMI_FACTORY_LOG_LEVEL') delete process.env[k];
    resetEnv();
  });
  afterEach(() => {
    process.env = { ...saved };
    resetEnv();
  });

  it('does fill the defaults when a variable is unset or empty', () => {
    process.env.AMI_FACTORY_EVENT_BUS = '';
    delete process.env.AMI_FACTORY_LOG_LEVEL;
    const e = env();
    expect(e.AMI_FACTORY_EVENT_BUS).toBe('ami-factory');
    expect(e.AMI_FACTORY_LOG_LEVEL).toBe('info');
    expect(e.AMI_FACTORY_TIME_BUDGET_MS).toBe(840_000);
    expect(e.AMI_FACTORY_STATE_BUCKET).toBeUndefined();
  });

  it('does parse the values it is given', () => {
    process.env.AMI_FACTORY_STATE_BUCKET = 'factory-state-111122223333';
    process.env.AMI_FACTORY_TIME_BUDGET_MS = '100';
    process.env.AMI_FACTORY_STATE_MACHINE_ARN = 'arn:aws:states:eu-west-1:111122223333:stateMachine:ami-factory-dev-image-factory';
    expect(env()).toMatchObject({
      AMI_FACTORY_STATE_BUCKET: 'factory-state-111122223333',
      AMI_FACTORY_TIME_BUDGET_MS: 100,
      AMI_FACTORY_STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:111122223333:stateMachine:ami-factory-dev-image-factory',
    });
  });

  it('does read the environment once, until reset', () => {
    process.env.AMI_FACTORY_STATE_BUCKET = 'first-bucket';
    expect(env().AMI_FACTORY_STATE_BUCKET).toBe('first-bucket');
    process.env.AMI_FACTORY_STATE_BUCKET = 'second-bucket';
    expect(env().AMI_FACTORY_STATE_BUCKET).toBe('first-bucket');
    resetEnv();
    expect(env().AMI_FACTORY_STATE_BUCKET).toBe('second-bucket');
  });

  it('does throw a ConfigurationError naming each invalid variable', () => {
    process.env.AMI_FACTORY_STATE_BUCKET = 'Not_A_Bucket';
    process.env.AMI_FACTORY_LOG_LEVEL = 'verbose';
    process.env.AMI_FACTORY_TIME_BUDGET_MS = 'soon';
    const e = thrown(() => env());
    expect(e).toBeInstanceOf(ConfigurationError);
    expect(e.name).toBe('ConfigurationError');
    for (const name of ['AMI_FACTORY_STATE_BUCKET', 'AMI_FACTORY_LOG_LEVEL', 'AMI_FACTORY_TIME_BUDGET_MS']) {
      expect(e.message).toContain(`Environment variable ${name} is invalid`);
    }
  });

  it('does refuse a state machine ARN that is not one, and a malformed endpoint', () => {
    process.env.AMI_FACTORY_RETENTION_STATE_MACHINE_ARN = 'image-retention';
    process.env.AWS_ENDPOINT_URL = '127.0.0.1:4566';
    const e = thrown(() => env());
    expect(e.message).toContain('AMI_FACTORY_RETENTION_STATE_MACHINE_ARN');
    expect(e.message).toContain('AWS_ENDPOINT_URL');
  });

  it('does name the required variables that are not set', () => {
    process.env.AMI_FACTORY_STATE_BUCKET = 'factory-state';
    expect(requireEnv('AMI_FACTORY_STATE_BUCKET', 'AMI_FACTORY_EVENT_BUS')).toEqual({
      AMI_FACTORY_STATE_BUCKET: 'factory-state',
      AMI_FACTORY_EVENT_BUS: 'ami-factory',
    });
    const one = thrown(() => requireEnv('AMI_FACTORY_STATE_BUCKET', 'AMI_FACTORY_STATE_MACHINE_ARN'));
    expect(one).toBeInstanceOf(ConfigurationError);
    expect(one.message).toBe('Environment variable AMI_FACTORY_STATE_MACHINE_ARN is not set');
    const two = thrown(() => requireEnv('AMI_FACTORY_STATE_MACHINE_ARN', 'AMI_FACTORY_RETENTION_STATE_MACHINE_ARN'));
    expect(two.message).toBe('Environment variables AMI_FACTORY_STATE_MACHINE_ARN, AMI_FACTORY_RETENTION_STATE_MACHINE_ARN are not set');
  });

  it('does take the home region from AWS_REGION, then AWS_DEFAULT_REGION', () => {
    process.env.AWS_REGION = 'eu-west-1';
    process.env.AWS_DEFAULT_REGION = 'us-west-2';
    expect(homeRegion()).toBe('eu-west-1');
    delete process.env.AWS_REGION;
    resetEnv();
    expect(homeRegion()).toBe('us-west-2');
    delete process.env.AWS_DEFAULT_REGION;
    resetEnv();
    expect(homeRegion()).toBe('us-east-1');
  });

  it('does know every AMI_FACTORY_* variable the functions and serverless.yml name', () => {
    const texts = [...sourceFiles('functions').map((f) => readFileSync(f, 'utf8')), readFileSync('serverless.yml', 'utf8')];
    const named = new Set(texts.flatMap((t) => [...t.matchAll(/\bAMI_FACTORY_[A-Z0-9_]+\b/g)].map((m) => m[0])));
    expect(named.size).toBeGreaterThan(5);
    expect([...named].filter((n) => !(n in EnvSchema.shape))).toEqual([]);
  });
});
