import { isDeepStrictEqual } from 'node:util';
import type { BuildRequest } from './build-request.js';
import type { FactoryConfig, FamilyConfig } from './config.js';
import { ValidationError } from './errors.js';

/**
 * What a BuildRequest may ask for: exactly what its family's config allows. Permission to
 * start an execution is not permission to image another instance, run other user data, copy
 * elsewhere or share with anyone (DESIGN.md, "Deployment"): every trigger builds its request
 * from the config (config.ts `buildRequestFor`, which ends here), and planBuild checks the
 * state machine's input here again before anything is created.
 *
 * A request is allowed when it is what the family's config makes, except for the choices a
 * request may make:
 *   - buildId, requestedAt, trigger (who asked; part of the image name and the audit trail);
 *   - a subset of the family's copy regions (each with exactly the configured KMS key);
 *   - a subset of the family's sharing (accounts, organizations, OUs; public only when the
 *     family says `public: true`; snapshot create-volume permission only when the family gives it);
 *     other accounts, organizations and OUs too when the family has a `newAccounts` gate, which
 *     holds the share for approval;
 *   - no reboot or a reboot of an instance source when the family's `reboot` is `either`.
 * Everything else — the region, the source (instance id or tag selector, base image, user data,
 * builder settings, snapshots, bundle location), tags, description, deprecation, preparation and
 * the unsanitized-public acknowledgement — must be the family's.
 */

/** A BuildRequest that the family's config does not allow. A ValidationError: not retried, nothing is created. */
export class RequestNotAllowedError extends ValidationError {
  override name = 'RequestNotAllowedError';
}

/** A family's `reboot`: true always reboots (consistent image), false never does, `either` lets the request choose. */
export type RebootSetting = FamilyConfig['reboot'];

/** The noReboot of a request that does not choose: `either` reboots, as EC2 does by default. */
export function defaultNoReboot(reboot: RebootSetting): boolean {
  return reboot === false;
}

/** Whether a family with this `reboot` setting may build with `noReboot`. */
export function noRebootAllowed(reboot: RebootSetting, noReboot: boolean): boolean {
  return reboot === 'either' || noReboot === defaultNoReboot(reboot);
}

/** How a family's images are prepared for sharing (the `ami-factory:preparation` tag). */
export function familyPreparation(f: Pick<FamilyConfig, 'source'>): BuildRequest['preparation'] {
  return f.source.type === 'base-image' && f.source.sanitize ? 'sanitized' : 'none';
}

/** The family's config, or a RequestNotAllowedError naming the families the config declares. */
export function familyOf(config: FactoryConfig, family: string): FamilyConfig {
  const f = config.families[family];
  if (f === undefined) {
    throw new RequestNotAllowedError(`Unknown family "${family}"; the config declares: ${Object.keys(config.families).join(', ')}`);
  }
  return f;
}

/** Throws RequestNotAllowedError, listing every violation, unless the family's config allows the request. */
export function checkBuildRequest(config: FactoryConfig, request: BuildRequest): void {
  const issues = requestViolations(familyOf(config, request.family), request);
  if (issues.length > 0) {
    throw new RequestNotAllowedError(`The config of family ${request.family} does not allow this build request`, issues);
  }
}

/** What the request asks for beyond its family's config (empty: allowed), as `<field>: <why>`. */
export function requestViolations(f: FamilyConfig, r: BuildRequest): string[] {
  const issues: string[] = [];
  if (r.region !== f.region) issues.push(`region: ${r.region} is not the family's region (${f.region})`);
  issues.push(...sourceViolations(f, r.source));
  issues.push(...copyViolations(f, r.copies));
  issues.push(...sharingViolations(f, r));
  if (r.preparation !== familyPreparation(f)) {
    issues.push(`preparation: ${r.preparation} is not how the family's images are prepared (${familyPreparation(f)})`);
  }
  if (!isDeepStrictEqual(r.tags, f.tags)) issues.push(`tags: ${tagDifference(r.tags, f.tags)}`);
  if (r.description !== f.description) issues.push(`description: not the family's description`);
  if (r.deprecateAfterDays !== f.retention.deprecateAfterDays) {
    issues.push(
      `deprecateAfterDays: ${r.deprecateAfterDays ?? '(none)'} is not the family's (retention.deprecateAfterDays: ${f.retention.deprecateAfterDays ?? '(none)'})`,
    );
  }
  return issues;
}

function instanceSelector(s: { instanceId?: string | undefined; tags?: Record<string, string> | undefined }): string {
  if (s.instanceId !== undefined) return `instance ${s.instanceId}`;
  return `the instance tagged {${Object.entries(s.tags ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(', ')}}`;
}

/** A value short enough to quote in an issue; long or structured values (user data, mappings) are not echoed. */
function shown(v: unknown): string | undefined {
  if (v === undefined) return '(none)';
  if (typeof v === 'boolean' || typeof v === 'number') return String(v);
  if (typeof v === 'string' && v.length <= 80 && !/\s/.test(v)) return v;
  return undefined;
}

