import { parseTemplate, type CfnTemplate } from '../../local/template/cfn.js';
import { UnsupportedIntrinsicError, UnresolvableReferenceError } from '../../local/template/intrinsics.js';
import { planStack, UnsupportedResourceError, UnsupportedTemplateError } from '../../local/template/stack.js';

/** The local cloud's reading of CloudFormation: intrinsics, physical ids, and what it refuses. */
const STACK = { stackName: 'demo-dev', region: 'us-east-1', accountId: '111122223333' };

function template(resources: CfnTemplate['Resources'], extra: Partial<CfnTemplate> = {}): CfnTemplate {
  return { Resources: resources, ...extra };
}

const role = {
  Type: 'AWS::IAM::Role',
  Properties: {
    AssumeRolePolicyDocument: {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
    },
    Policies: [
      {
        PolicyName: 'logs',
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:s3:::${Bucket}/*' } }],
        },
      },
    ],
  },
};

describe('planStack', () => {
  it('does resolve Ref, Fn::GetAtt, Fn::Sub and Fn::Join as CloudFormation does', () => {
    const plan = planStack(
      template({
        Bucket: { Type: 'AWS::S3::Bucket' },
        Role: role,
        Fn: {
          Type: 'AWS::Lambda::Function',
          Properties: {
            FunctionName: 'demo-dev-worker',
            Handler: 'functions/worker.handler',
            Runtime: 'nodejs22.x',
            Role: { 'Fn::GetAtt': ['Role', 'Arn'] },
            Environment: {
              Variables: {
                BUCKET: { Ref: 'Bucket' },
                ARN: { 'Fn::Join': [':', ['arn', { Ref: 'AWS::Partition' }, 'lambda', { Ref: 'AWS::Region' }]] },
                SUB: { 'Fn::Sub': ['${X}-${AWS::AccountId}-${!Literal}', { X: { 'Fn::GetAtt': ['Bucket', 'Arn'] } }] },
                NONE: { Ref: 'AWS::NoValue' },
              },
            },
          },
        },
      }),
      STACK,
    );
    const bucket = plan.buckets[0];
    expect(bucket?.name).toMatch(/^demo-dev-bucket-[0-9a-f]{12}$/);
    const fn = plan.functions[0];
    expect(fn).toMatchObject({ name: 'demo-dev-worker', shortName: 'worker', memoryMb: 128, timeoutS: 3 });
    expect(fn?.roleArn).toBe(`arn:aws:iam::111122223333:role/${plan.roles[0]?.name}`);
    expect(fn?.environment).toEqual({
      BUCKET: bucket?.name,
      ARN: 'arn:aws:lambda:us-east-1',
      SUB: `arn:aws:s3:::${bucket?.name}-111122223333-\${Literal}`,
    });
    expect(plan.roles[0]?.policies[0]?.document).toMatchObject({ Statement: [{ Resource: `arn:aws:s3:::${bucket?.name}/*` }] });
  });

  it('does give the same generated names on every deployment, and different ones to different stacks', () => {
    const t = template({ Bucket: { Type: 'AWS::S3::Bucket' } });
    const a = planStack(t, STACK).buckets[0]?.name;
    expect(planStack(t, STACK).buckets[0]?.name).toBe(a);
    expect(planStack(t, { ...STACK, stackName: 'demo-prod' }).buckets[0]?.name).not.toBe(a);
  });

  it('does refuse every resource of a type it cannot provision, naming each logical id', () => {
    const t = template({
      Bucket: { Type: 'AWS::S3::Bucket' },
      Topic: { Type: 'AWS::SNS::Subscription' },
      Table: { Type: 'AWS::DynamoDB::Table' },
    });
    expect(() => planStack(t, STACK)).toThrow(UnsupportedResourceError);
    expect(() => planStack(t, STACK)).toThrow('Topic (AWS::SNS::Subscription), Table (AWS::DynamoDB::Table)');
  });

  it("does plan SQS queues (Ref is the URL), their policies and a function's asynchronous invocation config", () => {
    const t = template({
      Dlq: { Type: 'AWS::SQS::Queue', Properties: { MessageRetentionPeriod: 1209600, SqsManagedSseEnabled: true } },
      DlqPolicy: {
        Type: 'AWS::SQS::QueuePolicy',
        Properties: { Queues: [{ Ref: 'Dlq' }], PolicyDocument: { Version: '2012-10-17', Statement: [] } },
      },
      Fn: {
        Type: 'AWS::Lambda::Function',
        Properties: { FunctionName: 'f', Handler: 'h.handler', Role: 'arn:aws:iam::111122223333:role/r' },
      },
      FnAsync: {
        Type: 'AWS::Lambda::EventInvokeConfig',
        Properties: {
          FunctionName: { Ref: 'Fn' },
          Qualifier: '$LATEST',
          MaximumRetryAttempts: 1,
          DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['Dlq', 'Arn'] } } },
        },
      },
      Fifo: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'x.fifo', FifoQueue: true } },
    });
    expect(() => planStack(t, STACK)).toThrow(/standard queues only/);
    delete t.Resources.Fifo;
    const plan = planStack(t, STACK);
    const q = plan.queues[0];
    expect(q?.name).toMatch(/^demo-dev-Dlq-[0-9A-F]{12}$/);
    expect(q?.url).toBe(`https://sqs.${STACK.region}.amazonaws.com/${STACK.accountId}/${q?.name ?? ''}`);
    expect(q?.arn).toBe(`arn:aws:sqs:${STACK.region}:${STACK.accountId}:${q?.name ?? ''}`);
    expect(q?.attributes).toEqual({ MessageRetentionPeriod: '1209600', SqsManagedSseEnabled: 'true' });
    expect(plan.queuePolicies).toEqual([
      { logicalId: 'DlqPolicy', queueUrls: [q?.url], document: { Version: '2012-10-17', Statement: [] } },
    ]);
    expect(plan.eventInvokeConfigs).toEqual([
      { logicalId: 'FnAsync', functionName: 'f', qualifier: '$LATEST', maximumRetryAttempts: 1, onFailure: q?.arn },
    ]);
  });

  it('does refuse an intrinsic it cannot resolve, naming the resource that uses it', () => {
    const t = template({
      Bucket: { Type: 'AWS::S3::Bucket', Properties: { BucketName: { 'Fn::ImportValue': 'shared-name' } } },
    });
    expect(() => planStack(t, STACK)).toThrow(UnsupportedIntrinsicError);
    expect(() => planStack(t, STACK)).toThrow(/^Bucket: the local cloud cannot resolve Fn::ImportValue/);
  });

  it('does evaluate the Conditions section: Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition, Fn::If and resources left out', () => {
    const t = template(
      {
        Queue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: { 'Fn::If': ['IsProd', 'prod-q', 'other-q'] } } },
        ProdOnly: { Type: 'AWS::SQS::Queue', Condition: 'IsProd', Properties: { QueueName: 'prod-only' } },
        Bus: {
          Type: 'AWS::Events::EventBus',
          Properties: { Name: { 'Fn::If': ['HomeAndNamed', { 'Fn::Sub': '${Name}-bus' }, 'unnamed'] } },
        },
        Alarm: {
          Type: 'AWS::CloudWatch::Alarm',
          Properties: {
            Namespace: 'AWS/SQS',
            MetricName: 'ApproximateNumberOfMessagesVisible',
            Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['Queue', 'QueueName'] } }],
            AlarmActions: { 'Fn::If': ['HasTopic', [{ Ref: 'Topic' }], { Ref: 'AWS::NoValue' }] },
          },
        },
      },
      {
        Parameters: {
          Stage: { Type: 'String', Default: 'dev' },
          Name: { Type: 'String', Default: '' },
          Topic: { Type: 'String', Default: '' },
        },
        Conditions: {
          IsProd: { 'Fn::Equals': [{ Ref: 'Stage' }, 'prod'] },
          HasTopic: { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'Topic' }, ''] }] },
          InHome: { 'Fn::Or': [{ 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'us-east-1'] }, { Condition: 'IsProd' }] },
          HomeAndNamed: { 'Fn::And': [{ Condition: 'InHome' }, { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'Name' }, ''] }] }] },
        },
        Outputs: { ProdQueue: { Value: { Ref: 'ProdOnly' }, Condition: 'IsProd' }, Bus: { Value: { Ref: 'Bus' } } },
      },
    );

    const dev = planStack(t, { ...STACK, parameters: { Name: 'factory' } });
    expect(dev.queues.map((q) => q.name)).toEqual(['other-q']);
    expect(dev.eventBuses.map((b) => b.name)).toEqual(['factory-bus']);
    expect(dev.alarms[0]?.alarmActions).toEqual([]);
    expect(dev.alarms[0]?.properties).not.toHaveProperty('AlarmActions');
    expect(Object.keys(dev.outputs)).toEqual(['Bus']);

    const prod = planStack(t, {
      ...STACK,
      region: 'eu-west-1',
      parameters: { Stage: 'prod', Topic: 'arn:aws:sns:eu-west-1:111122223333:alarms' },
    });
    expect(prod.queues.map((q) => q.name).sort()).toEqual(['prod-only', 'prod-q']);
    expect(prod.eventBuses.map((b) => b.name)).toEqual(['unnamed']);
    expect(prod.alarms[0]?.alarmActions).toEqual(['arn:aws:sns:eu-west-1:111122223333:alarms']);
    expect(prod.outputs.ProdQueue).toBe('https://sqs.eu-west-1.amazonaws.com/111122223333/prod-only');
  });

  it('does refuse a reference to a resource its condition leaves out, an unknown or malformed condition', () => {
    const conditions = { Conditions: { Never: { 'Fn::Equals': ['a', 'b'] } } };
    expect(() =>
      planStack(
        template(
          {
            Queue: { Type: 'AWS::SQS::Queue', Condition: 'Never' },
            Alarm: { Type: 'AWS::CloudWatch::Alarm', Properties: { MetricName: 'm', Namespace: 'n', AlarmActions: [{ Ref: 'Queue' }] } },
          },
          conditions,
        ),
        STACK,
      ),
    ).toThrow('Alarm: Queue is not created (its condition Never is false)');
    expect(() => planStack(template({ Queue: { Type: 'AWS::SQS::Queue', Condition: 'Missing' } }, conditions), STACK)).toThrow(
      'no condition named Missing',
    );
    expect(() =>
      planStack(
        template({ Queue: { Type: 'AWS::SQS::Queue', Condition: 'Bad' } }, { Conditions: { Bad: { 'Fn::Not': ['a', 'b'] } } }),
        STACK,
      ),
    ).toThrow(UnsupportedIntrinsicError);
    expect(() =>
      planStack(
        template({ Queue: { Type: 'AWS::SQS::Queue', Condition: 'Loop' } }, { Conditions: { Loop: { Condition: 'Loop' } } }),
        STACK,
      ),
    ).toThrow('circular reference');
  });

  it('does refuse a reference to nothing, a Mappings section and a parameter without a value', () => {
    expect(() => planStack(template({ Bus: { Type: 'AWS::Events::EventBus', Properties: { Name: { Ref: 'Missing' } } } }), STACK)).toThrow(
      UnresolvableReferenceError,
    );
    expect(() =>
      planStack(template({ Bucket: { Type: 'AWS::S3::Bucket' } }, { Mappings: { Regions: { 'us-east-1': { a: 'b' } } } }), STACK),
    ).toThrow(UnsupportedTemplateError);
    expect(() => planStack(template({ Bucket: { Type: 'AWS::S3::Bucket' } }, { Parameters: { Home: { Type: 'String' } } }), STACK)).toThrow(
      'Parameter Home has no value and no default',
    );
  });

  it('does read YAML short forms (!Sub, !GetAtt A.B, !Ref) as their long forms', () => {
    const t = parseTemplate(
      [
        'Parameters:',
        '  HomeRegion: { Type: String }',
        'Resources:',
        '  ForwardRole:',
        '    Type: AWS::IAM::Role',
        '    Properties:',
        '      AssumeRolePolicyDocument: { Version: "2012-10-17", Statement: [] }',
        '  Rule:',
        '    Type: AWS::Events::Rule',
        '    Properties:',
        '      Name: forward',
        '      EventPattern: { source: [aws.ec2] }',
        '      Targets:',
        '        - Id: home',
        '          Arn: !Sub arn:${AWS::Partition}:events:${HomeRegion}:${AWS::AccountId}:event-bus/default',
        '          RoleArn: !GetAtt ForwardRole.Arn',
      ].join('\n'),
      'test.yml',
    );
    const plan = planStack(t, { ...STACK, region: 'eu-west-1', parameters: { HomeRegion: 'us-east-1' } });
    expect(plan.rules[0]).toMatchObject({
      name: 'forward',
      arn: 'arn:aws:events:eu-west-1:111122223333:rule/forward',
      targets: [{ Id: 'home', Arn: 'arn:aws:events:us-east-1:111122223333:event-bus/default', RoleArn: plan.roles[0]?.arn }],
    });
  });
});
