import fc from 'fast-check';
import { VirtualClock } from '../../local/clock.js';
import { createEc2Service, type Ec2Service } from '../../local/ec2/service.js';
import { createEventsService, type EventsService } from '../../local/events/service.js';
import type { LocalRequest, LocalResponse } from '../../local/http.js';
import { parseQueryParams } from '../../local/protocols/query.js';
import { parseXmlDocument } from '../../local/protocols/xml.js';
import { createS3Service, type S3Service } from '../../local/s3/service.js';

/**
 * Hostile input to the local cloud's protocol layers (Query for EC2, JSON for EventBridge,
 * REST-XML for S3), through the services' own request handlers: any request is answered as
 * AWS answers a bad one — a 4xx with an error code — never a 500 from an exception inside,
 * and a refused request changes nothing.
 */

const ACCOUNT = '111122223333';
const RUNS = { numRuns: 150 };

function request(
  method: string,
  path: string,
  body: string | Buffer,
  headers: Record<string, string>,
  service: string,
  query = '',
): LocalRequest {
  return {
    method,
    path,
    query: new URLSearchParams(query),
    headers,
    body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'),
    region: 'us-east-1',
    service,
    accessKeyId: 'AKIDTEST',
  };
}

const text = (r: LocalResponse): string => (r.body === undefined ? '' : r.body.toString());
/** A response body without its request id, to compare what two reads saw. */
const seen = (r: LocalResponse): string =>
  text(r)
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<id>')
    .replace(/<(RequestId|HostId)>[^<]*<\/\1>/g, '<$1/>');

/** Parameter names a caller could send: real ones, nested ones, and ones that mean something to JavaScript. */
const paramName = fc.oneof(
  fc.constantFrom(
    'ImageId',
    'ImageId.1',
    'InstanceId.1',
    'Name',
    'Owner.1',
    'Filter.1.Name',
    'Filter.1.Value.1',
    'MaxResults',
    'NextToken',
    'DryRun',
    'ResourceId.1',
    'Tag.1.Key',
    'Tag.1.Value',
    'TagSpecification.1.ResourceType',
    'TagSpecification.1.Tag.1.Key',
    'BlockDeviceMapping.1.Ebs.VolumeSize',
    'LaunchPermission.Add.1.UserId',
    'SourceRegion',
    'SourceImageId',
    'MinCount',
    'MaxCount',
    '__proto__',
    '__proto__.polluted',
    'constructor.prototype.polluted',
    'toString',
    'hasOwnProperty',
    'Filter.__proto__.Name',
    'Filter.1',
  ),
  fc.string({ maxLength: 20 }),
);
const paramValue = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom('', 'true', 'false', '-1', '0', '1e309', 'NaN', '99999999999999999999', 'ami-0123456789abcdef0', 'i-0123456789abcdef0'),
);

