import type { JsonObject, JsonValue } from '../../local/json.js';
import { InvalidEventPatternError, ipInCidr, matchesEventPattern, parseEventPattern } from '../../local/events/pattern.js';

/** The example event of the EventBridge docs and Event Ruler's README. */
const EC2_EVENT: JsonObject = {
  version: '0',
  id: 'ddddd4-aaaa-7777-4444-345dd43cc333',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '012345679012',
  time: '2017-10-02T16:24:49Z',
  region: 'us-east-1',
  resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000'],
  detail: {
    'c-count': 5,
    'd-count': 3,
    'x-limit': 301.8,
    'source-ip': '10.0.0.33',
    'instance-id': 'i-000000aaaaaa00000',
    state: 'running',
  },
};

const AMI_EVENT: JsonObject = {
  version: '0',
  id: '1',
  'detail-type': 'EC2 AMI State Change',
  source: 'aws.ec2',
  account: '111122223333',
  time: '2026-01-01T00:00:00Z',
  region: 'eu-west-1',
  resources: ['arn:aws:ec2:eu-west-1::image/ami-0123'],
  detail: { RequestId: 'r-1', ImageId: 'ami-0123', State: 'available', ErrorMessage: '' },
};

const NULLS: JsonObject = { detail: { eventVersion: '', responseElements: null } };
const EMPLOYEES: JsonObject = {
  employees: [
    { firstName: 'John', lastName: 'Doe' },
    { firstName: 'Anna', lastName: 'Smith' },
    { firstName: 'Peter', lastName: 'Jones' },
  ],
};
const CW: JsonObject = {
  source: 'aws.cloudwatch',
  metricName: 'NetworkIn',
  namespace: 'AWS/EC2',
  detail: { 'detail-type': 'CloudWatch Alarm State Change' },
};

type Row = [description: string, pattern: JsonObject, event: JsonObject, expected: boolean];

