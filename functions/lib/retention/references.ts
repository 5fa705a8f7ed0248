import {
  DescribeImageReferencesCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  type EC2Client,
  type ResourceTypeRequest,
} from '@aws-sdk/client-ec2';
import {
  DescribeAutoScalingGroupsCommand,
  DescribeLaunchConfigurationsCommand,
  type AutoScalingClient,
  type LaunchTemplateSpecification,
} from '@aws-sdk/client-auto-scaling';
import { AWS_LIMITS } from '../constants.js';

/**
 * What DescribeImageReferences is asked about: every type it knows, instances in any state
 * but terminated (a terminated instance no longer uses its image; by default EC2 counts it).
 */
const LIVE_INSTANCE_STATES = ['pending', 'running', 'shutting-down', 'stopping', 'stopped'];
const REFERENCE_TYPES: ResourceTypeRequest[] = [
  { ResourceType: 'ec2:Instance', ResourceTypeOptions: [{ OptionName: 'state-name', OptionValues: LIVE_INSTANCE_STATES }] },
  { ResourceType: 'ec2:LaunchTemplate' },
  { ResourceType: 'ssm:Parameter' },
  { ResourceType: 'imagebuilder:ImageRecipe' },
  { ResourceType: 'imagebuilder:ContainerRecipe' },
];

/** Why each image is in use: image id → the uses found (instances, templates, parameters…). */
export type ImageUses = Map<string, string[]>;

function addUse(uses: ImageUses, imageId: string | undefined, why: string, wanted?: ReadonlySet<string>): void {
  if (imageId === undefined || (wanted !== undefined && !wanted.has(imageId))) return;
  const list = uses.get(imageId) ?? [];
  if (!list.includes(why)) list.push(why);
  uses.set(imageId, list);
}

/**
 * Which of the given images are in use in one region, and by what. An image is in use when
 * any non-terminated instance runs it, a launch template version that can still be launched
 * names it ($Default, $Latest, and every version an Auto Scaling group pins), a launch
 * configuration of an Auto Scaling group names it, or DescribeImageReferences reports a
 * reference. Any error propagates: when in doubt, nothing is retired.
 *
 * `describeImageReferences: false` leaves out the last source (at most 10 images a call, so
 * most of the calls): for a plan whose every retiring batch is re-checked with it right before
 * acting (run.ts), where asking twice would only delay the first action.
 *
 * `templates` passes template references already read (templateReferences) for a caller that
 * asks about images in several chunks: the templates do not depend on the images asked about.
 */
export async function findImageReferences(
  ec2: EC2Client,
  autoscaling: AutoScalingClient,
  imageIds: string[],
  options: { describeImageReferences?: boolean; templates?: ImageUses | Promise<ImageUses> } = {},
): Promise<ImageUses> {
  const wanted = new Set(imageIds);
  const uses: ImageUses = new Map();
  if (wanted.size === 0) return uses;
  const ids = [...wanted];
  // The sources are independent: asked at once (each keeps its own pages in order), then merged
  // in a fixed order so the reasons read the same whichever answers first.
  const [instances, templates, ec2Refs] = await Promise.all([
    instanceReferences(ec2, ids),
    options.templates ?? templateReferences(ec2, autoscaling),
    options.describeImageReferences === false ? new Map<string, string[]>() : ec2References(ec2, ids),
  ]);
  for (const source of [instances, templates, ec2Refs])
    for (const [imageId, whys] of source) for (const why of whys) addUse(uses, imageId, why, wanted);
  return uses;
}

/** 1. Instances in any state but terminated that run one of `ids`. */
async function instanceReferences(ec2: EC2Client, ids: string[]): Promise<ImageUses> {
  const uses: ImageUses = new Map();
  for (let i = 0; i < ids.length; i += 200) {
    let NextToken: string | undefined;
    do {
      const page = await ec2.send(
        new DescribeInstancesCommand({
          Filters: [
            { Name: 'image-id', Values: ids.slice(i, i + 200) },
            { Name: 'instance-state-name', Values: LIVE_INSTANCE_STATES },
          ],
          MaxResults: 1000,
          NextToken,
        }),
      );
      for (const r of page.Reservations ?? [])
        for (const inst of r.Instances ?? []) addUse(uses, inst.ImageId, `instance ${inst.InstanceId} (${inst.State?.Name})`);
      NextToken = page.NextToken;
    } while (NextToken);
  }
  return uses;
}

/**
 * 2 and 3: every image the region's Auto Scaling groups (pinned launch template versions,
 * launch configurations) and launch templates ($Default, $Latest, the pinned versions) can
 * still launch, whatever images are asked about.
 */
