import { Logger } from '../../functions/lib/logger.js';
import { NotifiedEventSchema, notifySlack, type NotifiedEvent, type NotifyDeps } from '../../functions/lib/chatops/notify.js';
import { ResponseUrlNotAllowedError } from '../../functions/lib/chatops/response-url.js';
import type { ChatOpsRecord, ChatOpsStore } from '../../functions/lib/chatops/store.js';

const BUILD_ID = '0b5e55ed-0000-4000-8000-000000000001';

function fakeStore(record?: Partial<ChatOpsRecord>): { store: ChatOpsStore; saved: () => ChatOpsRecord | undefined } {
  let current: ChatOpsRecord | undefined =
    record === undefined
      ? undefined
      : {
          buildId: BUILD_ID,
          family: 'web',
          responseUrl: 'https://hooks.slack.com/x',
          userId: 'U1',
          channelId: 'C1',
          teamId: 'T1',
          createdAt: '',
          posts: 0,
          posted: [],
          ...record,
        };
  const store = {
    get: async () => current,
    put: async (r: ChatOpsRecord) => {
      current = r;
    },
  } as unknown as ChatOpsStore;
  return { store, saved: () => current };
}

/** An event as EventBridge delivers it, parsed as notify-slack's handler parses it. */
function delivered(detailType: string, detail: Record<string, unknown>): NotifiedEvent {
  return NotifiedEventSchema.parse({
    version: '0',
    id: `evt-${detailType}`,
    source: 'ami-factory',
    'detail-type': detailType,
    account: '111122223333',
    time: '2026-11-23T08:05:00Z',
    region: 'us-east-1',
    resources: [],
    detail,
  });
}

const final = delivered('BuildSucceeded', {
  buildId: BUILD_ID,
  family: 'web',
  region: 'us-east-1',
  imageName: 'web-20261123T0800Z-0b5e55ed',
  trigger: { type: 'chatops', actor: 'U1 (alice)', channel: 'C1' },
  regions: [
    { region: 'us-east-1', status: 'succeeded', imageId: 'ami-0000000000000000a' },
    { region: 'us-west-2', status: 'succeeded', imageId: 'ami-0000000000000000b' },
  ],
});
const progress = (region: string): NotifiedEvent =>
  delivered('ImageCopied', {
    buildId: BUILD_ID,
    family: 'web',
    region,
    imageId: 'ami-0000000000000000b',
    sourceRegion: 'us-east-1',
    deprecateAt: null,
  });

function deps(store: ChatOpsStore, status = 200): NotifyDeps & { bodies: string[] } {
  const bodies: string[] = [];
  return {
    store,
    logger: new Logger('test'),
    bodies,
    post: async (_url, body) => {
      bodies.push(body);
      return { status };
    },
  };
}

describe('notify-slack', () => {
  it('does post the final result with every region and image id', async () => {
    const s = fakeStore({});
    const d = deps(s.store);
    expect(await notifySlack(d, final)).toBe('posted');
    const body = JSON.parse(d.bodies[0] ?? '{}') as { text: string };
    expect(body.text).toMatch(/Build of web succeeded/);
    expect(body.text).toContain('ami-0000000000000000a');
    expect(body.text).toContain('ami-0000000000000000b');
    expect(s.saved()).toMatchObject({ posts: 1, posted: ['final'] });
  });

  it('does parse its events with the schema the report publishes with', () => {
    const { regions: _regions, ...noRegions } = final.detail as { regions: unknown };
    expect(() => delivered('BuildSucceeded', noRegions)).toThrow();
    expect(() => delivered('ImageShared', progress('us-west-2').detail)).toThrow();
  });

  it("does not post to a recorded response_url off Slack's host", async () => {
    const s = fakeStore({ responseUrl: 'https://hooks.slack.com.evil.example/x' });
    const d = deps(s.store);
    await expect(notifySlack(d, final)).rejects.toThrow(ResponseUrlNotAllowedError);
    expect(d.bodies).toEqual([]);
    expect(s.saved()).toMatchObject({ posts: 0, posted: [] });
    // The local cloud's loopback receiver passes only where loopback is allowed.
    const local = fakeStore({ responseUrl: 'http://127.0.0.1:4567/commands/1' });
    await expect(notifySlack(deps(local.store), final)).rejects.toThrow(ResponseUrlNotAllowedError);
    expect(await notifySlack({ ...deps(local.store), allowLoopbackResponseUrls: true }, final)).toBe('posted');
  });

  it('does skip builds that did not start from Slack', async () => {
    const d = deps(fakeStore().store);
    expect(await notifySlack(d, final)).toBe('no-record');
    expect(d.bodies).toEqual([]);
  });

  it('does post a duplicate event once', async () => {
    const s = fakeStore({});
    const d = deps(s.store);
    await notifySlack(d, final);
    expect(await notifySlack(d, final)).toBe('duplicate');
    expect(d.bodies).toHaveLength(1);
  });

  it('does keep the last of the five posts for the final result', async () => {
    const s = fakeStore({});
    const d = deps(s.store);
    const outcomes = [];
    for (const r of ['a', 'b', 'c', 'd', 'e', 'f']) outcomes.push(await notifySlack(d, progress(`us-${r}-1`)));
    expect(outcomes).toEqual(['posted', 'posted', 'posted', 'posted', 'limit', 'limit']);
    expect(await notifySlack(d, final)).toBe('posted');
    expect(s.saved()?.posts).toBe(5);
    expect(await notifySlack(d, delivered('BuildFailed', final.detail))).toBe('duplicate');
  });

  it('does throw on a server error so EventBridge retries, and gives up on a 4xx', async () => {
    await expect(notifySlack(deps(fakeStore({}).store, 503), final)).rejects.toMatchObject({ name: 'SlackPostError' });
    const s = fakeStore({});
    expect(await notifySlack(deps(s.store, 404), final)).toBe('rejected');
    expect(s.saved()?.posted).toEqual(['final']);
  });
});
