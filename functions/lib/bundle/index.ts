/**
 * Instance-store bundles (shared/specs/instance-store-bundle.md): bundle an image file into
 * encrypted 10 MiB parts and a signed manifest, verify and unbundle them, and pick the storage
 * keys of a bundle to delete. Parts go through a BundleSink and come from a BundleSource (a local
 * directory here; S3 implements the same interfaces).
 */
export * from './errors.js';
export {
  ARCHITECTURES,
  CIPHER_ALGORITHM,
  DEFAULT_BLOCK_DEVICE_MAPPING,
  DEFAULT_BUNDLER,
  DEFAULT_GZIP_LEVEL,
  DIGEST_ALGORITHM,
  IMAGE_TYPES,
  MANIFEST_VERSION,
  MAX_IMAGE_SIZE,
  PART_SIZE,
  type Architecture,
  type BundlerInfo,
  type ImageType,
} from './constants.js';
export {
  bundleImage,
  parseBlockDeviceMapping,
  type BundleOptions,
  type BundlePartInfo,
  type BundleProgress,
  type BundleResult,
} from './bundle.js';
export {
  checkPartSizes,
  unbundle,
  verifyParts,
  type PartCheck,
  type UnbundleOptions,
  type UnbundleResult,
  type VerifyPartsOptions,
} from './unbundle.js';
export {
  assertPlainName,
  buildManifestXml,
  expectedPartSize,
  manifestFileName,
  normalizeAccountId,
  parseManifest,
  partFileName,
  serializeManifestContent,
  signManifestXml,
  signedText,
  verifyManifestSignature,
  type BlockDeviceMappingEntry,
  type MachineConfiguration,
  type Manifest,
  type ManifestContent,
  type ManifestImage,
  type ManifestPart,
} from './manifest.js';
export {
  generateBundleKey,
  loadPrivateKey,
  loadPublicKey,
  rsaDecryptPkcs1,
  unwrapBundleKey,
  unwrapKeyHex,
  wrapBundleKey,
  wrapKeyHex,
  type BundleKey,
  type KeyInput,
  type WrappedKeys,
} from './keys.js';
export { directorySink, directorySource, type BundleSink, type BundleSource, type PartWriter } from './storage.js';
export { deleteBundleKeys, type BundleKeySelection } from './delete.js';
export { parallelGzip, type ParallelGzipOptions } from './gzip.js';