export async function templateReferences(ec2: EC2Client, autoscaling: AutoScalingClient): Promise<ImageUses> {
  const uses: ImageUses = new Map();
  const pinned = new Map<string, Set<string>>();
  const pin = (spec: LaunchTemplateSpecification | undefined, group: string): void => {
    const id = spec?.LaunchTemplateId ?? spec?.LaunchTemplateName;
    if (id === undefined) return;
    const set = pinned.get(id) ?? new Set<string>();
    set.add(`${spec?.Version ?? '$Default'}|${group}`);
    pinned.set(id, set);
  };
  const launchConfigs = new Map<string, string[]>();
  let asgToken: string | undefined;
  do {
    const page = await autoscaling.send(new DescribeAutoScalingGroupsCommand({ NextToken: asgToken, MaxRecords: 100 }));
    for (const g of page.AutoScalingGroups ?? []) {
      const name = g.AutoScalingGroupName ?? '?';
      pin(g.LaunchTemplate, name);
      const mixed = g.MixedInstancesPolicy?.LaunchTemplate;
      pin(mixed?.LaunchTemplateSpecification, name);
      for (const o of mixed?.Overrides ?? []) pin(o.LaunchTemplateSpecification, name);
      if (g.LaunchConfigurationName !== undefined)
        launchConfigs.set(g.LaunchConfigurationName, [...(launchConfigs.get(g.LaunchConfigurationName) ?? []), name]);
    }
    asgToken = page.NextToken;
  } while (asgToken);
  const lcNames = [...launchConfigs.keys()];
  for (let i = 0; i < lcNames.length; i += 50) {
    const r = await autoscaling.send(new DescribeLaunchConfigurationsCommand({ LaunchConfigurationNames: lcNames.slice(i, i + 50) }));
    for (const lc of r.LaunchConfigurations ?? []) {
      for (const g of launchConfigs.get(lc.LaunchConfigurationName ?? '') ?? [])
        addUse(uses, lc.ImageId, `launch configuration ${lc.LaunchConfigurationName} of Auto Scaling group ${g}`);
    }
  }

  let ltToken: string | undefined;
  do {
    const page = await ec2.send(new DescribeLaunchTemplatesCommand({ NextToken: ltToken, MaxResults: 200 }));
    for (const lt of page.LaunchTemplates ?? []) {
      const id = lt.LaunchTemplateId as string;
      const pins = new Set([...(pinned.get(id) ?? []), ...(pinned.get(lt.LaunchTemplateName ?? '') ?? [])]);
      const versions = new Set(['$Default', '$Latest', ...[...pins].map((p) => p.split('|')[0] as string)]);
      const r = await ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: id, Versions: [...versions] }));
      for (const v of r.LaunchTemplateVersions ?? []) {
        const labels: string[] = [];
        if (v.DefaultVersion === true) labels.push('$Default');
        if (v.VersionNumber === lt.LatestVersionNumber) labels.push('$Latest');
        for (const p of pins) {
          const [ver, group] = p.split('|');
          if (
            ver === String(v.VersionNumber) ||
            (ver === '$Latest' && v.VersionNumber === lt.LatestVersionNumber) ||
            (ver === '$Default' && v.DefaultVersion === true)
          ) {
            labels.push(`pinned by Auto Scaling group ${group}`);
          }
        }
        addUse(
          uses,
          v.LaunchTemplateData?.ImageId,
          `launch template ${id} version ${v.VersionNumber}${labels.length > 0 ? ` (${labels.join(', ')})` : ''}`,
        );
      }
    }
    ltToken = page.NextToken;
  } while (ltToken);
  return uses;
}

/** DescribeImageReferences calls in flight at once (each takes at most 10 ids; its pages stay in order). */
const EC2_REFERENCE_CALLS = 4;

/** 4. EC2's own view of `ids`: instances, launch templates, SSM parameters, Image Builder recipes. */
async function ec2References(ec2: EC2Client, ids: string[]): Promise<ImageUses> {
  const chunks: string[][] = [];
  for (let i = 0; i < ids.length; i += AWS_LIMITS.imageReferencesBatch) chunks.push(ids.slice(i, i + AWS_LIMITS.imageReferencesBatch));
  const found: [string, string][][] = chunks.map(() => []);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let c = next++; c < chunks.length; c = next++) {
      let NextToken: string | undefined;
      do {
        const page = await ec2.send(new DescribeImageReferencesCommand({ ImageIds: chunks[c], ResourceTypes: REFERENCE_TYPES, NextToken }));
        for (const ref of page.ImageReferences ?? [])
          if (ref.ImageId !== undefined) found[c]?.push([ref.ImageId, `${ref.ResourceType ?? 'resource'} ${ref.Arn ?? ''}`.trim()]);
        NextToken = page.NextToken;
      } while (NextToken);
    }
  };
  await Promise.all(Array.from({ length: Math.min(EC2_REFERENCE_CALLS, chunks.length) }, worker));
  // In the order of the ids, whichever call answered first.
  const uses: ImageUses = new Map();
  for (const refs of found) for (const [imageId, why] of refs) addUse(uses, imageId, why);
  return uses;
}
