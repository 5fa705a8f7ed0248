import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { VirtualClock } from '../../local/clock.js';
import { serveLocalServices, type ServedServices } from '../../local/server.js';
import { createSqsService, type SqsService } from '../../local/sqs/service.js';

/** The local SQS through the real @aws-sdk/client-sqs (JSON 1.0, with its MD5 checks). */
describe('local SQS endpoint', () => {
  let served: ServedServices;
  let sqs: SqsService;
  let client: SQSClient;

  beforeAll(async () => {
    sqs = createSqsService({ accountId: '111122223333', clock: new VirtualClock(1) });
    served = await serveLocalServices([sqs], { port: 0 });
    client = new SQSClient({
      region: 'us-east-1',
      endpoint: served.endpoint,
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    client.destroy();
    await served.close();
  });

  it('does create a queue, send, receive with attributes, count and delete a message', async () => {
    // Prepare
    const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: 'dlq-a', Attributes: { VisibilityTimeout: '60' } }));

    // Act
    await client.send(
      new SendMessageCommand({
        QueueUrl,
        MessageBody: '{"x":1}',
        MessageAttributes: { ERROR_CODE: { DataType: 'String', StringValue: 'E' } },
      }),
    );
    const got = await client.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'] }));
    const during = await client.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }));
    await client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: got.Messages?.[0]?.ReceiptHandle }));
    const after = await client.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );

    // Assess
    expect(QueueUrl).toBe(`${served.endpoint.replace(/\/$/, '')}/111122223333/dlq-a`);
    expect(got.Messages).toHaveLength(1);
    expect(got.Messages?.[0]).toMatchObject({
      Body: '{"x":1}',
      MessageAttributes: { ERROR_CODE: { DataType: 'String', StringValue: 'E' } },
    });
    expect(during.Attributes).toMatchObject({
      QueueArn: 'arn:aws:sqs:us-east-1:111122223333:dlq-a',
      ApproximateNumberOfMessagesNotVisible: '1',
      VisibilityTimeout: '60',
    });
    expect(after.Attributes).toEqual({ ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' });
  });

  it('does answer QueueDoesNotExist for an unknown queue, and deliver in process by ARN', async () => {
    // Prepare
    const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: 'dlq-b' }));

    // Act
    const missing = await client.send(new GetQueueUrlCommand({ QueueName: 'nope' })).catch((e: unknown) => e);
    const delivered = sqs.sendToArn('arn:aws:sqs:us-east-1:111122223333:dlq-b', 'event', {
      RULE_ARN: { DataType: 'String', StringValue: 'r' },
    });
    const got = await client.send(new ReceiveMessageCommand({ QueueUrl, MessageAttributeNames: ['RULE_ARN'] }));

    // Assess
    expect(missing).toMatchObject({ name: 'QueueDoesNotExist' });
    expect(delivered).toBe(true);
    expect(sqs.sendToArn('arn:aws:sqs:us-east-1:111122223333:nope', 'x')).toBe(false);
    expect(got.Messages?.[0]?.MessageAttributes?.RULE_ARN?.StringValue).toBe('r');
  });
});
