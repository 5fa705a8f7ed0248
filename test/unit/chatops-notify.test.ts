import { Logger } from '../../functions/lib/logger.js';
import { NotifiedEventSchema, notifySlack, type NotifiedEvent, type NotifyDeps } from '../../functions/lib/chatops/notify.js';
import { ResponseUrlNotAllowedError } from '../../functions/lib/chatops/response-url.js';
import type { ChatOpsRecord, ChatOpsStore } from '../../functions/lib/chatops/store.js';
import { memoryChatOpsStore } from './chatops-store-fake.js';

const BUILD_ID = '0b5e55ed-0000-4000-8000-000000000001';

function fakeStore(record?: Partial<ChatOpsRecord>): ReturnType<typeof memoryChatOpsStore> {
  return memoryChatOpsStore(
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
        },
  );
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

  it('does take the last free post once when two events arrive at the same time', async () => {
    // Prepare: three progress posts made; the fourth is the last one progress may use.
    const s = fakeStore({ posts: 3, posted: ['a', 'b', 'c'] });
    const d = deps(s.store);
    // Act
    const outcomes = await Promise.all([notifySlack(d, progress('us-west-2')), notifySlack(d, progress('eu-west-1'))]);
    // Assess
    expect(outcomes.sort()).toEqual(['limit', 'posted']);
    expect(d.bodies).toHaveLength(1);
    expect(s.saved()).toMatchObject({ posts: 4, pending: [] });
    expect(await notifySlack(d, final)).toBe('posted');
    expect(s.saved()?.posts).toBe(5);
  });

  it('does make the post an earlier attempt took and did not make, without taking another', async () => {
    const s = fakeStore({ posts: 1, posted: ['final'], pending: ['final'] });
    const d = deps(s.store);
    expect(await notifySlack(d, final)).toBe('posted');
    expect(d.bodies).toHaveLength(1);
    expect(s.saved()).toMatchObject({ posts: 1, posted: ['final'], pending: [] });
    expect(await notifySlack(d, final)).toBe('duplicate');
  });

  it('does throw on a server error so EventBridge retries, and gives up on a 4xx', async () => {
    const failed = fakeStore({});
    await expect(notifySlack(deps(failed.store, 503), final)).rejects.toMatchObject({ name: 'SlackPostError' });
    // The post is given back: the retry makes it.
    expect(failed.saved()).toMatchObject({ posts: 0, posted: [], pending: [] });
    expect(await notifySlack(deps(failed.store), final)).toBe('posted');
    const s = fakeStore({});
    expect(await notifySlack(deps(s.store, 404), final)).toBe('rejected');
    expect(s.saved()?.posted).toEqual(['final']);
  });

  const published = (over: Record<string, unknown> = {}): NotifiedEvent =>
    delivered('ImagePublished', {
      family: 'web',
      region: 'us-west-2',
      channel: 'latest',
      parameter: '/ami-factory/web/latest',
      imageId: 'ami-0000000000000000b',
      previousImageId: 'ami-00000000000000009',
      buildId: BUILD_ID,
      action: 'publish',
      by: { type: 'chatops', actor: 'U1 (alice)' },
      launchTemplates: [{ launchTemplateId: 'lt-0a1b2c3d4e5f60718', version: 3 }],
      ...over,
    });

  it("does post a build's ImagePublished as one short line, once per channel and region", async () => {
    const s = fakeStore({});
    const d = deps(s.store);
    expect(await notifySlack(d, published())).toBe('posted');
    expect(await notifySlack(d, published())).toBe('duplicate');
    const body = JSON.parse(d.bodies[0] ?? '{}') as { text: string; blocks: { text: { text: string } }[] };
    expect(body.text).toBe('web: ami-0000000000000000b published to latest in us-west-2 (was ami-00000000000000009)');
    expect(body.blocks.map((b) => b.text.text)).toEqual([
      ':label: web: `ami-0000000000000000b` published to *latest* in us-west-2 (was `ami-00000000000000009`) · 1 launch template updated',
    ]);
    expect(await notifySlack(d, published({ region: 'eu-west-1', previousImageId: null, launchTemplates: [] }))).toBe('posted');
    expect(JSON.parse(d.bodies[1] ?? '{}')).toMatchObject({ text: expect.stringMatching(/in eu-west-1 \(new channel in the region\)$/) });
    expect(s.saved()).toMatchObject({ posts: 2, posted: ['ImagePublished:latest:us-west-2', 'ImagePublished:latest:eu-west-1'] });
  });

  it('does leave the last post to the final result, and skips promotions and images of no build', async () => {
    const s = fakeStore({ posts: 4 });
    const d = deps(s.store);
    expect(await notifySlack(d, published())).toBe('limit');
    expect(await notifySlack(deps(fakeStore({}).store), published({ action: 'promote' }))).toBe('no-record');
    expect(await notifySlack(deps(fakeStore({}).store), published({ buildId: null }))).toBe('no-record');
    expect(d.bodies).toEqual([]);
  });

  it('does title a distribution run by its image and say which regions it left alone', async () => {
    const s = fakeStore({});
    const d = deps(s.store);
    const detail = final.detail as Record<string, unknown>;
    const event = delivered('BuildSucceeded', {
      ...detail,
      distribution: { imageId: 'ami-0000000000000000a', runId: 'a1b2c3d4-0000-4000-8000-000000000001' },
      regions: [
        { region: 'us-east-1', status: 'succeeded', imageId: 'ami-0000000000000000a', action: 'untouched' },
        { region: 'us-west-2', status: 'succeeded', imageId: 'ami-0000000000000000b', action: 'created' },
      ],
    });
    expect(await notifySlack(d, event)).toBe('posted');
    const body = JSON.parse(d.bodies[0] ?? '{}') as { text: string };
    expect(body.text).toMatch(/^Distribution of ami-0000000000000000a of web succeeded/);
    expect(body.text).toMatch(/us-east-1 ami-0000000000000000a \(already published, left alone\)/);
    expect(body.text).not.toMatch(/us-west-2 [^\n]*left alone/);
  });
});
