import { fileURLToPath } from 'node:url';
import {
  evaluate,
  globalContext,
  RequestNotUnderstoodError,
  type ContextValue,
  type NamedPolicy,
  type Principal,
} from '../../local/iam/index.js';
import { ensurePackaged } from '../../local/template/package.js';
import { planStack } from '../../local/template/stack.js';
import {
  ACCOUNT,
  doc,
  EVENTS,
  iamCatalog,
  identityPolicy,
  NOW,
  OTHER_ACCOUNT,
  OTHER_SESSION,
  request,
  resourcePolicy,
  ROLE_ARN,
  ROOT,
  SESSION,
  USER,
} from './iam-fixtures.js';

const EPOCH = NOW.getTime() / 1000;

beforeAll(async () => {
  await iamCatalog();
});

/** Whether an Allow of ec2:DescribeImages on "*" with this Condition allows a request carrying `context`. */
function conditionHolds(
  condition: unknown,
  context: Record<string, ContextValue | undefined>,
  principal: Principal = SESSION,
  version = '2012-10-17',
): boolean {
  const policy = identityPolicy(doc({ Effect: 'Allow', Action: 'ec2:DescribeImages', Resource: '*', Condition: condition }, version));
  const req = request('ec2:DescribeImages', '*', {}, principal);
  const merged: Record<string, ContextValue> = { ...req.context };
  for (const [k, v] of Object.entries(context)) {
    if (v === undefined) delete merged[k];
    else merged[k] = v;
  }
  return evaluate({ ...req, context: merged }, { identity: [policy] }).effect === 'Allow';
}

/** [operator, key, policy value(s), request value (undefined: absent), whether the condition holds] */
type Row = [operator: string, key: string, policy: unknown, value: ContextValue | undefined, holds: boolean];

