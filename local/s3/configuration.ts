import { isJsonObject, type JsonObject, type JsonValue } from '../json.js';
import type { XmlElement } from '../protocols/xml.js';
import { S3Error } from './errors.js';
import { requireBucket, xmlResponse, type S3Call, type S3Env, type S3Response } from './protocol.js';
import type { BucketConfiguration, BucketEncryption, LifecycleRule, PublicAccessBlock } from './store.js';

/**
 * A bucket's configuration as the local S3 keeps and serves it: versioning, default encryption,
 * the public access block and lifecycle rules, set when a template's `AWS::S3::Bucket` is
 * deployed (`fromCloudFormation`) and read back with GetBucketVersioning, GetBucketEncryption,
 * GetPublicAccessBlock and GetBucketLifecycleConfiguration, answered as S3 answers them (S3 API
 * reference): a bucket never configured is unversioned (an empty `<VersioningConfiguration>`),
 * encrypted with SSE-S3 (every bucket is, since January 2023), and has no public access block
 * (404 NoSuchPublicAccessBlockConfiguration) and no lifecycle (404 NoSuchLifecycleConfiguration).
 *
 * What is stored is also honoured where the factory depends on it: SSE-KMS default encryption
 * makes writes and reads use the key as the caller (local/s3/access.ts). Lifecycle rules are not
 * run (objects do not expire locally), and versioning does not keep old versions.
 */

/** A bucket property or rule element the local cloud does not model. */
export class UnsupportedBucketConfigurationError extends Error {
  override name = 'UnsupportedBucketConfigurationError';
}

const RULE_KEYS = new Set([
  'Id',
  'Status',
  'Prefix',
  'ExpirationInDays',
  'ExpiredObjectDeleteMarker',
  'NoncurrentVersionExpiration',
  'AbortIncompleteMultipartUpload',
]);

function objectOf(v: JsonValue | undefined): JsonObject | undefined {
  return v !== undefined && isJsonObject(v) ? v : undefined;
}

function bool(v: JsonValue | undefined): boolean {
  return v === true || v === 'true';
}

function days(v: JsonValue | undefined, what: string): number {
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1)
    throw new UnsupportedBucketConfigurationError(`${what} must be a positive integer`);
  return n;
}

function encryptionOf(p: JsonObject): BucketEncryption | undefined {
  const rules = objectOf(p.BucketEncryption)?.ServerSideEncryptionConfiguration;
  if (!Array.isArray(rules) || rules.length === 0) return undefined;
  const rule = objectOf(rules[0]);
  const dflt = objectOf(rule?.ServerSideEncryptionByDefault);
  const algorithm = dflt?.SSEAlgorithm;
  if (algorithm !== 'AES256' && algorithm !== 'aws:kms' && algorithm !== 'aws:kms:dsse')
    throw new UnsupportedBucketConfigurationError(`SSEAlgorithm ${String(algorithm)} is not AES256, aws:kms or aws:kms:dsse`);
  const out: BucketEncryption = { algorithm, bucketKeyEnabled: bool(rule?.BucketKeyEnabled) };
  if (typeof dflt?.KMSMasterKeyID === 'string' && dflt.KMSMasterKeyID !== '') {
    if (algorithm === 'AES256') throw new UnsupportedBucketConfigurationError('KMSMasterKeyID is only for aws:kms and aws:kms:dsse');
    out.kmsKeyId = dflt.KMSMasterKeyID;
  }
  return out;
}

function publicAccessBlockOf(p: JsonObject): PublicAccessBlock | undefined {
  const b = objectOf(p.PublicAccessBlockConfiguration);
  if (b === undefined) return undefined;
  return {
    BlockPublicAcls: bool(b.BlockPublicAcls),
    IgnorePublicAcls: bool(b.IgnorePublicAcls),
    BlockPublicPolicy: bool(b.BlockPublicPolicy),
    RestrictPublicBuckets: bool(b.RestrictPublicBuckets),
  };
}

