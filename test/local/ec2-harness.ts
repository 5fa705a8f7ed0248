import { EC2Client } from '@aws-sdk/client-ec2';
import { VirtualClock } from '../../local/clock.js';
import { serveLocalServices } from '../../local/server.js';
import { createEc2Service, type Ec2Event, type Ec2Service, type Ec2ServiceOptions } from '../../local/ec2/service.js';
import { failure } from '../fixtures.js';

/**
 * The local EC2 endpoint behind a node:http server on a free port, built the way the local
 * cloud builds requests (region and service from the SigV4 scope), with real SDK clients.
 */
export interface Ec2Harness {
  service: Ec2Service;
  clock: VirtualClock;
  endpoint: string;
  events: Ec2Event[];
  /** A client for `region`; `maxAttempts: 1` unless told otherwise. */
  client(region?: string, maxAttempts?: number): EC2Client;
  close(): Promise<void>;
}

export type HarnessOptions = Partial<Omit<Ec2ServiceOptions, 'clock' | 'onEvent'>> & { timeScale?: number; clock?: VirtualClock };

export async function startEc2(opts: HarnessOptions = {}): Promise<Ec2Harness> {
  const clock = opts.clock ?? new VirtualClock(opts.timeScale ?? 1);
  const events: Ec2Event[] = [];
  const { timeScale: _t, clock: _c, ...serviceOpts } = opts;
  const service = createEc2Service({ ...serviceOpts, clock, onEvent: (e) => events.push(e) });
  const served = await serveLocalServices([service]);
  const endpoint = served.endpoint;
  const clients: EC2Client[] = [];
  return {
    service,
    clock,
    endpoint,
    events,
    client: (region = 'us-east-1', maxAttempts = 1) => {
      const c = new EC2Client({ region, endpoint, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' }, maxAttempts });
      clients.push(c);
      return c;
    },
    close: async () => {
      for (const c of clients) c.destroy();
      service.close();
      await served.close();
    },
  };
}

/** Polls `probe` until it returns a defined value, at most `timeoutMs` real ms. */
export async function until<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function tagMap(tags: { Key?: string | undefined; Value?: string | undefined }[] | undefined): Record<string, string> {
  return Object.fromEntries((tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
}

/** The SDK error name of a rejected call (fails the test if it resolves). */
export async function errorName(p: Promise<unknown>): Promise<string> {
  return (await failure(p)).name;
}
