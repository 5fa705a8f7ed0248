import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { parse, stringify } from 'yaml';
import { ManifestError, SignatureMismatchError, TarFormatError, BundleError } from '../../functions/lib/bundle/errors.js';
import {
  buildManifestXml,
  parseManifest,
  partFileName,
  verifyManifestSignature,
  type ManifestContent,
} from '../../functions/lib/bundle/manifest.js';
import { extractSingleMember } from '../../functions/lib/bundle/tar.js';
import {
  ChatCommandError,
  SLACK_BODY_MAX_BYTES,
  SlackBodyTooLargeError,
  parseChatCommand,
  parseSlashCommandForm,
} from '../../functions/lib/chatops/command.js';
import { SlackSignatureError, signSlackRequest, verifySlackRequest } from '../../functions/lib/chatops/signature.js';
import {
  ConfigFileError,
  ConfigTooLargeError,
  FACTORY_CONFIG_MAX_BYTES,
  loadFactoryConfig,
  parseFactoryConfig,
} from '../../functions/lib/config.js';
import { ValidationError } from '../../functions/lib/errors.js';
import { EVENT_MAX_BYTES, EventTooLargeError } from '../../functions/lib/events/schemas.js';
import { Logger } from '../../functions/lib/logger.js';
import { executionArnFor, triggerBuilds, type TriggerDeps } from '../../functions/lib/triggers/runtime.js';
import { ACCOUNT, opensslKeyPair, removeDir, sh, tempDir, type KeyPairFiles } from '../fixtures/bundle/helpers.js';

/**
 * Hostile input at the edge: every parser that takes what the outside sends (trigger events,
 * the factory config, Slack forms, command text and signatures, bundle manifests and parts)
 * answers random and mangled input with one of its named errors and a message, never with a
 * TypeError or RangeError from deep inside, and changes nothing while refusing.
 */

const RUNS = { numRuns: 150 };

/** Asserts that `e` is one of `classes`, named `…Error` (not a built-in one), with a message. */
function expectNamed(e: unknown, ...classes: (abstract new (...args: never[]) => Error)[]): void {
  expect(classes.some((c) => e instanceof c)).toBe(true);
  const err = e as Error;
  expect(err.name).toMatch(/^[A-Z]\w*Error$/);
  expect(['Error', 'TypeError', 'RangeError', 'SyntaxError', 'ReferenceError']).not.toContain(err.name);
  expect(err.message.trim().length).toBeGreaterThan(0);
}

