'use strict';
/**
 * The config-derived parts of the functions' IAM policies (resources/iam.yml), for osls's
 * variable resolver, like deploy/schedules.cjs:
 *
 *   Condition: { StringEquals: { "aws:RequestedRegion": ${file(deploy/iam-scopes.cjs):regions} } }
 *   Statement: ${file(deploy/iam-scopes.cjs):copyImage}
 *
 * - `regions`: every region a family builds in or copies to (EC2 and Auto Scaling calls are
 *   limited to them with `aws:RequestedRegion`).
 * - `<function>`: the statements of one function that name the config's S3 bundle locations or
 *   KMS keys. S3 grants name buckets and key patterns (manifests, parts, staging objects under
 *   the configured prefixes); KMS grants name key ARNs, or, for a key the config gives by alias,
 *   the region's key ARNs with `kms:ResourceAliases` (IAM cannot name a key by alias: KMS
 *   developer guide, "Use aliases to control access to KMS keys"), always with
 *   `kms:ViaService` and, on CreateGrant, `kms:GrantIsForAWSResource`. A function whose config
 *   names nothing gets one explicit Deny of those actions (a policy must hold a statement).
 *
 * - `readChannels` (planBuild's, copyImage's): ssm:GetParameter of those channel parameters (a
 *   distribution leaves a region alone whose channel already holds the build's image).
 * - `publishImage` (also promoteImage's): the channel parameters `/ami-factory/<family>/*` of each family in each of
 *   its regions (ssm:GetParameter, ssm:PutParameter), and the launch templates the family lists
 *   for a region, by ARN (ec2:CreateLaunchTemplateVersion, ec2:ModifyLaunchTemplate).
 *
 * Bundle locations are the families' bundle sources (the manifest's folder) and the config's
 * `bundles.destinations`; `bundleImage` reads image files from `bundles.images`. The config is
 * `AMI_FACTORY_CONFIG` or `factory.config.yml` next to serverless.yml; functions/lib/config.ts
 * validates it fully (this reads only what it needs and checks its shape).
 */
