import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { handler } from '../../functions/report-build.js';
import { buildReport } from '../../functions/lib/build-report.js';
import { BUILD_ID, buildRequest, IMAGE_ID, lambdaContext } from '../fixtures.js';

const events = mockClient(EventBridgeClient);
const home = { imageId: IMAGE_ID, imageName: 'web-x', created: true };

function published(): { type: string | undefined; detail: Record<string, unknown> }[] {
  return events
    .commandCalls(PutEventsCommand)
    .flatMap((c) =>
      (c.args[0].input.Entries ?? []).map((e) => ({ type: e.DetailType, detail: JSON.parse(e.Detail ?? '{}') as Record<string, unknown> })),
    );
}

describe('report-build handler', () => {
  beforeEach(() => {
    events.reset();
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: '1' }] });
  });

  it('reports BuildSucceeded when every region succeeded', async () => {
    const out = await handler(
      { request: buildRequest(), home, copies: [{ region: 'eu-west-1', status: 'succeeded', imageId: 'ami-0000000000000000e' }] },
      lambdaContext,
    );
    expect(out.outcome).toBe('BuildSucceeded');
    expect(published()).toEqual([
      { type: 'BuildSucceeded', detail: expect.objectContaining({ family: 'web', regions: expect.any(Array) }) },
    ]);
    expect(events).toHaveReceivedCommandWith(PutEventsCommand, {
      Entries: [expect.objectContaining({ Source: 'ami-factory', EventBusName: 'ami-factory' })],
    });
  });

  it('reports BuildPartiallySucceeded with the failed region and its reason', async () => {
    const cause = JSON.stringify({ errorType: 'ImageFailedError', errorMessage: 'copy failed: quota' });
    const out = await handler(
      { request: buildRequest(), home, copies: [{ region: 'eu-west-1', status: 'failed', error: 'ImageFailedError', cause }] },
      lambdaContext,
    );
    expect(out.outcome).toBe('BuildPartiallySucceeded');
    expect(out.regions[1]).toMatchObject({ region: 'eu-west-1', status: 'failed', cause: 'copy failed: quota' });
  });

  it('reports BuildFailed with the error of the build region', async () => {
    const out = await handler(
      { request: buildRequest(), home: null, error: { Error: 'AmbiguousSourceError', Cause: 'two match' } },
      lambdaContext,
    );
    expect(out.outcome).toBe('BuildFailed');
    expect(published()[0]?.type).toBe('BuildFailed');
    expect(out.regions[0]).toMatchObject({ region: 'us-east-1', status: 'failed', error: 'AmbiguousSourceError', cause: 'two match' });
  });

  it('fails loudly when EventBridge refuses the event', async () => {
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'boom' }] });
    await expect(handler({ request: buildRequest(), home, copies: [] }, lambdaContext)).rejects.toMatchObject({
      name: 'EventPublishError',
    });
  });
});

describe('buildReport', () => {
  const copy = (region: string, status: 'succeeded' | 'failed') =>
    status === 'succeeded'
      ? { region, status, imageId: 'ami-0000000000000000e' }
      : { region, status, error: 'ImageFailedError', cause: 'quota' };

  it('does decide the outcome from the build region first, then the copies', () => {
    const request = buildRequest();
    expect(buildReport({ request, home, copies: [copy('eu-west-1', 'succeeded')], error: null }).outcome).toBe('BuildSucceeded');
    expect(buildReport({ request, home, copies: [copy('eu-west-1', 'failed')], error: null }).outcome).toBe('BuildPartiallySucceeded');
    expect(buildReport({ request, home, copies: [], error: { Error: 'ImageWaitTimeoutError' } }).outcome).toBe('BuildFailed');
    expect(buildReport({ request, home: null, copies: [], error: null }).outcome).toBe('BuildFailed');
  });

  it('does carry the trigger and the image name, and name an unknown failure', () => {
    const { detail } = buildReport({
      request: buildRequest({ trigger: { type: 'chatops', actor: 'U1' } }),
      home: null,
      copies: [],
      error: null,
    });
    expect(detail).toEqual({
      buildId: BUILD_ID,
      family: 'web',
      region: 'us-east-1',
      imageName: null,
      trigger: { type: 'chatops', actor: 'U1' },
      regions: [{ region: 'us-east-1', status: 'failed', imageId: null, error: 'Unknown', cause: '' }],
    });
  });
});
