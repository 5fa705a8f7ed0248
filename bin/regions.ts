import { awsEndpointFunctions } from '@aws-sdk/core/client';

/**
 * Which regions exist, from the AWS SDK's own endpoint data (the partitions file that
 * `@aws-sdk/core` ships and every client resolves endpoints with), not from a pattern: a name
 * of the right shape such as `us-west-9` matches a partition's region pattern but is in no
 * partition's list of regions. The SDK exports the lookup (`partition(region)`), not the list:
 * a listed region answers with its description, an unlisted one with the partition's outputs
 * only. The `<partition>-global` pseudo-regions of the endpoint data are not regions one builds in.
 */
export interface RegionInfo {
  region: string;
  /** `aws`, `aws-cn`, `aws-us-gov`, ... */
  partition: string;
  /** The region's name in the endpoint data, e.g. "US East (N. Virginia)". */
  description: string;
}

interface PartitionResult {
  name?: string;
  description?: string;
}

const lookup = awsEndpointFunctions.partition as unknown as (region: string) => PartitionResult;

/** The region as the SDK knows it, or undefined for a region in no partition's list. */
export function knownRegion(region: string): RegionInfo | undefined {
  if (region.endsWith('-global')) return undefined;
  const p = lookup(region);
  if (typeof p.description !== 'string' || typeof p.name !== 'string') return undefined;
  return { region, partition: p.name, description: p.description };
}
