import { EventBridgeClient, PutEventsCommand, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { GetParameterCommand, GetParametersByPathCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { kmsKeyArn } from '../../local/ec2/model.js';
import { EVENTS_ACCESS, EVENTS_ITEM_ACCESS, targetDeliveryAccess } from '../../local/events/access.js';
import { requestsFor, type AccessContext } from '../../local/iam/access-request.js';
import { functionArn, invokeFunctionAccess, invokeFunctionUrlAccess } from '../../local/lambda-access.js';
import { SFN_ACCESS } from '../../local/sfn/access.js';
import { decryptParameterAccess, parameterArn, SSM_ACCESS, type SsmParameterView } from '../../local/ssm/access.js';
import { capturingHandler, jsonBody, TEST_CREDENTIALS } from './access-wire.js';

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const base: AccessContext = { 'aws:RequestedRegion': REGION, 'aws:SecureTransport': false };
const sdk = { region: REGION, credentials: TEST_CREDENTIALS, requestHandler: capturingHandler };

describe('Step Functions access', () => {
  const sfn = new SFNClient(sdk);
  const machine = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:ami-factory-dev-image-factory`;

  it('authorizes StartExecution on the state machine', async () => {
    // Prepare
    const body = await jsonBody(sfn, new StartExecutionCommand({ stateMachineArn: machine, name: 'web-3f2a1b2c', input: '{}' }));

    // Act
    const requests = requestsFor(SFN_ACCESS, 'states', 'StartExecution', { body, region: REGION, account: ACCOUNT });

    // Assess
    expect(requests).toEqual([{ action: 'states:StartExecution', resource: machine, context: base }]);
  });

  it('authorizes a version or alias on the state machine ARN with its qualifier', async () => {
    // Prepare
    const body = await jsonBody(sfn, new StartExecutionCommand({ stateMachineArn: `${machine}:prod` }));

    // Act
    const [request] = requestsFor(SFN_ACCESS, 'states', 'StartExecution', { body, region: REGION, account: ACCOUNT });

    // Assess
    expect(request).toEqual({
      action: 'states:StartExecution',
      resource: machine,
      context: { ...base, 'states:StateMachineQualifier': ['prod'] },
    });
  });

  it('authorizes ListExecutions on the machine and DescribeExecution on the execution', async () => {
    // Prepare
    const execution = `arn:aws:states:${REGION}:${ACCOUNT}:execution:ami-factory-dev-image-factory:web-3f2a1b2c`;
    const list = await jsonBody(sfn, new ListExecutionsCommand({ stateMachineArn: machine, statusFilter: 'RUNNING' }));
    const describe = await jsonBody(sfn, new DescribeExecutionCommand({ executionArn: execution }));

    // Act / Assess
    expect(requestsFor(SFN_ACCESS, 'states', 'ListExecutions', { body: list, region: REGION, account: ACCOUNT })).toEqual([
      { action: 'states:ListExecutions', resource: machine, context: base },
    ]);
    expect(requestsFor(SFN_ACCESS, 'states', 'DescribeExecution', { body: describe, region: REGION, account: ACCOUNT })).toEqual([
      { action: 'states:DescribeExecution', resource: execution, context: base },
    ]);
  });

  it('authorizes SendTaskSuccess on *', async () => {
    // Prepare
    const body = await jsonBody(sfn, new SendTaskSuccessCommand({ taskToken: 'AQ-token', output: '{}' }));

    // Act / Assess
    expect(requestsFor(SFN_ACCESS, 'states', 'SendTaskSuccess', { body, region: REGION, account: ACCOUNT })).toEqual([
      { action: 'states:SendTaskSuccess', resource: '*', context: base },
    ]);
  });
});

describe('EventBridge access', () => {
  const events = new EventBridgeClient(sdk);
  const factoryBus = `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/ami-factory-dev`;

  it('authorizes PutEvents per entry, each on its own bus with its source and detail-type', async () => {
    // Prepare: two factory events, one by bus ARN, one by name on the default bus
    const body = await jsonBody(
      events,
      new PutEventsCommand({
        Entries: [
          { EventBusName: factoryBus, Source: 'ami-factory', DetailType: 'ImageAvailable', Detail: '{"imageId":"ami-1"}' },
          { Source: 'ami-factory', DetailType: 'BuildFailed', Detail: '{}' },
        ],
      }),
    );
    const input = { body, region: REGION, account: ACCOUNT };

    // Act
    const requests = requestsFor(EVENTS_ACCESS, 'events', 'PutEvents', input);
    const items = EVENTS_ITEM_ACCESS.PutEvents?.(input);

    // Assess
    expect(requests).toEqual([]);
    expect(items).toEqual([
      {
        item: '0',
        deniedCode: 'AccessDeniedException',
        requests: [
          {
            action: 'events:PutEvents',
            resource: factoryBus,
            context: { ...base, 'events:source': ['ami-factory'], 'events:detail-type': ['ImageAvailable'] },
          },
        ],
      },
      {
        item: '1',
        deniedCode: 'AccessDeniedException',
        requests: [
          {
            action: 'events:PutEvents',
            resource: `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/default`,
            context: { ...base, 'events:source': ['ami-factory'], 'events:detail-type': ['BuildFailed'] },
          },
        ],
      },
    ]);
  });

  it('authorizes PutRule on the rule of its bus with the pattern literals', async () => {
    // Prepare
    const body = await jsonBody(
      events,
      new PutRuleCommand({
        Name: 'ami-state-change',
        EventPattern: JSON.stringify({ source: ['aws.ec2'], 'detail-type': ['EC2 AMI State Change'], detail: { State: ['available'] } }),
        Tags: [{ Key: 'ami-factory:managed', Value: 'true' }],
      }),
    );

    // Act
    const requests = requestsFor(EVENTS_ACCESS, 'events', 'PutRule', { body, region: REGION, account: ACCOUNT });

    // Assess
    expect(requests).toEqual([
      {
        action: 'events:PutRule',
        resource: `arn:aws:events:${REGION}:${ACCOUNT}:rule/ami-state-change`,
        context: {
          ...base,
          'events:creatorAccount': ACCOUNT,
          'aws:RequestTag/ami-factory:managed': 'true',
          'aws:TagKeys': ['ami-factory:managed'],
          'events:source': ['aws.ec2'],
          'events:detail-type': ['EC2 AMI State Change'],
        },
      },
    ]);
  });

  it('authorizes PutTargets on a custom bus rule with the target ARNs, and passes the target role', async () => {
    // Prepare
    const role = `arn:aws:iam::${ACCOUNT}:role/ami-factory-forward`;
    const body = await jsonBody(
      events,
      new PutTargetsCommand({ Rule: 'notify', EventBusName: 'ami-factory-dev', Targets: [{ Id: 'home', Arn: factoryBus, RoleArn: role }] }),
    );

    // Act
    const requests = requestsFor(EVENTS_ACCESS, 'events', 'PutTargets', { body, region: REGION, account: ACCOUNT });

    // Assess
    expect(requests).toEqual([
      {
        action: 'events:PutTargets',
        resource: `arn:aws:events:${REGION}:${ACCOUNT}:rule/ami-factory-dev/notify`,
        context: { ...base, 'events:creatorAccount': ACCOUNT, 'events:TargetArn': [factoryBus] },
      },
      { action: 'iam:PassRole', resource: role, context: { ...base, 'iam:PassedToService': 'events.amazonaws.com' } },
    ]);
  });

  it('authorizes a Lambda target delivery by the function policy with the rule as source', () => {
    // Act
    const requests = targetDeliveryAccess({
      ruleArn: `arn:aws:events:${REGION}:${ACCOUNT}:rule/ami-state-change`,
      target: { Arn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:ami-factory-dev-completeWaits` },
      event: { source: 'aws.ec2', 'detail-type': 'EC2 AMI State Change', region: REGION },
      account: ACCOUNT,
    });

    // Assess
    expect(requests).toEqual([
      {
        action: 'lambda:InvokeFunction',
        resource: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:ami-factory-dev-completeWaits`,
        context: { ...base, 'aws:SourceArn': `arn:aws:events:${REGION}:${ACCOUNT}:rule/ami-state-change`, 'aws:SourceAccount': ACCOUNT },
      },
    ]);
  });
});

describe('SSM access', () => {
  const ssm = new SSMClient(sdk);
  const secret: SsmParameterView = {
    name: '/ami-factory/dev/slack-signing-secret',
    type: 'SecureString',
    tags: { 'ami-factory:managed': 'true' },
  };
  const lookup = (name: string): SsmParameterView | undefined => (name === secret.name ? secret : undefined);

  it('authorizes GetParameter WithDecryption of a SecureString for kms:Decrypt through SSM with the parameter as encryption context', async () => {
    // Prepare: the Slack handler reading its signing secret (aws/ssm key)
    const body = await jsonBody(ssm, new GetParameterCommand({ Name: secret.name, WithDecryption: true }));

    // Act
    const requests = requestsFor(SSM_ACCESS, 'ssm', 'GetParameter', { body, region: REGION, account: ACCOUNT, parameter: lookup });

    // Assess
    const arn = `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/ami-factory/dev/slack-signing-secret`;
    expect(requests).toEqual([
      { action: 'ssm:GetParameter', resource: arn, context: { ...base, 'aws:ResourceTag/ami-factory:managed': 'true' } },
      {
        action: 'kms:Decrypt',
        resource: kmsKeyArn(REGION, 'alias/aws/ssm'),
        context: {
          'aws:RequestedRegion': REGION,
          'aws:ViaAWSService': true,
          'kms:CallerAccount': ACCOUNT,
          'kms:ViaService': 'ssm.us-east-1.amazonaws.com',
          'kms:EncryptionContext:PARAMETER_ARN': arn,
          'kms:EncryptionContextKeys': ['PARAMETER_ARN'],
          'kms:ResourceAliases': ['alias/aws/ssm'],
        },
      },
    ]);
  });

  it('authorizes a read without decryption, or of a String, for the parameter only', async () => {
    // Prepare
    const plain = await jsonBody(ssm, new GetParameterCommand({ Name: secret.name }));
    const selector = await jsonBody(ssm, new GetParameterCommand({ Name: `${secret.name}:3`, WithDecryption: true }));
    const other = (name: string): SsmParameterView => ({ name, type: 'String' });

    // Act / Assess
    expect(
      requestsFor(SSM_ACCESS, 'ssm', 'GetParameter', { body: plain, region: REGION, account: ACCOUNT, parameter: lookup }).map(
        (r) => r.action,
      ),
    ).toEqual(['ssm:GetParameter']);
    expect(requestsFor(SSM_ACCESS, 'ssm', 'GetParameter', { body: selector, region: REGION, account: ACCOUNT, parameter: other })).toEqual([
      {
        action: 'ssm:GetParameter',
        resource: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/ami-factory/dev/slack-signing-secret`,
        context: base,
      },
    ]);
  });

  it('authorizes GetParametersByPath on the path, and each SecureString it returns separately', async () => {
    // Prepare
    const body = await jsonBody(ssm, new GetParametersByPathCommand({ Path: '/ami-factory/dev/', Recursive: true, WithDecryption: true }));

    // Act
    const requests = requestsFor(SSM_ACCESS, 'ssm', 'GetParametersByPath', { body, region: REGION, account: ACCOUNT });
    const decrypt = decryptParameterAccess(secret, { region: REGION, account: ACCOUNT });

    // Assess
    expect(requests).toEqual([
      {
        action: 'ssm:GetParametersByPath',
        resource: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/ami-factory/dev`,
        context: { ...base, 'ssm:Recursive': 'true' },
      },
    ]);
    expect(decrypt.map((r) => r.action)).toEqual(['kms:Decrypt']);
  });

  it('authorizes PutParameter of a SecureString with its tags for kms:Encrypt with the given key', async () => {
    // Prepare
    const body = await jsonBody(
      ssm,
      new PutParameterCommand({
        Name: '/ami-factory/dev/bundle-keys',
        Type: 'SecureString',
        Value: 'k',
        KeyId: 'alias/ami-factory',
        Overwrite: true,
        Tags: [{ Key: 'Team', Value: 'platform' }],
      }),
    );

    // Act
    const requests = requestsFor(SSM_ACCESS, 'ssm', 'PutParameter', { body, region: REGION, account: ACCOUNT });

    // Assess
    const arn = `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/ami-factory/dev/bundle-keys`;
    const tags = { 'aws:RequestTag/Team': 'platform', 'aws:TagKeys': ['Team'] };
    expect(requests.map((r) => [r.action, r.resource])).toEqual([
      ['ssm:PutParameter', arn],
      ['ssm:AddTagsToResource', arn],
      ['kms:Encrypt', kmsKeyArn(REGION, 'alias/ami-factory')],
    ]);
    expect(requests[0]?.context).toEqual({ ...base, ...tags, 'ssm:Overwrite': 'true' });
  });

  it('builds AWS public parameter ARNs without an account', () => {
    expect(parameterArn(REGION, ACCOUNT, '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64')).toBe(
      `arn:aws:ssm:${REGION}::parameter/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64`,
    );
  });
});

describe('Lambda access', () => {
  it('authorizes an invocation on the function ARN, qualified for a version or alias', () => {
    // Act / Assess
    expect(invokeFunctionAccess({ function: 'ami-factory-dev-createImage', region: REGION, account: ACCOUNT })).toEqual({
      action: 'lambda:InvokeFunction',
      resource: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:ami-factory-dev-createImage`,
      context: base,
    });
    expect(functionArn({ function: `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:f:live`, region: REGION, account: ACCOUNT })).toBe(
      `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:f:live`,
    );
    expect(functionArn({ function: `${ACCOUNT}:function:f`, region: REGION, account: '444455556666', qualifier: '$LATEST' })).toBe(
      `arn:aws:lambda:${REGION}:${ACCOUNT}:function:f`,
    );
  });

  it('authorizes a function URL call for InvokeFunctionUrl and InvokeFunction', () => {
    // Act
    const requests = invokeFunctionUrlAccess({ function: 'ami-factory-dev-slackCommand', region: REGION, account: ACCOUNT }, 'NONE');

    // Assess
    const arn = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:ami-factory-dev-slackCommand`;
    expect(requests).toEqual([
      {
        action: 'lambda:InvokeFunctionUrl',
        resource: arn,
        context: { ...base, 'lambda:FunctionUrlAuthType': 'NONE', 'lambda:FunctionArn': arn },
      },
      { action: 'lambda:InvokeFunction', resource: arn, context: { ...base, 'lambda:InvokedViaFunctionUrl': true } },
    ]);
  });
});
