import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ChatOpsStore, type ChatOpsRecord } from '../../functions/lib/chatops/store.js';

/**
 * A ChatOpsStore over an in-memory bucket that answers GetObject and PutObject as S3 does for
 * the store: an ETag per version, `If-Match` / `If-None-Match: *` refused with
 * PreconditionFailed, NoSuchKey for a missing object. Each call yields once, so concurrent
 * notifications interleave their reads and writes.
 */
export function memoryChatOpsStore(record: ChatOpsRecord | undefined): {
  store: ChatOpsStore;
  saved: () => ChatOpsRecord | undefined;
  gets: () => number;
} {
  const objects = new Map<string, { body: string; etag: string }>();
  let version = 0;
  let gets = 0;
  const failure = (name: string, message: string): Error => Object.assign(new Error(message), { name });
  const send = async (command: unknown): Promise<unknown> => {
    await new Promise((r) => setImmediate(r));
    if (command instanceof GetObjectCommand) {
      gets++;
      const o = objects.get(command.input.Key ?? '');
      if (o === undefined) throw failure('NoSuchKey', 'The specified key does not exist.');
      return { Body: { transformToString: async () => o.body }, ETag: o.etag };
    }
    if (command instanceof PutObjectCommand) {
      const key = command.input.Key ?? '';
      const o = objects.get(key);
      const { IfMatch, IfNoneMatch } = command.input;
      if ((IfMatch !== undefined && o?.etag !== IfMatch) || (IfNoneMatch === '*' && o !== undefined)) {
        throw failure('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
      }
      objects.set(key, { body: String(command.input.Body), etag: `"${++version}"` });
      return {};
    }
    throw new Error(`memoryChatOpsStore: unexpected command ${String(command)}`);
  };
  if (record !== undefined) objects.set(ChatOpsStore.key(record.buildId), { body: JSON.stringify(record), etag: `"${++version}"` });
  const store = new ChatOpsStore({ send } as unknown as S3Client, 'state');
  const saved = (): ChatOpsRecord | undefined => {
    const o = record === undefined ? undefined : objects.get(ChatOpsStore.key(record.buildId));
    return o === undefined ? undefined : (JSON.parse(o.body) as ChatOpsRecord);
  };
  return { store, saved, gets: () => gets };
}
