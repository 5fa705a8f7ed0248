import { ListExecutionsCommand, DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import type { BuildRequest } from '../../functions/lib/build-request.js';
import { REGIONS, type ImageRecord, type LaunchPermissionRecord } from '../../local/ec2/model.js';
import type { LocalCloud } from '../../local/server.js';
import type { SFNClient } from '@aws-sdk/client-sfn';

/**
 * The invariants a fault scenario must leave true, checked against the local world itself
 * (EC2's images, snapshots and instances per region, the state bucket, the executions and the
 * pending callback tokens) rather than against what the executions say happened.
 */

/** What the world held before the scenario: whatever it holds now and did not hold then was made by the scenario. */
export interface Baseline {
  images: Map<string, { state: string; permissions: string; tags: string; deprecation?: number | undefined }>;
  snapshots: Set<string>;
  instances: Set<string>;
  objects: Set<string>;
}

interface ReportRegion {
  region: string;
  status: string;
  imageId?: string | null;
  error?: string;
  cause?: string;
}

interface BuildReport {
  outcome?: string;
  regions?: ReportRegion[];
}

const MANAGED = 'ami-factory:managed';
const BUILD_ID = 'ami-factory:build-id';

const key = (region: string, id: string): string => `${region}/${id}`;
const permissions = (p: LaunchPermissionRecord[]): string =>
  JSON.stringify(p.map((x) => x.userId ?? x.group ?? x.organizationArn ?? x.organizationalUnitArn ?? '').sort());

function instanceState(cloud: LocalCloud, region: string, id: string): string {
  return cloud.ec2.instanceHistory(region, id).at(-1)?.state ?? 'unknown';
}

/** Records the world before a scenario. */
export function baseline(cloud: LocalCloud): Baseline {
  const b: Baseline = { images: new Map(), snapshots: new Set(), instances: new Set(), objects: new Set() };
  for (const region of REGIONS) {
    const rs = cloud.ec2.regionState(region);
    for (const i of Object.values(rs.images))
      b.images.set(key(region, i.imageId), {
        state: i.state,
        permissions: permissions(i.launchPermissions),
        tags: JSON.stringify(i.tags),
        deprecation: i.deprecationMs,
      });
    for (const s of Object.keys(rs.snapshots)) b.snapshots.add(key(region, s));
    for (const i of Object.keys(rs.instances)) b.instances.add(key(region, i));
  }
  for (const k of cloud.s3.listKeys(cloud.stateBucket)) b.objects.add(k);
  return b;
}

/** Every execution of the state machine, described (status, input, output). */
async function executions(sfn: SFNClient, stateMachineArn: string) {
  const out = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new ListExecutionsCommand({ stateMachineArn, nextToken }));
    for (const e of page.executions ?? []) out.push(await sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn })));
    nextToken = page.nextToken;
  } while (nextToken !== undefined);
  return out;
}

export interface BuildInvariantsInput {
  cloud: LocalCloud;
  sfn: SFNClient;
  before: Baseline;
  /** The requests the scenario started (several executions may share one). */
  requests: BuildRequest[];
}

const live = (i: ImageRecord): boolean => i.state !== 'deregistered';

/**
 * The build invariants: one image per build and region; nothing new untagged or orphaned
 * (image, snapshot, builder instance, bundle); every requested region's outcome reported, with
 * its reason when it failed; nothing that existed before deregistered, shared or retagged, and
 * new images shared with nobody the request did not name; no callback token or `waits/` record
 * left; every execution terminal. Returns the violations, each a sentence.
 */