function outcome<T>(fn: () => T): { ok: true; value: T } | { ok: false; error: unknown } {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** Random input around a text: truncations, insertions, replacements, and text of its own. */
function mangled(text: string): fc.Arbitrary<string> {
  return fc.oneof(
    fc.nat({ max: text.length }).map((n) => text.slice(0, n)),
    fc
      .tuple(fc.nat({ max: text.length }), fc.nat({ max: 8 }), fc.string({ maxLength: 12 }))
      .map(([at, drop, insert]) => text.slice(0, at) + insert + text.slice(at + drop)),
    fc.string({ maxLength: 300 }),
    fc.string({ unit: 'binary', maxLength: 200 }),
  );
}

// ── factory config ─────────────────────────────────────────────────────────────────────────
describe('the factory config against hostile input', () => {
  const text = readFileSync('factory.config.yml', 'utf8');

  it('does answer any mangled config with the config or a ConfigFileError naming the file', () => {
    fc.assert(
      fc.property(mangled(text), (input) => {
        const r = outcome(() => parseFactoryConfig(input, 'hostile.yml'));
        if (r.ok) expect(Object.keys(r.value.families).length).toBeGreaterThan(0);
        else {
          expectNamed(r.error, ConfigFileError);
          expect((r.error as Error).message).toContain('hostile.yml');
        }
      }),
      RUNS,
    );
  });

  it('does answer a config whose values are replaced by random JSON with a ConfigFileError listing the field', () => {
    const doc = parse(text) as { families: Record<string, Record<string, unknown>> };
    const fields = Object.keys(doc.families.web ?? {});
    let refused = 0;
    fc.assert(
      fc.property(fc.constantFrom(...fields), fc.jsonValue(), (field, value) => {
        const changed = { ...doc, families: { ...doc.families, web: { ...doc.families.web, [field]: value } } };
        const r = outcome(() => parseFactoryConfig(stringify(changed)));
        if (r.ok) return;
        refused++;
        expectNamed(r.error, ConfigFileError);
        expect((r.error as ValidationError).issues.some((i) => i.startsWith(`families.web`))).toBe(true);
      }),
      RUNS,
    );
    expect(refused).toBeGreaterThan(RUNS.numRuns / 2);
  });

  it('does refuse a config over 256 KiB with ConfigTooLargeError before parsing it, from text and from a file', () => {
    // Prepare: a valid document, padded with a comment past the limit (parsing it would succeed).
    const big = `${text}\n# ${'x'.repeat(FACTORY_CONFIG_MAX_BYTES)}\n`;
    const dir = tempDir('config-size');
    const file = join(dir, 'factory.config.yml');
    writeFileSync(file, big);
    try {
      // Act / Assess
      for (const attempt of [() => parseFactoryConfig(big, 'big.yml'), () => loadFactoryConfig(file)]) {
        const r = outcome(attempt);
        expect(r.ok).toBe(false);
        if (!r.ok) expectNamed(r.error, ConfigTooLargeError);
        expect(r.ok ? '' : (r.error as Error).message).toMatch(/at most 262144 bytes \(256 KiB\), so it was not parsed/);
      }
      // Just under the limit is parsed as usual.
      const under = `${text}\n# ${'x'.repeat(FACTORY_CONFIG_MAX_BYTES - Buffer.byteLength(text) - 10)}\n`;
      expect(Object.keys(parseFactoryConfig(under).families)).toEqual(Object.keys(parseFactoryConfig(text).families));
    } finally {
      removeDir(dir);
    }
  });
});

// ── trigger events ─────────────────────────────────────────────────────────────────────────
describe('trigger events against hostile input', () => {
  const sfn = mockClient(SFNClient);
  const events = mockClient(EventBridgeClient);
  const SM = 'arn:aws:states:us-east-1:111122223333:stateMachine:image-factory';
  const config = parseFactoryConfig(readFileSync('factory.config.yml', 'utf8'));
  const deps = (): TriggerDeps => ({
    config,
    sfn: new SFNClient({}),
    events: new EventBridgeClient({}),
    stateMachineArn: SM,
    retentionStateMachineArn: 'arn:aws:states:us-east-1:111122223333:stateMachine:image-retention',
    bus: 'ami-factory',
    describeImage: async () => Promise.resolve(undefined),
    logger: new Logger('test'),
  });
  const envelope = (detail: unknown, overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
    version: '0',
    id: 'e5d1c0de-0000-4000-8000-000000000001',
    'detail-type': 'Build Requested',
    source: 'ami-factory',
    account: '111122223333',
    time: '2026-11-23T07:00:00Z',
    region: 'us-east-1',
    resources: [],
    detail,
    ...overrides,
  });

  beforeEach(() => {
    sfn.reset();
    events.reset();
    sfn
      .on(StartExecutionCommand)
      .callsFake((input: { name: string }) => ({ executionArn: executionArnFor(SM, input.name), startDate: new Date() }));
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'x' }] });
  });

  const hostileEvent = fc.oneof(
    fc.jsonValue(),
    fc.jsonValue().map((detail) => envelope(detail)),
    fc
      .dictionary(fc.constantFrom('family', 'regions', 'reboot', 'tags', 'sharing', 'requestedBy', 'buildId'), fc.jsonValue())
      .map((d) => envelope(d)),
    fc.record(
      { family: fc.oneof(fc.constant('web'), fc.string()), kind: fc.jsonValue(), id: fc.jsonValue(), time: fc.jsonValue() },
      { requiredKeys: ['family'] },
    ),
    fc.jsonValue().map((detail) => envelope(detail, { source: 'aws.ssm', 'detail-type': 'Parameter Store Change' })),
  );

  it('does answer any event with a start, a published rejection or a ValidationError that changed nothing', async () => {
    await fc.assert(
      fc.asyncProperty(hostileEvent, async (event) => {
        sfn.resetHistory();
        events.resetHistory();
        let result: Awaited<ReturnType<typeof triggerBuilds>> | undefined;
        let error: unknown;
        try {
          result = await triggerBuilds(deps(), event);
        } catch (e) {
          error = e;
        }
        const started = sfn.commandCalls(StartExecutionCommand).length;
        const published = events.commandCalls(PutEventsCommand).length;
        if (error !== undefined) {
          expectNamed(error, ValidationError);
          expect(started + published).toBe(0);
        } else if (result?.rejected !== null && result?.rejected !== undefined) {
          expect(started).toBe(0);
          expect(published).toBe(1);
          expect(result.rejected.reason.length).toBeGreaterThan(0);
        } else {
          expect(started).toBe((result?.started.length ?? 0) + (result?.retention === undefined ? 0 : 1));
          expect(started).toBeGreaterThan(0);
        }
      }),
      RUNS,
    );
  });

  it('does refuse an event over 256 KiB with EventTooLargeError, starting and publishing nothing', async () => {
    const big = envelope({ family: 'web', requestedBy: 'x'.repeat(EVENT_MAX_BYTES) });
    const error = await triggerBuilds(deps(), big).then(
      () => undefined,
      (e: unknown) => e,
    );
    expectNamed(error, EventTooLargeError);
    expect((error as Error).message).toMatch(/at most 262144 \(256 KiB, EventBridge's limit\)/);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
    expect(events.commandCalls(PutEventsCommand)).toHaveLength(0);
    // The same event within the limit is parsed (and here rejected for its detail, not its size).
    const small = await triggerBuilds(deps(), envelope({ family: 'nope' }));
    expect(small.rejected?.reason).toMatch(/nope/);
  });
});

