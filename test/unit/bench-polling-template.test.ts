import { pollingTemplate, PollingTemplateError } from '../../bench/baseline/polling-template.js';
import type { CfnTemplate } from '../../local/template/cfn.js';
import type { JsonObject } from '../../local/json.js';

const wait = (resourceId: string, next: string, onError: string): JsonObject => ({
  Type: 'Task',
  Resource: 'arn:${AWS::Partition}:states:::lambda:invoke.waitForTaskToken',
  Parameters: {
    FunctionName: '${w}',
    Payload: { 'token.$': '$$.Task.Token', kind: 'image', 'region.$': '$.r', 'resourceId.$': resourceId },
  },
  HeartbeatSeconds: 1800,
  Retry: [
    { ErrorEquals: ['States.HeartbeatTimeout'], MaxAttempts: 3 },
    { ErrorEquals: ['Lambda.ServiceException'], MaxAttempts: 5 },
  ],
  Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: onError }],
  ResultPath: null,
  Next: next,
});

function template(states: JsonObject): CfnTemplate {
  const definition = { StartAt: 'AwaitImage', States: states };
  return {
    Resources: {
      ImageFactoryStateMachine: {
        Type: 'AWS::StepFunctions::StateMachine',
        Properties: { DefinitionString: { 'Fn::Sub': [JSON.stringify(definition), { w: 'x' }] } },
      },
      ImageFactoryStateMachineRole: {
        Type: 'AWS::IAM::Role',
        Properties: {
          Policies: [
            {
              PolicyName: 'sm',
              PolicyDocument: { Statement: [{ Effect: 'Allow', Action: ['lambda:InvokeFunction'], Resource: ['arn:w'] }] },
            },
          ],
        },
      },
      RegisterWaitLambdaFunction: {
        Type: 'AWS::Lambda::Function',
        Properties: {
          FunctionName: 'ami-factory-dev-registerWait',
          Handler: 'functions/register-wait.handler',
          MemorySize: 256,
          Code: { S3Key: 'k/registerWait.zip' },
        },
      },
      RegisterWaitRole: {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: { Statement: [] },
          Policies: [
            {
              PolicyName: 'register-wait',
              PolicyDocument: {
                Statement: [
                  {
                    Effect: 'Allow',
                    Action: ['ec2:DescribeImages', 'ec2:DescribeInstances'],
                    Resource: '*',
                    Condition: { StringEquals: { 'aws:RequestedRegion': ['us-east-1'] } },
                  },
                  { Effect: 'Allow', Action: ['states:SendTaskSuccess'], Resource: '*' },
                ],
              },
            },
          ],
        },
      },
    },
  };
}

describe('polling baseline template (bench/baseline/polling-template.ts)', () => {
  it('replaces every image wait, in Map iterations too, with Wait 30 s → poll task → Choice, and grants only what the poll calls', () => {
    const t = pollingTemplate(
      template({
        AwaitImage: wait('$.home.imageId', 'Distribute', 'CleanupHome'),
        Distribute: {
          Type: 'Map',
          ItemProcessor: {
            StartAt: 'AwaitCopy',
            States: { AwaitCopy: wait('$.copy.imageId', 'Done', 'CleanupCopy'), Done: { Type: 'Succeed' } },
          },
          End: true,
        },
        CleanupHome: { Type: 'Fail' },
      }),
    );
    const sub = (t.Resources.ImageFactoryStateMachine?.Properties?.DefinitionString as { 'Fn::Sub': [string, JsonObject] })['Fn::Sub'];
    const states = (JSON.parse(sub[0]) as { States: Record<string, JsonObject> }).States;
    expect(states.AwaitImage).toMatchObject({ Type: 'Wait', Seconds: 30, Next: 'AwaitImagePoll' });
    expect(states.AwaitImagePoll).toMatchObject({
      Type: 'Task',
      Resource: 'arn:${AWS::Partition}:states:::lambda:invoke',
      Parameters: { FunctionName: '${benchPollImageArn}', Payload: { 'region.$': '$.r', 'imageId.$': '$.home.imageId' } },
      Retry: [{ ErrorEquals: ['Lambda.ServiceException'], MaxAttempts: 5 }],
      Next: 'AwaitImageCheck',
    });
    const choices = (states.AwaitImageCheck as { Choices: JsonObject[] }).Choices;
    expect(choices[0]).toEqual({ Variable: '$.poll.state', StringEquals: 'available', Next: 'Distribute' });
    expect(choices[1]?.Next).toBe('AwaitImage');
    expect(states.AwaitImageFailed).toMatchObject({ Type: 'Pass', ResultPath: '$.error', Next: 'CleanupHome' });
    const inner = (states.Distribute as { ItemProcessor: { States: Record<string, JsonObject> } }).ItemProcessor.States;
    expect(inner.AwaitCopy).toMatchObject({ Type: 'Wait', Next: 'AwaitCopyPoll' });
    expect(sub[1].benchPollImageArn).toEqual({ 'Fn::GetAtt': ['BenchPollImageLambdaFunction', 'Arn'] });
    expect(t.Resources.BenchPollImageLambdaFunction?.Properties).toMatchObject({
      Handler: 'bench/baseline/poll-image.handler',
      MemorySize: 256,
    });
    const statements = JSON.stringify(t.Resources.BenchPollImageRole?.Properties?.Policies);
    expect(statements).toContain('"Action":["ec2:DescribeImages"]');
    expect(statements).toContain('"aws:RequestedRegion":["us-east-1"]');
    expect(statements).not.toContain('DescribeInstances');
    expect(statements).not.toContain('states:');
    expect(JSON.stringify(t.Resources.ImageFactoryStateMachineRole)).toContain('BenchPollImageLambdaFunction');
  });

  it('refuses a definition with no image wait to replace', () => {
    expect(() => pollingTemplate(template({ AwaitImage: { Type: 'Succeed' } }))).toThrow(PollingTemplateError);
  });
});