const TABLE: Row[] = [
  // exact values, arrays as OR, nested objects
  [
    'docs: simple matching',
    {
      'detail-type': ['EC2 Instance State-change Notification'],
      resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000'],
      detail: { state: ['initializing', 'running'] },
    },
    EC2_EVENT,
    true,
  ],
  ['exact value mismatch', { detail: { state: ['stopped'] } }, EC2_EVENT, false],
  ['missing field never matches a value', { detail: { nope: ['x'] } }, EC2_EVENT, false],
  ['all fields must match (AND)', { source: ['aws.ec2'], detail: { state: ['stopped'] } }, EC2_EVENT, false],
  ['numbers match numerically', { detail: { 'c-count': [5.0] } }, EC2_EVENT, true],
  ['a string does not match a number', { detail: { 'c-count': ['5'] } }, EC2_EVENT, false],
  ['booleans match booleans only', { flag: [true] }, { flag: true }, true],
  ['"true" is not true', { flag: ['true'] }, { flag: true }, false],
  ['docs: empty string', { detail: { eventVersion: [''] } }, NULLS, true],
  ['docs: null', { detail: { responseElements: [null] } }, NULLS, true],
  ['null and "" are not interchangeable', { detail: { responseElements: [''] } }, NULLS, false],
  ['"" does not match null', { detail: { eventVersion: [null] } }, NULLS, false],
  ['a leaf pattern does not match an object', { detail: [{ exists: true }] }, EC2_EVENT, false],
  // arrays in the event
  ['event array: any element matches', { tags: ['b'] }, { tags: ['a', 'b'] }, true],
  ['event array: no element matches', { tags: ['c'] }, { tags: ['a', 'b'] }, false],
  ['ruler: objects in arrays', { employees: { firstName: ['Anna'] } }, EMPLOYEES, true],
  ['ruler: array-consistent (Anna Jones is nobody)', { employees: { firstName: ['Anna'], lastName: ['Jones'] } }, EMPLOYEES, false],
  ['ruler: same element', { employees: { firstName: ['Anna'], lastName: ['Smith'] } }, EMPLOYEES, true],
  ['nested arrays', { a: { b: [2] } }, { a: [[{ b: 1 }], [{ b: 2 }]] }, true],
  // prefix / suffix / equals-ignore-case / wildcard
  ['docs: prefix', { time: [{ prefix: '2017-10-02' }] }, EC2_EVENT, true],
  ['prefix mismatch', { time: [{ prefix: '2018' }] }, EC2_EVENT, false],
  ['prefix only on strings', { detail: { 'c-count': [{ prefix: '5' }] } }, EC2_EVENT, false],
  ['prefix ignoring case', { detail: { state: [{ prefix: { 'equals-ignore-case': 'RUN' } }] } }, EC2_EVENT, true],
  ['ruler: suffix', { source: [{ suffix: 'ec2' }] }, EC2_EVENT, true],
  ['suffix ignoring case', { source: [{ suffix: { 'equals-ignore-case': 'EC2' } }] }, EC2_EVENT, true],
  ['suffix is case sensitive', { source: [{ suffix: 'EC2' }] }, EC2_EVENT, false],
  ['ruler: equals-ignore-case', { source: [{ 'equals-ignore-case': 'AWS.EC2' }] }, EC2_EVENT, true],
  ['equals-ignore-case is whole value', { source: [{ 'equals-ignore-case': 'AWS' }] }, EC2_EVENT, false],
  ['ruler: wildcard', { source: [{ wildcard: 'Simple*Service' }] }, { source: 'SimpleQueueService' }, true],
  ['wildcard anchors both ends', { source: [{ wildcard: 'Simple*' }] }, { source: 'NotSimpleQueue' }, false],
  ['wildcard with several stars', { key: [{ wildcard: 'dir/*/file*.png' }] }, { key: 'dir/a/b/file-1.png' }, true],
  ['wildcard escaped star is literal', { key: [{ wildcard: 'a\\*b' }] }, { key: 'a*b' }, true],
  ['escaped star does not match other text', { key: [{ wildcard: 'a\\*b' }] }, { key: 'axb' }, false],
  ['wildcard regex characters are literal', { key: [{ wildcard: 'a.b*' }] }, { key: 'axbc' }, false],
  // anything-but
  ['docs: anything-but string', { detail: { state: [{ 'anything-but': 'initializing' }] } }, EC2_EVENT, true],
  ['anything-but the value itself', { detail: { state: [{ 'anything-but': 'running' }] } }, EC2_EVENT, false],
  ['docs: anything-but number', { detail: { 'x-limit': [{ 'anything-but': 123 }] } }, EC2_EVENT, true],
  ['docs: anything-but string list', { detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } }, EC2_EVENT, true],
  ['anything-but list containing the value', { detail: { state: [{ 'anything-but': ['stopped', 'running'] }] } }, EC2_EVENT, false],
  ['docs: anything-but number list', { detail: { 'x-limit': [{ 'anything-but': [100, 200, 300] }] } }, EC2_EVENT, true],
  ['anything-but number list containing the value', { detail: { 'c-count': [{ 'anything-but': [4, 5] }] } }, EC2_EVENT, false],
  ['docs: anything-but prefix', { detail: { state: [{ 'anything-but': { prefix: 'init' } }] } }, EC2_EVENT, true],
  ['anything-but prefix excluded', { detail: { state: [{ 'anything-but': { prefix: 'run' } }] } }, EC2_EVENT, false],
  ['anything-but suffix', { FileName: [{ 'anything-but': { suffix: '.txt' } }] }, { FileName: 'a.png' }, true],
  ['anything-but suffix excluded', { FileName: [{ 'anything-but': { suffix: '.png' } }] }, { FileName: 'a.png' }, false],
  [
    'anything-but equals-ignore-case',
    { state: [{ 'anything-but': { 'equals-ignore-case': ['RUNNING', 'x'] } }] },
    { state: 'running' },
    false,
  ],
  ['anything-but wildcard', { key: [{ 'anything-but': { wildcard: '*/lib/*' } }] }, { key: 'dir/src/a' }, true],
  ['anything-but never matches a missing field', { detail: { nope: [{ 'anything-but': 'x' }] } }, EC2_EVENT, false],
  // numeric
  [
    'docs: numeric ranges',
    {
      detail: {
        'c-count': [{ numeric: ['>', 0, '<=', 5] }],
        'd-count': [{ numeric: ['<', 10] }],
        'x-limit': [{ numeric: ['=', 3.018e2] }],
      },
    },
    EC2_EVENT,
    true,
  ],
  ['numeric upper bound exclusive', { detail: { 'c-count': [{ numeric: ['<', 5] }] } }, EC2_EVENT, false],
  ['numeric lower bound inclusive', { detail: { 'c-count': [{ numeric: ['>=', 5] }] } }, EC2_EVENT, true],
  ['numeric lower bound exclusive', { detail: { 'c-count': [{ numeric: ['>', 5] }] } }, EC2_EVENT, false],
  ['numeric ignores strings', { n: [{ numeric: ['>', 0] }] }, { n: '5' }, false],
  ['numeric on an array of numbers', { n: [{ numeric: ['>', 10] }] }, { n: [1, 20] }, true],
  // exists
  ['ruler: exists true', { detail: { 'c-count': [{ exists: true }] } }, EC2_EVENT, true],
  ['exists false on a present field', { detail: { 'c-count': [{ exists: false }] } }, EC2_EVENT, false],
  ['docs: exists false on an absent field', { detail: { 'e-count': [{ exists: false }] } }, EC2_EVENT, true],
  [
    'docs: exists false on an intermediate node',
    { detail: { 'c-count': [{ exists: false }] } },
    { detail: { state: 'x', 'c-count': { c1: 100 } } },
    true,
  ],
  ['exists true on an intermediate node', { detail: { 'c-count': [{ exists: true }] } }, { detail: { 'c-count': { c1: 100 } } }, false],
  ['exists true on null', { detail: { responseElements: [{ exists: true }] } }, NULLS, true],
  ['exists false when the parent is missing', { detail: { a: { b: [{ exists: false }] } } }, EC2_EVENT, true],
  ['exists false on an empty array', { tags: [{ exists: false }] }, { tags: [] }, true],
  ['value or absent', { detail: { state: ['stopped', { exists: false }] } }, { detail: {} }, true],
  // cidr
  ['docs: cidr', { detail: { 'source-ip': [{ cidr: '10.0.0.0/24' }] } }, EC2_EVENT, true],
  ['cidr outside', { detail: { 'source-ip': [{ cidr: '10.0.1.0/24' }] } }, EC2_EVENT, false],
  ['cidr ipv6', { ip: [{ cidr: '2001:db8::/32' }] }, { ip: '2001:db8:0:1::5' }, true],
  ['cidr ipv6 outside', { ip: [{ cidr: '2001:db8::/32' }] }, { ip: '2001:db9::5' }, false],
  ['cidr does not mix families', { ip: [{ cidr: '10.0.0.0/8' }] }, { ip: '::ffff:10.0.0.1' }, false],
  // $or
  [
    'ruler: $or',
    { source: ['aws.cloudwatch'], $or: [{ metricName: ['CPUUtilization', 'ReadLatency'] }, { namespace: ['AWS/EC2', 'AWS/ES'] }] },
    CW,
    true,
  ],
  ['$or none matching', { source: ['aws.cloudwatch'], $or: [{ metricName: ['CPUUtilization'] }, { namespace: ['AWS/ES'] }] }, CW, false],
  ['$or nested under a field', { detail: { $or: [{ source: ['x'] }, { 'detail-type': ['CloudWatch Alarm State Change'] }] } }, CW, true],
  ['$or with an AND inside', { $or: [{ metricName: ['X'] }, { metricName: ['NetworkIn'], namespace: ['AWS/EC2'] }] }, CW, true],
  ['$or as a plain field name (one object)', { $or: { x: ['1'] } }, { $or: { x: '1' } }, true],
  // the factory's own rule (aws-facts.md "EC2 AMI State Change")
  [
    'ami: available',
    { source: ['aws.ec2'], 'detail-type': ['EC2 AMI State Change'], detail: { State: ['available', 'failed'] } },
    AMI_EVENT,
    true,
  ],
  [
    'ami: pending is filtered out',
    { source: ['aws.ec2'], 'detail-type': ['EC2 AMI State Change'], detail: { State: ['failed'] } },
    AMI_EVENT,
    false,
  ],
];

