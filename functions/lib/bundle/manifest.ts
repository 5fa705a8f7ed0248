/**
 * The bundle manifest, version 2007-10-10: building (the compact serialization the EC2 AMI
 * tools write: `<?xml version='1.0'?>`, no whitespace, single-quoted attributes), signing
 * (RSA PKCS#1 v1.5 over SHA-1 of the literal `<machine_configuration>…</machine_configuration>`
 * text followed by the literal `<image>…</image>` text), strict parsing and verification.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import {
  ARCHITECTURES,
  CIPHER_ALGORITHM,
  DIGEST_ALGORITHM,
  IMAGE_TYPES,
  MANIFEST_VERSION,
  PART_SIZE,
  type Architecture,
  type BundlerInfo,
  type ImageType,
} from './constants.js';
import { BundleInputError, ManifestError, SignatureMismatchError } from './errors.js';
import { loadPrivateKey, loadPublicKey, type KeyInput } from './keys.js';
import { escapeAttribute, escapeText, parseXml, type XmlElement } from './xml.js';

export interface BlockDeviceMappingEntry {
  virtual: string;
  device: string;
}

export interface ManifestPart {
  index: number;
  filename: string;
  /** SHA-1 of the part, lowercase hex. */
  digest: string;
}

export interface MachineConfiguration {
  architecture?: Architecture;
  blockDeviceMapping: BlockDeviceMappingEntry[];
  kernelId?: string;
  ramdiskId?: string;
  productCodes: string[];
}

export interface ManifestImage {
  name: string;
  /** 12-digit account number. */
  user: string;
  type: ImageType;
  kernelName?: string;
  ancestorAmiIds: string[];
  /** SHA-1 of the uncompressed tar stream, lowercase hex. */
  digest: string;
  digestAlgorithm: typeof DIGEST_ALGORITHM;
  size: number;
  bundledSize: number;
  cipherAlgorithm: typeof CIPHER_ALGORITHM;
  ec2EncryptedKey: string;
  userEncryptedKey: string;
  ec2EncryptedIv: string;
  userEncryptedIv: string;
  parts: ManifestPart[];
}

/** What a manifest says, without its signature. */
export interface ManifestContent {
  version: typeof MANIFEST_VERSION;
  bundler?: Partial<BundlerInfo>;
  machineConfiguration?: MachineConfiguration;
  image: ManifestImage;
}

/** A parsed (or built) manifest, with its signature and the exact XML text it came from. */
export interface Manifest extends ManifestContent {
  /** Lowercase hex. */
  signature: string;
  xml: string;
}

const HEX = /^(?:[0-9a-f]{2})+$/;
const SHA1_HEX = /^[0-9a-f]{40}$/;
const ACCOUNT = /^[0-9]{12}$/;

/** A bundle or file name usable as one path segment (no separators, no control characters). */
export function assertPlainName(name: string, what: string): void {
  // eslint-disable-next-line no-control-regex
  if (name === '' || name === '.' || name === '..' || /[/\\\u0000-\u001f\u007f]/.test(name) || Buffer.byteLength(name) > 255) {
    throw new BundleInputError(`${what} "${name}" is not a plain file name`);
  }
}

/** `1234-5678-9012` or `123456789012` → `123456789012`; BundleInputError otherwise. */
export function normalizeAccountId(user: string): string {
  const digits = user.replace(/-/g, '');
  if (!ACCOUNT.test(digits)) throw new BundleInputError(`user must be a 12-digit AWS account number, got "${user}"`);
  return digits;
}

/** `<name>.part.<i>` with `i` zero-padded to the number of digits of `count`. */
export function partFileName(name: string, index: number, count: number): string {
  return `${name}.part.${String(index).padStart(String(count).length, '0')}`;
}

export function manifestFileName(name: string): string {
  return `${name}.manifest.xml`;
}

// --- building -----------------------------------------------------------------------------------

function el(name: string, content: string, attrs: Record<string, string> = {}): string {
  const a = Object.entries(attrs)
    .map(([k, v]) => ` ${k}='${escapeAttribute(v)}'`)
    .join('');
  return `<${name}${a}>${content}</${name}>`;
}

function opt(name: string, value: string | undefined): string {
  return value === undefined ? '' : el(name, escapeText(value));
}

function list<T>(outer: string, items: readonly T[], render: (item: T) => string): string {
  return items.length === 0 ? '' : el(outer, items.map(render).join(''));
}

