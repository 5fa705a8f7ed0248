import * as z from 'zod';

/**
 * A channel name: the last level of the SSM parameter `/ami-factory/<family>/<channel>` a
 * region's image is published to (Parameter Store names: letters, digits, `.-_`).
 */
export const ChannelNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'must be a channel name such as latest or stable (a-z, 0-9, . _ -; at most 63 characters)');

/** The channel's SSM parameter (String, DataType aws:ec2:image), in each region. */
export const channelParameterName = (family: string, channel: string): string => `/ami-factory/${family}/${channel}`;
