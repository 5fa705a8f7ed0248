import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { EventBridgeClient, ListRulesCommand } from '@aws-sdk/client-eventbridge';
import { CreateTagsCommand, DescribeImagesCommand, DescribeRegionsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { VirtualClock } from '../../local/clock.js';
import { createAutoScalingService } from '../../local/autoscaling/service.js';
import { createEc2Service, type ActionContext } from '../../local/ec2/service.js';
import { createEventsService } from '../../local/events/service.js';
import type { LocalRequest, LocalService } from '../../local/http.js';
import { AccessDeniedError, type AccessRequest, type Authorize } from '../../local/protocols/access.js';
import { serveLocalServices, type ServedServices } from '../../local/server.js';
import { failure } from '../fixtures.js';

const ROLE = 'arn:aws:sts::000000000000:assumed-role/planRetention/session';

/** An evaluator stand-in: records every question, refuses the actions in `denied`. */
function evaluator(denied: string[]): {
  authorize: Authorize;
  seen: { accessKeyId: string | undefined; action: string; requests: AccessRequest[] }[];
} {
  const seen: { accessKeyId: string | undefined; action: string; requests: AccessRequest[] }[] = [];
  return {
    seen,
    authorize: (req: LocalRequest, action: string, requests: AccessRequest[]) => {
      seen.push({ accessKeyId: req.accessKeyId, action, requests });
      const refused = requests.find((r) => denied.includes(r.action));
      if (refused !== undefined) throw AccessDeniedError.of(ROLE, refused);
    },
  };
}

const credentials = { accessKeyId: 'AKIDPLANRETENTION', secretAccessKey: 'test' };

describe('authorization seam of the protocol layers', () => {
  let served: ServedServices;
  const start = async (services: LocalService[]): Promise<string> => {
    served = await serveLocalServices(services);
    return served.endpoint;
  };
  afterEach(async () => {
    await served.close();
  });

  it('EC2: asks authorize with the caller and the access requests, and answers a refusal with UnauthorizedOperation (403)', async () => {
    // Prepare
    const e = evaluator(['ec2:CreateTags']);
    const access = {
      CreateTags: (ctx: ActionContext): AccessRequest[] =>
        ctx.p.strings('ResourceId').map((id) => ({ action: 'ec2:CreateTags', resource: `arn:aws:ec2:${ctx.region}::image/${id}` })),
    };
    const ec2 = createEc2Service({ clock: new VirtualClock(), authorize: e.authorize, access });
    const endpoint = await start([ec2]);
    const client = new EC2Client({ region: 'us-east-1', endpoint, credentials, maxAttempts: 1 });
    try {
      // Act
      await client.send(new DescribeRegionsCommand({}));
      const refused = await client
        .send(new CreateTagsCommand({ Resources: ['ami-0123456789abcdef0'], Tags: [{ Key: 'k', Value: 'v' }] }))
        .catch((x: unknown) => x);
      // Assess
      expect(e.seen[0]).toEqual({
        accessKeyId: 'AKIDPLANRETENTION',
        action: 'DescribeRegions',
        requests: [{ action: 'ec2:DescribeRegions', resource: '*' }],
      });
      expect(e.seen[1]?.requests).toEqual([{ action: 'ec2:CreateTags', resource: 'arn:aws:ec2:us-east-1::image/ami-0123456789abcdef0' }]);
      const err = refused as { name: string; message: string; $metadata: { httpStatusCode: number } };
      expect(err.name).toBe('UnauthorizedOperation');
      expect(err.$metadata.httpStatusCode).toBe(403);
      expect(err.message).toMatch(
        /^You are not authorized to perform this operation\. User: arn:aws:sts::000000000000:assumed-role\/planRetention\/session is not authorized to perform: ec2:CreateTags on resource: arn:aws:ec2:us-east-1::image\/ami-0123456789abcdef0 because no identity-based policy allows the ec2:CreateTags action\. Encoded authorization failure message: [A-Za-z0-9_-]+$/,
      );
    } finally {
      client.destroy();
      ec2.close();
    }
  });

  it('EC2: DryRun answers DryRunOperation when allowed and UnauthorizedOperation when not, as EC2 does', async () => {
    // Prepare
    const e = evaluator(['ec2:CreateTags']);
    const ec2 = createEc2Service({ clock: new VirtualClock(), authorize: e.authorize });
    const endpoint = await start([ec2]);
    const client = new EC2Client({ region: 'us-east-1', endpoint, credentials, maxAttempts: 1 });
    try {
      // Act
      const allowed = await failure(client.send(new DescribeImagesCommand({ DryRun: true })));
      const denied = await failure(
        client.send(new CreateTagsCommand({ DryRun: true, Resources: ['ami-0123456789abcdef0'], Tags: [{ Key: 'k', Value: 'v' }] })),
      );
      // Assess
      expect(allowed).toEqual({ name: 'DryRunOperation', status: 412 });
      expect(denied).toEqual({ name: 'UnauthorizedOperation', status: 403 });
    } finally {
      client.destroy();
      ec2.close();
    }
  });

  it('Auto Scaling: a refusal is AccessDenied (403) with IAM sentence', async () => {
    // Prepare
    const e = evaluator(['autoscaling:DescribeAutoScalingGroups']);
    const clock = new VirtualClock();
    const asg = createAutoScalingService({ clock, authorize: e.authorize });
    const endpoint = await start([asg]);
    const client = new AutoScalingClient({ region: 'us-east-1', endpoint, credentials, maxAttempts: 1 });
    try {
      // Act
      const err = (await client.send(new DescribeAutoScalingGroupsCommand({})).catch((x: unknown) => x)) as {
        name: string;
        message: string;
        $metadata: { httpStatusCode: number };
      };
      // Assess
      expect(err.name).toBe('AccessDenied');
      expect(err.$metadata.httpStatusCode).toBe(403);
      expect(err.message).toBe(
        `User: ${ROLE} is not authorized to perform: autoscaling:DescribeAutoScalingGroups on resource: * because no identity-based policy allows the autoscaling:DescribeAutoScalingGroups action`,
      );
    } finally {
      client.destroy();
      asg.close();
    }
  });

  it('JSON services: a refusal is AccessDeniedException (HTTP 400)', async () => {
    // Prepare
    const e = evaluator(['events:ListRules']);
    const events = createEventsService({
      accountId: '000000000000',
      clock: new VirtualClock(),
      dispatcher: { invokeLambda: async () => undefined, startExecution: async () => undefined },
      authorize: e.authorize,
    });
    const endpoint = await start([events]);
    const client = new EventBridgeClient({ region: 'us-east-1', endpoint, credentials, maxAttempts: 1 });
    try {
      // Act
      const err = await failure(client.send(new ListRulesCommand({})));
      // Assess
      expect(err).toEqual({ name: 'AccessDeniedException', status: 400 });
      expect(e.seen[0]?.requests).toEqual([{ action: 'events:ListRules', resource: '*' }]);
    } finally {
      client.destroy();
      events.close();
    }
  });
});
