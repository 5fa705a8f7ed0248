import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import * as z from 'zod';
import { BuildIdSchema, FamilySchema, ImageIdSchema, RegionSchema, TriggerSchema } from '../build-request.js';
import { S3_ERROR } from '../error-codes.js';
import { hasErrorName, UnexpectedResponseError } from '../errors.js';

/**
 * The publication history of a family's channels, in the factory's state bucket, one object per
 * (family, region, channel):
 *   channels/<family>/<region>/<channel>.json   { current, history[] } (history oldest first)
 * Each entry says which image, which build, when, who (the trigger and its actor) and what the
 * channel held before. `ami-factory channels` prints it; `rollback` republishes `previousImageId`.
 *
 * Recording is idempotent: a step that runs twice records the publication once (an entry whose
 * image is already the channel's current one is not added again).
 */
export const PUBLICATION_ACTIONS = ['publish', 'promote', 'rollback'] as const;

export const PublicationSchema = z
  .object({
    imageId: ImageIdSchema,
    /** The build that made the image (null for an image the factory did not build). */
    buildId: BuildIdSchema.nullable(),
    publishedAt: z.iso.datetime(),
    /** Who published: the build's trigger, or the promote/rollback's. */
    by: TriggerSchema,
    /** What the channel held before (null: it was new). */
    previousImageId: ImageIdSchema.nullable(),
    action: z.enum(PUBLICATION_ACTIONS),
    /**
     * The promote or rollback that published (its image-channels execution's ARN): a retried
     * run of the operation knows the regions it did already (a rollback must not run twice).
     */
    operationId: z.string().min(1).max(2048).optional(),
  })
  .strict();
export type Publication = z.infer<typeof PublicationSchema>;

/** At most this many entries are kept per channel and region (the oldest go first). */
export const CHANNEL_HISTORY_MAX = 100;

export const ChannelRecordSchema = z
  .object({
    family: FamilySchema,
    region: RegionSchema,
    channel: z.string().min(1),
    current: PublicationSchema.nullable(),
    history: z.array(PublicationSchema).max(CHANNEL_HISTORY_MAX),
  })
  .strict();
export type ChannelRecord = z.infer<typeof ChannelRecordSchema>;

export const channelKey = (family: string, region: string, channel: string): string => `channels/${family}/${region}/${channel}.json`;

export class ChannelHistoryStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  /** The channel's record in the region (an empty one when nothing was published there). */
  async get(family: string, region: string, channel: string): Promise<ChannelRecord> {
    const key = channelKey(family, region, channel);
    let text: string;
    try {
      const r = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      text = (await r.Body?.transformToString()) ?? '';
    } catch (e) {
      if (hasErrorName(e, S3_ERROR.noSuchKey, S3_ERROR.notFound)) return { family, region, channel, current: null, history: [] };
      throw e;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new UnexpectedResponseError(`The channel history ${key} is not JSON`, { cause: e });
    }
    const parsed = ChannelRecordSchema.safeParse(doc);
    if (!parsed.success) throw new UnexpectedResponseError(`The channel history ${key} is unreadable: ${parsed.error.message}`);
    return parsed.data;
  }

  /**
   * Records a publication as the channel's current one and returns the record. When the channel
   * already holds that image, nothing is written (a retried step records once).
   */
  async record(family: string, region: string, channel: string, publication: Publication): Promise<ChannelRecord> {
    const entry = PublicationSchema.parse(publication);
    const existing = await this.get(family, region, channel);
    if (existing.current?.imageId === entry.imageId) return existing;
    const history = [...existing.history, entry].slice(-CHANNEL_HISTORY_MAX);
    const next: ChannelRecord = { family, region, channel, current: entry, history };
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: channelKey(family, region, channel),
        Body: JSON.stringify(next),
        ContentType: 'application/json',
      }),
    );
    return next;
  }
}
