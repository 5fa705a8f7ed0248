import { DescribeImagesCommand, DisableImageCommand, GetConsoleOutputCommand, type EC2Client } from '@aws-sdk/client-ec2';
import type { BuildRequest, ImageTests } from '../build-request.js';
import { TAG } from '../constants.js';
import { EC2_ERROR, STATES_ERROR } from '../error-codes.js';
import { errorNameOf, failureCauseMessage, hasErrorName, ImageTestTimeoutError } from '../errors.js';
import { testScript } from '../userdata.js';
import { instanceClientToken, launchFactoryInstance, terminateFactoryInstances } from './builder.js';
import { cleanupBuildImages, type CleanupResult } from './copy.js';
import { imageTags } from './images.js';

/**
 * Image tests (README, "Image tests"): in every region of a build, once the region's image is
 * available, a test instance is launched from it (builder.ts launches it, tagged
 * ami-factory:role=test), waited for by callback (wait kind `test`), judged here and terminated.
 * A failed region's image is rejected: deregistered with its snapshots, or disabled.
 */

/**
 * Launches (or finds, by its ClientToken per build, region and run — the execution) the
 * region's test instance.
 */
export async function launchTestInstance(
  ec2: EC2Client,
  request: BuildRequest,
  tests: ImageTests,
  target: { region: string; imageId: string; run: string },
): Promise<{ instanceId: string }> {
  const { region, imageId, run } = target;
  const network = tests.regions[region] ?? {};
  return launchFactoryInstance(ec2, {
    role: 'test',
    request,
    imageId,
    instanceType: tests.instanceType,
    userData: testScript({ script: tests.script, report: tests.report }),
    clientToken: instanceClientToken('test', request.buildId, region, run),
    source: imageId,
    subnetId: network.subnetId,
    securityGroupIds: network.securityGroupIds,
    instanceProfileArn: network.instanceProfileArn,
  });
}

/** Terminates the build's test instances in the client's region (idempotent: found by tags). */
export function terminateTestInstances(ec2: EC2Client, buildId: string): Promise<string[]> {
  return terminateFactoryInstances(ec2, buildId, 'test');
}

/** The most lines and characters of console output a test result carries. */
export const CONSOLE_TAIL_LINES = 20;
export const CONSOLE_TAIL_CHARS = 2000;

/** The last lines of a (decoded) console output, at most CONSOLE_TAIL_LINES and CONSOLE_TAIL_CHARS. */
export function tailOf(text: string, lines = CONSOLE_TAIL_LINES, chars = CONSOLE_TAIL_CHARS): string {
  const kept = text.replace(/\r\n/g, '\n').trimEnd().split('\n').slice(-lines).join('\n');
  return kept.length > chars ? kept.slice(kept.length - chars) : kept;
}

/**
 * The tail of an instance's console output, or null where EC2 gives none (no output yet, the
 * instance is gone). GetConsoleOutput answers base64.
 */
export async function consoleTail(ec2: EC2Client, instanceId: string): Promise<string | null> {
  try {
    const r = await ec2.send(new GetConsoleOutputCommand({ InstanceId: instanceId }));
    if (r.Output === undefined || r.Output === '') return null;
    const tail = tailOf(Buffer.from(r.Output, 'base64').toString('utf8'));
    return tail === '' ? null : tail;
  } catch (e) {
    if (hasErrorName(e, EC2_ERROR.instanceNotFound)) return null;
    throw e;
  }
}

export type TestStatus = 'passed' | 'failed' | 'timed-out';

export interface TestVerdict {
  status: TestStatus;
  instanceId: string | null;
  /** Why the test did not pass (null when it passed). */
  reason: string | null;
  /** The tail of the test instance's console output, where EC2 gives it (failures only). */
  consoleTail: string | null;
}

/** A Catch's `{Error, Cause}`. */
export interface StepError {
  Error: string;
  Cause?: string | undefined;
}

/**
 * The verdict of a region's test from how its wait ended: no error is a pass; the wait's
 * timeout (the sweeper's ImageTestTimeoutError, or the state's own States.Timeout) is
 * `timed-out`; anything else (the instance reported failure, the launch failed) is `failed`.
 */
export function verdictOf(instanceId: string | null, error: StepError | null, tail: string | null): TestVerdict {
  if (error === null) return { status: 'passed', instanceId, reason: null, consoleTail: null };
  const timedOut = error.Error === errorNameOf(ImageTestTimeoutError) || error.Error === STATES_ERROR.timeout;
  const cause = error.Cause === undefined ? '' : failureCauseMessage(error.Cause);
  const reason = `${timedOut ? 'the test did not report in time' : 'the test failed'} (${error.Error}${cause !== '' ? `: ${cause}` : ''})`;
  return { status: timedOut ? 'timed-out' : 'failed', instanceId, reason, consoleTail: tail };
}

/** Judges a region's test: the verdict, with the console tail of a failed or silent test instance. */
export async function judgeTest(ec2: EC2Client, instanceId: string | null, error: StepError | null): Promise<TestVerdict> {
  const tail = error !== null && instanceId !== null ? await consoleTail(ec2, instanceId) : null;
  return verdictOf(instanceId, error, tail);
}

export interface RejectResult extends CleanupResult {
  disabled: string[];
}

/**
 * A region whose test failed: its image is not published. `deregister` deregisters this
 * build's managed images there and deletes their snapshots (copy.ts cleanupBuildImages);
 * `disable` disables the image (reversible). Only images tagged managed with this build id are
 * touched; both are idempotent.
 */
export async function rejectTestedImage(
  ec2: EC2Client,
  request: BuildRequest,
  imageId: string,
  policy: ImageTests['onFailure'],
): Promise<RejectResult> {
  if (policy === 'deregister') return { ...(await cleanupBuildImages(ec2, request, [imageId])), disabled: [] };
  const result: RejectResult = { deregistered: [], deletedSnapshots: [], skipped: [], disabled: [] };
  let image;
  try {
    image = (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId], IncludeDisabled: true, IncludeDeprecated: true })))
      .Images?.[0];
  } catch (e) {
    if (!hasErrorName(e, EC2_ERROR.imageNotFound)) throw e;
  }
  if (image === undefined) return result;
  const tags = imageTags(image);
  if (tags[TAG.managed] !== 'true' || tags[TAG.buildId] !== request.buildId) {
    result.skipped.push(imageId);
    return result;
  }
  if (image.State !== 'disabled') await ec2.send(new DisableImageCommand({ ImageId: imageId }));
  result.disabled.push(imageId);
  return result;
}
