import { SEED_WEB_LAUNCH_TEMPLATE_ID } from '../../local/ec2/seed.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  DeleteLaunchTemplateCommand,
  DeleteLaunchTemplateVersionsCommand,
  DescribeImageReferencesCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  ModifyLaunchTemplateCommand,
  TerminateInstancesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { VirtualClock } from '../../local/clock.js';
import { throttleClass } from '../../local/ec2/throttle.js';
import { errorName, startEc2, tagMap, type Ec2Harness } from './ec2-harness.js';

/** Simulated time that moves only when the test says so. */
class ManualClock extends VirtualClock {
  private at = Date.parse('2025-03-01T12:00:00.000Z');
  override nowMs(): number {
    return this.at;
  }
  override advance(ms: number): void {
    this.at += ms;
  }
}

async function baseImages(c: EC2Client): Promise<string[]> {
  const r = await c.send(new DescribeImagesCommand({ Owners: ['amazon'], Filters: [{ Name: 'architecture', Values: ['x86_64'] }] }));
  return (r.Images ?? []).map((i) => i.ImageId ?? '');
}

describe('local EC2 endpoint: launch templates and image references', () => {
  let h: Ec2Harness;
  let c: EC2Client;
  let clock: ManualClock;
  let amiA: string;
  let amiB: string;
  beforeEach(async () => {
    clock = new ManualClock(1);
    h = await startEc2({ clock });
    c = h.client();
    // These tests count and list templates: start without the demo world's `web` template.
    await c.send(new DeleteLaunchTemplateCommand({ LaunchTemplateId: SEED_WEB_LAUNCH_TEMPLATE_ID }));
    [amiA = '', amiB = ''] = await baseImages(c);
  });
  afterEach(async () => {
    await h.close();
  });

  describe('CreateLaunchTemplate / CreateLaunchTemplateVersion', () => {
    it('creates version 1 with the data and tags, and answers the same template for a repeated ClientToken', async () => {
      // Act
      const r = await c.send(
        new CreateLaunchTemplateCommand({
          LaunchTemplateName: 'web-fleet',
          VersionDescription: 'first',
          LaunchTemplateData: { ImageId: amiA, InstanceType: 't3.micro' },
          TagSpecifications: [{ ResourceType: 'launch-template', Tags: [{ Key: 'team', Value: 'web' }] }],
          ClientToken: 'token-1',
        }),
      );
      const again = await c.send(
        new CreateLaunchTemplateCommand({
          LaunchTemplateName: 'web-fleet',
          VersionDescription: 'first',
          LaunchTemplateData: { ImageId: amiA, InstanceType: 't3.micro' },
          TagSpecifications: [{ ResourceType: 'launch-template', Tags: [{ Key: 'team', Value: 'web' }] }],
          ClientToken: 'token-1',
        }),
      );
      // Assess
      const t = r.LaunchTemplate;
      expect(t?.LaunchTemplateId).toMatch(/^lt-[0-9a-f]{17}$/);
      expect(t).toMatchObject({
        LaunchTemplateName: 'web-fleet',
        DefaultVersionNumber: 1,
        LatestVersionNumber: 1,
        CreatedBy: 'arn:aws:iam::111122223333:root',
      });
      expect(t?.CreateTime?.toISOString()).toBe('2025-03-01T12:00:00.000Z');
      expect(tagMap(t?.Tags)).toEqual({ team: 'web' });
      expect(r.Warning).toBeUndefined();
      expect(again.LaunchTemplate?.LaunchTemplateId).toBe(t?.LaunchTemplateId);
      const v = await c.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: t?.LaunchTemplateId }));
      expect(v.LaunchTemplateVersions).toHaveLength(1);
      expect(v.LaunchTemplateVersions?.[0]).toMatchObject({
        LaunchTemplateName: 'web-fleet',
        VersionNumber: 1,
        VersionDescription: 'first',
        DefaultVersion: true,
        LaunchTemplateData: { ImageId: amiA, InstanceType: 't3.micro' },
      });
    });

    it('refuses a duplicate name, a malformed name, a reused ClientToken with other data and missing data', async () => {
      await c.send(
        new CreateLaunchTemplateCommand({ LaunchTemplateName: 'dup', LaunchTemplateData: { ImageId: amiA }, ClientToken: 'tok' }),
      );
      expect(
        await errorName(c.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'dup', LaunchTemplateData: { ImageId: amiA } }))),
      ).toBe('InvalidLaunchTemplateName.AlreadyExistsException');
      expect(
        await errorName(
          c.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'no spaces!', LaunchTemplateData: { ImageId: amiA } })),
        ),
      ).toBe('InvalidLaunchTemplateName.MalformedException');
      expect(
        await errorName(
          c.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'dup', LaunchTemplateData: { ImageId: amiB }, ClientToken: 'tok' })),
        ),
      ).toBe('IdempotentParameterMismatch');
      expect(
        await errorName(c.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'x-data', LaunchTemplateData: undefined }))),
      ).toBe('MissingParameter');
      expect(
        await errorName(
          c.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'bad-ami', LaunchTemplateData: { ImageId: 'image-1' } })),
        ),
      ).toBe('InvalidAMIID.Malformed');
    });

    it('warns (and still creates) when the image does not exist', async () => {
      const r = await c.send(
        new CreateLaunchTemplateCommand({ LaunchTemplateName: 'ghost', LaunchTemplateData: { ImageId: 'ami-0123456789abcdef0' } }),
      );
      expect(r.LaunchTemplate?.LaunchTemplateName).toBe('ghost');
      expect(r.Warning?.Errors?.[0]).toMatchObject({ Code: 'InvalidAMIID.NotFound' });
    });

    it('numbers new versions, inherits from SourceVersion, and keeps the default until ModifyLaunchTemplate', async () => {
      // Prepare
      const t = (
        await c.send(
          new CreateLaunchTemplateCommand({ LaunchTemplateName: 'app', LaunchTemplateData: { ImageId: amiA, InstanceType: 't3.small' } }),
        )
      ).LaunchTemplate;
      const id = t?.LaunchTemplateId ?? '';
      // Act
      const v2 = await c.send(
        new CreateLaunchTemplateVersionCommand({ LaunchTemplateId: id, SourceVersion: '1', LaunchTemplateData: { ImageId: amiB } }),
      );
      const v3 = await c.send(
        new CreateLaunchTemplateVersionCommand({ LaunchTemplateName: 'app', LaunchTemplateData: { InstanceType: 'm5.large' } }),
      );
      // Assess
      expect(v2.LaunchTemplateVersion).toMatchObject({
        VersionNumber: 2,
        DefaultVersion: false,
        LaunchTemplateData: { ImageId: amiB, InstanceType: 't3.small' },
      });
      expect(v3.LaunchTemplateVersion?.VersionNumber).toBe(3);
      expect(v3.LaunchTemplateVersion?.LaunchTemplateData?.ImageId).toBeUndefined();
      const desc = async (versions?: string[], extra: { MinVersion?: string; MaxVersion?: string } = {}): Promise<number[]> =>
        (
          (await c.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: id, Versions: versions, ...extra })))
            .LaunchTemplateVersions ?? []
        ).map((v) => v.VersionNumber ?? 0);
      expect(await desc()).toEqual([3, 2, 1]);
      expect(await desc(['$Default'])).toEqual([1]);
      expect(await desc(['$Latest', '$Default'])).toEqual([3, 1]);
      expect(await desc(['2'])).toEqual([2]);
      expect(await desc(undefined, { MinVersion: '2' })).toEqual([3, 2]);
      expect(await desc(undefined, { MaxVersion: '2' })).toEqual([2, 1]);
      await c.send(new ModifyLaunchTemplateCommand({ LaunchTemplateId: id, DefaultVersion: '2' }));
      expect(await desc(['$Default'])).toEqual([2]);
      const lt = (await c.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: [id] }))).LaunchTemplates?.[0];
      expect(lt).toMatchObject({ DefaultVersionNumber: 2, LatestVersionNumber: 3 });
      expect(await errorName(c.send(new ModifyLaunchTemplateCommand({ LaunchTemplateId: id, DefaultVersion: '9' })))).toBe(
        'InvalidLaunchTemplateId.VersionNotFound',
      );
      expect(await errorName(c.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: id, Versions: ['7'] })))).toBe(
        'InvalidLaunchTemplateId.VersionNotFound',
      );
      expect(
        await errorName(
          c.send(
            new CreateLaunchTemplateVersionCommand({
              LaunchTemplateId: id,
              SourceVersion: '8',
              LaunchTemplateData: { InstanceType: 't3.nano' },
            }),
          ),
        ),
      ).toBe('InvalidLaunchTemplateId.VersionNotFound');
    });

    it('filters versions by image-id and lists $Latest/$Default of every template without an id', async () => {
      await c.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'one', LaunchTemplateData: { ImageId: amiA } }));
      clock.advance(1000);
      await c.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'two', LaunchTemplateData: { ImageId: amiB } }));
      await c.send(new CreateLaunchTemplateVersionCommand({ LaunchTemplateName: 'two', LaunchTemplateData: { ImageId: amiA } }));
      const byImage = await c.send(
        new DescribeLaunchTemplateVersionsCommand({ Versions: ['$Latest'], Filters: [{ Name: 'image-id', Values: [amiA] }] }),
      );
      expect(byImage.LaunchTemplateVersions?.map((v) => `${v.LaunchTemplateName}:${v.VersionNumber}`)).toEqual(['one:1', 'two:2']);
      const defaults = await c.send(new DescribeLaunchTemplateVersionsCommand({ Versions: ['$Default'] }));
      expect(defaults.LaunchTemplateVersions?.map((v) => `${v.LaunchTemplateName}:${v.VersionNumber}`)).toEqual(['one:1', 'two:1']);
      expect(await errorName(c.send(new DescribeLaunchTemplateVersionsCommand({})))).toBe('MissingParameter');
    });
  });

  describe('DescribeLaunchTemplates', () => {
    it('finds templates by id, name and filter, pages through them, and answers the EC2 not-found codes', async () => {
      // Prepare
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        clock.advance(1000);
        const r = await c.send(
          new CreateLaunchTemplateCommand({
            LaunchTemplateName: `tpl-${i}`,
            LaunchTemplateData: { ImageId: amiA },
            TagSpecifications: [{ ResourceType: 'launch-template', Tags: [{ Key: 'parity', Value: i % 2 === 0 ? 'even' : 'odd' }] }],
          }),
        );
        ids.push(r.LaunchTemplate?.LaunchTemplateId ?? '');
      }
      // Act + Assess
      const byName = await c.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: ['tpl-3'] }));
      expect(byName.LaunchTemplates?.map((t) => t.LaunchTemplateId)).toEqual([ids[3]]);
      const even = await c.send(new DescribeLaunchTemplatesCommand({ Filters: [{ Name: 'tag:parity', Values: ['even'] }] }));
      expect(even.LaunchTemplates?.map((t) => t.LaunchTemplateName)).toEqual(['tpl-0', 'tpl-2', 'tpl-4']);
      const wild = await c.send(
        new DescribeLaunchTemplatesCommand({ Filters: [{ Name: 'launch-template-name', Values: ['tpl-[12]', 'tpl-1'] }] }),
      );
      expect(wild.LaunchTemplates?.map((t) => t.LaunchTemplateName)).toEqual(['tpl-1']);
      const seen: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await c.send(new DescribeLaunchTemplatesCommand({ MaxResults: 2, NextToken: token }));
        seen.push(...(page.LaunchTemplates ?? []).map((t) => t.LaunchTemplateId ?? ''));
        token = page.NextToken;
        pages++;
      } while (token !== undefined);
      expect(pages).toBe(3);
      expect(seen).toEqual(ids);
      expect(await errorName(c.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: ['lt-0123456789abcdef0'] })))).toBe(
        'InvalidLaunchTemplateId.NotFound',
      );
      expect(await errorName(c.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: ['template-1'] })))).toBe(
        'InvalidLaunchTemplateId.Malformed',
      );
      expect(await errorName(c.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: ['nope'] })))).toBe(
        'InvalidLaunchTemplateName.NotFoundException',
      );
      expect(await errorName(c.send(new DescribeLaunchTemplatesCommand({ MaxResults: 500 })))).toBe('InvalidParameterValue');
    });
  });

  describe('DeleteLaunchTemplate / DeleteLaunchTemplateVersions', () => {
    it('deletes versions except the default, reports the others, and deletes whole templates', async () => {
      const id = (await c.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'del', LaunchTemplateData: { ImageId: amiA } })))
        .LaunchTemplate?.LaunchTemplateId;
      await c.send(new CreateLaunchTemplateVersionCommand({ LaunchTemplateId: id, LaunchTemplateData: { ImageId: amiB } }));
      await c.send(new CreateLaunchTemplateVersionCommand({ LaunchTemplateId: id, LaunchTemplateData: { ImageId: amiB } }));
      const r = await c.send(new DeleteLaunchTemplateVersionsCommand({ LaunchTemplateId: id, Versions: ['1', '3', '9'] }));
      expect(r.SuccessfullyDeletedLaunchTemplateVersions?.map((v) => v.VersionNumber)).toEqual([3]);
      expect(r.UnsuccessfullyDeletedLaunchTemplateVersions?.map((v) => [v.VersionNumber, v.ResponseError?.Code])).toEqual([
        [1, 'unexpectedError'],
        [9, 'launchTemplateVersionDoesNotExist'],
      ]);
      const lt = (await c.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: [id ?? ''] }))).LaunchTemplates?.[0];
      expect(lt).toMatchObject({ DefaultVersionNumber: 1, LatestVersionNumber: 2 });
      const gone = await c.send(new DeleteLaunchTemplateCommand({ LaunchTemplateName: 'del' }));
      expect(gone.LaunchTemplate?.LaunchTemplateId).toBe(id);
      expect(await errorName(c.send(new DeleteLaunchTemplateCommand({ LaunchTemplateId: id })))).toBe('InvalidLaunchTemplateId.NotFound');
      expect(await errorName(c.send(new DeleteLaunchTemplateCommand({})))).toBe('MissingParameter');
    });

    it('persists templates with the world', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'ec2-lt-'));
      try {
        const stateFile = join(dir, 'ec2.json');
        const first = await startEc2({ clock, stateFile });
        const id = (
          await first.client().send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'kept', LaunchTemplateData: { ImageId: amiA } }))
        ).LaunchTemplate?.LaunchTemplateId;
        await first.close();
        const second = await startEc2({ clock, stateFile });
        const lt = (await second.client().send(new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: ['kept'] }))).LaunchTemplates?.[0];
        expect(lt?.LaunchTemplateId).toBe(id);
        expect(second.service.launchTemplate('us-east-1', { name: 'kept' })).toMatchObject({
          launchTemplateId: id,
          defaultVersion: 1,
          versions: [1],
        });
        await second.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('DescribeImageReferences', () => {
    it('finds the instances and launch templates that use an image', async () => {
      // Prepare: the seeded web instances run the newest x86_64 base image.
      const webs =
        (await c.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Role', Values: ['web'] }] }))).Reservations?.flatMap(
          (r) => r.Instances ?? [],
        ) ?? [];
      const used = webs[0]?.ImageId ?? '';
      const unused = [amiA, amiB].find((a) => a !== used) ?? '';
      const lt = (await c.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'uses-it', LaunchTemplateData: { ImageId: used } })))
        .LaunchTemplate;
      // Act
      const r = await c.send(new DescribeImageReferencesCommand({ ImageIds: [used, unused], IncludeAllResourceTypes: true }));
      // Assess
      const refs = r.ImageReferences ?? [];
      expect(
        refs
          .filter((x) => x.ResourceType === 'ec2:Instance')
          .map((x) => x.Arn)
          .sort(),
      ).toEqual(webs.map((i) => `arn:aws:ec2:us-east-1:111122223333:instance/${i.InstanceId}`).sort());
      expect(refs.filter((x) => x.ResourceType === 'ec2:LaunchTemplate')).toEqual([
        {
          ImageId: used,
          ResourceType: 'ec2:LaunchTemplate',
          Arn: `arn:aws:ec2:us-east-1:111122223333:launch-template/${lt?.LaunchTemplateId}`,
        },
      ]);
      expect(refs.every((x) => x.ImageId === used)).toBe(true);
      const onlyTemplates = await c.send(
        new DescribeImageReferencesCommand({ ImageIds: [used], ResourceTypes: [{ ResourceType: 'ec2:LaunchTemplate' }] }),
      );
      expect(onlyTemplates.ImageReferences?.map((x) => x.ResourceType)).toEqual(['ec2:LaunchTemplate']);
      const stopped = await c.send(
        new DescribeImageReferencesCommand({
          ImageIds: [used],
          ResourceTypes: [{ ResourceType: 'ec2:Instance', ResourceTypeOptions: [{ OptionName: 'state-name', OptionValues: ['stopped'] }] }],
        }),
      );
      expect(stopped.ImageReferences).toEqual([]);
    });

    it('checks the newest version-depth versions and the default version of a template', async () => {
      const name = 'deep';
      await c.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: name, LaunchTemplateData: { ImageId: amiA } }));
      await c.send(new CreateLaunchTemplateVersionCommand({ LaunchTemplateName: name, LaunchTemplateData: { ImageId: amiB } }));
      await c.send(new CreateLaunchTemplateVersionCommand({ LaunchTemplateName: name, LaunchTemplateData: { ImageId: amiB } }));
      const refs = async (imageId: string, depth: string): Promise<number> =>
        (
          await c.send(
            new DescribeImageReferencesCommand({
              ImageIds: [imageId],
              ResourceTypes: [
                { ResourceType: 'ec2:LaunchTemplate', ResourceTypeOptions: [{ OptionName: 'version-depth', OptionValues: [depth] }] },
              ],
            }),
          )
        ).ImageReferences?.length ?? 0;
      // Version 1 (amiA) is the default: found at any depth.
      expect(await refs(amiA, '1')).toBe(1);
      await c.send(new ModifyLaunchTemplateCommand({ LaunchTemplateName: name, DefaultVersion: '3' }));
      expect(await refs(amiA, '1')).toBe(0);
      expect(await refs(amiA, '3')).toBe(1);
      expect(await refs(amiB, '1')).toBe(1);
    });

    it('stops counting a terminated instance once EC2 no longer shows it', async () => {
      const web = (await c.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Golden', Values: ['true'] }] }))).Reservations?.[0]
        ?.Instances?.[0];
      const imageId = web?.ImageId ?? '';
      await c.send(new TerminateInstancesCommand({ InstanceIds: [web?.InstanceId ?? ''] }));
      const count = async (): Promise<number> =>
        (await c.send(new DescribeImageReferencesCommand({ ImageIds: [imageId], ResourceTypes: [{ ResourceType: 'ec2:Instance' }] })))
          .ImageReferences?.length ?? 0;
      expect(await count()).toBe(3);
      clock.advance(2 * 3_600_000);
      expect(await count()).toBe(2);
    });

    it('pages, and refuses more than 10 image ids, no resource types, unknown types and unknown images', async () => {
      const used =
        (await c.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Role', Values: ['web'] }] }))).Reservations?.[0]?.Instances?.[0]
          ?.ImageId ?? '';
      for (let i = 0; i < 4; i++)
        await c.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: `ref-${i}`, LaunchTemplateData: { ImageId: used } }));
      const arns: string[] = [];
      let token: string | undefined;
      do {
        const page = await c.send(
          new DescribeImageReferencesCommand({ ImageIds: [used], IncludeAllResourceTypes: true, MaxResults: 5, NextToken: token }),
        );
        arns.push(...(page.ImageReferences ?? []).map((x) => x.Arn ?? ''));
        token = page.NextToken;
      } while (token !== undefined);
      expect(arns).toHaveLength(7);
      expect(new Set(arns).size).toBe(7);
      const eleven = Array.from({ length: 11 }, () => used);
      expect(await errorName(c.send(new DescribeImageReferencesCommand({ ImageIds: eleven, IncludeAllResourceTypes: true })))).toBe(
        'InvalidParameterValue',
      );
      expect(await errorName(c.send(new DescribeImageReferencesCommand({ ImageIds: [used] })))).toBe('MissingParameter');
      expect(
        await errorName(
          c.send(
            new DescribeImageReferencesCommand({ ImageIds: [used], ResourceTypes: [{ ResourceType: 'ec2:Volume' as 'ec2:Instance' }] }),
          ),
        ),
      ).toBe('InvalidParameterValue');
      expect(
        await errorName(c.send(new DescribeImageReferencesCommand({ ImageIds: ['ami-0123456789abcdef0'], IncludeAllResourceTypes: true }))),
      ).toBe('InvalidAMIID.NotFound');
    });
  });

  describe('throttling classes', () => {
    it('puts the Describe actions in the non-mutating bucket and the others in the mutating one', () => {
      for (const a of ['DescribeLaunchTemplates', 'DescribeLaunchTemplateVersions', 'DescribeImageReferences'])
        expect(throttleClass(a, true)).toBe('describe');
      for (const a of [
        'CreateLaunchTemplate',
        'CreateLaunchTemplateVersion',
        'ModifyLaunchTemplate',
        'DeleteLaunchTemplate',
        'DeleteLaunchTemplateVersions',
      ]) {
        expect(throttleClass(a, true)).toBe('mutating');
      }
    });

    it('throttles a burst of CreateLaunchTemplate after the mutating bucket (50) is empty', async () => {
      // Buckets on the test's manual clock, which does not move during the burst: on the real
      // clock a loaded machine lets the bucket refill (5 a second) between calls.
      const paused = await startEc2({ clock: new ManualClock(1), throttleClock: 'simulated' });
      const pc = paused.client();
      let ok = 0;
      const errors: string[] = [];
      try {
        for (let i = 0; i < 55; i++) {
          try {
            await pc.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: `burst-${i}`, LaunchTemplateData: { ImageId: amiA } }));
            ok++;
          } catch (e) {
            errors.push(e instanceof Error ? e.name : String(e));
          }
        }
        expect(ok).toBe(50);
        expect(errors).toEqual(Array.from({ length: 5 }, () => 'RequestLimitExceeded'));
        expect(paused.service.stats().throttled['us-east-1:CreateLaunchTemplate']).toBe(5);
      } finally {
        await paused.close();
      }
    });
  });
});