const OPERATORS: Row[] = [
  // String
  ['StringEquals', 'aws:PrincipalTag/team', 'images', 'images', true],
  ['StringEquals', 'aws:PrincipalTag/team', 'images', 'Images', false],
  ['StringEquals', 'aws:PrincipalTag/team', ['ops', 'images'], 'images', true],
  ['StringEquals', 'aws:PrincipalTag/team', 'images', undefined, false],
  ['StringEquals', 'aws:PrincipalTag/team', 'im*', 'images', false],
  ['StringEquals', 'aws:PrincipalTag/team', 'im*', 'im*', true],
  ['StringEquals', 's3:max-keys', 10, 10, true],
  ['StringNotEquals', 'aws:PrincipalTag/team', 'ops', 'images', true],
  ['StringNotEquals', 'aws:PrincipalTag/team', ['ops', 'images'], 'images', false],
  ['StringNotEquals', 'aws:PrincipalTag/team', 'ops', undefined, true],
  ['StringEqualsIgnoreCase', 'aws:PrincipalTag/team', 'IMAGES', 'images', true],
  ['StringEqualsIgnoreCase', 'aws:PrincipalTag/team', 'IMAGE', 'images', false],
  ['StringNotEqualsIgnoreCase', 'aws:PrincipalTag/team', 'IMAGES', 'images', false],
  ['StringNotEqualsIgnoreCase', 'aws:PrincipalTag/team', 'OPS', 'images', true],
  ['StringNotEqualsIgnoreCase', 'aws:PrincipalTag/team', 'OPS', undefined, true],
  ['StringLike', 'aws:PrincipalTag/team', 'im*', 'images', true],
  ['StringLike', 'aws:PrincipalTag/team', 'im?ges', 'images', true],
  ['StringLike', 'aws:PrincipalTag/team', 'im?es', 'images', false],
  ['StringLike', 'aws:PrincipalTag/team', 'IM*', 'images', false],
  ['StringLike', 'aws:PrincipalTag/team', 'im', 'images', false],
  ['StringLike', 'aws:PrincipalTag/team', '*', '', true],
  ['StringLike', 'aws:PrincipalTag/team', 'im*', undefined, false],
  ['StringNotLike', 'aws:PrincipalTag/team', 'im*', 'images', false],
  ['StringNotLike', 'aws:PrincipalTag/team', ['x*', 'y*'], 'images', true],
  ['StringNotLike', 'aws:PrincipalTag/team', ['x*', 'im*'], 'images', false],
  ['StringNotLike', 'aws:PrincipalTag/team', 'im*', undefined, true],
  // Numeric
  ['NumericEquals', 's3:max-keys', '10', 10, true],
  ['NumericEquals', 's3:max-keys', 10, '10', true],
  ['NumericEquals', 's3:max-keys', '10', 10.5, false],
  ['NumericEquals', 's3:max-keys', '10', 'ten', false],
  ['NumericEquals', 's3:max-keys', '10', undefined, false],
  ['NumericNotEquals', 's3:max-keys', '10', 11, true],
  ['NumericNotEquals', 's3:max-keys', ['10', '11'], 11, false],
  ['NumericNotEquals', 's3:max-keys', '10', undefined, true],
  ['NumericLessThan', 's3:max-keys', '10', 9, true],
  ['NumericLessThan', 's3:max-keys', '10', 10, false],
  ['NumericLessThanEquals', 's3:max-keys', '10', 10, true],
  ['NumericLessThanEquals', 's3:max-keys', '10', 11, false],
  ['NumericGreaterThan', 's3:max-keys', '10', 11, true],
  ['NumericGreaterThan', 's3:max-keys', '10', 10, false],
  ['NumericGreaterThanEquals', 's3:max-keys', '10.5', 10.5, true],
  ['NumericGreaterThanEquals', 's3:max-keys', '-1', -2, false],
  // Date: ISO 8601 (W3C profile) or epoch seconds, against ISO strings, epoch numbers and Dates
  ['DateEquals', 'aws:CurrentTime', '2026-11-23T07:42:10Z', '2026-11-23T07:42:10Z', true],
  ['DateEquals', 'aws:CurrentTime', '2026-11-23T08:42:10+01:00', '2026-11-23T07:42:10Z', true],
  ['DateEquals', 'aws:CurrentTime', String(EPOCH), '2026-11-23T07:42:10Z', true],
  ['DateEquals', 'aws:CurrentTime', '2026-11-23', '2026-11-23T07:42:10Z', false],
  ['DateNotEquals', 'aws:CurrentTime', '2026-11-23T07:42:10Z', '2026-11-23T07:42:10Z', false],
  ['DateNotEquals', 'aws:CurrentTime', ['2020-01-01', '2021-01-01'], '2026-11-23T07:42:10Z', true],
  ['DateLessThan', 'aws:CurrentTime', '2027', '2026-11-23T07:42:10Z', true],
  ['DateLessThan', 'aws:CurrentTime', '2026-11', '2026-11-23T07:42:10Z', false],
  ['DateLessThanEquals', 'aws:CurrentTime', '2026-11-23T07:42:10Z', '2026-11-23T07:42:10Z', true],
  ['DateGreaterThan', 'aws:CurrentTime', '2026-11-23T07:42Z', '2026-11-23T07:42:10Z', true],
  ['DateGreaterThan', 'aws:EpochTime', '2026-01-01T00:00:00Z', EPOCH, true],
  ['DateGreaterThan', 'aws:EpochTime', EPOCH, EPOCH, false],
  ['DateGreaterThanEquals', 'aws:TokenIssueTime', '2026-11-23T07:00:00Z', new Date('2026-11-23T07:00:00Z'), true],
  ['DateGreaterThanEquals', 'aws:TokenIssueTime', '2026-11-23T07:00:00Z', undefined, false],
  // Bool
  ['Bool', 'aws:SecureTransport', 'true', true, true],
  ['Bool', 'aws:SecureTransport', 'false', true, false],
  ['Bool', 'aws:SecureTransport', false, false, true],
  ['Bool', 'aws:SecureTransport', 'True', 'TRUE', true],
  ['Bool', 'aws:SecureTransport', 'true', 'yes', false],
  ['Bool', 'aws:SecureTransport', 'false', undefined, false],
  // Binary
  ['BinaryEquals', 'aws:PrincipalTag/bin', 'QmluYXJ5VmFsdWVJbkJhc2U2NA==', 'QmluYXJ5VmFsdWVJbkJhc2U2NA==', true],
  ['BinaryEquals', 'aws:PrincipalTag/bin', 'QmluYXJ5VmFsdWVJbkJhc2U2NA==', 'QmluYXJ5', false],
  ['BinaryEquals', 'aws:PrincipalTag/bin', 'QmluYXJ5', undefined, false],
  // IP addresses
  ['IpAddress', 'aws:SourceIp', '203.0.113.0/24', '203.0.113.9', true],
  ['IpAddress', 'aws:SourceIp', '203.0.113.0/24', '203.0.114.9', false],
  ['IpAddress', 'aws:SourceIp', '198.51.100.7', '198.51.100.7', true],
  ['IpAddress', 'aws:SourceIp', '198.51.100.7', '198.51.100.8', false],
  ['IpAddress', 'aws:SourceIp', ['203.0.113.0/24', '2001:DB8:1234:5678::/64'], '2001:db8:1234:5678::42', true],
  ['IpAddress', 'aws:SourceIp', '2001:DB8:1234:5678::/64', '2001:db8:1234:5679::42', false],
  ['IpAddress', 'aws:SourceIp', '::/0', '203.0.113.9', false],
  ['IpAddress', 'aws:SourceIp', '0.0.0.0/0', 'not-an-ip', false],
  ['IpAddress', 'aws:SourceIp', '0.0.0.0/0', undefined, false],
  ['NotIpAddress', 'aws:SourceIp', '10.0.0.0/8', '10.1.2.3', false],
  ['NotIpAddress', 'aws:SourceIp', ['10.0.0.0/8', '192.168.0.0/16'], '203.0.113.9', true],
  ['NotIpAddress', 'aws:SourceIp', '10.0.0.0/8', undefined, true],
  // ARN: the six parts separately ("ArnEquals and ArnLike behave identically")
  ['ArnLike', 'aws:SourceArn', 'arn:aws:events:*:111122223333:rule/*', 'arn:aws:events:us-east-1:111122223333:rule/nightly', true],
  ['ArnLike', 'aws:SourceArn', 'arn:aws:events:*:111122223333:rule/*', 'arn:aws:events:us-east-1:999999999999:rule/nightly', false],
  ['ArnEquals', 'aws:SourceArn', 'arn:aws:events:*:111122223333:rule/*', 'arn:aws:events:us-east-1:111122223333:rule/nightly', true],
  [
    'ArnEquals',
    'aws:SourceArn',
    'arn:aws:events:us-east-1:111122223333:rule/nightly',
    'arn:aws:events:us-east-1:111122223333:rule/Nightly',
    false,
  ],
  // The operators page's example: the ARN operator does not let * cross a colon, StringLike does.
  [
    'ArnLike',
    'aws:SourceArn',
    'arn:aws:someservice:*:111122223333:finance/*',
    'arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt',
    false,
  ],
  [
    'StringLike',
    'aws:SourceArn',
    'arn:aws:someservice:*:111122223333:finance/*',
    'arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt',
    true,
  ],
  ['ArnLike', 'aws:SourceArn', 'arn:aws:sqs:*:*:*', 'not:an:arn', false],
  ['ArnNotEquals', 'aws:SourceArn', 'arn:aws:events:*:111122223333:rule/*', 'arn:aws:events:us-east-1:111122223333:rule/nightly', false],
  ['ArnNotLike', 'aws:SourceArn', 'arn:aws:events:*:111122223333:rule/*', 'arn:aws:events:us-east-1:999999999999:rule/nightly', true],
  ['ArnNotLike', 'aws:SourceArn', 'arn:aws:events:*:111122223333:rule/*', undefined, true],
  // Null
  ['Null', 'aws:TokenIssueTime', 'true', undefined, true],
  ['Null', 'aws:TokenIssueTime', 'true', '2026-11-23T07:00:00Z', false],
  ['Null', 'aws:TokenIssueTime', false, '2026-11-23T07:00:00Z', true],
  ['Null', 'aws:TokenIssueTime', 'false', undefined, false],
  ['Null', 'aws:TagKeys', 'true', [], true],
  ['Null', 'aws:TagKeys', 'false', ['a'], true],
  // …IfExists: an absent key makes the condition true
  ['StringEqualsIfExists', 'ec2:InstanceType', 't3.micro', undefined, true],
  ['StringEqualsIfExists', 'ec2:InstanceType', 't3.micro', 'm5.large', false],
  ['StringLikeIfExists', 'ec2:InstanceType', ['t1.*', 't2.*', 'm3.*'], 't2.nano', true],
  ['StringNotEqualsIfExists', 'ec2:InstanceType', 't3.micro', undefined, true],
  ['NumericLessThanIfExists', 's3:max-keys', '10', undefined, true],
  ['NumericLessThanIfExists', 's3:max-keys', '10', 20, false],
  ['BoolIfExists', 'aws:MultiFactorAuthPresent', 'true', undefined, true],
  ['ArnLikeIfExists', 'aws:SourceArn', 'arn:aws:sns:*:*:*', 'arn:aws:sqs:us-east-1:111122223333:q', false],
  // Set operators on a multivalued key
  ['ForAllValues:StringLike', 'aws:TagKeys', 'ami-factory:*', ['ami-factory:managed', 'ami-factory:family'], true],
  ['ForAllValues:StringLike', 'aws:TagKeys', 'ami-factory:*', ['ami-factory:managed', 'Name'], false],
  ['ForAllValues:StringLike', 'aws:TagKeys', 'ami-factory:*', [], true],
  ['ForAllValues:StringLike', 'aws:TagKeys', 'ami-factory:*', undefined, true],
  ['ForAllValues:StringEquals', 'aws:TagKeys', ['PostDateTime', 'Message', 'Tags'], ['PostDateTime', 'UserName'], false],
  ['ForAllValues:StringEqualsIfExists', 'aws:TagKeys', 'Name', undefined, true],
  ['ForAnyValue:StringEquals', 'aws:TagKeys', ['ID', 'PostDateTime'], ['UserName', 'Message', 'PostDateTime'], true],
  ['ForAnyValue:StringEquals', 'aws:TagKeys', ['ID', 'PostDateTime'], ['UserName'], false],
  ['ForAnyValue:StringEquals', 'aws:TagKeys', 'Name', [], false],
  ['ForAnyValue:StringEquals', 'aws:TagKeys', 'Name', undefined, false],
  // "ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"} (DenyRestrictedTags in the multivalued examples)
  ['ForAllValues:StringNotLike', 'aws:TagKeys', 'key1*', ['key1:legal'], false],
  ['ForAllValues:StringNotLike', 'aws:TagKeys', 'key1*', ['key1:hr', 'key1:personnel'], false],
  ['ForAllValues:StringNotLike', 'aws:TagKeys', 'key1*', ['key2:audit'], true],
  ['ForAllValues:StringNotLike', 'aws:TagKeys', 'key1*', undefined, true],
  ['ForAnyValue:StringNotEquals', 'aws:TagKeys', ['a', 'b'], ['a', 'c'], true],
  ['ForAnyValue:StringNotEquals', 'aws:TagKeys', ['a', 'b'], ['a', 'b'], false],
  // a set operator on a single-valued key sees a one-element set
  ['ForAllValues:StringEquals', 'aws:PrincipalTag/team', 'images', 'images', true],
  ['ForAnyValue:NumericLessThan', 'aws:MultiFactorAuthAge', '3600', 60, true],
];

