import type { ActionContext } from './context.js';
import { Ec2ApiError } from './errors.js';

/**
 * RegisterImage with `ImageLocation` (an instance-store bundle `bucket/prefix/name.manifest.xml`,
 * see shared/specs/instance-store-bundle.md). The hook gets the request context (region,
 * params, world, clock) and returns the new image's id; it may read the manifest from the
 * local S3 asynchronously. Register the image with `newImage()` (images.ts) and put it in
 * `ctx.rs.images`, with `rootDeviceType: 'instance-store'` and `imageLocation`.
 *
 * Not available yet: another engineer adds it. Until then the endpoint answers
 * InvalidParameterValue, as EC2 does for a location it cannot use.
 */
export type RegisterFromImageLocation = (ctx: ActionContext, imageLocation: string) => string | Promise<string>;

export const registerFromImageLocation: RegisterFromImageLocation = (_ctx, imageLocation) => {
  throw new Ec2ApiError('InvalidParameterValue', `instance-store registration not available (ImageLocation ${imageLocation})`);
};