export async function checkBuildInvariants(input: BuildInvariantsInput): Promise<string[]> {
  const { cloud, sfn, before, requests } = input;
  const v: string[] = [];
  const byBuild = new Map(requests.map((r) => [r.buildId, r]));
  const execs = await executions(sfn, cloud.stateMachineArn('image-factory'));

  // Every execution terminal; the reports of the succeeded ones.
  const reported = new Map<string, ReportRegion[]>();
  for (const e of execs) {
    if (e.status === 'RUNNING') v.push(`execution ${e.name} is still RUNNING`);
    const req = JSON.parse(e.input ?? '{}') as Partial<BuildRequest>;
    if (req.buildId === undefined || !byBuild.has(req.buildId)) continue;
    if (e.status === 'FAILED' && (e.error ?? '') !== '' && (e.cause ?? '') !== '') {
      // BuildFailed: the build region failed, the execution ends in the Fail state with the
      // reason (error and cause), for every region; nothing of the build may be left.
      continue;
    }
    if (e.status !== 'SUCCEEDED') {
      v.push(`execution ${e.name} ended ${e.status} (${e.error ?? ''}: ${e.cause ?? ''}) without reporting an outcome and its reason`);
      continue;
    }
    const report = JSON.parse(e.output ?? '{}') as BuildReport;
    const regions = report.regions ?? [];
    const wanted = [req.region, ...(req.copies ?? []).map((c) => c.region)];
    for (const region of wanted) {
      const r = regions.find((x) => x.region === region);
      if (r === undefined) v.push(`execution ${e.name} does not report region ${region}`);
      else if (r.status === 'succeeded' && (r.imageId ?? '') === '')
        v.push(`execution ${e.name} reports ${region} succeeded without an image id`);
      else if (r.status !== 'succeeded' && ((r.error ?? '') === '' || (r.cause ?? '') === ''))
        v.push(`execution ${e.name} reports ${region} ${r.status} without its reason (error and cause)`);
    }
    reported.set(req.buildId, [...(reported.get(req.buildId) ?? []), ...regions]);
  }
  if (!execs.some((e) => byBuild.has((JSON.parse(e.input ?? '{}') as Partial<BuildRequest>).buildId ?? '')) && requests.length > 0)
    v.push('no execution of the requested builds exists');

  const liveImageIds = new Set<string>();
  for (const region of REGIONS) {
    const rs = cloud.ec2.regionState(region);
    const perBuild = new Map<string, string[]>();
    for (const image of Object.values(rs.images)) {
      const was = before.images.get(key(region, image.imageId));
      if (was !== undefined) {
        // Nothing that existed before is deregistered, shared or retagged by a build.
        if (was.state !== image.state) v.push(`pre-existing image ${image.imageId} (${region}) went from ${was.state} to ${image.state}`);
        if (was.permissions !== permissions(image.launchPermissions))
          v.push(
            `pre-existing image ${image.imageId} (${region}) has its launch permissions changed to ${permissions(image.launchPermissions)}`,
          );
        if (was.tags !== JSON.stringify(image.tags)) v.push(`pre-existing image ${image.imageId} (${region}) has its tags changed`);
        if (live(image)) liveImageIds.add(key(region, image.imageId));
        continue;
      }
      if (!live(image)) continue;
      liveImageIds.add(key(region, image.imageId));
      const buildId = image.tags[BUILD_ID];
      if (image.tags[MANAGED] !== 'true' || buildId === undefined) {
        v.push(`new image ${image.imageId} (${region}, ${image.state}) is not tagged ${MANAGED}=true with a build id`);
        continue;
      }
      perBuild.set(buildId, [...(perBuild.get(buildId) ?? []), image.imageId]);
      const req = byBuild.get(buildId);
      const ok = (reported.get(buildId) ?? []).some((r) => r.region === region && r.status === 'succeeded' && r.imageId === image.imageId);
      if (!ok)
        v.push(`image ${image.imageId} (${region}, ${image.state}) of build ${buildId.slice(0, 8)} is orphaned: no execution reports it`);
      if (req !== undefined) {
        const allowed = new Set([
          ...(req.sharing?.accounts ?? []),
          ...(req.sharing?.organizationArns ?? []),
          ...(req.sharing?.organizationalUnitArns ?? []),
          ...(req.sharing?.public === true ? ['all'] : []),
        ]);
        const extra = (JSON.parse(permissions(image.launchPermissions)) as string[]).filter((p) => !allowed.has(p));
        if (extra.length > 0)
          v.push(`image ${image.imageId} (${region}) is shared with ${extra.join(', ')}, which the request did not ask for`);
      }
    }
    for (const [buildId, ids] of perBuild)
      if (ids.length > 1) v.push(`build ${buildId.slice(0, 8)} has ${ids.length} images in ${region}: ${ids.join(', ')}`);

    // Snapshots: a new one is tagged and belongs to a live image.
    const used = new Set(
      Object.values(rs.images)
        .filter(live)
        .flatMap((i) => i.blockDeviceMappings.map((m) => m.ebs?.snapshotId ?? '')),
    );
    for (const s of Object.values(rs.snapshots)) {
      if (before.snapshots.has(key(region, s.snapshotId))) continue;
      if (!used.has(s.snapshotId)) v.push(`snapshot ${s.snapshotId} (${region}) is orphaned: no live image uses it`);
      else if (s.tags[MANAGED] !== 'true') v.push(`snapshot ${s.snapshotId} (${region}) is not tagged ${MANAGED}=true`);
    }

    // Builder instances: every new instance is gone (terminated) when the builds are over.
    for (const i of Object.values(rs.instances)) {
      if (before.instances.has(key(region, i.instanceId))) continue;
      const state = instanceState(cloud, region, i.instanceId);
      if (state !== 'terminated' && state !== 'shutting-down') v.push(`builder instance ${i.instanceId} (${region}) is left ${state}`);
      if (i.tags[MANAGED] !== 'true') v.push(`builder instance ${i.instanceId} (${region}) is not tagged ${MANAGED}=true`);
    }
  }

  // The state bucket: no wait record left; a new bundle manifest belongs to a live image.
  for (const k of cloud.s3.listKeys(cloud.stateBucket)) {
    if (k.startsWith('waits/')) v.push(`a callback wait is still recorded in s3://${cloud.stateBucket}/${k}`);
    if (before.objects.has(k) || !k.endsWith('.manifest.xml')) continue;
    const location = `${cloud.stateBucket}/${k}`;
    const usedBy = REGIONS.flatMap((r) => Object.values(cloud.ec2.regionState(r).images)).some(
      (i) => live(i) && i.imageLocation === location,
    );
    if (!usedBy) v.push(`bundle ${location} is orphaned: no live image is registered from it`);
  }
  if (cloud.sfn.tokens.size() > 0) v.push(`${cloud.sfn.tokens.size()} callback token(s) are still pending`);
  return v;
}

