import { GetObjectCommand } from '@aws-sdk/client-s3';
import { DescribeImagesCommand } from '@aws-sdk/client-ec2';
import { ec2Client, s3Client, ssmClient } from '../../functions/lib/clients.js';

/** What the SDK's HTTP request says about where it goes. */
interface HttpRequest {
  hostname: string;
  port?: number;
  path: string;
}

/** Sends `command` with `client` and returns the HTTP request it would have made (nothing leaves the process). */
async function requestOf(client: { send(c: never): Promise<unknown>; middlewareStack: unknown }, command: unknown): Promise<HttpRequest> {
  const stop = new Error('captured');
  let captured: HttpRequest | undefined;
  const stack = client.middlewareStack as {
    add(mw: (next: unknown) => (args: { request: HttpRequest }) => Promise<never>, o: { step: 'finalizeRequest'; name: string }): void;
    remove(name: string): boolean;
  };
  stack.add(
    () => async (args) => {
      captured = args.request;
      throw stop;
    },
    { step: 'finalizeRequest', name: 'captureRequest' },
  );
  try {
    await client.send(command as never).catch((e: unknown) => {
      if (e !== stop) throw e;
    });
  } finally {
    stack.remove('captureRequest');
  }
  if (captured === undefined) throw new Error('no request was made');
  return captured;
}

describe('AWS clients', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('does cache one client per service and region', () => {
    expect(ec2Client('eu-west-1')).toBe(ec2Client('eu-west-1'));
    expect(ec2Client('eu-west-1')).not.toBe(ec2Client('us-west-2'));
    expect(ssmClient('eu-west-1')).toBe(ssmClient('eu-west-1'));
  });

  it('does go where AWS_ENDPOINT_URL points, path-style for S3 on an IP endpoint', async () => {
    // Prepare
    process.env.AWS_ENDPOINT_URL = 'http://127.0.0.1:4566';
    // Act
    const s3 = await requestOf(s3Client('us-east-1'), new GetObjectCommand({ Bucket: 'factory-state', Key: 'waits/x.json' }));
    const ec2 = await requestOf(ec2Client('us-east-1'), new DescribeImagesCommand({}));
    // Assess
    expect({ host: s3.hostname, port: s3.port, path: s3.path }).toEqual({
      host: '127.0.0.1',
      port: 4566,
      path: '/factory-state/waits/x.json',
    });
    expect({ host: ec2.hostname, port: ec2.port }).toEqual({ host: '127.0.0.1', port: 4566 });
  });

  it('does give a new client when the endpoint changes, and honours AWS_ENDPOINT_URL_<SERVICE>', async () => {
    process.env.AWS_ENDPOINT_URL = 'http://127.0.0.1:4566';
    const first = ec2Client('us-east-1');
    process.env.AWS_ENDPOINT_URL_EC2 = 'http://127.0.0.1:4599';
    const second = ec2Client('us-east-1');
    expect(second).not.toBe(first);
    expect((await requestOf(second, new DescribeImagesCommand({}))).port).toBe(4599);
    expect((await requestOf(s3Client('us-east-1'), new GetObjectCommand({ Bucket: 'b', Key: 'k' }))).port).toBe(4566);
  });

  it("does use the service's own endpoint when no variable is set", async () => {
    delete process.env.AWS_ENDPOINT_URL;
    const r = await requestOf(ec2Client('eu-west-1'), new DescribeImagesCommand({}));
    expect(r.hostname).toBe('ec2.eu-west-1.amazonaws.com');
  });
});
