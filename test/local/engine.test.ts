import { runDefinition, TOKEN_PLACEHOLDER, type TaskTokenRegistry } from '../../local/sfn/engine.js';
import type { LambdaInvoker } from '../../local/lambda/runtime.js';
import type { JsonObject, JsonValue } from '../../local/json.js';

import { ensurePackaged } from '../../local/template/package.js';
import { planStack } from '../../local/template/stack.js';

/**
 * The real image-factory definition (as the packaged template resolves it) on the local
 * engine with scripted handlers: checks the definition's data flow (ResultSelector/ResultPath,
 * Map ItemSelector, callbacks, Catch routes) independently of EC2.
 */
let definition: JsonObject;
beforeAll(async () => {
  const pkg = await ensurePackaged({ projectRoot: process.cwd() });
  const plan = planStack(pkg.template, { stackName: 'ami-factory-dev', region: 'us-east-1', accountId: '111122223333' });
  definition = plan.stateMachines.find((m) => m.name.endsWith('-image-factory'))?.definition ?? {};
});

/** `arn:aws:lambda:…:function:ami-factory-dev-createImage` → `createImage`. */
const key = (fn: string): string => (fn.split(':function:')[1] ?? fn).replace(/^ami-factory-dev-/, '');

type Script = Record<string, (payload: JsonObject) => JsonValue>;

function lambdas(script: Script, calls: { name: string; payload: JsonObject }[]): LambdaInvoker {
  return {
    has: (ref) => key(ref) in script,
    invoke: async (ref, payload) => {
      const name = key(ref);
      calls.push({ name, payload: payload as JsonObject });
      const fn = script[name];
      if (fn === undefined) throw new Error(`no script for ${name}`);
      return fn(payload as JsonObject);
    },
  };
}

/** Tokens complete as soon as the handler is called with them (an already-available image). */
function instantTokens(outcomes: Map<string, JsonValue | Error>, registered: string[]): TaskTokenRegistry {
  let n = 0;
  return {
    create: () => {
      const token = `AQtest${++n}`;
      let settle!: (v: JsonValue | Error) => void;
      const result = new Promise<JsonValue>((res, rej) => {
        settle = (v) => (v instanceof Error ? rej(v) : res(v));
      });
      result.catch(() => undefined);
      registered.push(token);
      queueMicrotask(() => {
        const poll = (): void => {
          const o = outcomes.get(token);
          if (o !== undefined) settle(o);
          else setTimeout(poll, 1);
        };
        poll();
      });
      return { token, result, cancel: () => settle(new Error('cancelled')) };
    },
  };
}

const request = {
  buildId: 'build-0001',
  family: 'web',
  requestedAt: '2026-11-23T00:00:00Z',
  region: 'us-east-1',
  source: { type: 'instance', tags: { Role: 'web' }, noReboot: true },
  copies: [{ region: 'us-west-2' }, { region: 'eu-west-1' }],
  sharing: { accounts: [], organizationArns: [], organizationalUnitArns: [], public: false, snapshotVolumePermission: true },
};