describe('evaluate: condition operators', () => {
  it.each(OPERATORS)('%s {%s: %j} with %j is %s', (operator, key, policyValue, value, holds) => {
    expect(conditionHolds({ [operator]: { [key]: policyValue } }, { [key]: value })).toBe(holds);
  });

  it('ANDs the keys under one operator and the operators of one Condition', () => {
    // Prepare
    const condition = {
      StringEquals: { 'aws:PrincipalTag/team': 'images', 'aws:RequestedRegion': 'us-east-1' },
      Bool: { 'aws:SecureTransport': 'true' },
    };

    // Act / Assess
    expect(conditionHolds(condition, {})).toBe(true);
    expect(conditionHolds(condition, { 'aws:RequestedRegion': 'eu-west-1' })).toBe(false);
    expect(conditionHolds(condition, { 'aws:SecureTransport': false })).toBe(false);
  });

  it('finds condition keys whatever their case, in the policy and in the request', () => {
    expect(conditionHolds({ StringEquals: { 'AWS:PRINCIPALTAG/TEAM': 'images' } }, {})).toBe(true);
    expect(conditionHolds({ StringEquals: { 's3:prefix': 'a' } }, { 'S3:Prefix': 'a' })).toBe(true);
  });

  it('refuses a request that gives a single-valued key several values', () => {
    expect(() => conditionHolds({ StringEquals: { 'aws:PrincipalTag/team': 'images' } }, { 'aws:PrincipalTag/team': ['images'] })).toThrow(
      RequestNotUnderstoodError,
    );
  });

  it('refuses a request context that has one key twice in different case', () => {
    expect(() => conditionHolds({ StringEquals: { 's3:prefix': 'a' } }, { 's3:prefix': 'a', 'S3:PREFIX': 'b' })).toThrow(
      RequestNotUnderstoodError,
    );
  });
});

