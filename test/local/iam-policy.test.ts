import { PolicyNotUnderstoodError } from '../../local/iam/index.js';
import { doc, iamCatalog, identityPolicy, resourcePolicy } from './iam-fixtures.js';

const allow = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  Effect: 'Allow',
  Action: 'ec2:DescribeImages',
  Resource: '*',
  ...extra,
});
const withCondition = (condition: unknown): Record<string, unknown> => doc(allow({ Condition: condition }));

/** Catches the refusal so a test can look at its path and reason. */
function refusal(parse: () => unknown): PolicyNotUnderstoodError {
  try {
    parse();
  } catch (e) {
    if (e instanceof PolicyNotUnderstoodError) return e;
    throw e;
  }
  throw new Error('the policy was accepted');
}

beforeAll(async () => {
  await iamCatalog();
});

describe('parsePolicy', () => {
  it('reads a statement object and a statement array, with Sid, NotAction and NotResource', () => {
    // Act
    const one = identityPolicy(doc({ Sid: 'One', Effect: 'Deny', NotAction: ['s3:*', 'ec2:Describe*'], NotResource: 'arn:aws:s3:::b/*' }));
    const two = identityPolicy(doc([allow(), allow({ Sid: 'B' })]));

    // Assess
    expect(one.statements).toHaveLength(1);
    expect(one.statements[0]).toMatchObject({
      index: 0,
      sid: 'One',
      effect: 'Deny',
      action: { negated: true },
      resource: { negated: true },
    });
    expect(two.statements.map((s) => s.index)).toEqual([0, 1]);
    expect(two.version).toBe('2012-10-17');
  });

  it('reads JSON text as well as a parsed document', () => {
    expect(identityPolicy(JSON.stringify(doc(allow()))).statements).toHaveLength(1);
  });

  it('takes a document without Version as the 2008-10-17 language, as AWS does', () => {
    expect(identityPolicy(doc(allow(), null)).version).toBe('2008-10-17');
  });

  it('reads every Principal form of a resource-based policy', () => {
    // Act
    const policy = resourcePolicy(
      doc([
        { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' },
        {
          Effect: 'Allow',
          Principal: {
            AWS: [
              '*',
              '111122223333',
              'arn:aws:iam::111122223333:root',
              'arn:aws:iam::111122223333:role/path/R',
              'arn:aws:sts::111122223333:assumed-role/R/s',
            ],
            Service: ['events.amazonaws.com', 'lambda.amazonaws.com'],
            Federated: 'cognito-identity.amazonaws.com',
            CanonicalUser: 'a'.repeat(64),
          },
          Action: 'lambda:InvokeFunction',
        },
        {
          Effect: 'Deny',
          NotPrincipal: { AWS: ['arn:aws:iam::111122223333:root', 'arn:aws:iam::111122223333:user/u'] },
          Action: 's3:*',
          Resource: '*',
        },
      ]),
    );

    // Assess
    expect(policy.statements[0]?.principal).toMatchObject({ everyone: true, negated: false });
    expect(policy.statements[1]?.principal).toMatchObject({
      service: ['events.amazonaws.com', 'lambda.amazonaws.com'],
      federated: ['cognito-identity.amazonaws.com'],
    });
    expect(policy.statements[1]?.resource).toBeUndefined();
    expect(policy.statements[2]?.principal).toMatchObject({ negated: true });
  });

  it('reads every condition operator, with IfExists and the set operators', async () => {
    // Prepare
    const condition = {
      StringEquals: { 'aws:PrincipalTag/team': 'a' },
      StringNotEquals: { 'aws:PrincipalTag/team': ['a', 'b'] },
      StringEqualsIgnoreCase: { 'aws:PrincipalTag/team': 'A' },
      StringNotEqualsIgnoreCase: { 'aws:PrincipalTag/team': 'A' },
      StringLike: { 's3:prefix': 'home/*' },
      StringNotLike: { 's3:prefix': 'tmp/?' },
      NumericEquals: { 's3:max-keys': 10 },
      NumericNotEquals: { 's3:max-keys': '10' },
      NumericLessThan: { 's3:max-keys': '10.5' },
      NumericLessThanEquals: { 's3:max-keys': '-1' },
      NumericGreaterThan: { 's3:max-keys': '0' },
      NumericGreaterThanEquals: { 's3:max-keys': '0' },
      DateEquals: { 'aws:CurrentTime': '2026-11-23' },
      DateNotEquals: { 'aws:CurrentTime': '2026-11' },
      DateLessThan: { 'aws:CurrentTime': '2026-11-23T07:42Z' },
      DateLessThanEquals: { 'aws:CurrentTime': '2026-11-23T07:42:10.5+01:00' },
      DateGreaterThan: { 'aws:EpochTime': 1700000000 },
      DateGreaterThanEquals: { 'aws:EpochTime': '1700000000' },
      Bool: { 'aws:SecureTransport': true },
      BinaryEquals: { 'aws:PrincipalTag/bin': 'QmluYXJ5VmFsdWVJbkJhc2U2NA==' },
      IpAddress: { 'aws:SourceIp': ['203.0.113.0/24', '2001:DB8:1234:5678::/64', '198.51.100.7'] },
      NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' },
      ArnEquals: { 'aws:SourceArn': 'arn:aws:events:*:111122223333:rule/*' },
      ArnLike: { 'aws:SourceArn': 'arn:aws:events:*:*:rule/x' },
      ArnNotEquals: { 'aws:PrincipalArn': 'arn:aws:iam::111122223333:role/A' },
      ArnNotLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/B*' },
      Null: { 'aws:TokenIssueTime': 'true' },
      StringLikeIfExists: { 'ec2:InstanceType': 't3.*' },
      'ForAllValues:StringLike': { 'aws:TagKeys': ['ami-factory:*'] },
      'ForAnyValue:StringEquals': { 'aws:TagKeys': 'Name' },
      'ForAllValues:StringEqualsIfExists': { 'aws:TagKeys': 'Name' },
    };

    // Act
    const policy = identityPolicy(withCondition(condition));

    // Assess
    const clauses = policy.statements[0]?.conditions ?? [];
    expect(clauses).toHaveLength(Object.keys(condition).length);
    expect(clauses.find((c) => c.operator === 'ForAllValues:StringEqualsIfExists')).toMatchObject({
      set: 'ForAllValues',
      ifExists: true,
      base: 'StringEquals',
    });
    expect(clauses.find((c) => c.base === 'StringNotEquals')).toMatchObject({ negated: true, values: ['a', 'b'] });
  });

  it('leaves ${…} literal in the 2008-10-17 language, even where it is no valid variable', () => {
    expect(() =>
      identityPolicy(doc(allow({ Resource: 'arn:aws:s3:::b/${aws:username', Action: 's3:GetObject' }), '2008-10-17')),
    ).not.toThrow();
    expect(() => identityPolicy(doc(allow({ Resource: 'arn:aws:s3:::b/${aws:username', Action: 's3:GetObject' })))).toThrow(
      PolicyNotUnderstoodError,
    );
  });

  it('accepts policy variables in Resource and in String and ARN condition values', () => {
    expect(() =>
      identityPolicy(
        doc(
          allow({
            Action: 's3:GetObject',
            Resource: ['arn:aws:s3:::b/home/${aws:username}/*', "arn:aws:s3:::b/${aws:PrincipalTag/team, 'shared'}/${*}${?}${$}"],
            Condition: { StringLike: { 's3:prefix': '${aws:userid}/*' }, ArnEquals: { 'aws:SourceArn': '${aws:PrincipalArn}' } },
          }),
        ),
      ),
    ).not.toThrow();
  });

  it('names the policy and the JSON path of what it refuses', () => {
    // Act
    const e = refusal(() =>
      identityPolicy(
        doc([allow(), allow({ Condition: { StringEquals: { 'aws:RequestTag/ami-factory:managed': { nested: true } } } })]),
        'CreateImageRole/create-image',
      ),
    );

    // Assess
    expect(e.name).toBe('PolicyNotUnderstoodError');
    expect(e.policy).toBe('CreateImageRole/create-image');
    expect(e.path).toBe('$.Statement[1].Condition.StringEquals["aws:RequestTag/ami-factory:managed"]');
    expect(e.message).toContain('CreateImageRole/create-image');
    expect(e.message).toContain('$.Statement[1].Condition.StringEquals["aws:RequestTag/ami-factory:managed"]');
  });

  type Refused = [description: string, document: unknown, path: string, kind?: 'identity' | 'resource'];
  const REFUSED: Refused[] = [
    ['a document that is not JSON', '{"Version": ', '$'],
    ['a document that is not an object', ['x'], '$'],
    ['an unknown top-level element', { ...doc(allow()), Comment: 'x' }, '$.Comment'],
    ['an unknown statement element', doc(allow({ Actions: 's3:GetObject' })), '$.Statement.Actions'],
    ['an unknown Version', doc(allow(), '2012-10-18'), '$.Version'],
    ['a missing Statement', { Version: '2012-10-17' }, '$'],
    ['an empty Statement array', doc([]), '$.Statement'],
    ['a statement that is not an object', doc(['x']), '$.Statement[0]'],
    ['an Effect other than Allow or Deny', doc(allow({ Effect: 'allow' })), '$.Statement.Effect'],
    ['a missing Effect', doc({ Action: 's3:GetObject', Resource: '*' }), '$.Statement'],
    ['Action with NotAction', doc(allow({ NotAction: 's3:GetObject' })), '$.Statement'],
    ['a statement without Action', doc({ Effect: 'Allow', Resource: '*' }), '$.Statement'],
    ['an empty Action list', doc(allow({ Action: [] })), '$.Statement.Action'],
    ['an action that is not a string', doc(allow({ Action: ['s3:GetObject', 3] })), '$.Statement.Action[1]'],
    ['an action without a service', doc(allow({ Action: 'GetObject' })), '$.Statement.Action'],
    ['an unknown service', doc(allow({ Action: 'ec3:CreateImage' })), '$.Statement.Action'],
    ['an unknown action', doc(allow({ Action: ['ec2:CreateImage', 'ec2:CreateImag'] })), '$.Statement.Action[1]'],
    ['a wildcard that matches no action', doc(allow({ Action: 'ec2:Frobnicate*' })), '$.Statement.Action'],
    ['a wildcard in the service prefix', doc(allow({ Action: 'ec*:CreateImage' })), '$.Statement.Action'],
    ['a policy variable in Action', doc(allow({ Action: 's3:${aws:username}' })), '$.Statement.Action'],
    ['an identity-based statement without Resource', doc({ Effect: 'Allow', Action: 's3:GetObject' }), '$.Statement'],
    ['Resource with NotResource', doc(allow({ NotResource: '*' })), '$.Statement'],
    ['a resource that is not an ARN', doc(allow({ Resource: 'my-bucket' })), '$.Statement.Resource'],
    ['an ARN with too few parts', doc(allow({ Resource: 'arn:aws:s3:us-east-1' })), '$.Statement.Resource'],
    [
      'a policy variable before the resource part of an ARN',
      doc(allow({ Resource: 'arn:aws:s3:${aws:RequestedRegion}::b' })),
      '$.Statement.Resource',
    ],
    ['an unterminated policy variable', doc(allow({ Resource: 'arn:aws:s3:::b/${aws:username' })), '$.Statement.Resource'],
    ['an empty policy variable', doc(allow({ Resource: 'arn:aws:s3:::b/${}' })), '$.Statement.Resource'],
    ['a policy variable with a space', doc(allow({ Resource: 'arn:aws:s3:::b/${aws: username}' })), '$.Statement.Resource'],
    ['a Principal in an identity-based policy', doc(allow({ Principal: '*' })), '$.Statement.Principal'],
    ['a resource-based statement without Principal', doc(allow()), '$.Statement', 'resource'],
    ['NotPrincipal with Allow', doc(allow({ NotPrincipal: { AWS: '111122223333' } })), '$.Statement.NotPrincipal', 'resource'],
    ['Principal with NotPrincipal', doc(allow({ Principal: '*', NotPrincipal: '*', Effect: 'Deny' })), '$.Statement', 'resource'],
    ['an unknown principal type', doc(allow({ Principal: { IAM: '111122223333' } })), '$.Statement.Principal.IAM', 'resource'],
    [
      'a wildcard inside a principal ARN',
      doc(allow({ Principal: { AWS: 'arn:aws:iam::111122223333:role/*' } })),
      '$.Statement.Principal.AWS',
      'resource',
    ],
    [
      'a principal that is neither an account nor an ARN',
      doc(allow({ Principal: { AWS: ['111122223333', 'alice'] } })),
      '$.Statement.Principal.AWS[1]',
      'resource',
    ],
    ['a malformed service principal', doc(allow({ Principal: { Service: 'events' } })), '$.Statement.Principal.Service', 'resource'],
    ['a Condition that is not an object', withCondition(['StringEquals']), '$.Statement.Condition'],
    ['an unknown condition operator', withCondition({ StringMatches: { 's3:prefix': 'a' } }), '$.Statement.Condition.StringMatches'],
    ['an operator with a wrong case', withCondition({ stringEquals: { 's3:prefix': 'a' } }), '$.Statement.Condition.stringEquals'],
    [
      'an unknown set operator',
      withCondition({ 'ForSomeValues:StringEquals': { 'aws:TagKeys': 'a' } }),
      '$.Statement.Condition["ForSomeValues:StringEquals"]',
    ],
    ['an operator block that is not an object', withCondition({ StringEquals: 's3:prefix' }), '$.Statement.Condition.StringEquals'],
    ['an empty operator block', withCondition({ StringEquals: {} }), '$.Statement.Condition.StringEquals'],
    [
      'a value that is an object',
      withCondition({ StringEquals: { 's3:prefix': { a: 1 } } }),
      '$.Statement.Condition.StringEquals["s3:prefix"]',
    ],
    ['a null value', withCondition({ StringEquals: { 's3:prefix': [null] } }), '$.Statement.Condition.StringEquals["s3:prefix"][0]'],
    ['an empty value list', withCondition({ StringEquals: { 's3:prefix': [] } }), '$.Statement.Condition.StringEquals["s3:prefix"]'],
    ['a condition key without a service', withCondition({ StringEquals: { prefix: 'a' } }), '$.Statement.Condition.StringEquals.prefix'],
    [
      'an unknown condition key',
      withCondition({ StringEquals: { 'aws:PrincipalTeam': 'a' } }),
      '$.Statement.Condition.StringEquals["aws:PrincipalTeam"]',
    ],
    [
      'a policy variable in a condition key',
      withCondition({ StringEquals: { 'aws:ResourceTag/${aws:username}': 'a' } }),
      '$.Statement.Condition.StringEquals["aws:ResourceTag/${aws:username}"]',
    ],
    [
      'one key twice in different case',
      withCondition({ StringEquals: { 's3:prefix': 'a', 'S3:Prefix': 'b' } }),
      '$.Statement.Condition.StringEquals["S3:Prefix"]',
    ],
    [
      'a multivalued key without a set operator',
      withCondition({ StringEquals: { 'aws:TagKeys': 'a' } }),
      '$.Statement.Condition.StringEquals["aws:TagKeys"]',
    ],
    [
      'a number that is not one',
      withCondition({ NumericLessThan: { 's3:max-keys': '10a' } }),
      '$.Statement.Condition.NumericLessThan["s3:max-keys"]',
    ],
    [
      'a policy variable in a Numeric condition',
      withCondition({ NumericEquals: { 's3:max-keys': '${s3:max-keys}' } }),
      '$.Statement.Condition.NumericEquals["s3:max-keys"]',
    ],
    [
      'a date that is not one',
      withCondition({ DateLessThan: { 'aws:CurrentTime': '23/11/2026' } }),
      '$.Statement.Condition.DateLessThan["aws:CurrentTime"]',
    ],
    [
      'a Bool value other than true or false',
      withCondition({ Bool: { 'aws:SecureTransport': 'yes' } }),
      '$.Statement.Condition.Bool["aws:SecureTransport"]',
    ],
    [
      'a Bool with several values',
      withCondition({ Bool: { 'aws:SecureTransport': ['true', 'false'] } }),
      '$.Statement.Condition.Bool["aws:SecureTransport"]',
    ],
    [
      'a policy variable in a Bool condition',
      withCondition({ Bool: { 'aws:SecureTransport': '${aws:SecureTransport}' } }),
      '$.Statement.Condition.Bool["aws:SecureTransport"]',
    ],
    [
      'BinaryEquals with a value that is not base64',
      withCondition({ BinaryEquals: { 'aws:PrincipalTag/b': 'not base64!' } }),
      '$.Statement.Condition.BinaryEquals["aws:PrincipalTag/b"]',
    ],
    [
      'an IP range that is not one',
      withCondition({ IpAddress: { 'aws:SourceIp': '203.0.113.0/33' } }),
      '$.Statement.Condition.IpAddress["aws:SourceIp"]',
    ],
    [
      'a Null value other than true or false',
      withCondition({ Null: { 'aws:TokenIssueTime': 'absent' } }),
      '$.Statement.Condition.Null["aws:TokenIssueTime"]',
    ],
    ['Null with IfExists', withCondition({ NullIfExists: { 'aws:TokenIssueTime': 'true' } }), '$.Statement.Condition.NullIfExists'],
    [
      'Null with a set operator',
      withCondition({ 'ForAllValues:Null': { 'aws:TagKeys': 'true' } }),
      '$.Statement.Condition["ForAllValues:Null"]',
    ],
    [
      'ForAnyValue with IfExists',
      withCondition({ 'ForAnyValue:StringEqualsIfExists': { 'aws:TagKeys': 'a' } }),
      '$.Statement.Condition["ForAnyValue:StringEqualsIfExists"]',
    ],
    [
      'a malformed policy variable in a condition',
      withCondition({ StringLike: { 's3:prefix': ['a', '${aws:username'] } }),
      '$.Statement.Condition.StringLike["s3:prefix"][1]',
    ],
    ['a Sid used twice in an identity-based policy', doc([allow({ Sid: 'A' }), allow({ Sid: 'A' })]), '$.Statement[1].Sid'],
    ['a Sid that is not a string', doc(allow({ Sid: 1 })), '$.Statement.Sid'],
  ];

  it.each(REFUSED)('refuses %s', (_description, document, path, kind = 'identity') => {
    // Act
    const e = refusal(() => (kind === 'identity' ? identityPolicy(document) : resourcePolicy(document)));

    // Assess
    expect(e.name).toBe('PolicyNotUnderstoodError');
    expect(e.path).toBe(path);
  });
});

describe('IamCatalog', () => {
  it('knows services and actions case-insensitively', async () => {
    // Prepare
    const catalog = await iamCatalog();

    // Act / Assess
    expect(catalog.knownService('EC2')).toBe(true);
    expect(catalog.knownService('ec3')).toBe(false);
    expect(catalog.knownAction('ec2', 'createimage')).toBe(true);
    expect(catalog.knownAction('ec2', 'CreateImag')).toBe(false);
    expect(catalog.action('S3', 'getobject')?.name).toBe('GetObject');
  });

  it('lists the actions an action pattern names', async () => {
    const catalog = await iamCatalog();
    expect(catalog.actionsMatching('ec2:DeregisterImag?')).toEqual(['ec2:DeregisterImage']);
    expect(catalog.actionsMatching('states:SendTask*').sort()).toEqual([
      'states:SendTaskFailure',
      'states:SendTaskHeartbeat',
      'states:SendTaskSuccess',
    ]);
    expect(catalog.actionsMatching('ec2:Nope*')).toEqual([]);
    expect(catalog.actionsMatching('*').length).toBeGreaterThan(10_000);
  });

  it("gives an action's resource types and their ARN formats", async () => {
    // Prepare
    const catalog = await iamCatalog();

    // Act
    const types = catalog.resourceTypesOf('ec2', 'CreateImage');

    // Assess
    expect(types.map((t) => t.name).sort()).toEqual(['image', 'instance', 'snapshot']);
    expect(catalog.arnFormatsFor('ec2', 'CreateImage')).toContain('arn:${Partition}:ec2:${Region}::image/${ImageId}');
    expect(catalog.arnFormatsFor('s3', 'GetObject')).toContain('arn:${Partition}:s3:::${BucketName}/${ObjectName}');
    expect(catalog.arnFormatsFor('ec2', 'DescribeImages')).toEqual([]);
    expect(catalog.arnFormatOf('states', 'stateMachine')).toBe(
      'arn:${Partition}:states:${Region}:${Account}:stateMachine:${StateMachineName}',
    );
  });

  it('knows condition keys, their types, and which actions they apply to', async () => {
    const catalog = await iamCatalog();
    expect(catalog.conditionKey('aws:RequestTag/ami-factory:managed')).toMatchObject({ type: 'String', multivalued: false });
    expect(catalog.conditionKey('AWS:TagKeys')).toMatchObject({ type: 'ArrayOfString', multivalued: true });
    expect(catalog.conditionKey('ec2:ResourceTag/Name')).toMatchObject({ key: 'ec2:ResourceTag/${TagKey}' });
    expect(catalog.conditionKey('s3:prefix')).toMatchObject({ type: 'String' });
    expect(catalog.conditionKey('aws:SourceIp')).toMatchObject({ type: 'IPAddress' });
    expect(catalog.conditionKey('ec2:Nope')).toBeUndefined();
    expect(catalog.conditionKeyAppliesTo('ec2', 'CreateImage', 'ec2:ResourceTag/Name')).toBe(true);
    expect(catalog.conditionKeyAppliesTo('ec2', 'CreateImage', 'aws:RequestedRegion')).toBe(true);
    expect(catalog.conditionKeyAppliesTo('ec2', 'CreateImage', 's3:prefix')).toBe(false);
    expect(catalog.conditionKeyAppliesTo('s3', 'ListBucket', 's3:prefix')).toBe(true);
  });
});