function sourceViolations(f: FamilyConfig, got: BuildRequest['source']): string[] {
  const want = f.source;
  if (got.type !== want.type) return [`source.type: ${got.type} is not the family's source (${want.type})`];
  if (got.type === 'instance' && want.type === 'instance') {
    const issues: string[] = [];
    if (got.instanceId !== want.instanceId || !isDeepStrictEqual(got.tags, want.tags)) {
      issues.push(`source: ${instanceSelector(got)} is not the family's source (${instanceSelector(want)})`);
    }
    if (!noRebootAllowed(f.reboot, got.noReboot)) {
      issues.push(
        got.noReboot
          ? 'source.noReboot: the family always reboots its instance for a consistent image (reboot: true); a build without reboot needs reboot: either'
          : 'source.noReboot: the family never reboots its instance (reboot: false); a build with a reboot needs reboot: either',
      );
    }
    return issues;
  }
  // A base image (and its user data and builder), snapshots or a bundle: every field as configured.
  const a = want as Record<string, unknown>;
  const b = got as Record<string, unknown>;
  return [...new Set([...Object.keys(a), ...Object.keys(b)])]
    .filter((k) => !isDeepStrictEqual(a[k], b[k]))
    .map((k) => {
      const [given, configured] = [shown(b[k]), shown(a[k])];
      return given === undefined || configured === undefined
        ? `source.${k}: differs from the family's`
        : `source.${k}: ${given} is not the family's (${configured})`;
    });
}

function copyViolations(f: FamilyConfig, copies: BuildRequest['copies']): string[] {
  const allowed = new Map(f.copies.map((c) => [c.region, c]));
  const issues: string[] = [];
  for (const c of copies) {
    const configured = allowed.get(c.region);
    if (configured === undefined) {
      issues.push(`copies: ${c.region} is not among the family's copy regions (${f.copies.map((x) => x.region).join(', ') || 'none'})`);
    } else if (c.kmsKeyId !== configured.kmsKeyId) {
      issues.push(
        `copies.${c.region}.kmsKeyId: ${c.kmsKeyId ?? '(none)'} is not the family's key for ${c.region} (${configured.kmsKeyId ?? 'none'})`,
      );
    }
  }
  return issues;
}

function sharingViolations(f: FamilyConfig, r: BuildRequest): string[] {
  const allowed = f.sharing;
  const s = r.sharing;
  const issues: string[] = [];
  // A family with a newAccounts gate may share with targets its config does not list: the build
  // then waits for a person to approve them (functions/lib/approvals/gates.ts) before sharing.
  const gatedTargets = f.gates?.newAccounts !== undefined;
  const beyond = (field: 'accounts' | 'organizationArns' | 'organizationalUnitArns'): void => {
    if (gatedTargets) return;
    const permitted = allowed?.[field] ?? [];
    const extra = s[field].filter((x) => !permitted.includes(x));
    if (extra.length > 0) {
      issues.push(
        `sharing.${field}: ${extra.join(', ')} ${extra.length === 1 ? 'is' : 'are'} not among the family's (${permitted.join(', ') || 'none'})`,
      );
    }
  };
  beyond('accounts');
  beyond('organizationArns');
  beyond('organizationalUnitArns');
  if (s.public && allowed?.public !== true) {
    issues.push('sharing.public: the family does not allow public sharing (sharing.public: true in its config)');
  }
  if (s.snapshotVolumePermission && s.accounts.length > 0 && allowed?.snapshotVolumePermission === false) {
    issues.push('sharing.snapshotVolumePermission: the family does not let the accounts create volumes from its snapshots');
  }
  if (r.acknowledgeUnsanitizedPublic && !f.acknowledgeUnsanitizedPublic) {
    issues.push('acknowledgeUnsanitizedPublic: the family does not acknowledge public sharing of unsanitized images');
  }
  return issues;
}

function tagDifference(got: Record<string, string>, want: Record<string, string>): string {
  const keys = [...new Set([...Object.keys(got), ...Object.keys(want)])].filter((k) => got[k] !== want[k]);
  return `${keys.join(', ')} ${keys.length === 1 ? 'differs' : 'differ'} from the family's tags`;
}

/** The region's block public access state for AMIs (`block-new-sharing` or `unblocked`), as GetImageBlockPublicAccessState answers. */
export type BlockPublicAccessState = (region: string) => Promise<string | undefined>;

/**
 * A request that shares publicly also needs block public access for AMIs off in every region
 * its images are made in (the build region and each copy's): checked here, before anything is
 * created, rather than failing at the share step with an image already built.
 */
export async function checkPublicSharingUnblocked(request: BuildRequest, state: BlockPublicAccessState): Promise<void> {
  if (!request.sharing.public) return;
  const regions = [request.region, ...request.copies.map((c) => c.region)];
  const states = await Promise.all(regions.map(async (region) => ({ region, state: await state(region) })));
  const blocked = states.filter((s) => s.state === 'block-new-sharing').map((s) => s.region);
  if (blocked.length > 0) {
    throw new RequestNotAllowedError(
      `Family ${request.family} shares its images publicly, but block public access for AMIs is on (block-new-sharing) in ${blocked.join(', ')}; ` +
        'turn it off there (DisableImageBlockPublicAccess) or drop sharing.public from the family',
    );
  }
}