describe('evaluate: policy variables', () => {
  it('substitutes context keys in condition values', () => {
    expect(conditionHolds({ StringLike: { 's3:prefix': 'home/${aws:username}/*' } }, { 's3:prefix': 'home/alice/notes' }, USER)).toBe(true);
    expect(conditionHolds({ StringLike: { 's3:prefix': 'home/${aws:username}/*' } }, { 's3:prefix': 'home/bob/notes' }, USER)).toBe(false);
    expect(conditionHolds({ StringEquals: { 'aws:PrincipalTag/team': '${aws:PrincipalTag/team}' } }, {})).toBe(true);
    expect(conditionHolds({ ArnEquals: { 'aws:PrincipalArn': '${aws:SourceArn}' } }, { 'aws:SourceArn': ROLE_ARN })).toBe(true);
    expect(conditionHolds({ StringEquals: { 's3:prefix': '${s3:delimiter}' } }, { 's3:prefix': '/', 's3:delimiter': '/' })).toBe(true);
  });

  it('matches nothing with a variable it cannot resolve: a negated operator then holds', () => {
    // SESSION is a role session: aws:username is not present.
    expect(conditionHolds({ StringLike: { 's3:prefix': 'home/${aws:username}/*' } }, { 's3:prefix': 'home//x' })).toBe(false);
    expect(conditionHolds({ StringNotLike: { 's3:prefix': 'home/${aws:username}/*' } }, { 's3:prefix': 'home//x' })).toBe(true);
    // A multivalued key is no policy variable.
    expect(conditionHolds({ StringEquals: { 's3:prefix': '${aws:TagKeys}' } }, { 's3:prefix': 'a', 'aws:TagKeys': ['a'] })).toBe(false);
  });

  it("uses a variable's default value when the key is absent", () => {
    expect(conditionHolds({ StringEquals: { 's3:prefix': "${aws:username, 'anonymous'}" } }, { 's3:prefix': 'anonymous' })).toBe(true);
    expect(conditionHolds({ StringEquals: { 's3:prefix': "${aws:username, 'anonymous'}" } }, { 's3:prefix': 'alice' }, USER)).toBe(true);
  });

  it('writes a literal *, ? and $ with ${*}, ${?} and ${$}', () => {
    expect(conditionHolds({ StringLike: { 's3:prefix': 'a${*}' } }, { 's3:prefix': 'a*' })).toBe(true);
    expect(conditionHolds({ StringLike: { 's3:prefix': 'a${*}' } }, { 's3:prefix': 'ab' })).toBe(false);
    expect(conditionHolds({ StringLike: { 's3:prefix': '${?}${$}' } }, { 's3:prefix': '?$' })).toBe(true);
    expect(conditionHolds({ StringLike: { 's3:prefix': '${?}' } }, { 's3:prefix': 'x' })).toBe(false);
  });

  it('takes a substituted value literally: its * is no wildcard', () => {
    expect(conditionHolds({ StringLike: { 's3:prefix': '${s3:delimiter}' } }, { 's3:prefix': 'abc', 's3:delimiter': '*' })).toBe(false);
  });

  it('leaves ${…} as literal text in the 2008-10-17 language', () => {
    expect(conditionHolds({ StringEquals: { 's3:prefix': '${aws:username}' } }, { 's3:prefix': 'alice' }, USER, '2008-10-17')).toBe(false);
    expect(
      conditionHolds({ StringEquals: { 's3:prefix': '${aws:username}' } }, { 's3:prefix': '${aws:username}' }, USER, '2008-10-17'),
    ).toBe(true);
  });

  it('substitutes variables in the resource part of Resource', () => {
    // Prepare
    const policy = identityPolicy(doc({ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::home/${aws:username}/*' }));
    const old = identityPolicy(
      doc({ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::home/${aws:username}/*' }, '2008-10-17'),
    );

    // Act / Assess
    expect(evaluate(request('s3:GetObject', 'arn:aws:s3:::home/alice/f', {}, USER), { identity: [policy] }).effect).toBe('Allow');
    expect(evaluate(request('s3:GetObject', 'arn:aws:s3:::home/bob/f', {}, USER), { identity: [policy] }).effect).toBe('ImplicitDeny');
    expect(evaluate(request('s3:GetObject', 'arn:aws:s3:::home//f'), { identity: [policy] }).effect).toBe('ImplicitDeny');
    expect(evaluate(request('s3:GetObject', 'arn:aws:s3:::home/alice/f', {}, USER), { identity: [old] }).effect).toBe('ImplicitDeny');
    expect(evaluate(request('s3:GetObject', 'arn:aws:s3:::home/${aws:username}/f', {}, USER), { identity: [old] }).effect).toBe('Allow');
  });
});

describe('evaluate: actions and resources', () => {
  const allows = (statement: Record<string, unknown>, action: string, resource: string): boolean =>
    evaluate(request(action, resource), { identity: [identityPolicy(doc({ Effect: 'Allow', ...statement }))] }).effect === 'Allow';

  it('matches actions case-insensitively, with * and ?', () => {
    expect(allows({ Action: 'EC2:createimage', Resource: '*' }, 'ec2:CreateImage', '*')).toBe(true);
    expect(allows({ Action: 'ec2:Create*', Resource: '*' }, 'ec2:CreateImage', '*')).toBe(true);
    expect(allows({ Action: 'ec2:?reateImage', Resource: '*' }, 'ec2:CreateImage', '*')).toBe(true);
    expect(allows({ Action: '*', Resource: '*' }, 'states:StartExecution', '*')).toBe(true);
    expect(allows({ Action: 'ec2:Create*', Resource: '*' }, 'ec2:DeregisterImage', '*')).toBe(false);
    expect(allows({ Action: 'ec2:CreateImage', Resource: '*' }, 'ec2:CreateImages', '*')).toBe(false);
  });

  it('matches ARNs part by part: a wildcard does not cross the first five colons, but does in the resource part', () => {
    const image = { Action: 'ec2:CreateImage', Resource: 'arn:aws:ec2:*::image/*' };
    expect(allows(image, 'ec2:CreateImage', 'arn:aws:ec2:us-east-1::image/ami-0123')).toBe(true);
    expect(allows(image, 'ec2:CreateImage', 'arn:aws:ec2:us-east-1:111122223333:image/ami-0123')).toBe(false);
    expect(allows(image, 'ec2:CreateImage', 'arn:aws:ec2:us-east-1::snapshot/snap-1')).toBe(false);
    const logs = { Action: 'logs:PutLogEvents', Resource: 'arn:aws:logs:*:*:log-group:/aws/lambda/ami-factory-dev-*:*' };
    expect(
      allows(
        logs,
        'logs:PutLogEvents',
        'arn:aws:logs:us-east-1:111122223333:log-group:/aws/lambda/ami-factory-dev-createImage:log-stream:2026/11/23',
      ),
    ).toBe(true);
    expect(
      allows(
        logs,
        'logs:PutLogEvents',
        'arn:aws:logs:us-east-1:111122223333:x:log-group:/aws/lambda/ami-factory-dev-createImage:log-stream:s',
      ),
    ).toBe(false);
    const region = { Action: 'lambda:InvokeFunction', Resource: 'arn:aws:lambda:us-*-1:111122223333:function:*' };
    expect(allows(region, 'lambda:InvokeFunction', 'arn:aws:lambda:us-east-1:111122223333:function:f:live')).toBe(true);
    expect(allows(region, 'lambda:InvokeFunction', 'arn:aws:lambda:eu-west-1:111122223333:function:f')).toBe(false);
  });

  it('matches ? as one character and compares ARNs case-sensitively', () => {
    expect(allows({ Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/?.txt' }, 's3:GetObject', 'arn:aws:s3:::b/a.txt')).toBe(true);
    expect(allows({ Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/?.txt' }, 's3:GetObject', 'arn:aws:s3:::b/ab.txt')).toBe(false);
    expect(allows({ Action: 's3:GetObject', Resource: 'arn:aws:s3:::B/*' }, 's3:GetObject', 'arn:aws:s3:::b/a.txt')).toBe(false);
  });

  it('matches a request on "*" only with "Resource": "*"', () => {
    expect(allows({ Action: 'ec2:DescribeImages', Resource: '*' }, 'ec2:DescribeImages', '*')).toBe(true);
    expect(allows({ Action: 'ec2:DescribeImages', Resource: 'arn:aws:ec2:*:*:*' }, 'ec2:DescribeImages', '*')).toBe(false);
  });

  it('combines NotAction and NotResource: the statement covers every other action on every other resource', () => {
    // Prepare
    const statement = { NotAction: ['iam:*', 'sts:*'], NotResource: ['arn:aws:s3:::secret', 'arn:aws:s3:::secret/*'] };

    // Act / Assess
    expect(allows(statement, 'ec2:DescribeImages', '*')).toBe(true);
    expect(allows(statement, 's3:GetObject', 'arn:aws:s3:::public/x')).toBe(true);
    expect(allows(statement, 's3:GetObject', 'arn:aws:s3:::secret/x')).toBe(false);
    expect(allows(statement, 'iam:ListUsers', '*')).toBe(false);
    expect(allows(statement, 'IAM:ListUsers', 'arn:aws:s3:::public/x')).toBe(false);
  });

  it('refuses a request whose action is not service:Action', () => {
    const policy = identityPolicy(doc({ Effect: 'Allow', Action: '*', Resource: '*' }));
    expect(() => evaluate(request('ec2:*', '*'), { identity: [policy] })).toThrow(RequestNotUnderstoodError);
    expect(() => evaluate(request('CreateImage', '*'), { identity: [policy] })).toThrow(RequestNotUnderstoodError);
  });
});

describe('evaluate: decisions', () => {
  const allowImages = (): ReturnType<typeof identityPolicy> =>
    identityPolicy(doc({ Sid: 'Images', Effect: 'Allow', Action: 'ec2:*', Resource: '*' }), 'CreateImageRole/create-image');
  const denyDeregister = (): ReturnType<typeof identityPolicy> =>
    identityPolicy(
      doc([
        { Effect: 'Allow', Action: 's3:GetObject', Resource: '*' },
        { Sid: 'NoDeregister', Effect: 'Deny', Action: 'ec2:DeregisterImage', Resource: '*' },
      ]),
      'Guard/deny',
    );

  it('lets an explicit deny win over any allow, and names the denying statement', () => {
    // Act
    const decision = evaluate(request('ec2:DeregisterImage', 'arn:aws:ec2:us-east-1::image/ami-1'), {
      identity: [allowImages(), denyDeregister()],
    });

    // Assess
    expect(decision).toEqual({
      effect: 'ExplicitDeny',
      decisive: { policy: 'Guard/deny', statementIndex: 1, sid: 'NoDeregister' },
      reason: 'with an explicit deny in an identity-based policy',
    });
  });

  it('allows what an identity-based policy allows, naming the statement', () => {
    expect(evaluate(request('ec2:CreateImage', 'arn:aws:ec2:us-east-1::image/*'), { identity: [allowImages()] })).toEqual({
      effect: 'Allow',
      decisive: { policy: 'CreateImageRole/create-image', statementIndex: 0, sid: 'Images' },
      reason: 'because an identity-based policy allows the ec2:CreateImage action',
    });
  });

  it('denies implicitly what nothing allows, in AWS words', () => {
    expect(evaluate(request('states:StartExecution', '*'), { identity: [allowImages()] })).toEqual({
      effect: 'ImplicitDeny',
      reason: 'because no identity-based policy allows the states:StartExecution action',
    });
    expect(evaluate(request('states:StartExecution', '*'), { identity: [] }).effect).toBe('ImplicitDeny');
  });

  describe('with a resource-based policy in the same account', () => {
    const bucket = 'arn:aws:s3:::ami-factory-state/waits/x';
    const bucketPolicy = (principal: unknown, effect = 'Allow'): ReturnType<typeof resourcePolicy> =>
      resourcePolicy(
        doc({ Effect: effect, Principal: principal, Action: 's3:GetObject', Resource: 'arn:aws:s3:::ami-factory-state/*' }),
        'ami-factory-state',
      );

    it('allows when it names the role, without any identity-based policy', () => {
      expect(evaluate(request('s3:GetObject', bucket), { identity: [], resource: [bucketPolicy({ AWS: ROLE_ARN })] })).toEqual({
        effect: 'Allow',
        decisive: { policy: 'ami-factory-state', statementIndex: 0 },
        reason: 'because a resource-based policy allows the s3:GetObject action',
      });
    });

    it('allows when it names the session, or everyone', () => {
      expect(evaluate(request('s3:GetObject', bucket), { identity: [], resource: [bucketPolicy({ AWS: SESSION.arn })] }).effect).toBe(
        'Allow',
      );
      expect(evaluate(request('s3:GetObject', bucket), { identity: [], resource: [bucketPolicy('*')] }).effect).toBe('Allow');
      expect(evaluate(request('s3:GetObject', bucket), { identity: [], resource: [bucketPolicy({ AWS: '*' })] }).effect).toBe('Allow');
    });

    it('does not allow by naming only the account: the identity-based policies must allow', () => {
      // Prepare
      const policies = (identity: ReturnType<typeof identityPolicy>[]): Parameters<typeof evaluate>[1] => ({
        identity,
        resource: [bucketPolicy({ AWS: ACCOUNT })],
      });
      const getObject = identityPolicy(doc({ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }));

      // Act / Assess
      expect(evaluate(request('s3:GetObject', bucket), policies([])).effect).toBe('ImplicitDeny');
      expect(evaluate(request('s3:GetObject', bucket), policies([getObject])).effect).toBe('Allow');
      expect(
        evaluate(request('s3:GetObject', bucket, {}, ROOT), {
          identity: [],
          resource: [bucketPolicy({ AWS: `arn:aws:iam::${ACCOUNT}:root` })],
        }).effect,
      ).toBe('Allow');
    });

    it('does not apply statements naming someone else', () => {
      expect(
        evaluate(request('s3:GetObject', bucket), { identity: [], resource: [bucketPolicy({ AWS: `arn:aws:iam::${ACCOUNT}:role/Other` })] })
          .effect,
      ).toBe('ImplicitDeny');
    });

    it('denies with its own explicit deny, over an identity-based allow', () => {
      // Act
      const decision = evaluate(request('s3:GetObject', bucket), {
        identity: [identityPolicy(doc({ Effect: 'Allow', Action: 's3:*', Resource: '*' }))],
        resource: [bucketPolicy({ AWS: ROLE_ARN }, 'Deny')],
      });

      // Assess
      expect(decision).toEqual({
        effect: 'ExplicitDeny',
        decisive: { policy: 'ami-factory-state', statementIndex: 0 },
        reason: 'with an explicit deny in a resource-based policy',
      });
    });

    it('lets an identity-based deny win over its allow', () => {
      expect(
        evaluate(request('s3:GetObject', bucket), {
          identity: [identityPolicy(doc({ Effect: 'Deny', Action: 's3:GetObject', Resource: '*' }))],
          resource: [bucketPolicy('*')],
        }).effect,
      ).toBe('ExplicitDeny');
    });

    it('covers the resource it is attached to when a statement has no Resource', () => {
      // Prepare
      const fn = `arn:aws:lambda:us-east-1:${ACCOUNT}:function:ami-factory-dev-planBuild`;
      const policy = resourcePolicy(doc({ Effect: 'Allow', Principal: { AWS: ROLE_ARN }, Action: 'lambda:InvokeFunction' }));

      // Act / Assess
      expect(evaluate(request('lambda:InvokeFunction', fn), { identity: [], resource: [policy] }).effect).toBe('Allow');
    });
  });

  describe('across accounts', () => {
    const key = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
    const keyPolicy = (principal: unknown): ReturnType<typeof resourcePolicy> =>
      resourcePolicy(doc({ Effect: 'Allow', Principal: principal, Action: 'kms:Decrypt', Resource: '*' }), 'key-policy');
    let callerAllows: ReturnType<typeof identityPolicy>;
    beforeAll(() => {
      callerAllows = identityPolicy(doc({ Effect: 'Allow', Action: 'kms:Decrypt', Resource: key }), 'Reader/decrypt');
    });

    it('allows only when both the caller’s identity-based policy and the resource-based policy allow', () => {
      expect(
        evaluate(request('kms:Decrypt', key, {}, OTHER_SESSION), {
          identity: [callerAllows],
          resource: [keyPolicy({ AWS: OTHER_SESSION.roleArn })],
        }),
      ).toEqual({
        effect: 'Allow',
        decisive: { policy: 'key-policy', statementIndex: 0 },
        reason: 'because an identity-based policy and a resource-based policy allow the kms:Decrypt action',
      });
      expect(
        evaluate(request('kms:Decrypt', key, {}, OTHER_SESSION), {
          identity: [callerAllows],
          resource: [keyPolicy({ AWS: OTHER_ACCOUNT })],
        }).effect,
      ).toBe('Allow');
    });

    it('denies when the resource-based policy does not allow', () => {
      expect(evaluate(request('kms:Decrypt', key, {}, OTHER_SESSION), { identity: [callerAllows], resource: [] })).toEqual({
        effect: 'ImplicitDeny',
        reason: 'because no resource-based policy allows the kms:Decrypt action',
      });
    });

    it('denies when the identity-based policy does not allow, even if the resource-based policy names the caller', () => {
      expect(
        evaluate(request('kms:Decrypt', key, {}, OTHER_SESSION), { identity: [], resource: [keyPolicy({ AWS: OTHER_SESSION.roleArn })] }),
      ).toEqual({
        effect: 'ImplicitDeny',
        reason: 'because no identity-based policy allows the kms:Decrypt action',
      });
    });

    it('takes the resource owner from resourceAccount when the ARN has no account (S3)', () => {
      // Prepare
      const object = 'arn:aws:s3:::ami-factory-state/x';
      const s3 = identityPolicy(doc({ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }));

      // Act / Assess
      expect(evaluate({ ...request('s3:GetObject', object, {}, OTHER_SESSION) }, { identity: [s3] }).effect).toBe('Allow');
      expect(evaluate({ ...request('s3:GetObject', object, {}, OTHER_SESSION), resourceAccount: ACCOUNT }, { identity: [s3] }).effect).toBe(
        'ImplicitDeny',
      );
    });
  });

  describe('for a service principal', () => {
    const fn = `arn:aws:lambda:us-east-1:${ACCOUNT}:function:ami-factory-dev-triggerBuild`;
    const functionPolicy = (service: string): ReturnType<typeof resourcePolicy> =>
      resourcePolicy(
        doc({
          Effect: 'Allow',
          Principal: { Service: service },
          Action: 'lambda:InvokeFunction',
          Resource: fn,
          Condition: { ArnLike: { 'aws:SourceArn': `arn:aws:events:us-east-1:${ACCOUNT}:rule/*` } },
        }),
        'triggerBuild',
      );
    const invoke = (principal: Principal = EVENTS): ReturnType<typeof request> =>
      request('lambda:InvokeFunction', fn, { 'aws:SourceArn': `arn:aws:events:us-east-1:${ACCOUNT}:rule/nightly` }, principal);

    it('allows EventBridge to invoke a function whose policy names events.amazonaws.com', () => {
      expect(evaluate(invoke(), { identity: [], resource: [functionPolicy('events.amazonaws.com')] }).effect).toBe('Allow');
    });

    it('does not allow another service, nor without a resource-based policy', () => {
      expect(evaluate(invoke(), { identity: [], resource: [functionPolicy('states.amazonaws.com')] })).toEqual({
        effect: 'ImplicitDeny',
        reason: 'because no resource-based policy allows the lambda:InvokeFunction action',
      });
      expect(evaluate(invoke(), { identity: [identityPolicy(doc({ Effect: 'Allow', Action: '*', Resource: '*' }))] }).effect).toBe(
        'ImplicitDeny',
      );
    });

    it('is matched by "Principal": "*" but not by {"AWS": "*"}', () => {
      const everyone = (principal: unknown): ReturnType<typeof resourcePolicy> =>
        resourcePolicy(doc({ Effect: 'Allow', Principal: principal, Action: 'lambda:InvokeFunction' }));
      expect(evaluate(invoke(), { identity: [], resource: [everyone('*')] }).effect).toBe('Allow');
      expect(evaluate(invoke(), { identity: [], resource: [everyone({ AWS: '*' })] }).effect).toBe('ImplicitDeny');
    });
  });

  describe('for the root user', () => {
    it('allows everything in its own account unless a policy denies', () => {
      expect(evaluate(request('ec2:DeregisterImage', 'arn:aws:ec2:us-east-1::image/ami-1', {}, ROOT), { identity: [] })).toEqual({
        effect: 'Allow',
        reason: "because the account's root user has full access to its own account",
      });
      const deny = resourcePolicy(doc({ Effect: 'Deny', Principal: '*', Action: 'ec2:*', Resource: '*' }));
      expect(
        evaluate(request('ec2:DeregisterImage', 'arn:aws:ec2:us-east-1::image/ami-1', {}, ROOT), { identity: [], resource: [deny] }).effect,
      ).toBe('ExplicitDeny');
    });

    it('needs the resource-based policy across accounts', () => {
      const root: Principal = { type: 'Root', arn: `arn:aws:iam::${OTHER_ACCOUNT}:root`, accountId: OTHER_ACCOUNT };
      const key = `arn:aws:kms:us-east-1:${ACCOUNT}:key/k`;
      expect(evaluate(request('kms:Decrypt', key, {}, root), { identity: [] }).effect).toBe('ImplicitDeny');
      const policy = resourcePolicy(doc({ Effect: 'Allow', Principal: { AWS: OTHER_ACCOUNT }, Action: 'kms:Decrypt', Resource: '*' }));
      expect(evaluate(request('kms:Decrypt', key, {}, root), { identity: [], resource: [policy] }).effect).toBe('Allow');
    });
  });

  describe('with NotPrincipal', () => {
    const guard = (except: string[]): ReturnType<typeof resourcePolicy> =>
      resourcePolicy(doc({ Effect: 'Deny', NotPrincipal: { AWS: except }, Action: 's3:*', Resource: 'arn:aws:s3:::vault/*' }), 'vault');
    const s3 = (): ReturnType<typeof identityPolicy> => identityPolicy(doc({ Effect: 'Allow', Action: 's3:*', Resource: '*' }));
    const get = (principal: Principal): string =>
      evaluate(request('s3:GetObject', 'arn:aws:s3:::vault/x', {}, principal), {
        identity: [s3()],
        resource: [guard([`arn:aws:iam::${ACCOUNT}:root`, USER.arn, ROLE_ARN])],
      }).effect;

    it('denies everyone it does not except', () => {
      expect(get(USER)).toBe('Allow');
      expect(get(SESSION)).toBe('Allow');
      expect(get({ type: 'User', arn: `arn:aws:iam::${ACCOUNT}:user/mallory`, accountId: ACCOUNT })).toBe('ExplicitDeny');
    });

    it('excepts a principal only when its account is listed too, as AWS checks the account first', () => {
      const policies = { identity: [s3()], resource: [guard([USER.arn])] };
      expect(evaluate(request('s3:GetObject', 'arn:aws:s3:::vault/x', {}, USER), policies).effect).toBe('ExplicitDeny');
    });
  });

  it('refuses a policy given as the wrong kind, and an assumed role without its role', () => {
    const identity = identityPolicy(doc({ Effect: 'Allow', Action: '*', Resource: '*' }));
    expect(() => evaluate(request('ec2:DescribeImages', '*'), { identity: [], resource: [identity] })).toThrow(RequestNotUnderstoodError);
    const { roleArn: _roleArn, ...noRole } = SESSION;
    expect(() => evaluate(request('ec2:DescribeImages', '*', {}, noRole), { identity: [identity] })).toThrow(RequestNotUnderstoodError);
  });
});

describe('globalContext', () => {
  const call = { time: NOW, secureTransport: true, requestedRegion: 'eu-west-1', sourceIp: '203.0.113.9' };

  it('describes a role session: its role as aws:PrincipalArn, role-id:session as aws:userid, its tags, no aws:username', () => {
    // Act
    const keys = globalContext(SESSION, call);

    // Assess
    expect(keys).toMatchObject({
      'aws:PrincipalArn': ROLE_ARN,
      'aws:PrincipalAccount': ACCOUNT,
      'aws:PrincipalType': 'AssumedRole',
      'aws:PrincipalTag/team': 'images',
      'aws:PrincipalIsAWSService': false,
      'aws:CurrentTime': '2026-11-23T07:42:10Z',
      'aws:EpochTime': EPOCH,
      'aws:SecureTransport': true,
      'aws:RequestedRegion': 'eu-west-1',
      'aws:SourceIp': '203.0.113.9',
    });
    expect(keys['aws:userid']).toMatch(/^AROA[A-Z0-9]+:create-image$/);
    expect(keys['aws:username']).toBeUndefined();
  });

  it('gives an IAM user its name and unique id', () => {
    expect(globalContext(USER, call)).toMatchObject({ 'aws:PrincipalType': 'User', 'aws:username': 'alice', 'aws:PrincipalArn': USER.arn });
    expect(globalContext(USER, call)['aws:userid']).toMatch(/^AIDA/);
    expect(globalContext({ ...USER, userId: 'AIDAEXAMPLE' }, call)['aws:userid']).toBe('AIDAEXAMPLE');
  });

  it('describes the root user as the account', () => {
    expect(globalContext(ROOT, call)).toMatchObject({
      'aws:PrincipalType': 'Account',
      'aws:userid': ACCOUNT,
      'aws:PrincipalArn': ROOT.arn,
    });
  });

  it('describes a service principal by its service name, without principal ARN or account', () => {
    const keys = globalContext(EVENTS, call);
    expect(keys).toMatchObject({ 'aws:PrincipalServiceName': 'events.amazonaws.com', 'aws:PrincipalIsAWSService': true });
    expect(keys['aws:PrincipalArn']).toBeUndefined();
    expect(keys['aws:PrincipalAccount']).toBeUndefined();
  });

  it('takes the time from the call, never from the wall clock', () => {
    expect(globalContext(USER, { time: new Date('2001-02-03T04:05:06.789Z'), secureTransport: false })).toMatchObject({
      'aws:CurrentTime': '2001-02-03T04:05:06Z',
      'aws:EpochTime': 981173106,
      'aws:SecureTransport': false,
    });
  });
});

const REFS: Record<string, string> = {
  ImageFactoryStateMachine: `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:ami-factory-dev-image-factory`,
  ImageRetentionStateMachine: `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:ami-factory-dev-image-retention`,
  'FactoryEventBus.Arn': `arn:aws:events:us-east-1:${ACCOUNT}:event-bus/ami-factory-dev`,
};

describe("the project's roles (resources/iam.yml, as packaged)", () => {
  let roles: Map<string, { trust: NamedPolicy; policies: NamedPolicy[] }>;
  let bucket: string;

  beforeAll(async () => {
    const pkg = await ensurePackaged({ projectRoot: fileURLToPath(new URL('../..', import.meta.url)), log: () => undefined });
    const plan = planStack(pkg.template, { stackName: 'ami-factory-dev', region: 'us-east-1', accountId: ACCOUNT });
    bucket = `arn:aws:s3:::${plan.buckets.find((b) => b.logicalId === 'FactoryStateBucket')?.name ?? ''}`;
    roles = new Map(
      plan.roles.map((r) => [
        r.logicalId,
        {
          trust: resourcePolicy(r.trustPolicy, `${r.logicalId}/trust`),
          policies: r.policies.map((p) => identityPolicy(p.document, p.name)),
        },
      ]),
    );
  }, 300_000);

  /** A call by the role's Lambda session. */
  const call = (
    role: string,
    action: string,
    resource: string,
    context: Record<string, ContextValue> = {},
  ): ReturnType<typeof evaluate> => {
    const entry = roles.get(role);
    if (entry === undefined) throw new Error(`no role ${role}`);
    const principal: Principal = {
      type: 'AssumedRole',
      arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/fn`,
      roleArn: `arn:aws:iam::${ACCOUNT}:role/${role}`,
      sessionName: 'fn',
      accountId: ACCOUNT,
    };
    return evaluate(request(action, resource, context, principal), { identity: entry.policies });
  };
  const image = 'arn:aws:ec2:us-east-1::image/ami-0123456789abcdef0';

  it('parses every role: its trust policy and its policies', () => {
    expect(roles.size).toBeGreaterThanOrEqual(20);
    for (const { trust, policies } of roles.values()) {
      expect(trust.statements.length).toBeGreaterThan(0);
      expect(policies.length).toBeGreaterThan(0);
    }
  });

  it('lets Lambda, and only Lambda, assume the roles', () => {
    const trust = roles.get('CreateImageRole')?.trust as NamedPolicy;
    const assume = (service: string): string =>
      evaluate(
        request(
          'sts:AssumeRole',
          `arn:aws:iam::${ACCOUNT}:role/CreateImageRole`,
          {},
          { type: 'Service', arn: service, service, accountId: ACCOUNT },
        ),
        {
          identity: [],
          resource: [trust],
        },
      ).effect;
    expect(assume('lambda.amazonaws.com')).toBe('Allow');
    expect(assume('events.amazonaws.com')).toBe('ImplicitDeny');
  });

  it('lets CreateImageRole create an image only with the ami-factory:managed=true request tag', () => {
    expect(
      call('CreateImageRole', 'ec2:CreateImage', 'arn:aws:ec2:us-east-1::image/*', { 'aws:RequestTag/ami-factory:managed': 'true' }),
    ).toEqual({
      effect: 'Allow',
      decisive: { policy: expect.stringMatching(/CreateImageRole[^/]*\/create-image$/) as string, statementIndex: 3 },
      reason: 'because an identity-based policy allows the ec2:CreateImage action',
    });
    expect(call('CreateImageRole', 'ec2:CreateImage', 'arn:aws:ec2:us-east-1::image/*').effect).toBe('ImplicitDeny');
    expect(
      call('CreateImageRole', 'ec2:CreateImage', 'arn:aws:ec2:us-east-1::image/*', { 'aws:RequestTag/ami-factory:managed': 'false' })
        .effect,
    ).toBe('ImplicitDeny');
    expect(call('CreateImageRole', 'ec2:CreateImage', `arn:aws:ec2:us-east-1:${ACCOUNT}:instance/i-0123`).effect).toBe('Allow');
    expect(call('CreateImageRole', 'ec2:CreateTags', image, { 'ec2:CreateAction': 'CreateImage' }).effect).toBe('Allow');
    expect(call('CreateImageRole', 'ec2:CreateTags', image).effect).toBe('ImplicitDeny');
  });

  it('lets ApplyRetentionRole deregister only images tagged ami-factory:managed=true', () => {
    expect(call('ApplyRetentionRole', 'ec2:DeregisterImage', image, { 'aws:ResourceTag/ami-factory:managed': 'true' }).effect).toBe(
      'Allow',
    );
    expect(call('ApplyRetentionRole', 'ec2:DeregisterImage', image)).toEqual({
      effect: 'ImplicitDeny',
      reason: 'because no identity-based policy allows the ec2:DeregisterImage action',
    });
    expect(call('ApplyRetentionRole', 'ec2:DeregisterImage', image, { 'aws:ResourceTag/ami-factory:Managed': 'TRUE' }).effect).toBe(
      'ImplicitDeny',
    );
  });

  it('lets every function write its own log streams, across the colons of the log stream ARN', () => {
    const stream = `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/aws/lambda/ami-factory-dev-createImage:log-stream:2026/11/23/[$LATEST]abc`;
    expect(call('CreateImageRole', 'logs:PutLogEvents', stream).effect).toBe('Allow');
    expect(
      call('CreateImageRole', 'logs:PutLogEvents', `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/aws/lambda/other-fn:log-stream:x`).effect,
    ).toBe('ImplicitDeny');
  });

  it('lets the waits roles list the state bucket only under waits/', () => {
    for (const role of ['RegisterWaitRole', 'CompleteWaitsRole', 'SweepWaitsRole']) {
      expect([role, call(role, 's3:ListBucket', bucket, { 's3:prefix': 'waits/us-east-1/ami-1' }).effect]).toEqual([role, 'Allow']);
      expect([role, call(role, 's3:ListBucket', bucket, { 's3:prefix': 'retention/' }).effect]).toEqual([role, 'ImplicitDeny']);
      expect([role, call(role, 's3:GetObject', `${bucket}/waits/us-east-1/ami-1`).effect]).toEqual([role, 'Allow']);
    }
  });

  it('lets the retention roles list their prefix of the state bucket (a missing ledger is 404, not 403), and no other prefix', () => {
    for (const role of ['PlanRetentionRole', 'ApplyRetentionRole']) {
      const list = (prefix: string): string => call(role, 's3:ListBucket', bucket, { 's3:prefix': prefix }).effect;
      expect([role, list('retention/ledger/web/us-east-1.json')]).toEqual([role, 'Allow']);
      expect([role, list('chatops/x')]).toEqual([role, 'ImplicitDeny']);
    }
    expect(call('PlanRetentionRole', 's3:GetObject', `${bucket}/retention/ledger.json`).effect).toBe('Allow');
  });

  it('lets BundleImageRole decrypt only through SSM in its region', () => {
    const key = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
    expect(call('BundleImageRole', 'kms:Decrypt', key, { 'kms:ViaService': 'ssm.us-east-1.amazonaws.com' }).effect).toBe('Allow');
    expect(call('BundleImageRole', 'kms:Decrypt', key, { 'kms:ViaService': 'ec2.us-east-1.amazonaws.com' }).effect).toBe('ImplicitDeny');
    expect(call('BundleImageRole', 'kms:Decrypt', key).effect).toBe('ImplicitDeny');
    expect(
      call('BundleImageRole', 'ssm:GetParameter', `arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/ami-factory/dev/bundle-keys`).effect,
    ).toBe('Allow');
  });

  it('lets LaunchBuilderRole pass only builder roles, only to EC2', () => {
    const role = `arn:aws:iam::${ACCOUNT}:role/ami-factory-builder-web`;
    expect(call('LaunchBuilderRole', 'iam:PassRole', role, { 'iam:PassedToService': 'ec2.amazonaws.com' }).effect).toBe('Allow');
    expect(call('LaunchBuilderRole', 'iam:PassRole', role, { 'iam:PassedToService': 'lambda.amazonaws.com' }).effect).toBe('ImplicitDeny');
    expect(
      call('LaunchBuilderRole', 'iam:PassRole', `arn:aws:iam::${ACCOUNT}:role/Admin`, { 'iam:PassedToService': 'ec2.amazonaws.com' })
        .effect,
    ).toBe('ImplicitDeny');
  });

  it('lets TriggerBuildRole start both state machines and put events on the factory bus only', () => {
    expect(call('TriggerBuildRole', 'states:StartExecution', REFS.ImageFactoryStateMachine as string).effect).toBe('Allow');
    expect(call('TriggerBuildRole', 'events:PutEvents', REFS['FactoryEventBus.Arn'] as string).effect).toBe('Allow');
    expect(call('TriggerBuildRole', 'events:PutEvents', `arn:aws:events:us-east-1:${ACCOUNT}:event-bus/default`).effect).toBe(
      'ImplicitDeny',
    );
  });
});
