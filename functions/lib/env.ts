import * as z from 'zod';
import { DEFAULT_EVENT_BUS } from './constants.js';
import { ConfigurationError } from './errors.js';

/**
 * The environment of the factory's functions, read through one schema, lazily, once per
 * container (Lambda runs one container per concurrent invocation; the environment does not
 * change under it). Every variable the product reads is here: the factory's own
 * (`AMI_FACTORY_*`, set per function by serverless.yml) and the AWS ones (set by Lambda).
 * An empty value counts as unset.
 *
 * A handler declares at module level what it needs — `requireEnv('AMI_FACTORY_STATE_BUCKET')`
 * — and every handler validates the whole schema when it is made (task-handler.ts), so a
 * misconfigured function fails at cold start with a ConfigurationError naming the variable,
 * not midway through a request.
 */
const unsetIfEmpty = (v: unknown): unknown => (v === '' ? undefined : v);
const optional = <T extends z.ZodType>(schema: T) => z.preprocess(unsetIfEmpty, schema.optional());
const withDefault = <T extends z.ZodType>(schema: T, value: z.util.NoUndefined<z.output<T>>) =>
  z.preprocess(unsetIfEmpty, schema.default(value));

const stateMachineArn = z
  .string()
  .regex(/^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}$/, 'not a state machine ARN');
const parameterName = z.string().regex(/^[A-Za-z0-9_.\-/]{1,2048}$/, 'not an SSM parameter name');

export const EnvSchema = z.object({
  // ── AWS: set by Lambda ──────────────────────────────────────────────────────────────────
  /** The function's region: the factory's home region (state machines, bus, state bucket). */
  AWS_REGION: optional(z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'not an AWS region')),
  AWS_DEFAULT_REGION: optional(z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'not an AWS region')),
  /** Where the deployment package is unpacked (factory.config.yml is at its root). */
  LAMBDA_TASK_ROOT: optional(z.string()),
  /**
   * Read by the SDK itself (with `AWS_ENDPOINT_URL_<SERVICE>`), never by the factory: an
   * emulator such as the local cloud. Validated here so that a malformed one fails at cold start.
   */
  AWS_ENDPOINT_URL: optional(z.url({ protocol: /^https?$/ })),

  // ── The factory: serverless.yml (provider.environment and per function) ─────────────────
  /** The state bucket: callback waits, ChatOps records, retention plans and ledgers. */
  AMI_FACTORY_STATE_BUCKET: optional(z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'not an S3 bucket name')),
  /** The factory's own EventBridge bus. */
  AMI_FACTORY_EVENT_BUS: withDefault(z.string().regex(/^[A-Za-z0-9._\-/]{1,256}$/, 'not an event bus name'), DEFAULT_EVENT_BUS),
  /** The image-factory state machine (the functions that start builds). */
  AMI_FACTORY_STATE_MACHINE_ARN: optional(stateMachineArn),
  /** The image-retention state machine (the functions that start retention runs). */
  AMI_FACTORY_RETENTION_STATE_MACHINE_ARN: optional(stateMachineArn),
  /** The image-channels state machine (promote / rollback), for the Slack endpoint. */
  AMI_FACTORY_CHANNELS_STATE_MACHINE_ARN: optional(stateMachineArn),
  /** The factory config file; default factory.config.yml in LAMBDA_TASK_ROOT or the project root. */
  AMI_FACTORY_CONFIG: optional(z.string()),
  AMI_FACTORY_LOG_LEVEL: withDefault(z.enum(['debug', 'info', 'warn', 'error', 'silent']), 'info'),
  /** The time bundle-image may spend on one image (its Lambda timeout less a margin). */
  AMI_FACTORY_TIME_BUDGET_MS: withDefault(z.coerce.number().int().positive(), 840_000),
  /** The SecureString parameter holding the Slack signing secret (slack-command). */
  AMI_FACTORY_SLACK_SECRET_PARAM: optional(parameterName),
  /** The SecureString parameter holding the Slack bot token, `xoxb-…` (slack-command; optional: chatops/secret.ts). */
  AMI_FACTORY_SLACK_BOT_TOKEN_PARAM: optional(parameterName),
  /**
   * The Slack Web API's base URL instead of https://slack.com/api/: accepted only on loopback with
   * AMI_FACTORY_SLACK_LOOPBACK_RESPONSE_URLS (the local cloud's Slack stand-in; chatops/web-api.ts).
   */
  AMI_FACTORY_SLACK_API_URL: optional(z.url({ protocol: /^https?$/ })),
  /**
   * `true`: Slack response URLs may also be `http://127.0.0.1:<port>/…` (chatops/response-url.ts).
   * Set by the local cloud for its Slack stand-in only; never in serverless.yml.
   */
  AMI_FACTORY_SLACK_LOOPBACK_RESPONSE_URLS: withDefault(
    z.enum(['true', 'false']).transform((v) => v === 'true'),
    false,
  ),
  /** The SecureString parameter holding the bundling user's `{certificate, privateKey}` (bundle-image). */
  AMI_FACTORY_BUNDLE_KEYS_PARAM: optional(parameterName),
  /** The String parameter holding EC2's certificate of the partition (bundle-image). */
  AMI_FACTORY_EC2_CERT_PARAM: optional(parameterName),
});

export type Env = z.infer<typeof EnvSchema>;
export type EnvName = keyof Env;

/** `Env` with the named variables present. */
export type RequiredEnv<K extends EnvName> = { [P in K]-?: NonNullable<Env[P]> };

let cached: Env | undefined;

/** The environment, parsed on first use and kept; a ConfigurationError names every invalid variable. */
export function env(): Env {
  if (cached !== undefined) return cached;
  const parsed = EnvSchema.safeParse(process.env);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `Environment variable ${String(i.path[0])} is invalid: ${i.message}`);
    throw new ConfigurationError(issues.join('; '));
  }
  cached = parsed.data;
  return cached;
}

/**
 * The named variables, or a ConfigurationError naming those that are not set. Called at a
 * handler's module level, so a function without its settings fails at cold start.
 */
export function requireEnv<const K extends EnvName>(...names: K[]): RequiredEnv<K> {
  const e = env();
  const missing = names.filter((n) => e[n] === undefined);
  if (missing.length > 0) {
    throw new ConfigurationError(
      `Environment variable${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not set`,
    );
  }
  return Object.fromEntries(names.map((n) => [n, e[n]])) as RequiredEnv<K>;
}

/** The region the factory (its state machines, bus and state bucket) runs in. */
export function homeRegion(): string {
  const e = env();
  return e.AWS_REGION ?? e.AWS_DEFAULT_REGION ?? 'us-east-1';
}

/**
 * The endpoint variables the SDK reads for a service (`AWS_ENDPOINT_URL_<SERVICE>`, then
 * `AWS_ENDPOINT_URL`), as a cache key for clients.ts. Read each time, not once: the SDK
 * resolves them once per client, so a process whose endpoint changes (the tests start one local
 * cloud after another) must get a new client, and only these tell it when.
 */
export function configuredEndpointKey(serviceId: string): string {
  return `${process.env[`AWS_ENDPOINT_URL_${serviceId}`] ?? ''}|${process.env.AWS_ENDPOINT_URL ?? ''}`;
}

/** Forgets the parsed environment: for tests, and a local runtime, that change process.env. */
export function resetEnv(): void {
  cached = undefined;
}
