import { createHash, randomUUID } from 'node:crypto';
import type { VirtualClock } from '../clock.js';
import { headerValue, LocalApiError, type LocalRequest, type LocalResponse, type LocalService } from '../http.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../json.js';
import { JsonFileStore } from '../persist.js';
import { actionTable, withAccess, type AccessTable, type ActionTable, type Authorize } from '../protocols/access.js';
import { handleJson, jsonTarget, type JsonProtocol, type JsonService } from '../protocols/json.js';

/**
 * The local SQS (JSON 1.0 protocol, `X-Amz-Target: AmazonSQS.<Op>`, as `@aws-sdk/client-sqs`
 * speaks it since it left the Query protocol), per region, persisted with JsonFileStore: standard
 * queues with CreateQueue, GetQueueUrl, GetQueueAttributes, SendMessage, ReceiveMessage and
 * DeleteMessage — what the factory's dead-letter queues need (EventBridge and Lambda put failed
 * events in them, an operator reads them).
 *
 * - Queue URLs are `http://<the host the request was sent to>/<account>/<name>`: a client that
 *   uses the queue URL as its endpoint stays on the local cloud.
 * - Messages carry MD5OfBody and, with attributes, MD5OfMessageAttributes computed as SQS does
 *   (the SDK checks both); a received message is invisible for the queue's VisibilityTimeout
 *   (or the request's) and counts in ApproximateNumberOfMessagesNotVisible until then.
 * - Authorization (protocols/access.ts with local/sqs/access.ts): a queue's Policy attribute is
 *   its resource policy, evaluated by the cloud's authorizer (local/server.ts).
 * - Not modelled: FIFO queues, long polling (ReceiveMessage answers at once), redrive policies,
 *   batch operations, message retention expiry, SSE. Other operations answer
 *   UnknownOperationException.
 */
export interface SqsServiceOptions {
  accountId: string;
  clock: VirtualClock;
  stateFile?: string;
  authorize?: Authorize;
  access?: AccessTable<SqsContext>;
}

export interface MessageAttribute {
  DataType: string;
  StringValue?: string;
  BinaryValue?: string;
}

interface StoredMessage {
  messageId: string;
  body: string;
  attributes: Record<string, MessageAttribute>;
  sentMs: number;
  visibleAtMs: number;
  receiveCount: number;
  receipt?: string;
}

interface QueueRecord {
  name: string;
  region: string;
  arn: string;
  createdMs: number;
  attributes: Record<string, string>;
  messages: StoredMessage[];
}

interface SqsState {
  queues: Record<string, QueueRecord>;
}

export interface SqsContext {
  body: JsonObject;
  region: string;
  req: LocalRequest;
}

export interface SqsService extends LocalService {
  /** In-process delivery (EventBridge and Lambda dead letters): SendMessage to a queue by ARN; false when it does not exist. */
  sendToArn(queueArn: string, body: string, attributes?: Record<string, MessageAttribute>): boolean;
  /** Creates a queue, or sets the attributes of the one that exists (a deployment's AWS::SQS::Queue); its URL. */
  createQueue(region: string, name: string, attributes?: Record<string, string>, host?: string): string;
  /** Sets a queue's Policy attribute (a deployment's AWS::SQS::QueuePolicy). */
  setPolicy(queueArn: string, policy: string): void;
  queueArn(region: string, name: string): string;
  /** Writes the state. */
  close(): void;
}

const SQS_PROTOCOL: JsonProtocol = { version: '1.0', targetPrefix: 'AmazonSQS', iamPrefix: 'sqs' };
const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}$/;
const DEFAULT_ATTRIBUTES: Record<string, string> = {
  VisibilityTimeout: '30',
  MessageRetentionPeriod: '345600',
  MaximumMessageSize: '262144',
  DelaySeconds: '0',
  ReceiveMessageWaitTimeSeconds: '0',
};
const SETTABLE = new Set([...Object.keys(DEFAULT_ATTRIBUTES), 'Policy', 'RedrivePolicy', 'SqsManagedSseEnabled', 'KmsMasterKeyId']);

export class SqsApiError extends LocalApiError {}

const nonExistentQueue = (): SqsApiError => new SqsApiError('QueueDoesNotExist', 'The specified queue does not exist.');
const invalidParameter = (message: string): SqsApiError => new SqsApiError('InvalidParameterValue', message);