describe('image-factory ASL on the local engine', () => {
  it('flows request → source → image → wait → finalize → one Map iteration per copy → report', async () => {
    const calls: { name: string; payload: JsonObject }[] = [];
    const outcomes = new Map<string, JsonValue | Error>();
    const script: Script = {
      planBuild: () => ({ imageName: 'web-x', imageId: null, state: null, published: null, gates: [] }),
      resolveSource: () => ({ instanceId: 'i-0123456789abcdef0', state: 'running', volumes: [] }),
      createImage: () => ({ imageId: 'ami-0000000000000000a', imageName: 'web-x', created: true, region: 'us-east-1' }),
      registerWait: (p) => {
        expect(p.token).not.toBe(TOKEN_PLACEHOLDER);
        outcomes.set(
          String(p.token),
          p.region === 'eu-west-1' ? Object.assign(new Error('copy failed'), { name: 'ImageFailedError' }) : { state: 'available' },
        );
        return { result: 'pending' };
      },
      finalizeImage: (p) => ({ region: p.region ?? null, imageId: p.imageId ?? null, deprecateAt: null, sharing: null }),
      publishImage: (p) => ({ channel: 'latest', parameter: `/ami-factory/web/latest@${String(p.region)}` }),
      copyImage: (p) => ({
        region: (p.target as JsonObject).region ?? null,
        imageId: 'ami-0000000000000000c',
        imageName: 'web-x',
        created: true,
        published: null,
      }),
      cleanupBuild: () => ({ deregistered: [] }),
      reportBuild: (p) => ({
        outcome: 'BuildPartiallySucceeded',
        buildId: 'build-0001',
        family: 'web',
        imageName: 'web-x',
        regions: p.copies ?? [],
        distribution: null,
      }),
    };
    const registered: string[] = [];
    const events: string[] = [];
    const run = runDefinition(definition, request, {
      lambda: lambdas(script, calls),
      timeScale: 1,
      context: { Task: { Token: TOKEN_PLACEHOLDER } },
      onEvent: (type, d) => events.push(`${type}:${String(d.name ?? d.stateName ?? '')}`),
      tokens: instantTokens(outcomes, registered),
    });
    const out = (await run.result) as JsonObject;

    expect(out.outcome).toBe('BuildPartiallySucceeded');
    const regions = out.regions as JsonObject[];
    expect(regions).toEqual([
      {
        region: 'us-west-2',
        status: 'succeeded',
        imageId: 'ami-0000000000000000c',
        deprecateAt: null,
        sharing: null,
        test: null,
        published: { channel: 'latest', parameter: '/ami-factory/web/latest@us-west-2' },
        // CopySucceeded passes whether CopyImage made the copy (the report's action).
        created: true,
      },
      { region: 'eu-west-1', status: 'failed', error: 'ImageFailedError', cause: 'copy failed', test: null },
    ]);
    const names = calls.map((c) => c.name);
    expect(names.filter((n) => n === 'copyImage')).toHaveLength(2);
    expect(names.filter((n) => n === 'cleanupBuild')).toHaveLength(1);
    expect(calls.find((c) => c.name === 'cleanupBuild')?.payload).toMatchObject({ region: 'eu-west-1', builders: false });
    expect(calls.find((c) => c.name === 'createImage')?.payload).toMatchObject({
      instanceId: 'i-0123456789abcdef0',
      request: { buildId: 'build-0001' },
    });
    expect(registered).toHaveLength(3);
    expect(events).toContain('TaskSubmitted:AwaitImage');
  });

  it('routes a source failure through CleanupHome and ReportFailure to BuildFailed with the error', async () => {
    const calls: { name: string; payload: JsonObject }[] = [];
    const script: Script = {
      planBuild: () => ({ imageName: 'web-x', imageId: null, state: null, published: null, gates: [] }),
      resolveSource: () => {
        throw Object.assign(new Error('2 instances match'), { name: 'AmbiguousSourceError' });
      },
      cleanupBuild: () => ({}),
      reportBuild: () => ({ outcome: 'BuildFailed' }),
    };
    const run = runDefinition(definition, request, {
      lambda: lambdas(script, calls),
      timeScale: 1,
      context: { Task: { Token: TOKEN_PLACEHOLDER } },
      onEvent: () => undefined,
      tokens: instantTokens(new Map(), []),
    });
    await expect(run.result).rejects.toMatchObject({
      cause: { name: 'AmbiguousSourceError', message: expect.stringContaining('2 instances match') },
    });
    expect(calls.map((c) => c.name)).toEqual(['planBuild', 'resolveSource', 'cleanupBuild', 'reportBuild']);
    expect(calls[3]?.payload).toMatchObject({ error: { Error: 'AmbiguousSourceError' }, home: null });
  });

  it('skips the source steps when the build already made its image', async () => {
    const calls: { name: string; payload: JsonObject }[] = [];
    const outcomes = new Map<string, JsonValue | Error>();
    const script: Script = {
      planBuild: () => ({ imageName: 'web-x', imageId: 'ami-0000000000000000a', state: 'available', published: null, gates: [] }),
      registerWait: (p) => {
        outcomes.set(String(p.token), { state: 'available' });
        return {};
      },
      finalizeImage: () => ({ deprecateAt: null, sharing: null }),
      publishImage: () => ({ channel: 'latest', parameter: '/ami-factory/web/latest' }),
      reportBuild: () => ({ outcome: 'BuildSucceeded', buildId: 'b', family: 'web', imageName: 'web-x', regions: [], distribution: null }),
    };
    const run = runDefinition(
      definition,
      { ...request, copies: [] },
      {
        lambda: lambdas(script, calls),
        timeScale: 1,
        context: { Task: { Token: TOKEN_PLACEHOLDER } },
        onEvent: () => undefined,
        tokens: instantTokens(outcomes, []),
      },
    );
    await expect(run.result).resolves.toMatchObject({ outcome: 'BuildSucceeded' });
    expect(calls.map((c) => c.name)).toEqual(['planBuild', 'registerWait', 'finalizeImage', 'publishImage', 'reportBuild']);
  });
});