/** The manifest XML without its `<signature>` element, in the tools' element order. */
export function serializeManifestContent(c: ManifestContent): string {
  const b = c.bundler;
  const bundler = b === undefined ? '' : el('bundler', opt('name', b.name) + opt('version', b.version) + opt('release', b.release));
  const mc = c.machineConfiguration;
  const machine =
    mc === undefined
      ? ''
      : el(
          'machine_configuration',
          opt('architecture', mc.architecture) +
            list('block_device_mapping', mc.blockDeviceMapping, (m) => el('mapping', opt('virtual', m.virtual) + opt('device', m.device))) +
            opt('kernel_id', mc.kernelId) +
            opt('ramdisk_id', mc.ramdiskId) +
            list('product_codes', mc.productCodes, (p) => opt('product_code', p)),
        );
  const i = c.image;
  const image = el(
    'image',
    opt('name', i.name) +
      opt('user', i.user) +
      opt('type', i.type) +
      opt('kernel_name', i.type === 'kernel' ? i.kernelName : undefined) +
      list('ancestry', i.ancestorAmiIds, (id) => opt('ancestor_ami_id', id)) +
      el('digest', i.digest, { algorithm: i.digestAlgorithm }) +
      opt('size', String(i.size)) +
      opt('bundled_size', String(i.bundledSize)) +
      el('ec2_encrypted_key', i.ec2EncryptedKey, { algorithm: i.cipherAlgorithm }) +
      el('user_encrypted_key', i.userEncryptedKey, { algorithm: i.cipherAlgorithm }) +
      opt('ec2_encrypted_iv', i.ec2EncryptedIv) +
      opt('user_encrypted_iv', i.userEncryptedIv) +
      el(
        'parts',
        i.parts
          .map((p) =>
            el('part', opt('filename', p.filename) + el('digest', p.digest, { algorithm: i.digestAlgorithm }), { index: String(p.index) }),
          )
          .join(''),
        { count: String(i.parts.length) },
      ),
  );
  return `<?xml version='1.0'?><manifest>${opt('version', c.version)}${bundler}${machine}${image}</manifest>`;
}

/**
 * The bytes the signature covers: the literal text from the first `<machine_configuration>` to
 * the first `</machine_configuration>` (empty when absent), then from `<image>` to `</image>`.
 */
export function signedText(xml: string): string {
  const slice = (tag: string): string | undefined => {
    const start = xml.indexOf(`<${tag}>`);
    const endTag = `</${tag}>`;
    const end = xml.indexOf(endTag);
    if (start === -1 || end === -1 || end < start) return undefined;
    return xml.slice(start, end + endTag.length);
  };
  const image = slice('image');
  if (image === undefined)
    throw new ManifestError('manifest/image', 'no <image>…</image> text to verify (the start tag must have no attributes)');
  return (slice('machine_configuration') ?? '') + image;
}

/** Signs serialized manifest content and appends the `<signature>` element. */
export function signManifestXml(unsignedXml: string, privateKey: KeyInput): { xml: string; signature: string } {
  const signature = sign('sha1', Buffer.from(signedText(unsignedXml), 'utf8'), loadPrivateKey(privateKey)).toString('hex');
  const close = '</manifest>';
  if (!unsignedXml.endsWith(close)) throw new ManifestError('manifest', 'serialized manifest does not end with </manifest>');
  return { xml: `${unsignedXml.slice(0, -close.length)}<signature>${signature}</signature>${close}`, signature };
}

/** Builds and signs a manifest; returns it as text and as the parsed object. */
export function buildManifestXml(content: ManifestContent, privateKey: KeyInput): Manifest {
  validateContent(content);
  const { xml, signature } = signManifestXml(serializeManifestContent(content), privateKey);
  return { ...content, signature, xml };
}

function validateContent(c: ManifestContent): void {
  // Build-time checks: what the parser would refuse must not be written.
  const i = c.image;
  assertPlainName(i.name, 'image name');
  normalizeAccountId(i.user);
  if (!SHA1_HEX.test(i.digest)) throw new BundleInputError('image digest must be 40 lowercase hex characters');
  if (i.type === 'kernel' && (i.kernelName === undefined || i.kernelName === ''))
    throw new BundleInputError('a kernel image needs a kernel name');
  i.parts.forEach((p, n) => {
    if (p.index !== n) throw new BundleInputError(`part ${n} has index ${p.index}`);
    assertPlainName(p.filename, 'part file name');
    if (!SHA1_HEX.test(p.digest)) throw new BundleInputError(`part ${n} digest must be 40 lowercase hex characters`);
  });
  for (const v of [i.ec2EncryptedKey, i.userEncryptedKey, i.ec2EncryptedIv, i.userEncryptedIv]) {
    if (!HEX.test(v)) throw new BundleInputError('encrypted keys and IVs must be lowercase hex');
  }
}

// --- parsing ------------------------------------------------------------------------------------

