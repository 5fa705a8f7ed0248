import { createDecipheriv, createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { BundleError } from '../../functions/lib/bundle/errors.js';
import { unwrapBundleKey } from '../../functions/lib/bundle/keys.js';
import { parseManifest, type Manifest } from '../../functions/lib/bundle/manifest.js';
import type { S3Service } from '../s3/service.js';
import { addTags, parseTagSpecifications, type ActionContext } from './context.js';
import { Ec2ApiError, invalidValue } from './errors.js';
import { checkNameFree, newImage } from './images.js';
import type { BlockDeviceRecord, ImageRecord } from './model.js';

/**
 * RegisterImage with `ImageLocation` (an instance-store bundle `bucket/prefix/name.manifest.xml`,
 * see shared/specs/instance-store-bundle.md). The hook gets the request context (region,
 * params, world, clock) and returns the new image's id; it may read the manifest from the
 * local S3 asynchronously. Register the image with `newImage()` (images.ts) and put it in
 * `ctx.rs.images`, with `rootDeviceType: 'instance-store'` and `imageLocation`.
 *
 * Without a local S3 (the default below) the endpoint answers InvalidParameterValue, as EC2
 * does for a location it cannot use; `makeRegisterFromImageLocation` builds the real hook.
 */
export type RegisterFromImageLocation = (ctx: ActionContext, imageLocation: string) => string | Promise<string>;

export const registerFromImageLocation: RegisterFromImageLocation = (_ctx, imageLocation) => {
  throw new Ec2ApiError('InvalidParameterValue', `instance-store registration not available (ImageLocation ${imageLocation})`);
};

export interface RegisterFromImageLocationOptions {
  /** The local S3 the bundles are in (or a getter, when S3 is created after EC2). */
  s3: S3Service | (() => S3Service);
  /** EC2's private key (PEM) for the partition, or a getter: unwraps the bundle key (`ec2_encrypted_key`/`_iv`). */
  ec2KeyPem: string | (() => string | Promise<string>);
}

const invalidManifest = (message: string): Ec2ApiError => new Ec2ApiError('InvalidManifest', message);

function splitLocation(imageLocation: string): { bucket: string; key: string } {
  const slash = imageLocation.indexOf('/');
  const key = imageLocation.slice(slash + 1);
  if (slash <= 0 || key === '' || !key.endsWith('.manifest.xml')) {
    throw invalidValue(`Value (${imageLocation}) for parameter imageLocation is invalid. Expecting bucket/[prefix/]name.manifest.xml`);
  }
  return { bucket: imageLocation.slice(0, slash), key };
}

/** Decrypts the concatenated parts, gunzips them and hashes the tar stream (EC2 reads the whole bundle). */
async function tarDigest(parts: readonly Buffer[], key: Buffer, iv: Buffer): Promise<string> {
  const hash = createHash('sha1');
  await pipeline(
    Readable.from(parts),
    createDecipheriv('aes-128-cbc', key, iv),
    createGunzip(),
    new Writable({
      write(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        done();
      },
    }),
  );
  return hash.digest('hex');
}

/** The image's block device mappings from the manifest: `root` names the root device, `ami` is implied, the rest are instance stores. */
function mappingsFrom(manifest: Manifest): { rootDeviceName: string; mappings: BlockDeviceRecord[] } {
  const entries = manifest.machineConfiguration?.blockDeviceMapping ?? [];
  const root = entries.find((m) => m.virtual === 'root')?.device ?? '/dev/sda1';
  const mappings = entries
    .filter((m) => m.virtual !== 'root' && m.virtual !== 'ami')
    .map((m) => ({ deviceName: m.device.startsWith('/dev/') ? m.device : `/dev/${m.device}`, virtualName: m.virtual }));
  return { rootDeviceName: root, mappings };
}

/**
 * The local EC2's instance-store RegisterImage, as EC2 does it: reads the manifest from S3
 * (it must exist and grant EC2 READ: the canned ACL `aws-exec-read`), unwraps the bundle key
 * with EC2's private key, reads every part (present, readable by EC2, SHA-1 as in the manifest),
 * decrypts and decompresses them and compares the tar stream's SHA-1 with `image/digest`. The
 * signature is not checked: EC2 does not know the user's certificate. Then registers a pending
 * instance-store image that becomes available like any other.
 */
export function makeRegisterFromImageLocation(opts: RegisterFromImageLocationOptions): RegisterFromImageLocation {
  const s3 = (): S3Service => (typeof opts.s3 === 'function' ? opts.s3() : opts.s3);
  return async (ctx, imageLocation) => {
    const { bucket, key } = splitLocation(imageLocation);
    const object = s3().getObject(bucket, key);
    if (object === undefined)
      throw invalidValue(`Value (${imageLocation}) for parameter imageLocation is invalid. The manifest does not exist`);
    if (!object.ec2Readable) {
      throw invalidValue(
        `Value (${imageLocation}) for parameter imageLocation is invalid. The manifest is not readable by EC2 (upload it with the canned ACL aws-exec-read)`,
      );
    }
    let manifest: Manifest;
    try {
      manifest = parseManifest(object.body.toString('utf8'));
    } catch (e) {
      throw invalidManifest(`Invalid manifest ${imageLocation}: ${e instanceof Error ? e.message : String(e)}`);
    }
    let bundleKey: { key: Buffer; iv: Buffer };
    try {
      bundleKey = unwrapBundleKey(manifest.image, typeof opts.ec2KeyPem === 'function' ? await opts.ec2KeyPem() : opts.ec2KeyPem, 'ec2');
    } catch (e) {
      if (!(e instanceof BundleError)) throw e;
      throw invalidManifest(
        `Invalid manifest ${imageLocation}: EC2 cannot decrypt the image key (was the bundle made with this partition's EC2 certificate?)`,
      );
    }
    const dir = key.slice(0, key.lastIndexOf('/') + 1);
    const parts: Buffer[] = [];
    for (const part of manifest.image.parts) {
      if (part.filename.includes('/'))
        throw invalidManifest(`Invalid manifest ${imageLocation}: part file name ${part.filename} is not a plain name`);
      const partKey = `${bucket}/${dir}${part.filename}`;
      const o = s3().getObject(bucket, dir + part.filename);
      if (o === undefined) throw invalidManifest(`Invalid manifest ${imageLocation}: image part ${partKey} does not exist`);
      if (!o.ec2Readable) throw invalidValue(`Image part ${partKey} is not readable by EC2 (upload it with the canned ACL aws-exec-read)`);
      const digest = createHash('sha1').update(o.body).digest('hex');
      if (digest !== part.digest)
        throw invalidManifest(
          `Invalid manifest ${imageLocation}: image part ${partKey} has SHA-1 ${digest}, the manifest says ${part.digest}`,
        );
      parts.push(o.body);
    }
    const bundled = parts.reduce((n, b) => n + b.length, 0);
    if (bundled !== manifest.image.bundledSize) {
      throw invalidManifest(
        `Invalid manifest ${imageLocation}: the parts hold ${bundled} bytes, bundled_size says ${manifest.image.bundledSize}`,
      );
    }
    let digest: string;
    try {
      digest = await tarDigest(parts, bundleKey.key, bundleKey.iv);
    } catch (e) {
      throw invalidManifest(
        `Invalid manifest ${imageLocation}: the image does not decrypt (${e instanceof Error ? e.message : String(e)})`,
      );
    }
    if (digest !== manifest.image.digest) {
      throw invalidManifest(
        `Invalid manifest ${imageLocation}: the image's SHA-1 is ${digest}, the manifest says ${manifest.image.digest}`,
      );
    }

    // Validated: register (re-checking the name, which another call may have taken meanwhile).
    const { p, rs } = ctx;
    const name = p.required('Name');
    checkNameFree(rs, name);
    const architecture = p.str('Architecture') ?? manifest.machineConfiguration?.architecture ?? 'i386';
    const virtualizationType = p.str('VirtualizationType') ?? 'paravirtual';
    if (virtualizationType !== 'hvm' && virtualizationType !== 'paravirtual') {
      throw invalidValue(`Invalid value '${virtualizationType}' for VirtualizationType. Expecting one of hvm, paravirtual`);
    }
    const { rootDeviceName, mappings } = mappingsFrom(manifest);
    const description = p.str('Description');
    const tagSpecs = parseTagSpecifications(p, ['image']);
    const image: ImageRecord = newImage(ctx, {
      name,
      kind: 'register',
      architecture,
      rootDeviceType: 'instance-store',
      rootDeviceName: p.str('RootDeviceName') ?? rootDeviceName,
      imageLocation,
      imageType: manifest.image.type,
      virtualizationType,
      enaSupport: p.bool('EnaSupport') ?? false,
      blockDeviceMappings: mappings,
      availableAtMs: ctx.now + ctx.durations.imageAvailableAfterMs,
      ...(description !== undefined ? { description } : {}),
    });
    addTags(image.tags, tagSpecs.image ?? {});
    rs.images[image.imageId] = image;
    ctx.world.schedule();
    return image.imageId;
  };
}
