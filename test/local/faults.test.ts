import { DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { ListStateMachinesCommand, SFNClient } from '@aws-sdk/client-sfn';
import {
  FaultInjector,
  FaultSpecError,
  globMatch,
  parseFaultArgument,
  parseFaultSpec,
  requestAction,
  type FaultSpec,
} from '../../local/faults.js';
import type { LocalRequest, LocalService } from '../../local/http.js';
import { serveLocalServices } from '../../local/server.js';

function request(service: string, action: string, region = 'us-east-1'): LocalRequest {
  const json = service === 'states' || service === 'events' || service === 'ssm';
  return {
    method: 'POST',
    path: '/',
    query: new URLSearchParams(),
    headers: json ? { 'x-amz-target': `Prefix.${action}` } : {},
    body: Buffer.from(json ? '{}' : `Action=${action}&Version=2016-11-15`),
    region,
    service,
    accessKeyId: 'AKIDTEST',
  };
}

function outcomes(injector: FaultInjector, req: LocalRequest, n: number): string[] {
  return Array.from({ length: n }, () => {
    const f = injector.onRequest(req);
    return f.kind === 'respond' ? f.code : f.kind;
  });
}

describe('FaultInjector', () => {
  it('does throttle about the requested share of matching calls, with the service’s own error', () => {
    // Prepare
    const injector = new FaultInjector({ seed: 1, requests: [{ service: 'ec2', throttle: 0.3 }] });
    // Act
    const seen = outcomes(injector, request('ec2', 'DescribeImages'), 2000);
    // Assess
    const throttled = seen.filter((x) => x === 'RequestLimitExceeded').length;
    expect(throttled / 2000).toBeGreaterThan(0.25);
    expect(throttled / 2000).toBeLessThan(0.35);
    expect(seen.filter((x) => x !== 'RequestLimitExceeded' && x !== 'none')).toEqual([]);
  });

  it('does replay the same faults for the same seed and differ for another seed', () => {
    // Prepare
    const spec: FaultSpec = { seed: 42, requests: [{ service: '*', error: 0.5 }] };
    // Act
    const a = outcomes(new FaultInjector(spec), request('ec2', 'CreateImage'), 50);
    const b = outcomes(new FaultInjector(spec), request('ec2', 'CreateImage'), 50);
    const c = outcomes(new FaultInjector({ ...spec, seed: 43 }), request('ec2', 'CreateImage'), 50);
    // Assess
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(new Set(a)).toEqual(new Set(['InternalError', 'none']));
  });

  it.each([
    ['ec2', 'RequestLimitExceeded', 503, 'InternalError', 500],
    ['s3', 'SlowDown', 503, 'InternalError', 500],
    ['states', 'ThrottlingException', 400, 'InternalFailure', 500],
    ['events', 'ThrottlingException', 400, 'InternalException', 500],
    ['ssm', 'ThrottlingException', 400, 'InternalServerError', 500],
    ['autoscaling', 'Throttling', 400, 'InternalFailure', 500],
  ])('does answer %s with %s %d when throttled and %s %d on a 5xx', (service, throttle, tStatus, error, eStatus) => {
    // Act
    const t = new FaultInjector({ requests: [{ service, throttle: 1 }] }).onRequest(request(service, 'X'));
    const e = new FaultInjector({ requests: [{ service, error: 1 }] }).onRequest(request(service, 'X'));
    // Assess
    expect(t.kind === 'respond' && [t.code, t.response.status]).toEqual([throttle, tStatus]);
    expect(e.kind === 'respond' && [e.code, e.response.status]).toEqual([error, eStatus]);
    expect(String(t.kind === 'respond' ? t.response.body : '')).toContain(throttle);
  });

  it('does match rules by service, action glob and region, and adds their latency', () => {
    // Prepare
    const injector = new FaultInjector({
      requests: [
        { service: 'ec2', action: 'Describe*', region: 'us-west-2', unreachable: 'reset', latencyMs: 5 },
        { service: 'ec2', action: 'CopyImage', latencyMs: 7 },
      ],
    });
    // Act / Assess
    expect(injector.onRequest(request('ec2', 'DescribeImages', 'us-west-2'))).toEqual({ kind: 'reset', latencyMs: 5 });
    expect(injector.onRequest(request('ec2', 'DescribeImages', 'us-east-1'))).toEqual({ kind: 'none', latencyMs: 0 });
    expect(injector.onRequest(request('ec2', 'CopyImage', 'us-east-1'))).toEqual({ kind: 'none', latencyMs: 7 });
    expect(injector.onRequest(request('s3', 'GetObject', 'us-west-2'))).toEqual({ kind: 'none', latencyMs: 0 });
    expect(injector.counts()).toEqual({ 'ec2 reset': 1 });
  });

  it('does never fault the cloud’s own API or unsigned requests', () => {
    // Prepare
    const injector = new FaultInjector({ requests: [{ unreachable: 'reset' }] });
    const admin = { ...request('ec2', 'X'), path: '/_local/faults' };
    const unsigned = { ...request('ec2', 'X'), service: undefined };
    // Act / Assess
    expect(injector.onRequest(admin).kind).toBe('none');
    expect(injector.onRequest(unsigned).kind).toBe('none');
  });

  it('does let requests pass while held (the cloud deploying itself), and fault them once released', () => {
    // Prepare
    const injector = new FaultInjector({ requests: [{ service: 's3', unreachable: 'hang' }] });
    const put = request('s3', 'CreateBucket');
    // Act / Assess
    injector.holdRequests();
    expect(injector.onRequest(put).kind).toBe('none');
    injector.releaseRequests();
    expect(injector.onRequest(put).kind).toBe('hang');
    expect(injector.counts()).toEqual({ 's3 hang': 1 });
  });

  it('does lose, delay and duplicate EventBridge deliveries by detail-type or rule', () => {
    // Prepare
    const injector = new FaultInjector({
      events: [
        { detailType: 'EC2 AMI State Change', rule: '*complete*', lose: 1 },
        { detailType: 'EC2 AMI State Change', rule: '*other*', duplicate: 1, delayMs: 30 },
      ],
    });
    // Act / Assess
    expect(injector.onDelivery('ami-factory-complete-waits', 'EC2 AMI State Change')).toEqual({ lose: true, delayMs: 0, copies: 0 });
    expect(injector.onDelivery('ami-factory-other', 'EC2 AMI State Change')).toEqual({ lose: false, delayMs: 30, copies: 2 });
    expect(injector.onDelivery('ami-factory-complete-waits', 'Build Requested')).toEqual({ lose: false, delayMs: 0, copies: 1 });
  });

  it('does drop a function’s response at most `times` times', () => {
    // Prepare
    const injector = new FaultInjector({ lambda: [{ function: 'createImage', dropResponse: 1, times: 2 }] });
    // Act
    const seen = Array.from({ length: 4 }, () => injector.afterInvoke(['createImage', 'ami-factory-dev-createImage'])?.code);
    // Assess
    expect(seen).toEqual(['ServiceException', 'ServiceException', undefined, undefined]);
    expect(injector.afterInvoke(['planBuild'])).toBeUndefined();
  });

  it('does hand the ec2 part to the local EC2 and clear it when replaced', () => {
    // Prepare
    const applied: unknown[] = [];
    const injector = new FaultInjector({ ec2: { failCopiesTo: ['eu-west-1'] } });
    injector.bindEc2((f) => applied.push(f));
    // Act
    injector.set({});
    // Assess
    expect(applied).toEqual([{ failCopiesTo: ['eu-west-1'] }, {}]);
  });
});

describe('parseFaultSpec and parseFaultArgument', () => {
  it.each([
    [[], 'a fault spec must be a JSON object'],
    [{ request: [] }, 'unknown field(s) request'],
    [{ requests: [{ throttle: 2 }] }, 'requests[0].throttle must be a number from 0 to 1'],
    [{ requests: [{ unreachable: 'down' }] }, 'requests[0].unreachable must be "reset" or "hang"'],
    [{ events: [{ delayMs: -1 }] }, 'events[0].delayMs must be a non-negative number'],
    [{ lambda: [{ as: 'Boom' }] }, 'lambda[0].as must be'],
    [{ seed: 'x' }, 'seed must be an integer'],
  ])('does refuse %j naming what is wrong', (spec, message) => {
    expect(() => parseFaultSpec(spec)).toThrow(FaultSpecError);
    expect(() => parseFaultSpec(spec)).toThrow(message);
  });

  it('does read the short form, inline JSON and a file', () => {
    // Act
    const short = parseFaultArgument('seed=7; ec2:*=throttle:0.3; ec2:*@us-west-2=reset; events:EC2 AMI State Change=lose:1', () => '');
    const inline = parseFaultArgument('{"requests":[{"service":"s3","error":0.05}]}', () => '');
    const file = parseFaultArgument('faults.json', (p) => (p === 'faults.json' ? '{"seed":3}' : ''));
    // Assess
    expect(short).toEqual({
      seed: 7,
      requests: [
        { service: 'ec2', action: '*', throttle: 0.3 },
        { service: 'ec2', action: '*', region: 'us-west-2', unreachable: 'reset' },
      ],
      events: [{ detailType: 'EC2 AMI State Change', lose: 1 }],
      lambda: [],
    });
    expect(inline.requests).toEqual([{ service: 's3', error: 0.05 }]);
    expect(file.seed).toBe(3);
    expect(() =>
      parseFaultArgument('missing.json', () => {
        throw new Error('ENOENT');
      }),
    ).toThrow('cannot read the fault file missing.json');
  });

  it('does name S3 and JSON actions as the APIs do', () => {
    // Prepare
    const s3 = (method: string, path: string, query = ''): LocalRequest => ({
      ...request('s3', ''),
      method,
      path,
      query: new URLSearchParams(query),
      body: Buffer.alloc(0),
    });
    // Act / Assess
    expect(requestAction(s3('GET', '/bucket/key'))).toBe('GetObject');
    expect(requestAction(s3('PUT', '/bucket/key', 'partNumber=1&uploadId=u'))).toBe('UploadPart');
    expect(requestAction(s3('GET', '/bucket'))).toBe('ListObjectsV2');
    expect(requestAction(request('states', 'StartExecution'))).toBe('StartExecution');
    expect(globMatch('Describe*', 'DescribeImages')).toBe(true);
    expect(globMatch('Describe*', 'CreateImage')).toBe(false);
  });
});

describe('fault injection at the dispatch (real SDK clients)', () => {
  const echo: LocalService = {
    name: 'echo',
    matches: () => true,
    handle: () =>
      Promise.resolve({
        status: 200,
        headers: { 'content-type': 'text/xml' },
        body: '<DescribeImagesResponse><imagesSet/></DescribeImagesResponse>',
      }),
  };

  it('does answer EC2 RequestLimitExceeded, reset a connection, and change faults mid-run', async () => {
    // Prepare
    const faults = new FaultInjector({ requests: [{ service: 'ec2', throttle: 1 }] });
    const served = await serveLocalServices([echo], { faults });
    const client = (region: string): EC2Client =>
      new EC2Client({ region, endpoint: served.endpoint, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 't' }, maxAttempts: 1 });
    try {
      // Act / Assess
      await expect(client('us-east-1').send(new DescribeImagesCommand({}))).rejects.toMatchObject({
        name: 'RequestLimitExceeded',
        $metadata: { httpStatusCode: 503 },
      });
      faults.set({ requests: [{ service: 'ec2', region: 'us-west-2', unreachable: 'reset' }] });
      await expect(client('us-west-2').send(new DescribeImagesCommand({}))).rejects.toThrow();
      await expect(client('us-east-1').send(new DescribeImagesCommand({}))).resolves.toMatchObject({ Images: [] });
    } finally {
      await served.close();
    }
  });

  it('does answer Step Functions ThrottlingException in the JSON protocol', async () => {
    // Prepare
    const faults = new FaultInjector({ requests: [{ service: 'states', action: 'List*', throttle: 1 }] });
    const served = await serveLocalServices([echo], { faults });
    const sfn = new SFNClient({
      region: 'us-east-1',
      endpoint: served.endpoint,
      credentials: { accessKeyId: 'A', secretAccessKey: 't' },
      maxAttempts: 1,
    });
    try {
      // Act / Assess
      await expect(sfn.send(new ListStateMachinesCommand({}))).rejects.toMatchObject({
        name: 'ThrottlingException',
        $metadata: { httpStatusCode: 400 },
      });
    } finally {
      await served.close();
    }
  });
});