class Reader {
  constructor(
    readonly el: XmlElement,
    readonly path: string,
  ) {}

  children(name: string): Reader[] {
    const found = this.el.children.filter((c) => c.name === name);
    return found.map((c, i) => new Reader(c, `${this.path}/${name}${found.length > 1 || this.isList(name) ? `[${i}]` : ''}`));
  }

  private isList(name: string): boolean {
    return ['mapping', 'product_code', 'ancestor_ami_id', 'part'].includes(name);
  }

  optional(name: string): Reader | undefined {
    const found = this.children(name);
    if (found.length > 1) throw new ManifestError(`${this.path}/${name}`, `appears ${found.length} times`);
    return found[0];
  }

  required(name: string): Reader {
    const found = this.optional(name);
    if (found === undefined) throw new ManifestError(`${this.path}/${name}`, 'is missing');
    return found;
  }

  text(): string {
    if (this.el.children.length > 0) throw new ManifestError(this.path, 'must hold text, not elements');
    const t = this.el.text.trim();
    if (t === '') throw new ManifestError(this.path, 'is empty');
    return t;
  }

  requiredText(name: string): string {
    return this.required(name).text();
  }

  optionalText(name: string): string | undefined {
    return this.optional(name)?.text();
  }

  attribute(name: string): string {
    const v = this.el.attributes.get(name);
    if (v === undefined) throw new ManifestError(`${this.path}/@${name}`, 'is missing');
    return v.trim();
  }
}

function hexField(r: Reader, pattern: RegExp, what: string): string {
  const v = r.text().toLowerCase();
  if (!pattern.test(v)) throw new ManifestError(r.path, `is not ${what}`);
  return v;
}

function sizeField(r: Reader): number {
  const t = r.text();
  if (!/^[0-9]+$/.test(t) || !Number.isSafeInteger(Number(t))) throw new ManifestError(r.path, `"${t}" is not a byte count`);
  return Number(t);
}

function algorithm<T extends string>(r: Reader, expected: T): T {
  const a = r.attribute('algorithm');
  if (a.toUpperCase() !== expected) throw new ManifestError(`${r.path}/@algorithm`, `is "${a}", expected ${expected}`);
  return expected;
}

function oneOf<T extends string>(r: Reader, values: readonly T[]): T {
  const v = r.text();
  if (!(values as readonly string[]).includes(v)) throw new ManifestError(r.path, `is "${v}", expected one of ${values.join(', ')}`);
  return v as T;
}

function plainName(r: Reader): string {
  const v = r.text();
  try {
    assertPlainName(v, r.path);
  } catch (e) {
    throw new ManifestError(r.path, `"${v}" is not a plain file name`, { cause: e });
  }
  return v;
}

/**
 * Parses and validates manifest XML (version 2007-10-10). Every malformed or missing field is a
 * ManifestError naming its path (e.g. `manifest/image/parts/part[2]/digest`).
 */