// ── Slack ──────────────────────────────────────────────────────────────────────────────────
describe('Slack input against hostile input', () => {
  const form = new URLSearchParams({
    command: '/ami',
    text: 'bake web --regions us-west-2',
    user_id: 'U0123ABCD',
    user_name: 'alice',
    channel_id: 'C0123ABCD',
    channel_name: 'platform',
    team_id: 'T0123ABCD',
    response_url: 'https://hooks.slack.com/commands/T0123ABCD/1/abc',
    trigger_id: '13345224609.738474920.8088930838d88f008e0',
  }).toString();

  it('does answer any mangled form body with the form or a ValidationError', () => {
    fc.assert(
      fc.property(mangled(form), (body) => {
        const r = outcome(() => parseSlashCommandForm(body));
        if (r.ok) expect(r.value.command).toMatch(/^\//);
        else expectNamed(r.error, ValidationError);
      }),
      { numRuns: 300 },
    );
  });

  it('does refuse a form body over 64 KiB with SlackBodyTooLargeError before parsing it', () => {
    const big = `${form}&user_name=${'a'.repeat(SLACK_BODY_MAX_BYTES)}`;
    const r = outcome(() => parseSlashCommandForm(big));
    expect(r.ok).toBe(false);
    if (!r.ok) expectNamed(r.error, SlackBodyTooLargeError);
    expect(parseSlashCommandForm(form).user_id).toBe('U0123ABCD');
  });

  it('does answer any command text with a command or a ChatCommandError carrying a usage', () => {
    const words = fc.constantFrom(
      'bake',
      'status',
      'list',
      'expire',
      'share',
      'help',
      'web',
      '--regions',
      '--apply',
      '--reboot',
      '"',
      "'",
      '\\',
      '--',
      '-',
    );
    const text = fc.oneof(
      fc.array(fc.oneof(words, fc.string({ maxLength: 10 })), { maxLength: 8 }).map((w) => w.join(' ')),
      fc.string({ maxLength: 200 }),
      fc.string({ unit: 'grapheme', maxLength: 50 }),
    );
    fc.assert(
      fc.property(text, (t) => {
        const r = outcome(() => parseChatCommand(t));
        if (r.ok) expect(['help', 'bake', 'status', 'list', 'expire', 'share']).toContain(r.value.kind);
        else expectNamed(r.error, ChatCommandError);
      }),
      { numRuns: 400 },
    );
  });

  it('does refuse any forged or mangled signature and timestamp with a SlackSignatureError, and accepts only the real one', () => {
    const secret = 'signing-secret';
    const now = 1_795_000_000;
    const body = form;
    const good = signSlackRequest(secret, now, body);
    const header = fc.oneof(
      fc.constant(undefined),
      fc.string({ maxLength: 80 }),
      mangled(good),
      fc.array(fc.string({ maxLength: 70 }), { maxLength: 2 }),
    );
    const stamp = fc.oneof(
      fc.constant(undefined),
      fc.constant(String(now)),
      fc.string({ maxLength: 20 }),
      fc.integer().map(String),
      fc.double().map(String),
    );
    fc.assert(
      fc.property(header, stamp, mangled(body), (signature, timestamp, rawBody) => {
        const r = outcome(() =>
          verifySlackRequest({
            signingSecret: secret,
            headers: { 'X-Slack-Signature': signature, 'X-Slack-Request-Timestamp': timestamp },
            rawBody,
            now: () => now * 1000,
          }),
        );
        const genuine = signature === good && timestamp === String(now) && rawBody === body;
        if (r.ok) expect(genuine || (timestamp === String(now) && signature === signSlackRequest(secret, now, rawBody))).toBe(true);
        else expectNamed(r.error, SlackSignatureError);
      }),
      { numRuns: 400 },
    );
  });
});

// ── bundle manifests and parts ─────────────────────────────────────────────────────────────
describe('bundle manifests and parts against hostile input', () => {
  let dir: string;
  let user: KeyPairFiles;
  let good: string;
  beforeAll(() => {
    dir = tempDir('hostile-manifest');
    user = opensslKeyPair(dir, 'user');
    const content: ManifestContent = {
      version: '2007-10-10',
      bundler: { name: 'ami-factory', version: '0.1.0', release: '0' },
      machineConfiguration: {
        architecture: 'x86_64',
        blockDeviceMapping: [
          { virtual: 'ami', device: 'sda1' },
          { virtual: 'root', device: '/dev/sda1' },
        ],
        productCodes: [],
      },
      image: {
        name: 'web.img',
        user: ACCOUNT,
        type: 'machine',
        ancestorAmiIds: [],
        digest: 'a'.repeat(40),
        digestAlgorithm: 'SHA1',
        size: 25 * 1024 * 1024,
        bundledSize: 2 * 10485760 + 5,
        cipherAlgorithm: 'AES-128-CBC',
        ec2EncryptedKey: 'ab01',
        userEncryptedKey: 'cd02',
        ec2EncryptedIv: 'ef03',
        userEncryptedIv: '0405',
        parts: [0, 1, 2].map((index) => ({ index, filename: partFileName('web.img', index, 3), digest: String(index).repeat(40) })),
      },
    };
    good = buildManifestXml(content, user.keyPem).xml;
  });
  afterAll(() => removeDir(dir));

  it('does answer any mangled manifest with a ManifestError naming the field, or a manifest whose signature is then checked', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 0, max: 1 })
          .chain((i) => (i === 0 ? mangled(good) : fc.string({ maxLength: 400 }).map((s) => `<manifest>${s}</manifest>`))),
        (xml) => {
          const r = outcome(() => parseManifest(xml));
          if (!r.ok) {
            expectNamed(r.error, ManifestError);
            expect((r.error as ManifestError).field).toMatch(/^manifest/);
            return;
          }
          // It parsed: only the untouched text verifies.
          const v = outcome(() => verifyManifestSignature(r.value, user.certPem));
          if (xml === good) expect(v.ok).toBe(true);
          else if (!v.ok) expectNamed(v.error, SignatureMismatchError, ManifestError);
        },
      ),
      RUNS,
    );
  });

  it('does answer any mangled tar part stream with the member or a TarFormatError, writing nothing past what it declared', async () => {
    const src = join(dir, 'src');
    sh(
      `mkdir -p '${src}' && printf 'hello image bytes\\n%.0s' $(seq 1 40) > '${src}/web.img' && tar -C '${src}' --format=gnu -cf '${dir}/part.tar' web.img`,
    );
    const tar = readFileSync(join(dir, 'part.tar'));
    const stream = fc.oneof(
      fc.nat({ max: 2048 }).map((n) => tar.subarray(0, n)),
      fc.array(fc.tuple(fc.nat({ max: 1023 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }).map((flips) => {
        const b = Buffer.from(tar);
        for (const [at, v] of flips) b[at] = v;
        return b;
      }),
      fc.uint8Array({ maxLength: 2048 }).map((u) => Buffer.from(u)),
    );
    await fc.assert(
      fc.asyncProperty(stream, async (bytes) => {
        let written = 0;
        let error: unknown;
        let member: Awaited<ReturnType<typeof extractSingleMember>> | undefined;
        try {
          member = await extractSingleMember(
            (async function* () {
              yield bytes;
            })(),
            {
              write: async (data) => {
                written += data.length;
              },
              truncate: async () => undefined,
            },
          );
        } catch (e) {
          error = e;
        }
        if (error === undefined) expect(written).toBeLessThanOrEqual(member?.size ?? 0);
        else expectNamed(error, TarFormatError, BundleError);
      }),
      RUNS,
    );
  });
});
