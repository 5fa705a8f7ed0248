import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DeleteParameterCommand,
  DeleteParametersCommand,
  DescribeParametersCommand,
  GetParameterCommand,
  GetParameterHistoryCommand,
  GetParametersByPathCommand,
  GetParametersCommand,
  PutParameterCommand,
  SSMClient,
  paginateGetParametersByPath,
} from '@aws-sdk/client-ssm';
import { DescribeImageReferencesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { VirtualClock } from '../../local/clock.js';
import { createEc2Service, LOCAL_ACCOUNT_ID, type Ec2Service } from '../../local/ec2/service.js';
import { serveLocalServices, type ServedServices } from '../../local/server.js';
import { createSsmService, type SsmEvent, type SsmService, type SsmServiceOptions } from '../../local/ssm/service.js';
import { failure } from '../fixtures.js';
import { awsCli, runAwsCli } from './aws-cli.js';

interface Harness {
  ssm: SSMClient;
  ec2Client: EC2Client;
  service: SsmService;
  ec2: Ec2Service;
  events: SsmEvent[];
  served: ServedServices;
  image: string;
  close(): Promise<void>;
}

/** The local SSM behind a node:http server, its aws:ec2:image validation asking a local EC2. */
async function start(opts: Partial<SsmServiceOptions> = {}): Promise<Harness> {
  const clock = new VirtualClock(1, Date.parse('2026-03-01T12:00:00.000Z'));
  // EC2's DescribeImageReferences reports the parameters of this SSM (as local/server.ts wires them).
  let references: SsmService['imageReferences'] = () => [];
  const ec2 = createEc2Service({
    clock,
    throttling: false,
    parameterReferences: (region, imageId) => references(region, imageId).map((r) => r.arn),
  });
  const events: SsmEvent[] = [];
  const service = createSsmService({
    accountId: LOCAL_ACCOUNT_ID,
    clock,
    imageUsable: (region, imageId) => ec2.imageUsable(region, imageId),
    onEvent: (e) => events.push(e),
    ...opts,
  });
  references = (region, imageId) => service.imageReferences(region, imageId);
  const served = await serveLocalServices([service, ec2]);
  const clientOptions = {
    region: 'us-east-1',
    endpoint: served.endpoint,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' },
    maxAttempts: 1,
  };
  const ssm = new SSMClient(clientOptions);
  const ec2Client = new EC2Client(clientOptions);
  const image = ec2.images('us-east-1').find((i) => i.state === 'available')?.imageId ?? '';
  return {
    ssm,
    ec2Client,
    service,
    ec2,
    events,
    served,
    image,
    close: async () => {
      ssm.destroy();
      ec2Client.destroy();
      service.close();
      ec2.close();
      await served.close();
    },
  };
}

describe('local SSM Parameter Store', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await start();
  });
  afterEach(async () => {
    await h.close();
  });

  describe('PutParameter and GetParameter', () => {
    it('creates a String, versions it on Overwrite, and refuses a second create (ParameterAlreadyExists)', async () => {
      // Act
      const first = await h.ssm.send(
        new PutParameterCommand({ Name: '/app/url', Value: 'https://a', Type: 'String', Description: 'where' }),
      );
      const again = await failure(h.ssm.send(new PutParameterCommand({ Name: '/app/url', Value: 'https://b', Type: 'String' })));
      const second = await h.ssm.send(new PutParameterCommand({ Name: '/app/url', Value: 'https://b', Overwrite: true }));
      const got = await h.ssm.send(new GetParameterCommand({ Name: '/app/url' }));
      const v1 = await h.ssm.send(new GetParameterCommand({ Name: '/app/url:1' }));
      // Assess
      expect(first).toMatchObject({ Version: 1, Tier: 'Standard' });
      expect(again).toEqual({ name: 'ParameterAlreadyExists', status: 400 });
      expect(second.Version).toBe(2);
      expect(got.Parameter).toMatchObject({
        Name: '/app/url',
        Type: 'String',
        Value: 'https://b',
        Version: 2,
        DataType: 'text',
        ARN: `arn:aws:ssm:us-east-1:${LOCAL_ACCOUNT_ID}:parameter/app/url`,
      });
      // The simulated clock started at 12:00 and runs at real speed.
      expect(got.Parameter?.LastModifiedDate?.getTime()).toBeGreaterThanOrEqual(Date.parse('2026-03-01T12:00:00.000Z'));
      expect(got.Parameter?.LastModifiedDate?.getTime()).toBeLessThan(Date.parse('2026-03-01T12:01:00.000Z'));
      expect(v1.Parameter).toMatchObject({ Value: 'https://a', Version: 1, Selector: ':1' });
      expect(h.events.map((e) => [e.detail.operation, e.detail.name, e.detail.type])).toEqual([
        ['Create', '/app/url', 'String'],
        ['Update', '/app/url', 'String'],
      ]);
      expect(h.events[0]).toMatchObject({
        source: 'aws.ssm',
        detailType: 'Parameter Store Change',
        detail: { description: 'where' },
        resources: [`arn:aws:ssm:us-east-1:${LOCAL_ACCOUNT_ID}:parameter/app/url`],
        account: LOCAL_ACCOUNT_ID,
        region: 'us-east-1',
      });
    });

    it('keeps a SecureString encrypted under alias/aws/ssm: ciphertext without decryption, the value with it', async () => {
      // Act
      await h.ssm.send(new PutParameterCommand({ Name: '/slack/signing-secret', Value: 's3cr3t', Type: 'SecureString' }));
      const plain = await h.ssm.send(new GetParameterCommand({ Name: '/slack/signing-secret', WithDecryption: true }));
      const hidden = await h.ssm.send(new GetParameterCommand({ Name: '/slack/signing-secret' }));
      const described = await h.ssm.send(new DescribeParametersCommand({}));
      // Assess
      expect(plain.Parameter?.Value).toBe('s3cr3t');
      expect(hidden.Parameter?.Value).toMatch(/^AQICAH[A-Za-z0-9+/]+=*$/);
      expect(hidden.Parameter?.Value).not.toContain('s3cr3t');
      expect(described.Parameters?.[0]).toMatchObject({ Name: '/slack/signing-secret', Type: 'SecureString', KeyId: 'alias/aws/ssm' });
      expect(JSON.stringify(h.service)).not.toContain('s3cr3t');
    });

    it('refuses what Parameter Store refuses', async () => {
      const put = (input: ConstructorParameters<typeof PutParameterCommand>[0]) => failure(h.ssm.send(new PutParameterCommand(input)));
      expect(await put({ Name: '/aws/mine', Value: 'x', Type: 'String' })).toEqual({ name: 'ValidationException', status: 400 });
      expect(await put({ Name: 'ssm-thing', Value: 'x', Type: 'String' })).toEqual({ name: 'ValidationException', status: 400 });
      expect(await put({ Name: 'a b', Value: 'x', Type: 'String' })).toEqual({ name: 'ValidationException', status: 400 });
      expect(await put({ Name: 'a/b', Value: 'x', Type: 'String' })).toEqual({ name: 'ValidationException', status: 400 });
      expect(await put({ Name: '/no-type', Value: 'x' })).toEqual({ name: 'ValidationException', status: 400 });
      expect(await put({ Name: '/key', Value: 'x', Type: 'String', KeyId: 'alias/mine' })).toEqual({
        name: 'ValidationException',
        status: 400,
      });
      expect(await put({ Name: '/dt', Value: 'x', Type: 'String', DataType: 'aws:ec2:img' })).toEqual({
        name: 'ValidationException',
        status: 400,
      });
      expect(await put({ Name: '/big', Value: 'x'.repeat(4097), Type: 'String' })).toEqual({ name: 'ValidationException', status: 400 });
      expect(await put({ Name: '/num', Value: 'abc', Type: 'String', AllowedPattern: '^\\d+$' })).toEqual({
        name: 'ParameterPatternMismatchException',
        status: 400,
      });
      expect(await put({ Name: '/deep/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p', Value: 'x', Type: 'String' })).toEqual({
        name: 'HierarchyLevelLimitExceededException',
        status: 400,
      });
      expect(await put({ Name: '/tagged', Value: 'x', Type: 'String', Overwrite: true, Tags: [{ Key: 'k', Value: 'v' }] })).toEqual({
        name: 'ValidationException',
        status: 400,
      });
      expect(await failure(h.ssm.send(new GetParameterCommand({ Name: '/missing' })))).toEqual({ name: 'ParameterNotFound', status: 400 });
      await h.ssm.send(new PutParameterCommand({ Name: '/one', Value: 'x', Type: 'String' }));
      expect(await failure(h.ssm.send(new GetParameterCommand({ Name: '/one:7' })))).toEqual({
        name: 'ParameterVersionNotFound',
        status: 400,
      });
    });

    it('takes an Advanced value up to 8 KB and never downgrades it to Standard', async () => {
      // Act
      const advanced = await h.ssm.send(
        new PutParameterCommand({ Name: '/large', Value: 'x'.repeat(5000), Type: 'String', Tier: 'Intelligent-Tiering' }),
      );
      const down = await failure(
        h.ssm.send(new PutParameterCommand({ Name: '/large', Value: 'small', Overwrite: true, Tier: 'Standard' })),
      );
      // Assess
      expect(advanced.Tier).toBe('Advanced');
      expect(down).toEqual({ name: 'ValidationException', status: 400 });
    });
  });

  describe('aws:ec2:image', () => {
    it('answers at once and writes the parameter once the AMI is validated (asynchronously, as Parameter Store does)', async () => {
      // Act
      const put = await h.ssm.send(
        new PutParameterCommand({ Name: '/golden/ami', Value: h.image, Type: 'String', DataType: 'aws:ec2:image' }),
      );
      await h.service.idle();
      const got = await h.ssm.send(new GetParameterCommand({ Name: '/golden/ami' }));
      // Assess
      expect(put.Version).toBe(1);
      expect(got.Parameter).toMatchObject({ Value: h.image, DataType: 'aws:ec2:image', Version: 1 });
      expect(h.events.at(-1)?.detail).toEqual({ name: '/golden/ami', type: 'String', operation: 'Create', dataType: 'aws:ec2:image' });
      expect(h.service.imageReferences('us-east-1', h.image)).toEqual([
        { name: '/golden/ami', arn: `arn:aws:ssm:us-east-1:${LOCAL_ACCOUNT_ID}:parameter/golden/ami`, version: 1 },
      ]);
      expect(h.service.imageReferences('us-east-1', 'ami-00000000000000000')).toEqual([]);
    });

    it("is reported by EC2's DescribeImageReferences as an ssm:Parameter reference of its image, in its region only", async () => {
      // Prepare
      await h.ssm.send(
        new PutParameterCommand({ Name: '/ami-factory/web/latest', Value: h.image, Type: 'String', DataType: 'aws:ec2:image' }),
      );
      await h.ssm.send(new PutParameterCommand({ Name: '/plain/text', Value: h.image, Type: 'String' }));
      await h.service.idle();
      // Act
      const all = await h.ec2Client.send(new DescribeImageReferencesCommand({ ImageIds: [h.image], IncludeAllResourceTypes: true }));
      const typed = await h.ec2Client.send(
        new DescribeImageReferencesCommand({ ImageIds: [h.image], ResourceTypes: [{ ResourceType: 'ssm:Parameter' }] }),
      );
      const instancesOnly = await h.ec2Client.send(
        new DescribeImageReferencesCommand({ ImageIds: [h.image], ResourceTypes: [{ ResourceType: 'ec2:Instance' }] }),
      );
      // Assess
      const parameter = {
        ImageId: h.image,
        ResourceType: 'ssm:Parameter',
        Arn: `arn:aws:ssm:us-east-1:${LOCAL_ACCOUNT_ID}:parameter/ami-factory/web/latest`,
      };
      expect(all.ImageReferences?.filter((r) => r.ResourceType === 'ssm:Parameter')).toEqual([parameter]);
      expect(typed.ImageReferences).toEqual([parameter]);
      expect(instancesOnly.ImageReferences?.some((r) => r.ResourceType === 'ssm:Parameter')).toBe(false);
      expect(h.service.imageReferences('us-west-2', h.image)).toEqual([]);
    });

    it('answers PutParameter with success for an AMI that does not exist, then creates nothing and says why in the event', async () => {
      // Act
      const put = await h.ssm.send(
        new PutParameterCommand({ Name: '/golden/ghost', Value: 'ami-0123456789abcdef0', Type: 'String', DataType: 'aws:ec2:image' }),
      );
      const malformed = await h.ssm.send(
        new PutParameterCommand({ Name: '/golden/typo', Value: 'not-an-ami', Type: 'String', DataType: 'aws:ec2:image' }),
      );
      await h.service.idle();
      // Assess
      expect(put.Version).toBe(1);
      expect(malformed.Version).toBe(1);
      expect(await failure(h.ssm.send(new GetParameterCommand({ Name: '/golden/ghost' })))).toEqual({
        name: 'ParameterNotFound',
        status: 400,
      });
      expect(await failure(h.ssm.send(new GetParameterCommand({ Name: '/golden/typo' })))).toEqual({
        name: 'ParameterNotFound',
        status: 400,
      });
      expect(h.events.map((e) => e.detail)).toEqual([
        { name: '/golden/ghost', type: 'String', operation: 'Create', dataType: 'aws:ec2:image', exception: 'Unable to Describe Resource' },
        { name: '/golden/typo', type: 'String', operation: 'Create', dataType: 'aws:ec2:image', exception: 'Unable to Describe Resource' },
      ]);
    });

    it('refuses aws:ec2:image for other types than String, and a change of data type to or from it', async () => {
      await h.ssm.send(new PutParameterCommand({ Name: '/plain', Value: h.image, Type: 'String' }));
      const secure = failure(
        h.ssm.send(new PutParameterCommand({ Name: '/s', Value: h.image, Type: 'SecureString', DataType: 'aws:ec2:image' })),
      );
      const change = failure(
        h.ssm.send(new PutParameterCommand({ Name: '/plain', Value: h.image, Overwrite: true, DataType: 'aws:ec2:image' })),
      );
      expect(await secure).toEqual({ name: 'ValidationException', status: 400 });
      expect(await change).toEqual({ name: 'ValidationException', status: 400 });
    });
  });

  describe('reads and deletes', () => {
    beforeEach(async () => {
      for (const [name, value] of [
        ['/app/a', '1'],
        ['/app/b', '2'],
        ['/app/c', '3'],
        ['/app/nested/d', '4'],
        ['/other/e', '5'],
        ['flat', '6'],
      ] as const) {
        await h.ssm.send(new PutParameterCommand({ Name: name, Value: value, Type: name === '/app/c' ? 'SecureString' : 'String' }));
      }
    });

    it('GetParameters answers the parameters it has and names the others', async () => {
      // Act
      const r = await h.ssm.send(new GetParametersCommand({ Names: ['/app/a', 'flat', '/nope', '/app/c'], WithDecryption: true }));
      // Assess
      expect(r.Parameters?.map((p) => [p.Name, p.Value])).toEqual([
        ['/app/a', '1'],
        ['flat', '6'],
        ['/app/c', '3'],
      ]);
      expect(r.InvalidParameters).toEqual(['/nope']);
    });

    it('GetParametersByPath lists one level or, Recursive, the whole hierarchy, paged by 10 at most', async () => {
      // Act
      const oneLevel = await h.ssm.send(new GetParametersByPathCommand({ Path: '/app' }));
      const all: string[] = [];
      for await (const page of paginateGetParametersByPath({ client: h.ssm, pageSize: 2 }, { Path: '/app/', Recursive: true })) {
        all.push(...(page.Parameters ?? []).map((p) => p.Name ?? ''));
      }
      const typed = await h.ssm.send(
        new GetParametersByPathCommand({ Path: '/app', ParameterFilters: [{ Key: 'Type', Values: ['SecureString'] }] }),
      );
      // Assess
      expect(oneLevel.Parameters?.map((p) => p.Name)).toEqual(['/app/a', '/app/b', '/app/c']);
      expect(oneLevel.Parameters?.find((p) => p.Name === '/app/c')?.Value).toMatch(/^AQICAH/);
      expect(all).toEqual(['/app/a', '/app/b', '/app/c', '/app/nested/d']);
      expect(typed.Parameters?.map((p) => p.Name)).toEqual(['/app/c']);
      expect(await failure(h.ssm.send(new GetParametersByPathCommand({ Path: '/app', MaxResults: 11 })))).toEqual({
        name: 'ValidationException',
        status: 400,
      });
      expect(await failure(h.ssm.send(new GetParametersByPathCommand({ Path: '/app', NextToken: 'bm9wZQ' })))).toEqual({
        name: 'InvalidNextToken',
        status: 400,
      });
    });

    it('DescribeParameters filters by name, path, type and data type', async () => {
      // Act
      const begins = await h.ssm.send(
        new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Option: 'BeginsWith', Values: ['/app/'] }] }),
      );
      const path = await h.ssm.send(
        new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Path', Option: 'Recursive', Values: ['/app'] }] }),
      );
      const secure = await h.ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Type', Values: ['SecureString'] }] }));
      const legacy = await h.ssm.send(new DescribeParametersCommand({ Filters: [{ Key: 'Name', Values: ['fl'] }] }));
      // Assess
      expect(begins.Parameters?.map((p) => p.Name)).toEqual(['/app/a', '/app/b', '/app/c', '/app/nested/d']);
      expect(path.Parameters).toHaveLength(4);
      expect(secure.Parameters?.map((p) => [p.Name, p.KeyId])).toEqual([['/app/c', 'alias/aws/ssm']]);
      expect(legacy.Parameters?.map((p) => p.Name)).toEqual(['flat']);
      expect(begins.Parameters?.[0]).toMatchObject({
        Version: 1,
        Tier: 'Standard',
        DataType: 'text',
        LastModifiedUser: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:root`,
      });
    });

    it('GetParameterHistory lists every version, oldest first', async () => {
      // Prepare
      await h.ssm.send(new PutParameterCommand({ Name: '/app/a', Value: '1b', Overwrite: true, Description: 'second' }));
      // Act
      const r = await h.ssm.send(new GetParameterHistoryCommand({ Name: '/app/a' }));
      // Assess
      expect(r.Parameters?.map((p) => [p.Version, p.Value, p.Description])).toEqual([
        [1, '1', undefined],
        [2, '1b', 'second'],
      ]);
    });

    it('DeleteParameter and DeleteParameters remove parameters and their history', async () => {
      // Act
      await h.ssm.send(new DeleteParameterCommand({ Name: '/app/a' }));
      const many = await h.ssm.send(new DeleteParametersCommand({ Names: ['/app/b', '/nope'] }));
      // Assess
      expect(many).toMatchObject({ DeletedParameters: ['/app/b'], InvalidParameters: ['/nope'] });
      expect(await failure(h.ssm.send(new DeleteParameterCommand({ Name: '/app/a' })))).toEqual({ name: 'ParameterNotFound', status: 400 });
      expect(await failure(h.ssm.send(new GetParameterHistoryCommand({ Name: '/app/a' })))).toEqual({
        name: 'ParameterNotFound',
        status: 400,
      });
      expect(h.events.filter((e) => e.detail.operation === 'Delete').map((e) => e.detail.name)).toEqual(['/app/a', '/app/b']);
    });
  });
});

describe('local SSM persistence', () => {
  it('keeps parameters, versions and SecureStrings across restarts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ami-factory-ssm-'));
    try {
      let h = await start({ stateFile: join(dir, 'ssm.json') });
      await h.ssm.send(new PutParameterCommand({ Name: '/keys/bundle', Value: 'private', Type: 'SecureString' }));
      await h.ssm.send(new PutParameterCommand({ Name: '/keys/bundle', Value: 'private-2', Type: 'SecureString', Overwrite: true }));
      await h.close();
      h = await start({ stateFile: join(dir, 'ssm.json') });
      const got = await h.ssm.send(new GetParameterCommand({ Name: '/keys/bundle', WithDecryption: true }));
      await h.close();
      expect(got.Parameter).toMatchObject({ Value: 'private-2', Version: 2 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const cli = awsCli();

describe('local SSM through the AWS CLI', () => {
  const run = 'bin' in cli ? it : it.skip;
  run(`puts, gets (decrypted) and lists parameters${'missing' in cli ? ` — SKIPPED: ${cli.missing}` : ''}`, async () => {
    const h = await start();
    try {
      const bin = 'bin' in cli ? cli.bin : 'aws';
      const put = await runAwsCli(bin, h.served.endpoint, [
        'ssm',
        'put-parameter',
        '--name',
        '/cli/secret',
        '--value',
        'v1',
        '--type',
        'SecureString',
      ]);
      const got = await runAwsCli(bin, h.served.endpoint, ['ssm', 'get-parameter', '--name', '/cli/secret', '--with-decryption']);
      const byPath = await runAwsCli(bin, h.served.endpoint, ['ssm', 'get-parameters-by-path', '--path', '/cli']);
      const missing = runAwsCli(bin, h.served.endpoint, ['ssm', 'get-parameter', '--name', '/cli/none']);
      expect(put).toEqual({ Version: 1, Tier: 'Standard' });
      expect(got).toMatchObject({ Parameter: { Name: '/cli/secret', Type: 'SecureString', Value: 'v1', Version: 1, DataType: 'text' } });
      expect(byPath).toMatchObject({ Parameters: [{ Name: '/cli/secret', Value: expect.stringMatching(/^AQICAH/) }] });
      await expect(missing).rejects.toThrow(/ParameterNotFound/);
    } finally {
      await h.close();
    }
  });
});
