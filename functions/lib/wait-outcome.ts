import type { Instance } from '@aws-sdk/client-ec2';
import { UNUSABLE_STATES, type ImageStatus } from './ec2/images.js';
import { builderState } from './ec2/builder.js';
import type { WaitOutcome } from './waits.js';
import { BuilderFailedError, ImageFailedError, errorNameOf } from './errors.js';

/** What a wait on an image resolves to, given one DescribeImages of it. */
export function imageOutcome(status: ImageStatus): WaitOutcome {
  if (status.state === 'available') return { done: true, success: true, output: { imageId: status.imageId, state: 'available' } };
  if (UNUSABLE_STATES.has(status.state)) {
    return {
      done: true,
      success: false,
      error: errorNameOf(ImageFailedError),
      cause: `Image ${status.imageId} is ${status.state}: ${status.stateReason ?? 'EC2 gave no reason'}`,
    };
  }
  return { done: false };
}

/** What a wait on a builder resolves to, given one DescribeInstances of it. */
export function builderOutcome(instanceId: string, instance: Instance | undefined, signal: 'stopped' | 'tag'): WaitOutcome {
  const s = builderState(instance, signal);
  if (s.state === 'done') return { done: true, success: true, output: { instanceId, state: 'done' } };
  if (s.state === 'failed')
    return { done: true, success: false, error: errorNameOf(BuilderFailedError), cause: `Builder ${instanceId}: ${s.reason ?? 'failed'}` };
  return { done: false };
}
