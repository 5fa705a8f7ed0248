/**
 * Named errors of the instance-store bundle format (shared/specs/instance-store-bundle.md).
 * Every class sets a stable `name` ending in `Error` and keeps `cause` through ErrorOptions,
 * like the factory's other errors (../errors.ts), so callers and Step Functions can match on it.
 */
import { FactoryError } from '../errors.js';

/** Base class of every bundle error. */
export class BundleError extends FactoryError {
  override name = 'BundleError';
}

/** A bundling or unbundling option is invalid (account id, architecture, name, mapping, level...). */
export class BundleInputError extends BundleError {
  override name = 'BundleInputError';
}

/** The image file is empty: the tools refuse to bundle it. */
export class EmptyImageError extends BundleError {
  override name = 'EmptyImageError';
}

/** The image is larger than the 10 GiB an instance-store root volume can hold. */
export class ImageTooLargeError extends BundleError {
  override name = 'ImageTooLargeError';
  constructor(
    readonly size: number,
    readonly limit: number,
    options?: ErrorOptions,
  ) {
    super(`image is ${size} bytes, over the ${limit}-byte (10 GiB) limit of instance-store images`, options);
  }
}

/** The image file changed (size or mtime) while it was being bundled. */
export class ImageChangedError extends BundleError {
  override name = 'ImageChangedError';
}

/** A certificate or key could not be read, or is not an RSA one. */
export class CertificateError extends BundleError {
  override name = 'CertificateError';
}

/** The private key given to sign a manifest does not belong to the user's certificate. */
export class KeyMismatchError extends BundleError {
  override name = 'KeyMismatchError';
}

/** The manifest is not well-formed XML, or a field is missing or malformed. `field` is its path. */
export class ManifestError extends BundleError {
  override name = 'ManifestError';
  constructor(
    readonly field: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`${field}: ${message}`, options);
  }
}

/** The manifest's signature does not verify against the certificate (tampered manifest or wrong cert). */
export class SignatureMismatchError extends BundleError {
  override name = 'SignatureMismatchError';
}

/** A part listed in the manifest is not in the bundle's storage. */
export class MissingPartError extends BundleError {
  override name = 'MissingPartError';
  constructor(
    readonly part: string,
    options?: ErrorOptions,
  ) {
    super(`part ${part} is missing`, options);
  }
}

/** A part is shorter than the manifest's sizes say it must be. */
export class TruncatedPartError extends BundleError {
  override name = 'TruncatedPartError';
  constructor(
    readonly part: string,
    readonly expected: number,
    readonly actual: number,
    options?: ErrorOptions,
  ) {
    super(`part ${part} is truncated: ${actual} bytes, expected ${expected}`, options);
  }
}

/** A part is longer than the manifest's sizes say it can be. */
export class PartSizeMismatchError extends BundleError {
  override name = 'PartSizeMismatchError';
  constructor(
    readonly part: string,
    readonly expected: number,
    readonly actual: number,
    options?: ErrorOptions,
  ) {
    super(`part ${part} is ${actual} bytes, expected ${expected}`, options);
  }
}

/** A part's SHA-1 differs from the digest in the manifest. */
export class PartDigestMismatchError extends BundleError {
  override name = 'PartDigestMismatchError';
  constructor(
    readonly part: string,
    readonly expected: string,
    readonly actual: string,
    options?: ErrorOptions,
  ) {
    super(`part ${part} has SHA-1 ${actual}, the manifest says ${expected}`, options);
  }
}

/** PKCS#1 v1.5 (type 2) padding of an RSA-decrypted block is invalid. */
export class Pkcs1PaddingError extends BundleError {
  override name = 'Pkcs1PaddingError';
}

/** The private key does not unwrap the bundle key, or the key does not decrypt the parts. */
export class WrongKeyError extends BundleError {
  override name = 'WrongKeyError';
}

/** The tar stream inside the bundle is malformed or is not one regular (or sparse) file. */
export class TarFormatError extends BundleError {
  override name = 'TarFormatError';
}

/** The SHA-1 of the unbundled tar stream differs from `image/digest`. */
export class DigestMismatchError extends BundleError {
  override name = 'DigestMismatchError';
  constructor(
    readonly expected: string,
    readonly actual: string,
    options?: ErrorOptions,
  ) {
    super(`the image's tar stream has SHA-1 ${actual}, the manifest says ${expected}`, options);
  }
}
