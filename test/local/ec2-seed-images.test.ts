import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeImagesCommand, DescribeSnapshotsCommand } from '@aws-sdk/client-ec2';
import { VirtualClock } from '../../local/clock.js';
import { createEc2Service } from '../../local/ec2/service.js';
import { MANAGED_SEED_SPAN_DAYS } from '../../local/ec2/seed.js';
import { startEc2, tagMap } from './ec2-harness.js';

const DAY = 86_400_000;

describe('seedImages: bulk inventory of managed images', () => {
  it('creates available, tagged, snapshot-backed images spread over regions and 400 days', async () => {
    // Prepare + Act
    const h = await startEc2({ seedImages: { count: 30, regions: ['us-east-1', 'eu-west-1'], family: 'bench' } });
    try {
      const c = h.client('eu-west-1');
      const r = await c.send(
        new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'tag:ami-factory:managed', Values: ['true'] }] }),
      );
      // Assess
      const images = r.Images ?? [];
      expect(images).toHaveLength(15);
      const now = h.clock.nowMs();
      for (const i of images) {
        expect(i.State).toBe('available');
        const tags = tagMap(i.Tags);
        expect(tags).toMatchObject({ 'ami-factory:managed': 'true', 'ami-factory:family': 'bench' });
        expect(tags['ami-factory:build-id']).toMatch(/^[0-9a-f-]{36}$/);
        expect(i.Name).toMatch(new RegExp(`^bench-\\d{8}T\\d{4}Z-${(tags['ami-factory:build-id'] ?? '').slice(0, 8)}$`));
        const age = now - Date.parse(i.CreationDate ?? '');
        expect(age).toBeGreaterThan(0);
        expect(age).toBeLessThanOrEqual(MANAGED_SEED_SPAN_DAYS * DAY + 60_000);
      }
      const ages = images.map((i) => (now - Date.parse(i.CreationDate ?? '')) / DAY);
      expect(Math.max(...ages)).toBeGreaterThan(350);
      const snapIds = images.map((i) => i.BlockDeviceMappings?.[0]?.Ebs?.SnapshotId ?? '');
      const snaps = (await c.send(new DescribeSnapshotsCommand({ SnapshotIds: snapIds }))).Snapshots ?? [];
      expect(snaps.map((s) => s.State)).toEqual(snapIds.map(() => 'completed'));
      expect(h.service.images('us-east-2').filter((i) => i.tags['ami-factory:managed'] === 'true')).toHaveLength(0);
    } finally {
      await h.close();
    }
  });

  it('seeds 10,000 images, persists them, and does not seed them again on restart', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ec2-seed-'));
    try {
      const stateFile = join(dir, 'ec2.json');
      const seedImages = { count: 10_000, regions: ['us-east-1', 'us-west-2', 'eu-west-1'], family: 'web' };
      const clock = new VirtualClock(1);
      const first = createEc2Service({ clock, stateFile, seedImages });
      first.close();
      const persisted = JSON.parse(readFileSync(stateFile, 'utf8')) as {
        managedSeeds?: Record<string, number>;
        regions: Record<string, { images: Record<string, unknown> }>;
      };
      expect(persisted.managedSeeds).toEqual({ web: 10_000 });
      const count = (svc: ReturnType<typeof createEc2Service>): number =>
        seedImages.regions.reduce((n, r) => n + svc.images(r).filter((i) => i.tags['ami-factory:family'] === 'web').length, 0);
      const second = createEc2Service({ clock, stateFile, seedImages });
      expect(count(second)).toBe(10_000);
      expect(second.images('us-east-1').filter((i) => i.tags['ami-factory:family'] === 'web')).toHaveLength(3334);
      second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses unknown regions and bad counts', () => {
    const clock = new VirtualClock(1);
    expect(() => createEc2Service({ clock, seedImages: { count: 5, regions: ['mars-1'], family: 'x' } })).toThrow(RangeError);
    expect(() => createEc2Service({ clock, seedImages: { count: -1, regions: ['us-east-1'], family: 'x' } })).toThrow(RangeError);
  });
});
