import { DeregisterImageCommand, DisableImageCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { deregisterImage, disableImage } from '../../functions/lib/retention/actions.js';
import { awsError, IMAGE_ID } from '../fixtures.js';

const ec2 = mockClient(EC2Client);
const client = () => ec2 as unknown as EC2Client;

describe('retention actions', () => {
  beforeEach(() => {
    ec2.reset();
  });

  it('deregisters with DeleteAssociatedSnapshots and reports the snapshots EC2 kept', async () => {
    ec2.on(DeregisterImageCommand).resolves({
      Return: true,
      DeleteSnapshotResults: [
        { SnapshotId: 'snap-0000000000000000a', ReturnCode: 'success' },
        { SnapshotId: 'snap-0000000000000000b', ReturnCode: 'skipped' },
      ],
    });
    const r = await deregisterImage(client(), IMAGE_ID);
    expect(ec2).toHaveReceivedCommandWith(DeregisterImageCommand, { ImageId: IMAGE_ID, DeleteAssociatedSnapshots: true });
    expect(r).toEqual({
      outcome: 'deregistered',
      deletedSnapshots: ['snap-0000000000000000a'],
      keptSnapshots: [{ snapshotId: 'snap-0000000000000000b', reason: 'used by another image' }],
    });
  });

  it('treats an image already gone as done (a retried step)', async () => {
    ec2.on(DeregisterImageCommand).rejects(awsError('InvalidAMIID.NotFound'));
    await expect(deregisterImage(client(), IMAGE_ID)).resolves.toMatchObject({ outcome: 'already-gone' });
  });

  it('passes errors through (the apply step reports them per image)', async () => {
    ec2.on(DisableImageCommand).rejects(awsError('OperationNotPermitted'));
    await expect(disableImage(client(), IMAGE_ID, 'available')).rejects.toMatchObject({ name: 'OperationNotPermitted' });
  });

  it('does not call EC2 for an image already disabled', async () => {
    await expect(disableImage(client(), IMAGE_ID, 'disabled')).resolves.toBe('already-disabled');
    expect(ec2.calls()).toHaveLength(0);
  });
});
