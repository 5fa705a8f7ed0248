/**
 * The polling baseline's one function (bench/workflow-cost.bench.ts), never deployed by the
 * product: the common "Wait 30 s → Task → Choice" loop calls it to read an image's state once.
 * It is bundled from source into the local cloud with its own role (ec2:DescribeImages only).
 */
import { DescribeImagesCommand } from '@aws-sdk/client-ec2';
import { ec2Client } from '../../functions/lib/clients.js';

export interface PollImageInput {
  region: string;
  imageId: string;
}

export interface PollImageOutput {
  /** EC2's image state (`pending`, `available`, `failed`, …), `missing` when it is not (yet) visible. */
  state: string;
  reason: string | null;
}

/** The baseline was started with an input it cannot poll. */
export class PollImageInputError extends Error {
  override name = 'PollImageInputError';
}

export async function handler(event: Partial<PollImageInput>): Promise<PollImageOutput> {
  if (typeof event.region !== 'string' || typeof event.imageId !== 'string')
    throw new PollImageInputError('pollImage needs { region, imageId } strings');
  const r = await ec2Client(event.region).send(new DescribeImagesCommand({ ImageIds: [event.imageId] }));
  const image = r.Images?.[0];
  return { state: image?.State ?? 'missing', reason: image?.StateReason?.Message ?? null };
}
