import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { autoScalingClient, eventsClient, s3Client } from '../clients.js';
import { clock } from '../clock.js';
import { ConfigurationError } from '../errors.js';
import type { Logger } from '../logger.js';
import { THROTTLE_BUCKETS, type ThrottleClass } from '../ec2/throttling.js';
import { Ec2Pacer, pacedEc2Client, type PacerState } from './pacer.js';
import type { RegionDeps } from './run.js';
import { RetentionStore } from './store.js';

/** The account a function runs in, from its ARN (arn:aws:lambda:<region>:<account>:function:<name>). */
export function accountIdOf(context: Pick<Context, 'invokedFunctionArn'>): string {
  const account = context.invokedFunctionArn.split(':')[4];
  if (account === undefined || !/^\d{12}$/.test(account))
    throw new ConfigurationError(`Cannot tell the account from ${context.invokedFunctionArn}`);
  return account;
}

const BucketStateSchema = z.object({ tokens: z.number(), at: z.number() }).strict();
export const PacerStateSchema = z.partialRecord(
  z.enum(Object.keys(THROTTLE_BUCKETS) as [ThrottleClass, ...ThrottleClass[]]),
  BucketStateSchema,
);

/** Where a retention run keeps its state and publishes its events (the handlers' environment). */
export interface RetentionSettings {
  stateBucket: string;
  eventBus: string;
}

/** The clients of one region for one invocation, EC2 paced from the carried bucket state. */
export function regionDeps(
  region: string,
  settings: RetentionSettings,
  context: Pick<Context, 'invokedFunctionArn'>,
  logger: Logger,
  pacerState: PacerState = {},
): { deps: RegionDeps; pacer: Ec2Pacer } {
  const pacer = new Ec2Pacer(clock(), pacerState);
  const deps: RegionDeps = {
    region,
    ec2: pacedEc2Client(region, pacer),
    autoscaling: autoScalingClient(region),
    s3: s3Client(region),
    store: new RetentionStore(s3Client(), settings.stateBucket),
    events: eventsClient(),
    bus: settings.eventBus,
    accountId: accountIdOf(context),
    logger,
  };
  return { deps, pacer };
}