function lifecycleOf(p: JsonObject): LifecycleRule[] | undefined {
  const rules = objectOf(p.LifecycleConfiguration)?.Rules;
  if (rules === undefined) return undefined;
  if (!Array.isArray(rules)) throw new UnsupportedBucketConfigurationError('LifecycleConfiguration.Rules must be a list');
  return rules.map((raw, i) => {
    const r = objectOf(raw);
    if (r === undefined) throw new UnsupportedBucketConfigurationError(`LifecycleConfiguration.Rules[${i}] must be an object`);
    const unknown = Object.keys(r).filter((k) => !RULE_KEYS.has(k));
    if (unknown.length > 0)
      throw new UnsupportedBucketConfigurationError(
        `LifecycleConfiguration.Rules[${i}]: the local cloud does not model ${unknown.join(', ')}`,
      );
    if (r.Status !== 'Enabled' && r.Status !== 'Disabled')
      throw new UnsupportedBucketConfigurationError(`LifecycleConfiguration.Rules[${i}].Status must be Enabled or Disabled`);
    const rule: LifecycleRule = { Status: r.Status };
    if (typeof r.Id === 'string') rule.ID = r.Id;
    if (typeof r.Prefix === 'string') rule.Prefix = r.Prefix;
    if (r.ExpirationInDays !== undefined) rule.ExpirationDays = days(r.ExpirationInDays, `Rules[${i}].ExpirationInDays`);
    if (r.ExpiredObjectDeleteMarker !== undefined) rule.ExpiredObjectDeleteMarker = bool(r.ExpiredObjectDeleteMarker);
    const nc = objectOf(r.NoncurrentVersionExpiration);
    if (nc !== undefined) rule.NoncurrentDays = days(nc.NoncurrentDays, `Rules[${i}].NoncurrentVersionExpiration.NoncurrentDays`);
    const abort = objectOf(r.AbortIncompleteMultipartUpload);
    if (abort !== undefined)
      rule.AbortIncompleteDays = days(abort.DaysAfterInitiation, `Rules[${i}].AbortIncompleteMultipartUpload.DaysAfterInitiation`);
    return rule;
  });
}

/** The configuration an `AWS::S3::Bucket`'s (resolved) properties give. */
export function fromCloudFormation(p: JsonObject): BucketConfiguration {
  const out: BucketConfiguration = {};
  const status = objectOf(p.VersioningConfiguration)?.Status;
  if (status !== undefined) {
    if (status !== 'Enabled' && status !== 'Suspended')
      throw new UnsupportedBucketConfigurationError(`VersioningConfiguration.Status must be Enabled or Suspended`);
    out.versioning = status;
  }
  const encryption = encryptionOf(p);
  if (encryption !== undefined) out.encryption = encryption;
  const pab = publicAccessBlockOf(p);
  if (pab !== undefined) out.publicAccessBlock = pab;
  const lifecycle = lifecycleOf(p);
  if (lifecycle !== undefined) out.lifecycle = lifecycle;
  return out;
}

/** The bucket's default encryption (SSE-S3 when none was configured). */
export function defaultEncryption(c: BucketConfiguration | undefined): BucketEncryption {
  return c?.encryption ?? { algorithm: 'AES256', bucketKeyEnabled: false };
}

export function getBucketVersioning(env: S3Env, call: S3Call): S3Response {
  const b = requireBucket(env, call);
  const status = b.meta.configuration?.versioning;
  return xmlResponse('VersioningConfiguration', status === undefined ? {} : { Status: status });
}

export function getBucketEncryption(env: S3Env, call: S3Call): S3Response {
  const b = requireBucket(env, call);
  const e = defaultEncryption(b.meta.configuration);
  return xmlResponse('ServerSideEncryptionConfiguration', {
    Rule: {
      ApplyServerSideEncryptionByDefault: { SSEAlgorithm: e.algorithm, KMSMasterKeyID: e.kmsKeyId },
      BucketKeyEnabled: e.bucketKeyEnabled,
    },
  });
}

export function getPublicAccessBlock(env: S3Env, call: S3Call): S3Response {
  const b = requireBucket(env, call);
  const pab = b.meta.configuration?.publicAccessBlock;
  if (pab === undefined)
    throw new S3Error('NoSuchPublicAccessBlockConfiguration', 404, 'The public access block configuration was not found', {
      BucketName: b.meta.name,
    });
  return xmlResponse('PublicAccessBlockConfiguration', { ...pab });
}

function ruleXml(r: LifecycleRule): XmlElement {
  const expiration =
    r.ExpirationDays !== undefined || r.ExpiredObjectDeleteMarker !== undefined
      ? { Days: r.ExpirationDays, ExpiredObjectDeleteMarker: r.ExpiredObjectDeleteMarker }
      : undefined;
  return {
    Expiration: expiration,
    ID: r.ID,
    Filter: r.Prefix !== undefined ? { Prefix: r.Prefix } : {},
    Status: r.Status,
    NoncurrentVersionExpiration: r.NoncurrentDays !== undefined ? { NoncurrentDays: r.NoncurrentDays } : undefined,
    AbortIncompleteMultipartUpload: r.AbortIncompleteDays !== undefined ? { DaysAfterInitiation: r.AbortIncompleteDays } : undefined,
  };
}

export function getBucketLifecycleConfiguration(env: S3Env, call: S3Call): S3Response {
  const b = requireBucket(env, call);
  const rules = b.meta.configuration?.lifecycle;
  if (rules === undefined || rules.length === 0)
    throw new S3Error('NoSuchLifecycleConfiguration', 404, 'The lifecycle configuration does not exist', { BucketName: b.meta.name });
  return xmlResponse(
    'LifecycleConfiguration',
    { Rule: rules.map(ruleXml) },
    // S3 answers with the minimum object size rule for transitions (the default since September 2024).
    { 'x-amz-transition-default-minimum-object-size': 'all_storage_classes_128K' },
  );
}
