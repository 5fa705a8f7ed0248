import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import { configuredEndpointKey, homeRegion } from './env.js';

/**
 * The one place AWS clients are made. Settings: the region and `retryMode: adaptive`
 * (client-side rate limiting on top of exponential backoff with jitter, as AWS recommends
 * for EC2's token buckets). Endpoints are chosen the way every AWS tool chooses them: the
 * SDK itself reads `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` (the local cloud,
 * LocalStack, another emulator); with an IP-address endpoint such as http://127.0.0.1:4566
 * the S3 client addresses buckets path-style by itself.
 *
 * Clients are cached per (service, region), so no request path builds one. The SDK reads
 * the endpoint variables once per client, so they are part of the key: a process whose
 * endpoint changes (the tests start one local cloud after another) gets new clients.
 */
export interface ClientSettings {
  region: string;
  maxAttempts: number;
  retryMode: 'adaptive';
}

export function clientSettings(region: string): ClientSettings {
  return { region, maxAttempts: 5, retryMode: 'adaptive' };
}

type AnyClient = EC2Client | SFNClient | S3Client | EventBridgeClient | AutoScalingClient | SSMClient;
const cache = new Map<string, AnyClient>();

/** The SDK's service id in the endpoint variables' names (`AWS_ENDPOINT_URL_<ID>`). */
type EndpointId = 'EC2' | 'SFN' | 'S3' | 'EVENTBRIDGE' | 'AUTO_SCALING' | 'SSM';

function cached<T extends AnyClient>(id: EndpointId, region: string, make: (s: ClientSettings) => T): T {
  const key = `${id}|${region}|${configuredEndpointKey(id)}`;
  let client = cache.get(key) as T | undefined;
  if (client === undefined) {
    client = make(clientSettings(region));
    cache.set(key, client);
  }
  return client;
}

export function ec2Client(region: string): EC2Client {
  return cached('EC2', region, (s) => new EC2Client(s));
}

export function sfnClient(region: string = homeRegion()): SFNClient {
  return cached('SFN', region, (s) => new SFNClient(s));
}

export function s3Client(region: string = homeRegion()): S3Client {
  return cached('S3', region, (s) => new S3Client(s));
}

export function autoScalingClient(region: string): AutoScalingClient {
  return cached('AUTO_SCALING', region, (s) => new AutoScalingClient(s));
}

export function eventsClient(region: string = homeRegion()): EventBridgeClient {
  return cached('EVENTBRIDGE', region, (s) => new EventBridgeClient(s));
}

export function ssmClient(region: string = homeRegion()): SSMClient {
  return cached('SSM', region, (s) => new SSMClient(s));
}