describe('event pattern matcher', () => {
  it.each(TABLE)('%s', (_description, pattern, event, expected) => {
    // Prepare: a pattern as PutRule receives it (validated)
    const parsed = parseEventPattern(JSON.stringify(pattern));
    // Act / Assess
    expect(matchesEventPattern(parsed, event)).toBe(expected);
  });

  const INVALID: [string, JsonValue | string][] = [
    ['not JSON', '{"source": '],
    ['not an object', ['aws.ec2']],
    ['an empty object', {}],
    ['a leaf that is not an array', { source: 'aws.ec2' }],
    ['an empty array', { source: [] }],
    ['an array inside a leaf', { source: [['a']] }],
    ['an unknown matcher', { source: [{ regex: 'a.*' }] }],
    ['two keys in a matcher', { source: [{ prefix: 'a', suffix: 'b' }] }],
    ['a numeric prefix', { source: [{ prefix: 1 }] }],
    ['consecutive wildcards', { source: [{ wildcard: 'a**b' }] }],
    ['a bad wildcard escape', { source: [{ wildcard: 'a\\b' }] }],
    ['numeric with an unknown operator', { n: [{ numeric: ['!=', 1] }] }],
    ['numeric bottom above top', { n: [{ numeric: ['>', 10, '<', 5] }] }],
    ['numeric "=" with another operator', { n: [{ numeric: ['=', 1, '<', 5] }] }],
    ['numeric out of range', { n: [{ numeric: ['>', 6e9] }] }],
    ['numeric without a value', { n: [{ numeric: ['>'] }] }],
    ['exists not boolean', { n: [{ exists: 'yes' }] }],
    ['anything-but mixed list', { n: [{ 'anything-but': ['a', 1] }] }],
    ['anything-but empty list', { n: [{ 'anything-but': [] }] }],
    ['anything-but unknown operator', { n: [{ 'anything-but': { numeric: ['>', 1] } }] }],
    ['a bad cidr', { ip: [{ cidr: '10.0.0.0/33' }] }],
    ['an empty $or branch', { $or: [{ a: ['1'] }, {}] }],
  ];

  it.each(INVALID)('rejects %s with InvalidEventPatternException', (_description, pattern) => {
    const text = typeof pattern === 'string' ? pattern : JSON.stringify(pattern);
    expect(() => parseEventPattern(text)).toThrow(InvalidEventPatternError);
    expect(() => parseEventPattern(text)).toThrow(
      expect.objectContaining({ name: 'InvalidEventPatternException', message: expect.stringContaining('Event pattern is not valid') }),
    );
  });

  it('matches IPv4 and IPv6 addresses against CIDR blocks', () => {
    expect(ipInCidr('192.168.1.7', '192.168.0.0/16')).toBe(true);
    expect(ipInCidr('192.169.1.7', '192.168.0.0/16')).toBe(false);
    expect(ipInCidr('10.1.2.3', '0.0.0.0/0')).toBe(true);
    expect(ipInCidr('10.1.2.3', '10.1.2.3')).toBe(true);
    expect(ipInCidr('::1', '::1/128')).toBe(true);
    expect(ipInCidr('::ffff:10.0.0.1', '::ffff:10.0.0.0/120')).toBe(true);
    expect(ipInCidr('not-an-ip', '10.0.0.0/8')).toBe(false);
  });
});
