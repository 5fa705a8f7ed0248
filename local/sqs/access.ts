import { callerContext, type AccessRequest, type AccessTable } from '../iam/access-request.js';

/**
 * What SQS authorizes for each action the local endpoint serves (service.ts's handlers), after
 * the Service Authorization Reference for Amazon SQS: every action acts on the queue
 * (`arn:aws:sqs:<region>:<account>:<name>`), CreateQueue and GetQueueUrl on the queue they
 * name, the others on the queue of their QueueUrl (the URL's path is `/<account>/<name>`; the
 * region is the request's). The queue's policy (AWS::SQS::QueuePolicy) is its resource policy.
 */
export interface SqsAccessInput {
  body: Readonly<Record<string, unknown>>;
  region: string;
  account: string;
}

const str = (body: Readonly<Record<string, unknown>>, key: string): string | undefined => {
  const v = body[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
};

/** The queue ARN a QueueUrl names, or `*` when it names none (the action then answers its own error). */
export function queueArnOfUrl(url: string | undefined, region: string): string {
  if (url === undefined) return '*';
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    return '*';
  }
  const [, account, name] = path.split('/');
  return account !== undefined && /^\d{12}$/.test(account) && name !== undefined && name !== ''
    ? `arn:aws:sqs:${region}:${account}:${name}`
    : '*';
}

const byName =
  (action: string) =>
  (input: SqsAccessInput): AccessRequest[] => {
    const name = str(input.body, 'QueueName');
    const owner = str(input.body, 'QueueOwnerAWSAccountId') ?? input.account;
    return [
      {
        action: `sqs:${action}`,
        resource: name === undefined ? '*' : `arn:aws:sqs:${input.region}:${owner}:${name}`,
        context: callerContext(input.region),
      },
    ];
  };

const byUrl =
  (action: string) =>
  (input: SqsAccessInput): AccessRequest[] => [
    {
      action: `sqs:${action}`,
      resource: queueArnOfUrl(str(input.body, 'QueueUrl'), input.region),
      context: callerContext(input.region),
    },
  ];

/** Every action of local/sqs/service.ts → what SQS authorizes for it. */
export const SQS_ACCESS: AccessTable<SqsAccessInput> = {
  CreateQueue: byName('CreateQueue'),
  GetQueueUrl: byName('GetQueueUrl'),
  GetQueueAttributes: byUrl('GetQueueAttributes'),
  SendMessage: byUrl('SendMessage'),
  ReceiveMessage: byUrl('ReceiveMessage'),
  DeleteMessage: byUrl('DeleteMessage'),
};
