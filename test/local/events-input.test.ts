import type { JsonObject, JsonValue } from '../../local/json.js';
import { evaluateJsonPath, renderTargetInput, renderTemplate, TargetInputError, validateTargetInput } from '../../local/events/input.js';

const EVENT: JsonObject = {
  version: '0',
  id: '7bf73129-1428-4cd3-a780-95db273d1602',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '123456789012',
  time: '2015-11-11T21:29:54Z',
  region: 'us-east-1',
  resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111'],
  detail: { 'instance-id': 'i-0123456789', state: 'RUNNING', tags: [{ k: 'a' }, { k: 'b' }], count: 3 },
};
const CTX = { ruleArn: 'arn:aws:events:us-east-1:123456789012:rule/r', ruleName: 'r', ingestionTime: '2026-01-01T00:00:00Z' };

function vars(entries: Record<string, JsonValue | undefined>): Map<string, JsonValue | undefined> {
  return new Map(Object.entries(entries));
}

describe('target input: JSONPath', () => {
  it.each([
    ['$', EVENT],
    ['$.detail.state', 'RUNNING'],
    ['$.detail-type', 'EC2 Instance State-change Notification'],
    ['$.detail.instance-id', 'i-0123456789'],
    ['$.resources[0]', 'arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111'],
    ['$.detail.*', ['i-0123456789', 'RUNNING', [{ k: 'a' }, { k: 'b' }], 3]],
    ['$.detail.tags[1].k', 'b'],
    ['$.detail.tags[*].k', ['a', 'b']],
    ['$.detail.nope', undefined],
    ['$.resources[5]', undefined],
  ])('%s', (path, expected) => {
    expect(evaluateJsonPath(path, EVENT)).toEqual(expected);
  });

  it('rejects a path that does not start with $', () => {
    expect(() => evaluateJsonPath('detail.state', EVENT)).toThrow(TargetInputError);
  });

  it.each([["$['detail']['count']"], ['$..state'], ['$.detail[?(@.count > 1)]'], ['$.detail.tags[0:1]'], ['$.detail.tags[-1]']])(
    'rejects %s: EventBridge takes dot notation, indices and wildcards only',
    (path) => {
      expect(() => evaluateJsonPath(path, EVENT)).toThrow(TargetInputError);
      expect(() => validateTargetInput({ InputPath: path })).toThrow(expect.objectContaining({ name: 'ValidationException' }));
    },
  );
});

describe('target input: InputTemplate', () => {
  const v = vars({ instance: 'i-0123456789', state: 'RUNNING', n: 3, obj: { a: 1 }, missing: undefined });

  it.each([
    [
      'docs: JSON template, placeholders outside strings are JSON',
      '{"instance": <instance>, "state": [9, <state>, true], "Transformed": "Yes"}',
      '{"instance": "i-0123456789", "state": [9, "RUNNING", true], "Transformed": "Yes"}',
    ],
    [
      'docs: placeholders inside a JSON string are text',
      '{"myInstance": <instance>,"myStatus": "<instance> is in state \\"<state>\\""}',
      '{"myInstance": "i-0123456789","myStatus": "i-0123456789 is in state \\"RUNNING\\""}',
    ],
    ['docs: a JSON string template', '"instance <instance> is in <state>"', '"instance i-0123456789 is in RUNNING"'],
    ['docs: a plain-text template', '<instance> is in state <state>', 'i-0123456789 is in state RUNNING'],
    ['docs: plain text with quotes', '<instance> is in state "<state>"', 'i-0123456789 is in state "RUNNING"'],
    ['numbers and objects as JSON', '{"n": <n>, "o": <obj>}', '{"n": 3, "o": {"a":1}}'],
    ['an object inside a string is escaped JSON', '{"o": "<obj>"}', '{"o": "{\\"a\\":1}"}'],
    ['a missing value is null (JSON) or empty (text)', '{"m": <missing>, "t": "x<missing>y"}', '{"m": null, "t": "xy"}'],
    ['unknown placeholders stay', '{"html": "<b>bold</b>"}', '{"html": "<b>bold</b>"}'],
  ])('%s', (_d, template, expected) => {
    expect(renderTemplate(template, v)).toBe(expected);
  });

  it('offers the predefined variables', () => {
    const out = renderTargetInput(
      {
        InputTransformer: {
          InputPathsMap: { state: '$.detail.state' },
          InputTemplate:
            '{"rule": <aws.events.rule-name>, "arn": "<aws.events.rule-arn>", "at": <aws.events.event.ingestion-time>, "e": <aws.events.event>, "full": <aws.events.event.json>, "s": <state>}',
        },
      },
      EVENT,
      CTX,
    );
    const parsed = JSON.parse(out) as { rule: string; arn: string; at: string; e: JsonObject; full: JsonObject; s: string };
    expect(parsed).toMatchObject({ rule: 'r', arn: CTX.ruleArn, at: CTX.ingestionTime, s: 'RUNNING', full: EVENT });
    expect(parsed.e).not.toHaveProperty('detail');
    expect(parsed.e.id).toBe(EVENT.id);
  });

  it('gives the event, a constant, or the InputPath selection', () => {
    expect(JSON.parse(renderTargetInput({}, EVENT, CTX))).toEqual(EVENT);
    expect(renderTargetInput({ Input: '{"fixed":true}' }, EVENT, CTX)).toBe('{"fixed":true}');
    expect(JSON.parse(renderTargetInput({ InputPath: '$.detail' }, EVENT, CTX))).toEqual(EVENT.detail);
  });
});

describe('target input: PutTargets validation', () => {
  it.each([
    ['two input kinds', { Input: '{}', InputPath: '$.detail' }],
    ['Input that is not JSON', { Input: '{nope' }],
    ['a bad InputPath', { InputPath: 'detail' }],
    ['a transformer without template', { InputTransformer: { InputPathsMap: {} } }],
    ['a reserved variable', { InputTransformer: { InputPathsMap: { 'aws.events.rule-arn': '$.id' }, InputTemplate: '<x>' } }],
    ['a bad variable path', { InputTransformer: { InputPathsMap: { x: 'id' }, InputTemplate: '<x>' } }],
  ])('rejects %s', (_d, target) => {
    expect(() => validateTargetInput(target as JsonObject)).toThrow(expect.objectContaining({ name: 'ValidationException' }));
  });

  it('accepts each input kind alone', () => {
    expect(() => validateTargetInput({ Input: '{"a":1}' })).not.toThrow();
    expect(() => validateTargetInput({ InputPath: '$.detail' })).not.toThrow();
    expect(() =>
      validateTargetInput({ InputTransformer: { InputPathsMap: { s: '$.detail.state' }, InputTemplate: '"<s>"' } }),
    ).not.toThrow();
  });
});
