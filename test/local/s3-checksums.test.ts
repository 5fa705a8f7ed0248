import { randomBytes } from 'node:crypto';
import { checksumOf, createChecksum, isWellFormedChecksum, type ChecksumAlgorithm } from '../../local/s3/checksums.js';

/** The check values of the CRC catalogue (the CRC of the ASCII string "123456789"). */
const CHECK: Partial<Record<ChecksumAlgorithm, string>> = {
  CRC32: 'cbf43926',
  CRC32C: 'e3069283',
  CRC64NVME: 'ae8b14860a799888',
};

describe('S3 checksums', () => {
  it.each(Object.entries(CHECK))('computes %s as the CRC catalogue does', async (alg, hex) => {
    // Act
    const value = await checksumOf(alg as ChecksumAlgorithm, Buffer.from('123456789'));
    // Assess
    expect(Buffer.from(value, 'base64').toString('hex')).toBe(hex);
    expect(isWellFormedChecksum(alg as ChecksumAlgorithm, value)).toBe(true);
  });

  it.each(['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as ChecksumAlgorithm[])(
    'gives the same %s over chunks as over the whole (multipart full-object checksums are streamed)',
    async (alg) => {
      // Prepare
      const data = randomBytes(100_003);
      const streamed = createChecksum(alg);
      // Act
      for (let i = 0; i < data.length; i += 4093) streamed.update(data.subarray(i, i + 4093));
      // Assess
      expect((await streamed.digest()).toString('base64')).toBe(await checksumOf(alg, data));
    },
  );
});