describe('the local cloud against hostile requests', () => {
  afterEach(() => {
    // Nothing a request sent may reach every object in the process.
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  describe('Query (EC2)', () => {
    let ec2: Ec2Service;
    const call = (body: string): Promise<LocalResponse> =>
      ec2.handle(request('POST', '/', body, { 'content-type': 'application/x-www-form-urlencoded' }, 'ec2'));
    const world = async (): Promise<string> =>
      (
        await Promise.all(
          ['DescribeImages&Owner.1=self', 'DescribeInstances', 'DescribeSnapshots&Owner.1=self', 'DescribeTags'].map((a) =>
            call(`Action=${a}&Version=2016-11-15`),
          ),
        )
      )
        .map(seen)
        .join('\n');
    beforeAll(() => {
      ec2 = createEc2Service({ clock: new VirtualClock(1), seed: true, throttling: false });
    });

    it('keeps a parameter named __proto__ or toString a parameter, touching no prototype', () => {
      const p = parseQueryParams('__proto__.polluted=1&toString=x&constructor.prototype.polluted=2&Filter.1.Name=a');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(p.str('toString')).toBe('x');
      expect(p.has('hasOwnProperty')).toBe(false);
      expect(p.list('Filter').map((f) => f.str('Name'))).toEqual(['a']);
    });

    it('does answer any form body to any action with a response or an EC2 error code, never an internal error, and a refusal changes nothing', async () => {
      const actions = ec2.actionNames?.() ?? [];
      expect(actions).toContain('DescribeImages');
      const body = fc.oneof(
        fc
          .tuple(fc.constantFrom(...actions), fc.array(fc.tuple(paramName, paramValue), { maxLength: 6 }))
          .map(([action, params]) =>
            [`Action=${action}`, 'Version=2016-11-15', ...params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)].join(
              '&',
            ),
          ),
        fc.string({ maxLength: 200 }),
        fc.string({ maxLength: 100 }).map((s) => `Action=${s}`),
      );
      let refused = 0;
      await fc.assert(
        fc.asyncProperty(body, async (b) => {
          const before = await world();
          const r = await call(b);
          expect(r.status).not.toBe(500);
          if (r.status >= 400) {
            refused++;
            expect(text(r)).toMatch(/<Response><Errors><Error><Code>[A-Za-z.]+<\/Code><Message>/);
            expect(await world()).toBe(before);
          }
        }),
        RUNS,
      );
      expect(refused).toBeGreaterThan(RUNS.numRuns / 2);
    });
  });

  describe('JSON (EventBridge)', () => {
    let events: EventsService;
    const call = (target: string, body: string | Buffer): Promise<LocalResponse> =>
      events.handle(request('POST', '/', body, { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target }, 'events'));
    const world = async (): Promise<string> =>
      [await call('AWSEvents.ListRules', '{}'), await call('AWSEvents.ListEventBuses', '{}')].map(seen).join('\n');
    beforeAll(() => {
      events = createEventsService({
        accountId: ACCOUNT,
        clock: new VirtualClock(1),
        dispatcher: { invokeLambda: async () => null, startExecution: async () => undefined },
      });
    });

    it('does answer any body to any target with a response or a JSON error type, never an internal failure, and a refusal changes nothing', async () => {
      const actions = events.actionNames?.() ?? [];
      expect(actions).toContain('PutEvents');
      const target = fc.oneof(
        fc.constantFrom(...actions).map((a) => `AWSEvents.${a}`),
        fc.string({ maxLength: 30 }),
      );
      const body = fc.oneof(
        fc.json(),
        fc.string({ maxLength: 200 }),
        fc
          .dictionary(
            fc.constantFrom(
              'Name',
              'EventBusName',
              'EventPattern',
              'Rule',
              'Targets',
              'Entries',
              'Limit',
              'NextToken',
              '__proto__',
              'State',
              'ScheduleExpression',
            ),
            fc.jsonValue(),
          )
          .map((d) => JSON.stringify(d)),
      );
      await fc.assert(
        fc.asyncProperty(target, body, async (t, b) => {
          const before = await world();
          const r = await call(t, b);
          expect(r.status).not.toBe(500);
          if (r.status >= 400) {
            const error = JSON.parse(text(r)) as { __type?: string; message?: string };
            expect(error.__type).toMatch(/^[A-Za-z]+(Exception|Error)$|^[A-Za-z]+$/);
            expect(await world()).toBe(before);
          }
        }),
        RUNS,
      );
    });
  });

  describe('REST-XML (S3)', () => {
    let s3: S3Service;
    const call = (method: string, path: string, query: string, body: string): Promise<LocalResponse> =>
      s3.handle(request(method, path, body, { 'content-type': 'application/xml', host: 'localhost' }, 's3', query));
    const world = async (): Promise<string> =>
      [await call('GET', '/hostile', 'list-type=2', ''), await call('GET', '/hostile', 'tagging', ''), await call('GET', '/', '', '')]
        .map(seen)
        .join('\n');
    beforeAll(async () => {
      s3 = createS3Service({ accountId: ACCOUNT });
      expect((await call('PUT', '/hostile', '', '')).status).toBe(200);
      expect((await call('PUT', '/hostile/a.txt', '', 'a')).status).toBe(200);
    });

    it('does answer any XML body to the operations that parse one with a response or an S3 error code, never an internal error, and a refusal changes nothing', async () => {
      const element = fc.letrec((tie) => ({
        node: fc.oneof(
          { depthSize: 'small' },
          fc.string({ maxLength: 10 }).map((s) => s.replace(/[<&]/g, '')),
          fc
            .tuple(
              fc.constantFrom(
                'Delete',
                'Object',
                'Key',
                'Quiet',
                'Tagging',
                'TagSet',
                'Tag',
                'Value',
                'CreateBucketConfiguration',
                'LocationConstraint',
                'Part',
                'PartNumber',
                'ETag',
              ),
              fc.array(tie('node'), { maxLength: 3 }),
            )
            .map(([name, children]) => `<${name}>${children.join('')}</${name}>`),
        ),
      })).node;
      const body = fc.oneof(
        element,
        fc.string({ maxLength: 200 }),
        element.map((x) => x.slice(0, Math.floor(x.length / 2))),
      );
      const op = fc.constantFrom(
        { method: 'POST', path: '/hostile', query: 'delete' },
        { method: 'PUT', path: '/hostile', query: 'tagging' },
        { method: 'PUT', path: '/other-bucket', query: '' },
        { method: 'POST', path: '/hostile/a.txt', query: 'uploadId=nope' },
      );
      await fc.assert(
        fc.asyncProperty(op, body, async (o, b) => {
          const before = await world();
          const r = await call(o.method, o.path, o.query, b);
          expect(r.status).not.toBe(500);
          if (r.status >= 400) {
            expect(parseXmlDocument(text(r))).toMatchObject({ Error: { Code: expect.stringMatching(/^[A-Za-z]+$/) } });
            expect(await world()).toBe(before);
          }
        }),
        RUNS,
      );
    });
  });
});
