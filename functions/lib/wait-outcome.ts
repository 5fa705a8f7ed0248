import type { Instance } from '@aws-sdk/client-ec2';
import { UNUSABLE_STATES, type ImageStatus } from './ec2/images.js';
import { builderState } from './ec2/builder.js';
import type { WaitOutcome } from './waits.js';
import { BuilderFailedError, ImageFailedError, ImageTestFailedError, errorNameOf } from './errors.js';
import { TAG } from './constants.js';

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

/** What a wait on an image test's instance resolves to: stopped (or tagged passed) is a pass. */
export function testOutcome(instanceId: string, instance: Instance | undefined, signal: 'stopped' | 'tag'): WaitOutcome {
  const s = builderState(instance, signal, { key: TAG.testStatus, done: 'passed', what: 'test', script: 'test script' });
  if (s.state === 'done') return { done: true, success: true, output: { instanceId, state: 'passed' } };
  if (s.state === 'failed')
    return {
      done: true,
      success: false,
      error: errorNameOf(ImageTestFailedError),
      cause: `Test instance ${instanceId}: ${s.reason ?? 'failed'}`,
    };
  return { done: false };
}