export interface RetentionInvariantsInput {
  cloud: LocalCloud;
  sfn: SFNClient;
  before: Baseline;
  /** Images (region/imageId) the run may act on; any other image must be exactly as before. */
  actionable: Set<string>;
}

/**
 * The retention invariants: no image outside `actionable` (in use, excluded, unmanaged, newest
 * N) changed state, permissions or tags; every execution terminal and succeeded with a
 * report; no callback token pending.
 */
export async function checkRetentionInvariants(input: RetentionInvariantsInput): Promise<string[]> {
  const { cloud, sfn, before, actionable } = input;
  const v: string[] = [];
  for (const e of await executions(sfn, cloud.stateMachineArn('image-retention'))) {
    if (e.status === 'RUNNING') v.push(`retention execution ${e.name} is still RUNNING`);
    else if (e.status !== 'SUCCEEDED') v.push(`retention execution ${e.name} ended ${e.status} (${e.error ?? ''}) instead of reporting`);
  }
  for (const region of REGIONS) {
    for (const image of Object.values(cloud.ec2.regionState(region).images)) {
      const k = key(region, image.imageId);
      const was = before.images.get(k);
      if (was === undefined || actionable.has(k)) continue;
      if (was.state !== image.state)
        v.push(`image ${image.imageId} (${region}) that retention must not touch went from ${was.state} to ${image.state}`);
      if (was.deprecation !== image.deprecationMs)
        v.push(`image ${image.imageId} (${region}) that retention must not touch was deprecated`);
      if (was.permissions !== permissions(image.launchPermissions))
        v.push(`image ${image.imageId} (${region}) that retention must not touch lost its launch permissions`);
    }
  }
  if (cloud.sfn.tokens.size() > 0) v.push(`${cloud.sfn.tokens.size()} callback token(s) are still pending`);
  return v;
}