export function parseManifest(xml: string): Manifest {
  const root = new Reader(parseXml(xml, 'manifest'), 'manifest');
  if (root.el.name !== 'manifest') throw new ManifestError('manifest', `root element is <${root.el.name}>, expected <manifest>`);
  const version = root.requiredText('version');
  if (version !== MANIFEST_VERSION) throw new ManifestError('manifest/version', `is "${version}", only ${MANIFEST_VERSION} is supported`);

  const b = root.optional('bundler');
  const bundler =
    b === undefined ? undefined : { name: b.optionalText('name'), version: b.optionalText('version'), release: b.optionalText('release') };

  const m = root.optional('machine_configuration');
  let machineConfiguration: MachineConfiguration | undefined;
  if (m !== undefined) {
    const arch = m.optional('architecture');
    const bdm = m.optional('block_device_mapping');
    const codes = m.optional('product_codes');
    machineConfiguration = {
      ...(arch === undefined ? {} : { architecture: oneOf(arch, ARCHITECTURES) }),
      blockDeviceMapping: (bdm?.children('mapping') ?? []).map((r) => ({
        virtual: r.requiredText('virtual'),
        device: r.requiredText('device'),
      })),
      ...(m.optional('kernel_id') === undefined ? {} : { kernelId: m.requiredText('kernel_id') }),
      ...(m.optional('ramdisk_id') === undefined ? {} : { ramdiskId: m.requiredText('ramdisk_id') }),
      productCodes: (codes?.children('product_code') ?? []).map((r) => r.text()),
    };
  }

  const i = root.required('image');
  const user = i.required('user');
  if (!ACCOUNT.test(user.text())) throw new ManifestError(user.path, `"${user.text()}" is not a 12-digit account number`);
  const type = oneOf(i.required('type'), IMAGE_TYPES);
  const digest = i.required('digest');
  const ec2Key = i.required('ec2_encrypted_key');
  const userKey = i.required('user_encrypted_key');
  const partsEl = i.required('parts');
  const countText = partsEl.attribute('count');
  if (!/^[0-9]+$/.test(countText)) throw new ManifestError(`${partsEl.path}/@count`, `"${countText}" is not a number`);
  const count = Number(countText);
  const partEls = partsEl.children('part');
  if (partEls.length !== count) throw new ManifestError(`${partsEl.path}/@count`, `says ${count} but there are ${partEls.length} parts`);
  if (count === 0) throw new ManifestError(partsEl.path, 'lists no part');
  const parts: ManifestPart[] = new Array<ManifestPart>(count);
  for (const p of partEls) {
    const indexText = p.attribute('index');
    const index = Number(indexText);
    if (!/^[0-9]+$/.test(indexText) || index >= count)
      throw new ManifestError(`${p.path}/@index`, `"${indexText}" is not an index below ${count}`);
    if (parts[index] !== undefined) throw new ManifestError(`${p.path}/@index`, `index ${index} appears twice`);
    const pd = p.required('digest');
    algorithm(pd, DIGEST_ALGORITHM);
    parts[index] = {
      index,
      filename: plainName(p.required('filename')),
      digest: hexField(pd, SHA1_HEX, 'a SHA-1 digest (40 hex characters)'),
    };
  }
  const kernelName = i.optionalText('kernel_name');
  if (type === 'kernel' && kernelName === undefined)
    throw new ManifestError('manifest/image/kernel_name', 'is required for a kernel image');
  const image: ManifestImage = {
    name: plainName(i.required('name')),
    user: user.text(),
    type,
    ...(kernelName === undefined ? {} : { kernelName }),
    ancestorAmiIds: (i.optional('ancestry')?.children('ancestor_ami_id') ?? []).map((r) => r.text()),
    digest: hexField(digest, SHA1_HEX, 'a SHA-1 digest (40 hex characters)'),
    digestAlgorithm: algorithm(digest, DIGEST_ALGORITHM),
    size: sizeField(i.required('size')),
    bundledSize: sizeField(i.required('bundled_size')),
    cipherAlgorithm: algorithm(ec2Key, CIPHER_ALGORITHM),
    ec2EncryptedKey: hexField(ec2Key, HEX, 'hex'),
    userEncryptedKey: hexField(userKey, HEX, 'hex'),
    ec2EncryptedIv: hexField(i.required('ec2_encrypted_iv'), HEX, 'hex'),
    userEncryptedIv: hexField(i.required('user_encrypted_iv'), HEX, 'hex'),
    parts,
  };
  algorithm(userKey, CIPHER_ALGORITHM);
  if (image.size === 0) throw new ManifestError('manifest/image/size', 'is 0: an image is never empty');
  const signature = hexField(root.required('signature'), HEX, 'hex');
  return {
    version: MANIFEST_VERSION,
    ...(bundler === undefined ? {} : { bundler }),
    ...(machineConfiguration === undefined ? {} : { machineConfiguration }),
    image,
    signature,
    xml,
  };
}

/** The size part `index` must have, from `bundled_size` and the part count. */
export function expectedPartSize(manifest: Pick<Manifest, 'image'>, index: number, partSize = PART_SIZE): number {
  const count = manifest.image.parts.length;
  const last = manifest.image.bundledSize - (count - 1) * partSize;
  if (last <= 0 || last > partSize) {
    throw new ManifestError(
      'manifest/image/bundled_size',
      `${manifest.image.bundledSize} bytes cannot be ${count} parts of ${partSize} bytes`,
    );
  }
  return index < count - 1 ? partSize : last;
}

/**
 * Verifies the manifest's signature against a certificate (or public key, or the user's private
 * key, whose public half is used). Throws SignatureMismatchError when it does not hold.
 */
export function verifyManifestSignature(manifest: Manifest | string, cert: KeyInput): void {
  const parsed = typeof manifest === 'string' ? parseManifest(manifest) : manifest;
  const key: KeyObject = loadPublicKey(cert);
  let ok: boolean;
  try {
    ok = verify('sha1', Buffer.from(signedText(parsed.xml), 'utf8'), key, Buffer.from(parsed.signature, 'hex'));
  } catch (e) {
    throw new SignatureMismatchError('the manifest signature cannot be checked with this certificate', { cause: e });
  }
  if (!ok)
    throw new SignatureMismatchError(
      "the manifest signature does not match: the manifest was changed or the certificate is not the signer's",
    );
}
