import { VirtualClock } from '../../local/clock.js';
import { createEventsService, type EventsService } from '../../local/events/service.js';
import { serveLocalServices, type ServedServices } from '../../local/server.js';

/** Raw JSON-protocol calls, as the AWS CLI makes them. */
describe('JSON protocol', () => {
  let served: ServedServices;
  let events: EventsService;
  beforeEach(async () => {
    events = createEventsService({
      accountId: '000000000000',
      clock: new VirtualClock(),
      dispatcher: { invokeLambda: async () => undefined, startExecution: async () => undefined },
    });
    served = await serveLocalServices([events]);
  });
  afterEach(async () => {
    events.close();
    await served.close();
  });

  const call = (target: string, body: string): Promise<Response> =>
    fetch(served.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': target,
        authorization: 'AWS4-HMAC-SHA256 Credential=AKIDCLI/20260101/us-east-1/events/aws4_request, SignedHeaders=host, Signature=0',
      },
      body,
    });

  it('answers with the protocol content type, and errors with __type and X-Amzn-ErrorType', async () => {
    // Act
    const ok = await call('AWSEvents.ListEventBuses', '{}');
    const bad = await call('AWSEvents.DescribeEventBus', '{"Name":"nope"}');
    // Assess
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('application/x-amz-json-1.1');
    expect(await ok.json()).toEqual({ EventBuses: [expect.objectContaining({ Name: 'default' })] });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('x-amzn-errortype')).toBe('ResourceNotFoundException');
    expect(await bad.json()).toEqual({ __type: 'ResourceNotFoundException', message: 'Event bus nope does not exist.' });
  });

  it('refuses a body that is not a JSON object and an operation the service lacks', async () => {
    // Act
    const malformed = await call('AWSEvents.ListRules', '[1,2');
    const unknown = await call('AWSEvents.CreateArchive', '{}');
    // Assess
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { __type: string }).__type).toBe('SerializationException');
    expect(((await unknown.json()) as { __type: string }).__type).toBe('UnknownOperationException');
  });

  it('pages with a NextToken naming the last item, refuses tokens it did not issue and page sizes out of bounds', async () => {
    // Prepare
    for (const n of ['c', 'a', 'b']) {
      await call('AWSEvents.PutRule', JSON.stringify({ Name: n, EventPattern: '{"source":["x"]}' }));
    }
    // Act
    const first = (await (await call('AWSEvents.ListRules', '{"Limit":2}')).json()) as { Rules: { Name: string }[]; NextToken: string };
    await call('AWSEvents.PutRule', JSON.stringify({ Name: 'a0', EventPattern: '{"source":["x"]}' }));
    const second = (await (await call('AWSEvents.ListRules', JSON.stringify({ Limit: 2, NextToken: first.NextToken }))).json()) as {
      Rules: { Name: string }[];
      NextToken?: string;
    };
    const forged = await call('AWSEvents.ListRules', '{"NextToken":"bm9wZQ"}');
    const tooMany = await call('AWSEvents.ListRules', '{"Limit":101}');
    // Assess
    expect(first.Rules.map((r) => r.Name)).toEqual(['a', 'b']);
    expect(second.Rules.map((r) => r.Name)).toEqual(['c']);
    expect(second.NextToken).toBeUndefined();
    expect(((await forged.json()) as { __type: string }).__type).toBe('ValidationException');
    expect(((await tooMany.json()) as { __type: string }).__type).toBe('ValidationException');
  });
});