const md5 = (data: Buffer | string): string => createHash('md5').update(data).digest('hex');

/** MD5OfMessageAttributes as SQS computes it: per attribute, in name order, length-prefixed name, type and value. */
export function messageAttributesMd5(attributes: Record<string, MessageAttribute>): string {
  const parts: Buffer[] = [];
  const prefixed = (b: Buffer): void => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    parts.push(len, b);
  };
  for (const name of Object.keys(attributes).sort()) {
    const a = attributes[name] as MessageAttribute;
    prefixed(Buffer.from(name, 'utf8'));
    prefixed(Buffer.from(a.DataType, 'utf8'));
    if (a.BinaryValue !== undefined) {
      parts.push(Buffer.from([2]));
      prefixed(Buffer.from(a.BinaryValue, 'base64'));
    } else {
      parts.push(Buffer.from([1]));
      prefixed(Buffer.from(a.StringValue ?? '', 'utf8'));
    }
  }
  return md5(Buffer.concat(parts));
}

function str(body: JsonObject, name: string): string {
  const v = body[name];
  if (typeof v !== 'string' || v === '') throw new SqsApiError('MissingParameter', `The request must contain the parameter ${name}.`);
  return v;
}

function stringMap(v: JsonValue | undefined, what: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isJsonObject(v)) throw invalidParameter(`${what} must be a map`);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)]));
}

function messageAttributes(v: JsonValue | undefined): Record<string, MessageAttribute> {
  if (v === undefined || v === null) return {};
  if (!isJsonObject(v)) throw invalidParameter('MessageAttributes must be a map');
  const out: Record<string, MessageAttribute> = {};
  for (const [name, raw] of Object.entries(v)) {
    if (!isJsonObject(raw) || typeof raw.DataType !== 'string')
      throw invalidParameter(`The message attribute '${name}' must contain a DataType.`);
    const a: MessageAttribute = { DataType: raw.DataType };
    if (typeof raw.StringValue === 'string') a.StringValue = raw.StringValue;
    if (typeof raw.BinaryValue === 'string') a.BinaryValue = raw.BinaryValue;
    if (a.StringValue === undefined && a.BinaryValue === undefined)
      throw invalidParameter(`The message attribute '${name}' must contain non-empty message attribute value.`);
    out[name] = a;
  }
  return out;
}

