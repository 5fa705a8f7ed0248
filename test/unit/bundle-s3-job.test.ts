import {
  assertBundlesInTime,
  BundleTooSlowError,
  imageLocationOf,
  PLANNING_THROUGHPUT_BYTES_PER_S,
} from '../../functions/lib/bundle/s3-job.js';

describe('bundle-image planning', () => {
  it('does refuse an image that would not be bundled within the budget, and accept one that would', () => {
    const size = 10 * PLANNING_THROUGHPUT_BYTES_PER_S; // read twice: 20 s
    expect(() => assertBundlesInTime('s3://b/root.img', size, 21_000)).not.toThrow();
    let caught: unknown;
    try {
      assertBundlesInTime('s3://b/root.img', size, 19_000);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(BundleTooSlowError);
    expect(caught).toMatchObject({ name: 'BundleTooSlowError', message: expect.stringContaining('ami-factory bundle') });
  });

  it('does place the manifest under the prefix for RegisterImage', () => {
    expect(imageLocationOf('bundles', '', 'web.manifest.xml')).toBe('bundles/web.manifest.xml');
    expect(imageLocationOf('bundles', 'web/2026/', 'web.manifest.xml')).toBe('bundles/web/2026/web.manifest.xml');
    expect(imageLocationOf('bundles', 'web', 'web.manifest.xml')).toBe('bundles/web/web.manifest.xml');
  });
});
