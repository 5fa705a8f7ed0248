import { startLocalCloud } from '../../local/server.js';

/**
 * Closing the local cloud while a function runs: the invocation fails at once with Lambda's
 * `ServiceException` (the service is stopping), not after the function's timeout as
 * `Sandbox.Timedout` — a command that exits mid-build neither hangs for the timeout nor leaves
 * a timed-out task in the build's history for the next start to re-drive.
 */
describe('LocalLambda.close with an invocation in flight', () => {
  it('fails the invocation as the service stopping, not as a timeout', async () => {
    // Prepare: every S3 request hangs, so sweepWaits (which lists the state bucket) stays in flight.
    // Given at start: the cloud's own deployment (its buckets) is not subject to it.
    const cloud = await startLocalCloud({
      port: 0,
      stateDir: null,
      schedules: false,
      seed: false,
      code: 'source',
      faults: { requests: [{ service: 's3', unreachable: 'hang' }] },
    });
    const outcome = cloud.lambda.invoke('sweepWaits', {}).then(
      () => 'answered',
      (e: unknown) => e,
    );
    while (!cloud.lambda.logTail('sweepWaits').some((l) => l.startsWith('START RequestId'))) await new Promise((r) => setTimeout(r, 20));
    // Act
    await cloud.close();
    // Assess
    expect(await outcome).toMatchObject({ name: 'ServiceException', message: 'The local Lambda service is stopping' });
    expect(cloud.lambda.logTail('sweepWaits').join('')).not.toContain('Task timed out');
  });
});
