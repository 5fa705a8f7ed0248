import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { BuildRequest } from '../build-request.js';
import type { FactoryConfig } from '../config.js';
import { SSM_ERROR } from '../error-codes.js';
import { hasErrorName } from '../errors.js';
import { familyOf } from '../request-policy.js';
import { channelParameterName } from './names.js';

/**
 * Reading a channel (GetParameter only): what publishing checks first, and what a distribution
 * run checks to leave a region alone whose channel already holds the build's image there.
 */

/** The value of a parameter, or null when there is none. */
export async function parameterValue(ssm: SSMClient, name: string): Promise<string | null> {
  try {
    const r = await ssm.send(new GetParameterCommand({ Name: name }));
    return r.Parameter?.Value ?? null;
  } catch (e) {
    if (hasErrorName(e, SSM_ERROR.parameterNotFound)) return null;
    throw e;
  }
}

/** A region's publication to a channel, as the build report records it. */
export interface ChannelRef {
  channel: string;
  parameter: string;
}

/** The channel a build publishes to (the family's first) and its parameter. */
export function buildChannel(config: FactoryConfig, request: Pick<BuildRequest, 'family'>): ChannelRef {
  const channel = familyOf(config, request.family).channels[0] ?? 'latest';
  return { channel, parameter: channelParameterName(request.family, channel) };
}

/** The build's channel when its parameter (SSM of the image's region) already holds `imageId`; otherwise null. */
export async function publishedAlready(
  ssm: SSMClient,
  config: FactoryConfig,
  request: Pick<BuildRequest, 'family'>,
  imageId: string,
): Promise<ChannelRef | null> {
  const ref = buildChannel(config, request);
  return (await parameterValue(ssm, ref.parameter)) === imageId ? ref : null;
}
