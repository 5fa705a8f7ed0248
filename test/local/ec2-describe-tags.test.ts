import {
  CreateImageCommand,
  CreateTagsCommand,
  DescribeImagesCommand,
  DescribeTagsCommand,
  RunInstancesCommand,
  paginateDescribeTags,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { LOCAL_ACCOUNT_ID } from '../../local/ec2/service.js';
import { errorName, startEc2, type Ec2Harness } from './ec2-harness.js';

async function baseImage(c: EC2Client): Promise<{ id: string; imdsV2: boolean }> {
  const r = await c.send(new DescribeImagesCommand({ Owners: ['amazon'], Filters: [{ Name: 'architecture', Values: ['x86_64'] }] }));
  const image = r.Images?.[0];
  return { id: image?.ImageId ?? '', imdsV2: image?.ImdsSupport === 'v2.0' };
}

describe('local EC2: DescribeTags', () => {
  let h: Ec2Harness;
  let c: EC2Client;
  let instanceId: string;
  beforeEach(async () => {
    h = await startEc2({ throttling: false });
    c = h.client();
    const r = await c.send(
      new RunInstancesCommand({
        ImageId: (await baseImage(c)).id,
        MinCount: 1,
        MaxCount: 1,
        InstanceType: 't3.micro',
        TagSpecifications: [
          {
            ResourceType: 'instance',
            Tags: [
              { Key: 'Name', Value: 'builder' },
              { Key: 'Team', Value: 'tagtest' },
            ],
          },
          { ResourceType: 'volume', Tags: [{ Key: 'Name', Value: 'builder-vol' }] },
        ],
      }),
    );
    instanceId = r.Instances?.[0]?.InstanceId ?? '';
  });
  afterEach(async () => {
    await h.close();
  });

  it('lists the tags of the account resources with EC2 resource type names', async () => {
    // Act
    const r = await c.send(new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [instanceId] }] }));
    const volumes = await c.send(new DescribeTagsCommand({ Filters: [{ Name: 'resource-type', Values: ['volume'] }] }));
    // Assess
    expect(r.Tags).toEqual([
      { ResourceId: instanceId, ResourceType: 'instance', Key: 'Name', Value: 'builder' },
      { ResourceId: instanceId, ResourceType: 'instance', Key: 'Team', Value: 'tagtest' },
    ]);
    expect(volumes.Tags?.map((t) => [t.ResourceType, t.Key, t.Value])).toContainEqual(['volume', 'Name', 'builder-vol']);
  });

  it('filters by key, value (wildcards) and tag:<key>, and lists tags the caller set with CreateTags', async () => {
    // Prepare
    const owned = (await c.send(new CreateImageCommand({ InstanceId: instanceId, Name: 'tagged-image', NoReboot: true }))).ImageId;
    await c.send(new CreateTagsCommand({ Resources: [owned ?? ''], Tags: [{ Key: 'Team', Value: 'tagtest-image' }] }));
    // Act
    const byKey = await c.send(new DescribeTagsCommand({ Filters: [{ Name: 'key', Values: ['Team'] }] }));
    const byValue = await c.send(new DescribeTagsCommand({ Filters: [{ Name: 'value', Values: ['tagtes?*'] }] }));
    const byTag = await c.send(new DescribeTagsCommand({ Filters: [{ Name: 'tag:Team', Values: ['tagtest'] }] }));
    // Assess
    expect(byKey.Tags?.map((t) => t.ResourceId).sort()).toEqual([instanceId, owned].sort());
    expect(byValue.Tags?.map((t) => t.Value).sort()).toEqual(['tagtest', 'tagtest-image']);
    expect(byTag.Tags).toEqual([{ ResourceId: instanceId, ResourceType: 'instance', Key: 'Team', Value: 'tagtest' }]);
    expect(byKey.Tags?.find((t) => t.ResourceId === owned)?.ResourceType).toBe('image');
  });

  it('pages with MaxResults (5 to 1000) and NextToken, and refuses an unknown filter', async () => {
    // Prepare
    const all = (await c.send(new DescribeTagsCommand({}))).Tags ?? [];
    expect(all.length).toBeGreaterThan(5);
    // Act
    const paged = [];
    for await (const page of paginateDescribeTags({ client: c, pageSize: 5 }, {})) paged.push(...(page.Tags ?? []));
    // Assess
    expect(paged).toEqual(all);
    expect(await errorName(c.send(new DescribeTagsCommand({ MaxResults: 4 })))).toBe('InvalidParameterValue');
    expect(await errorName(c.send(new DescribeTagsCommand({ Filters: [{ Name: 'owner-id', Values: [LOCAL_ACCOUNT_ID] }] })))).toBe(
      'InvalidParameterValue',
    );
  });
});
