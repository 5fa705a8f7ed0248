import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { CHANNEL_HISTORY_MAX, ChannelHistoryStore, channelKey, type Publication } from '../../functions/lib/channels/history.js';
import { UnexpectedResponseError } from '../../functions/lib/errors.js';
import { awsError, BUILD_ID } from '../fixtures.js';

const s3 = mockClient(S3Client);
const objects = new Map<string, string>();

function publication(imageId: string, previousImageId: string | null = null): Publication {
  return {
    imageId,
    buildId: BUILD_ID,
    publishedAt: '2026-11-23T07:42:00.000Z',
    by: { type: 'cli', actor: 'alice' },
    previousImageId,
    action: 'publish',
  };
}

describe('ChannelHistoryStore', () => {
  const store = new ChannelHistoryStore(new S3Client({ region: 'us-east-1' }), 'state-bucket');
  beforeEach(() => {
    s3.reset();
    objects.clear();
    s3.on(PutObjectCommand).callsFake((input: { Key: string; Body: string }) => {
      objects.set(input.Key, input.Body);
      return {};
    });
    s3.on(GetObjectCommand).callsFake((input: { Key: string }) => {
      const text = objects.get(input.Key);
      if (text === undefined) throw awsError('NoSuchKey');
      return { Body: { transformToString: async () => text } };
    });
  });

  it('answers an empty record for a channel nothing was published to', async () => {
    expect(await store.get('web', 'us-east-1', 'stable')).toEqual({
      family: 'web',
      region: 'us-east-1',
      channel: 'stable',
      current: null,
      history: [],
    });
  });

  it('records publications oldest first under channels/<family>/<region>/<channel>.json', async () => {
    // Act
    await store.record('web', 'us-east-1', 'latest', publication('ami-0000000000000000a'));
    const r = await store.record('web', 'us-east-1', 'latest', publication('ami-0000000000000000b', 'ami-0000000000000000a'));
    // Assess
    expect(channelKey('web', 'us-east-1', 'latest')).toBe('channels/web/us-east-1/latest.json');
    expect([...objects.keys()]).toEqual(['channels/web/us-east-1/latest.json']);
    expect(r.current).toMatchObject({ imageId: 'ami-0000000000000000b', previousImageId: 'ami-0000000000000000a' });
    expect((await store.get('web', 'us-east-1', 'latest')).history.map((e) => e.imageId)).toEqual([
      'ami-0000000000000000a',
      'ami-0000000000000000b',
    ]);
  });

  it('records a publication of the current image once (a retried step)', async () => {
    await store.record('web', 'us-east-1', 'latest', publication('ami-0000000000000000a'));
    await store.record('web', 'us-east-1', 'latest', publication('ami-0000000000000000a'));
    expect(s3).toHaveReceivedCommandTimes(PutObjectCommand, 1);
    expect((await store.get('web', 'us-east-1', 'latest')).history).toHaveLength(1);
  });

  it(`keeps the newest ${CHANNEL_HISTORY_MAX} entries`, async () => {
    for (let i = 0; i <= CHANNEL_HISTORY_MAX; i++) {
      await store.record('web', 'eu-west-1', 'latest', publication(`ami-${i.toString(16).padStart(17, '0')}`));
    }
    const r = await store.get('web', 'eu-west-1', 'latest');
    expect(r.history).toHaveLength(CHANNEL_HISTORY_MAX);
    expect(r.history[0]?.imageId).toBe(`ami-${(1).toString(16).padStart(17, '0')}`);
  });

  it('refuses a malformed publication and an unreadable record, writing nothing', async () => {
    await expect(store.record('web', 'us-east-1', 'latest', publication('not-an-image'))).rejects.toThrow();
    expect(s3).toHaveReceivedCommandTimes(PutObjectCommand, 0);
    objects.set('channels/web/us-east-1/latest.json', '{"current": 1}');
    await expect(store.get('web', 'us-east-1', 'latest')).rejects.toBeInstanceOf(UnexpectedResponseError);
  });
});
