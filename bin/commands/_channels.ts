import { randomUUID } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { ChannelOperation, ChannelOperationResult } from '../../functions/lib/channels/promote.js';
import {
  commandCredentials,
  causeMessage,
  CloudLostError,
  connectForCommand,
  ExecutionStillRunningError,
  startAndWait,
  stateMachineArnOf,
  table,
  type CloudTarget,
} from './_common.js';

/**
 * What `promote` and `rollback` share: the operation runs in the image-channels state machine
 * (functions/promote-image.ts), as it does for Slack and on AWS; the command prints what it did
 * in each region.
 */
export function clientsFor(target: CloudTarget): { sfn: SFNClient; s3: S3Client } {
  const config = {
    region: 'us-east-1',
    endpoint: target.endpoint,
    credentials: commandCredentials(),
  };
  return { sfn: new SFNClient(config), s3: new S3Client({ ...config, forcePathStyle: true }) };
}

export async function runChannelCommand(
  command: 'promote' | 'rollback',
  values: { endpoint?: string; port?: string; 'state-dir'?: string },
  op: ChannelOperation,
): Promise<number> {
  const target = await connectForCommand(command, values);
  if (typeof target === 'number') return target;
  const { sfn, s3 } = clientsFor(target);
  try {
    const d = await startAndWait(
      sfn,
      {
        stateMachineArn: stateMachineArnOf(target.stack, 'image-channels'),
        name: `${command}-${op.family}-${op.channel}-${randomUUID()}`.slice(0, 80),
        input: JSON.stringify(op),
      },
      600_000,
      target.endpoint,
    );
    if (d.status !== 'SUCCEEDED') {
      console.error(`✗ ${command} ${d.status}: ${d.error ?? 'unknown error'}: ${causeMessage(d.cause)}`);
      return 1;
    }
    const result = JSON.parse(d.output ?? '{}') as ChannelOperationResult;
    console.log(
      `${command} ${op.family} → ${op.channel}${result.buildId !== null ? ` (build ${result.buildId})` : ''}\n` +
        table(
          ['region', 'status', 'image', 'previous image', 'note'],
          result.regions.map((r) => [r.region, r.status, r.imageId ?? '', r.previousImageId ?? '', r.reason ?? '']),
        ),
    );
    return result.regions.some((r) => r.status === 'published') ? 0 : 1;
  } catch (e) {
    if (e instanceof ExecutionStillRunningError || e instanceof CloudLostError) {
      console.error(`✗ ${e.message}`);
      return 1;
    }
    console.error(`✗ ami-factory ${command}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    return 1;
  } finally {
    sfn.destroy();
    s3.destroy();
    await target.close();
  }
}
