/** Fixed numbers and defaults of the bundle format (shared/specs/instance-store-bundle.md). */

/** Parts are 10 MiB (the last one is short). */
export const PART_SIZE = 10 * 1024 * 1024;

/** Instance-store images are at most 10 GiB; the tools refuse larger (and empty) images. */
export const MAX_IMAGE_SIZE = 10 * 1024 * 1024 * 1024;

export const MANIFEST_VERSION = '2007-10-10';
export const DIGEST_ALGORITHM = 'SHA1';
export const CIPHER_ALGORITHM = 'AES-128-CBC';

export const ARCHITECTURES = ['i386', 'x86_64'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

export const IMAGE_TYPES = ['machine', 'kernel', 'ramdisk'] as const;
export type ImageType = (typeof IMAGE_TYPES)[number];

/** What ec2-bundle-image writes when no mapping is given. */
export const DEFAULT_BLOCK_DEVICE_MAPPING: Readonly<Record<string, string>> = Object.freeze({
  ami: 'sda1',
  root: '/dev/sda1',
  ephemeral0: 'sda2',
  swap: 'sda3',
});

export interface BundlerInfo {
  name: string;
  version: string;
  release: string;
}

export const DEFAULT_BUNDLER: Readonly<BundlerInfo> = Object.freeze({ name: 'ami-factory', version: '0.1.0', release: '0' });

/** gzip level of the tools (`gzip -9`). */
export const DEFAULT_GZIP_LEVEL = 9;
