import { EC2Client } from '@aws-sdk/client-ec2';
import { SFNClient } from '@aws-sdk/client-sfn';
import { S3Client } from '@aws-sdk/client-s3';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { ConfigurationError } from './errors.js';

/**
 * The one place AWS clients are made. Settings: the region, `retryMode: adaptive`
 * (client-side rate limiting on top of exponential backoff with jitter, as AWS recommends
 * for EC2's token buckets) and, for the embedded local cloud, the endpoint override from
 * `AMI_FACTORY_AWS_ENDPOINT`. Clients are cached per (service, region, endpoint) so no
 * request path builds one.
 */
export interface ClientSettings {
  region: string;
  endpoint?: string;
  maxAttempts: number;
  retryMode: 'adaptive';
}

export function clientSettings(region: string): ClientSettings {
  const endpoint = process.env.AMI_FACTORY_AWS_ENDPOINT;
  const settings: ClientSettings = { region, maxAttempts: 5, retryMode: 'adaptive' };
  if (endpoint !== undefined && endpoint !== '') settings.endpoint = endpoint;
  return settings;
}

type AnyClient = EC2Client | SFNClient | S3Client | EventBridgeClient | AutoScalingClient;
const cache = new Map<string, AnyClient>();

function cached<T extends AnyClient>(kind: string, region: string, make: (s: ClientSettings) => T): T {
  const settings = clientSettings(region);
  const key = `${kind}|${region}|${settings.endpoint ?? ''}`;
  let client = cache.get(key) as T | undefined;
  if (client === undefined) {
    client = make(settings);
    cache.set(key, client);
  }
  return client;
}

export function ec2Client(region: string): EC2Client {
  return cached('ec2', region, (s) => new EC2Client(s));
}

export function sfnClient(region: string = homeRegion()): SFNClient {
  return cached('sfn', region, (s) => new SFNClient(s));
}

export function s3Client(region: string = homeRegion()): S3Client {
  // The local cloud serves S3 path-style on its one port.
  return cached('s3', region, (s) => new S3Client({ ...s, forcePathStyle: s.endpoint !== undefined }));
}

export function autoScalingClient(region: string): AutoScalingClient {
  return cached('autoscaling', region, (s) => new AutoScalingClient(s));
}

export function eventsClient(region: string = homeRegion()): EventBridgeClient {
  return cached('events', region, (s) => new EventBridgeClient(s));
}

/** The region the factory (its state machines, bus and state bucket) runs in. */
export function homeRegion(): string {
  return process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
}

/** A required environment variable, or a ConfigurationError naming it (fails at cold start). */
export function requiredEnv(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === '') throw new ConfigurationError(`Environment variable ${name} is not set`);
  return v;
}

/** The factory's own EventBridge bus (AMI_FACTORY_EVENT_BUS, default `ami-factory`). */
export function eventBusName(): string {
  return process.env.AMI_FACTORY_EVENT_BUS ?? 'ami-factory';
}