export function createSqsService(opts: SqsServiceOptions): SqsService {
  const store = new JsonFileStore<SqsState>(opts.stateFile, () => ({ queues: {} }));
  const now = (): number => opts.clock.nowMs();
  const arnOf = (region: string, name: string): string => `arn:aws:sqs:${region}:${opts.accountId}:${name}`;
  const urlOf = (host: string, name: string): string => `http://${host}/${opts.accountId}/${name}`;
  const hostOf = (req: LocalRequest): string => headerValue(req.headers, 'host') ?? '127.0.0.1';

  const create = (region: string, name: string, attributes: Record<string, string>): QueueRecord => {
    if (!QUEUE_NAME.test(name) || name.endsWith('.fifo'))
      throw invalidParameter('Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length');
    for (const k of Object.keys(attributes)) if (!SETTABLE.has(k)) throw new SqsApiError('InvalidAttributeName', `Unknown Attribute ${k}.`);
    const arn = arnOf(region, name);
    const existing = store.data.queues[arn];
    if (existing !== undefined) {
      const differs = Object.entries(attributes).some(([k, v]) => (existing.attributes[k] ?? DEFAULT_ATTRIBUTES[k]) !== v);
      if (differs)
        throw new SqsApiError('QueueNameExists', 'A queue already exists with the same name and a different value for attribute(s)');
      return existing;
    }
    const q: QueueRecord = { name, region, arn, createdMs: now(), attributes: { ...DEFAULT_ATTRIBUTES, ...attributes }, messages: [] };
    store.data.queues[arn] = q;
    store.markDirty();
    return q;
  };

  /** The queue a QueueUrl names (any host: the path's account and name decide) in the request's region. */
  const byUrl = (region: string, url: string): QueueRecord => {
    let path: string;
    try {
      path = new URL(url).pathname;
    } catch {
      throw nonExistentQueue();
    }
    const [, account, name] = path.split('/');
    if (account !== opts.accountId || name === undefined) throw nonExistentQueue();
    const q = store.data.queues[arnOf(region, name)];
    if (q === undefined) throw nonExistentQueue();
    return q;
  };

  const send = (q: QueueRecord, body: string, attributes: Record<string, MessageAttribute>, delaySeconds?: number): StoredMessage => {
    if (body === '') throw invalidParameter('The request must contain the parameter MessageBody.');
    if (Buffer.byteLength(body) > Number(q.attributes.MaximumMessageSize))
      throw invalidParameter(
        `One or more parameters are invalid. Reason: Message must be shorter than ${q.attributes.MaximumMessageSize} bytes.`,
      );
    const delay = delaySeconds ?? Number(q.attributes.DelaySeconds);
    const m: StoredMessage = {
      messageId: randomUUID(),
      body,
      attributes,
      sentMs: now(),
      visibleAtMs: now() + delay * 1000,
      receiveCount: 0,
    };
    q.messages.push(m);
    store.markDirty();
    return m;
  };

  const attributeAnswer = (q: QueueRecord, names: string[]): Record<string, string> => {
    const t = now();
    const all: Record<string, string> = {
      ...q.attributes,
      QueueArn: q.arn,
      ApproximateNumberOfMessages: String(q.messages.filter((m) => m.visibleAtMs <= t && m.receipt === undefined).length),
      ApproximateNumberOfMessagesNotVisible: String(q.messages.filter((m) => m.receipt !== undefined && m.visibleAtMs > t).length),
      ApproximateNumberOfMessagesDelayed: String(q.messages.filter((m) => m.receipt === undefined && m.visibleAtMs > t).length),
      CreatedTimestamp: String(Math.floor(q.createdMs / 1000)),
      LastModifiedTimestamp: String(Math.floor(q.createdMs / 1000)),
    };
    if (names.includes('All')) return all;
    const out: Record<string, string> = {};
    for (const n of names) {
      if (!(n in all) && !SETTABLE.has(n) && n !== 'QueueArn') throw new SqsApiError('InvalidAttributeName', `Unknown Attribute ${n}.`);
      if (all[n] !== undefined) out[n] = all[n];
    }
    return out;
  };

  const handlers: Record<string, (ctx: SqsContext) => JsonObject> = {
    CreateQueue: ({ body, region, req }) => {
      const q = create(region, str(body, 'QueueName'), stringMap(body.Attributes, 'Attributes'));
      return { QueueUrl: urlOf(hostOf(req), q.name) };
    },
    GetQueueUrl: ({ body, region, req }) => {
      const name = str(body, 'QueueName');
      if (store.data.queues[arnOf(region, name)] === undefined) throw nonExistentQueue();
      return { QueueUrl: urlOf(hostOf(req), name) };
    },
    GetQueueAttributes: ({ body, region }) => {
      const q = byUrl(region, str(body, 'QueueUrl'));
      const names = Array.isArray(body.AttributeNames) ? body.AttributeNames.map(String) : [];
      return { Attributes: attributeAnswer(q, names) };
    },
    SendMessage: ({ body, region }) => {
      const q = byUrl(region, str(body, 'QueueUrl'));
      const attributes = messageAttributes(body.MessageAttributes);
      const delay = typeof body.DelaySeconds === 'number' ? body.DelaySeconds : undefined;
      const m = send(q, typeof body.MessageBody === 'string' ? body.MessageBody : '', attributes, delay);
      return {
        MessageId: m.messageId,
        MD5OfMessageBody: md5(m.body),
        ...(Object.keys(attributes).length > 0 ? { MD5OfMessageAttributes: messageAttributesMd5(attributes) } : {}),
      };
    },
    ReceiveMessage: ({ body, region }) => {
      const q = byUrl(region, str(body, 'QueueUrl'));
      const max = typeof body.MaxNumberOfMessages === 'number' ? body.MaxNumberOfMessages : 1;
      if (!Number.isInteger(max) || max < 1 || max > 10)
        throw invalidParameter(`Value ${max} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.`);
      const visibility = typeof body.VisibilityTimeout === 'number' ? body.VisibilityTimeout : Number(q.attributes.VisibilityTimeout);
      const wanted = Array.isArray(body.MessageAttributeNames) ? body.MessageAttributeNames.map(String) : [];
      const pick = (attrs: Record<string, MessageAttribute>): Record<string, MessageAttribute> =>
        Object.fromEntries(
          Object.entries(attrs).filter(
            ([n]) =>
              wanted.includes('All') ||
              wanted.includes('.*') ||
              wanted.some((w) => w === n || (w.endsWith('.*') && n.startsWith(w.slice(0, -1)))),
          ),
        );
      const t = now();
      const out: JsonObject[] = [];
      for (const m of q.messages) {
        if (out.length === max) break;
        if (m.visibleAtMs > t) continue;
        m.receipt = `${m.messageId}#${randomUUID()}`;
        m.visibleAtMs = t + visibility * 1000;
        m.receiveCount++;
        const attrs = pick(m.attributes);
        out.push({
          MessageId: m.messageId,
          ReceiptHandle: Buffer.from(m.receipt).toString('base64'),
          MD5OfBody: md5(m.body),
          Body: m.body,
          Attributes: { ApproximateReceiveCount: String(m.receiveCount), SentTimestamp: String(m.sentMs) },
          ...(Object.keys(attrs).length > 0
            ? { MessageAttributes: attrs as unknown as JsonObject, MD5OfMessageAttributes: messageAttributesMd5(attrs) }
            : {}),
        });
      }
      if (out.length > 0) store.markDirty();
      const answer: JsonObject = out.length > 0 ? { Messages: out } : {};
      return answer;
    },
    DeleteMessage: ({ body, region }) => {
      const q = byUrl(region, str(body, 'QueueUrl'));
      const handle = Buffer.from(str(body, 'ReceiptHandle'), 'base64').toString('utf8');
      const i = q.messages.findIndex((m) => m.receipt === handle);
      if (i === -1) {
        if (!q.messages.some((m) => handle.startsWith(`${m.messageId}#`)) && !/^[0-9a-f-]{36}#/.test(handle))
          throw new SqsApiError(
            'ReceiptHandleIsInvalid',
            `The input receipt handle "${str(body, 'ReceiptHandle')}" is not a valid receipt handle.`,
          );
        return {}; // an outdated handle of a message already deleted or received again: SQS answers success
      }
      q.messages.splice(i, 1);
      store.markDirty();
      return {};
    },
  };

  const actions: ActionTable<SqsContext, JsonObject> = withAccess(actionTable<SqsContext, JsonObject>(handlers), opts.access);
  const protocol: JsonService<SqsContext> = {
    protocol: SQS_PROTOCOL,
    actions,
    authorize: opts.authorize,
    context: ({ req, body }) => ({ req, body, region: req.region }),
  };

  return {
    name: 'sqs',
    actionNames: () => Object.keys(handlers),
    matches: (req: LocalRequest) => jsonTarget(req, SQS_PROTOCOL) !== undefined,
    handle: (req: LocalRequest): Promise<LocalResponse> => handleJson(req, protocol),
    sendToArn(queueArn, body, attributes = {}) {
      const q = store.data.queues[queueArn];
      if (q === undefined) return false;
      send(q, body, attributes);
      return true;
    },
    createQueue(region, name, attributes = {}, host = '127.0.0.1') {
      const existing = store.data.queues[arnOf(region, name)];
      if (existing === undefined) return urlOf(host, create(region, name, attributes).name);
      for (const k of Object.keys(attributes))
        if (!SETTABLE.has(k)) throw new SqsApiError('InvalidAttributeName', `Unknown Attribute ${k}.`);
      // A stack update sets the template's attributes; the messages stay.
      existing.attributes = {
        ...DEFAULT_ATTRIBUTES,
        ...(existing.attributes.Policy !== undefined ? { Policy: existing.attributes.Policy } : {}),
        ...attributes,
      };
      store.markDirty();
      return urlOf(host, name);
    },
    setPolicy(queueArn, policy) {
      const q = store.data.queues[queueArn];
      if (q === undefined) throw nonExistentQueue();
      q.attributes.Policy = policy;
      store.markDirty();
    },
    queueArn: arnOf,
    close: () => store.flush(),
  };
}