const { readFileSync } = require('node:fs');
const { join, resolve } = require('node:path');
const { parse } = require('yaml');

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
/** `bucket` or `bucket/prefix/` (functions/lib/config.ts, S3LocationSchema). */
const LOCATION = /^([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(\/(?:[A-Za-z0-9!_.'()-]+\/)*)?$/;
const KEY_ARN = /^arn:(aws[a-z-]*):kms:([a-z0-9-]+):(\d{12}):key\/([A-Za-z0-9-]+)$/;
const ALIAS_ARN = /^arn:(aws[a-z-]*):kms:([a-z0-9-]+):(\d{12}):(alias\/[A-Za-z0-9/_-]+)$/;
const ALIAS = /^alias\/[A-Za-z0-9/_-]+$/;
const KEY_ID = /^[0-9a-f-]{36}$/;
const FAMILY = /^[a-z0-9][a-z0-9-]{0,62}$/;
const LAUNCH_TEMPLATE_ID = /^lt-[0-9a-f]{17}$/;

/** The config names something IAM cannot be scoped to. */
class IamScopeError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'IamScopeError';
  }
}

const sub = (s) => ({ 'Fn::Sub': s });
const uniq = (xs) => [...new Set(xs)].sort();

/** `{ bucket, prefix }` of a `bucket` or `bucket/prefix/` location. */
function location(value, path) {
  const m = typeof value === 'string' ? LOCATION.exec(value) : null;
  if (m === null || m[1].includes('..'))
    throw new IamScopeError(`${path}: "${value}" is not an S3 location such as bucket or bucket/prefix/`);
  return { bucket: m[1], prefix: (m[2] ?? '/').slice(1) };
}

/** The folder of a family's bundle manifest (`bucket/prefix/name.manifest.xml`). */
function manifestFolder(imageLocation, path) {
  if (typeof imageLocation !== 'string' || !imageLocation.endsWith('.manifest.xml'))
    throw new IamScopeError(`${path}: "${imageLocation}" is not bucket/prefix/name.manifest.xml`);
  const slash = imageLocation.indexOf('/');
  const bucket = imageLocation.slice(0, slash);
  if (!BUCKET.test(bucket)) throw new IamScopeError(`${path}: "${bucket}" is not a bucket name`);
  const key = imageLocation.slice(slash + 1);
  return { bucket, prefix: key.slice(0, key.lastIndexOf('/') + 1) };
}

/** What the generated statements are made of, read from a parsed factory config. */
function scopesOf(config) {
  const families = (config && config.families) || {};
  if (Object.keys(families).length === 0) throw new IamScopeError('the factory config declares no family');
  const regions = [];
  const bundleLocations = [];
  /** region → key references of copies to that region */
  const copyKeys = new Map();
  const baseImageRegions = [];
  /** The regions a family with image tests launches its test instances in: its own and its copies'. */
  const testRegions = [];
  /** `{ family, regions }`: where each family's channel parameters are. */
  const channels = [];
  /** `{ region, id }`: the launch templates families publish to. */
  const launchTemplates = [];
  for (const [family, f] of Object.entries(families)) {
    const at = `families.${family}`;
    if (!FAMILY.test(family)) throw new IamScopeError(`${at}: "${family}" is not a family name`);
    if (!REGION.test(String(f && f.region))) throw new IamScopeError(`${at}.region: "${f && f.region}" is not a region`);
    regions.push(f.region);
    channels.push({ family, regions: uniq([f.region, ...(f.copies || []).map((c) => String(c && c.region))]) });
    for (const [region, ids] of Object.entries((f && f.launchTemplates) || {})) {
      if (!REGION.test(region)) throw new IamScopeError(`${at}.launchTemplates: "${region}" is not a region`);
      for (const [i, id] of (Array.isArray(ids) ? ids : []).entries()) {
        if (!LAUNCH_TEMPLATE_ID.test(String(id)))
          throw new IamScopeError(`${at}.launchTemplates.${region}.${i}: "${id}" is not a launch template id`);
        launchTemplates.push({ region, id });
      }
    }
    const source = f.source || {};
    if (source.type === 'bundle') bundleLocations.push(manifestFolder(source.imageLocation, `${at}.source.imageLocation`));
    if (source.type === 'base-image') baseImageRegions.push(f.region);
    if (f.tests !== undefined && f.tests !== null) testRegions.push(f.region, ...(f.copies || []).map((c) => String(c && c.region)));
    for (const [i, c] of (f.copies || []).entries()) {
      if (!REGION.test(String(c && c.region))) throw new IamScopeError(`${at}.copies.${i}.region: "${c && c.region}" is not a region`);
      regions.push(c.region);
      if (c.kmsKeyId !== undefined) {
        const keys = copyKeys.get(c.region) || [];
        keys.push(keyRef(c.kmsKeyId, c.region, `${at}.copies.${i}.kmsKeyId`));
        copyKeys.set(c.region, keys);
      }
    }
  }
  const bundles = (config && config.bundles) || {};
  const images = (bundles.images || []).map((l, i) => location(l, `bundles.images.${i}`));
  const destinations = (bundles.destinations || []).map((l, i) => location(l, `bundles.destinations.${i}`));
  bundleLocations.push(...destinations);
  return {
    regions: uniq(regions),
    bundleLocations: dedupe(bundleLocations),
    images: dedupe(images),
    destinations: dedupe(destinations),
    copyKeys,
    baseImageRegions: uniq(baseImageRegions),
    testRegions: uniq(testRegions),
    channels,
    launchTemplates,
  };
}

function dedupe(locations) {
  const seen = new Map();
  for (const l of locations) seen.set(`${l.bucket}/${l.prefix}`, l);
  return [...seen.keys()].sort().map((k) => seen.get(k));
}

/** A key reference of the config as IAM can name it: a key ARN, or the region's keys and an alias. */
function keyRef(ref, region, path) {
  let m = KEY_ARN.exec(ref);
  if (m !== null) {
    if (m[2] !== region) throw new IamScopeError(`${path}: ${ref} is a key of ${m[2]}, not of the copy's region ${region}`);
    return { arn: sub(`arn:\${AWS::Partition}:kms:${region}:${m[3]}:key/${m[4]}`) };
  }
  if (KEY_ID.test(ref)) return { arn: sub(`arn:\${AWS::Partition}:kms:${region}:\${AWS::AccountId}:key/${ref}`) };
  m = ALIAS_ARN.exec(ref);
  if (m !== null) {
    if (m[2] !== region) throw new IamScopeError(`${path}: ${ref} is an alias of ${m[2]}, not of the copy's region ${region}`);
    return { arn: sub(`arn:\${AWS::Partition}:kms:${region}:${m[3]}:key/*`), alias: m[4] };
  }
  if (ALIAS.test(ref)) return { arn: sub(`arn:\${AWS::Partition}:kms:${region}:\${AWS::AccountId}:key/*`), alias: ref };
  throw new IamScopeError(`${path}: "${ref}" is not a KMS key id, alias or ARN`);
}

const objects = (locations, patterns) =>
  locations.flatMap((l) => patterns.map((p) => sub(`arn:\${AWS::Partition}:s3:::${l.bucket}/${l.prefix}${p}`)));
const buckets = (locations) => uniq(locations.map((l) => l.bucket)).map((b) => sub(`arn:\${AWS::Partition}:s3:::${b}`));
const BUNDLE_FILES = ['*.manifest.xml', '*.part.*'];

/** s3:ListBucket on each bucket, only for its configured prefixes (404 instead of 403 for a missing key). */
function listBundles(locations) {
  const byBucket = new Map();
  for (const l of locations) byBucket.set(l.bucket, [...(byBucket.get(l.bucket) || []), `${l.prefix}*`]);
  return [...byBucket.entries()].map(([bucket, prefixes]) => ({
    Effect: 'Allow',
    Action: 's3:ListBucket',
    Resource: sub(`arn:\${AWS::Partition}:s3:::${bucket}`),
    Condition: { StringLike: { 's3:prefix': prefixes } },
  }));
}

/** One explicit Deny when the config names nothing a function's grants could name. */
function nothingConfigured(sid, actions) {
  return [{ Sid: sid, Effect: 'Deny', Action: actions, Resource: '*' }];
}

/** KMS statements for keys used through EC2 in a region: key use, and grants for EBS only. */
function kmsViaEc2(region, resources, alias, actions) {
  const via = { 'kms:ViaService': `ec2.${region}.amazonaws.com` };
  const aliasCondition = alias === undefined ? {} : { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': alias } };
  return [
    { Effect: 'Allow', Action: actions, Resource: resources, Condition: { StringEquals: via, ...aliasCondition } },
    {
      Effect: 'Allow',
      Action: 'kms:CreateGrant',
      Resource: resources,
      Condition: { StringEquals: via, Bool: { 'kms:GrantIsForAWSResource': 'true' }, ...aliasCondition },
    },
  ];
}

const KEY_USE = ['kms:Decrypt', 'kms:DescribeKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:ReEncryptFrom', 'kms:ReEncryptTo'];

/** Key use through EC2 on any key (of any account) of each region: for images whose key the config does not name. */
function anyKeyViaEc2(regions) {
  return regions.flatMap((region) => kmsViaEc2(region, sub(`arn:\${AWS::Partition}:kms:${region}:*:key/*`), undefined, KEY_USE));
}

/** The generated statements of each function (see the module comment). */
function statementsOf(s) {
  const bundleRead =
    s.bundleLocations.length === 0
      ? []
      : [
          { Effect: 'Allow', Action: ['s3:GetObject', 's3:GetObjectAcl'], Resource: objects(s.bundleLocations, BUNDLE_FILES) },
          ...listBundles(s.bundleLocations),
        ];

  const copyKms = [];
  for (const region of [...s.copyKeys.keys()].sort()) {
    const refs = s.copyKeys.get(region);
    const arns = refs.filter((r) => r.alias === undefined).map((r) => r.arn);
    if (arns.length > 0) copyKms.push(...kmsViaEc2(region, arns, undefined, KEY_USE));
    // Keys named by alias: the region's keys (of the alias's account) that carry one of the aliases.
    const byAccount = new Map();
    for (const r of refs.filter((x) => x.alias !== undefined)) {
      const k = JSON.stringify(r.arn);
      byAccount.set(k, { arn: r.arn, aliases: uniq([...((byAccount.get(k) || {}).aliases || []), r.alias]) });
    }
    for (const k of [...byAccount.keys()].sort())
      copyKms.push(...kmsViaEc2(region, byAccount.get(k).arn, byAccount.get(k).aliases, KEY_USE));
  }
  // Instance-store copies: EC2 reads the bundle as the caller (GetBucketAcl, GetObject of the manifest).
  const copyS3 =
    s.bundleLocations.length === 0
      ? []
      : [
          { Effect: 'Allow', Action: 's3:GetBucketAcl', Resource: buckets(s.bundleLocations) },
          { Effect: 'Allow', Action: 's3:GetObject', Resource: objects(s.bundleLocations, ['*.manifest.xml']) },
        ];

  // A builder launched from a base image whose snapshots use a customer key: EBS uses the key as
  // the caller, through EC2, in the build region. The base image's key is not the config's (it is
  // the image owner's), so the key ARNs of the build regions are named, any account.
  const launchKms = anyKeyViaEc2(s.baseImageRegions);

  // A test instance launched from an encrypted image: EBS uses the image's key as the caller,
  // through EC2, in each region the family tests in. The image's key is not always the config's: a
  // build-region image keeps its source's key (the instance's volumes, the base image's), a copy
  // without kmsKeyId gets the region's EBS default key, so the key ARNs of those regions are
  // named, any account, as for launchBuilder.
  const testKms = anyKeyViaEc2(s.testRegions);

  const bundleImage = [
    ...(s.images.length === 0 ? [] : [{ Effect: 'Allow', Action: 's3:GetObject', Resource: objects(s.images, ['*']) }]),
    ...(s.destinations.length === 0
      ? []
      : [
          {
            Effect: 'Allow',
            Action: ['s3:PutObject', 's3:PutObjectAcl', 's3:GetObject', 's3:DeleteObject'],
            // Parts are staged, then copied to their final names (the count is known only at the end).
            Resource: objects(s.destinations, [...BUNDLE_FILES, '*.bundle-staging-*']),
          },
        ]),
  ];

  const applyRetention =
    s.bundleLocations.length === 0
      ? []
      : [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:DeleteObject'], Resource: objects(s.bundleLocations, BUNDLE_FILES) }];

  const channelParameters = s.channels.flatMap((c) =>
    c.regions.map((region) => sub(`arn:\${AWS::Partition}:ssm:${region}:\${AWS::AccountId}:parameter/ami-factory/${c.family}/*`)),
  );
  const templateArns = uniq(s.launchTemplates.map((t) => `${t.region}|${t.id}`)).map((k) => {
    const [region, id] = k.split('|');
    return sub(`arn:\${AWS::Partition}:ec2:${region}:\${AWS::AccountId}:launch-template/${id}`);
  });
  const publishImage = [
    { Effect: 'Allow', Action: ['ssm:GetParameter', 'ssm:PutParameter'], Resource: channelParameters },
    ...(templateArns.length === 0
      ? []
      : [
          {
            Effect: 'Allow',
            Action: ['ec2:CreateLaunchTemplateVersion', 'ec2:ModifyLaunchTemplate'],
            Resource: templateArns,
          },
        ]),
  ];

  return {
    publishImage,
    readChannels: [{ Effect: 'Allow', Action: 'ssm:GetParameter', Resource: channelParameters }],
    registerBundle:
      bundleRead.length > 0
        ? bundleRead
        : nothingConfigured('NoBundleLocationConfigured', ['s3:GetObject', 's3:GetObjectAcl', 's3:ListBucket']),
    bundleImage:
      bundleImage.length > 0
        ? bundleImage
        : nothingConfigured('NoBundleLocationConfigured', ['s3:GetObject', 's3:PutObject', 's3:PutObjectAcl', 's3:DeleteObject']),
    copyImage:
      copyKms.length + copyS3.length > 0
        ? [...copyKms, ...copyS3]
        : nothingConfigured('NoKeyOrBundleConfigured', ['kms:CreateGrant', ...KEY_USE, 's3:GetBucketAcl', 's3:GetObject']),
    launchBuilder: launchKms.length > 0 ? launchKms : nothingConfigured('NoBaseImageConfigured', ['kms:CreateGrant', ...KEY_USE]),
    launchTest: testKms.length > 0 ? testKms : nothingConfigured('NoImageTestConfigured', ['kms:CreateGrant', ...KEY_USE]),
    applyRetention:
      applyRetention.length > 0 ? applyRetention : nothingConfigured('NoBundleLocationConfigured', ['s3:GetObject', 's3:DeleteObject']),
  };
}

/** `{ regions, <function>: Statement[] }` for a parsed factory config. */
function iamScopes(config) {
  const s = scopesOf(config);
  return { regions: s.regions, ...statementsOf(s) };
}

function configPath(serviceDir) {
  const explicit = process.env.AMI_FACTORY_CONFIG;
  return explicit !== undefined && explicit !== '' ? resolve(explicit) : join(serviceDir, 'factory.config.yml');
}

/** osls calls this with `{ options, resolveVariable, resolveConfigurationProperty }`. */
async function scopes(_variables, serviceDir = join(__dirname, '..')) {
  const path = configPath(serviceDir);
  let text;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new IamScopeError(`Cannot read the factory config ${path}: ${e.message}`, { cause: e });
  }
  return iamScopes(parse(text));
}

/** The PolicyName of each generated policy in resources/iam.yml → its key in iamScopes() (the local cloud regenerates them for another config). */
const GENERATED_POLICIES = {
  'register-bundle-locations': 'registerBundle',
  'bundle-image-locations': 'bundleImage',
  'launch-builder-keys': 'launchBuilder',
  'launch-test-keys': 'launchTest',
  'copy-image-keys-and-bundles': 'copyImage',
  'apply-retention-bundles': 'applyRetention',
  'publish-image-channels': 'publishImage',
  'plan-build-channels': 'readChannels',
  'copy-image-channels': 'readChannels',
  'promote-image-channels': 'publishImage',
};

module.exports = scopes;
module.exports.GENERATED_POLICIES = GENERATED_POLICIES;
module.exports.iamScopes = iamScopes;
module.exports.IamScopeError = IamScopeError;
