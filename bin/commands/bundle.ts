import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bundleImage, parseBlockDeviceMapping } from '../../functions/lib/bundle/bundle.js';
import type { Architecture } from '../../functions/lib/bundle/constants.js';
import { BundleError, BundleInputError } from '../../functions/lib/bundle/errors.js';
import { formatBytes, formatRate, progressLine } from '../../functions/lib/bundle/progress.js';
import { directorySink } from '../../functions/lib/bundle/storage.js';
import { PROJECT_ROOT } from '../../local/paths.js';
import { parseOptions, usageError } from './_options.js';

export const summary = 'Bundle an image file into encrypted parts and a signed manifest (ec2-bundle-image)';

const HELP = `usage: ami-factory bundle -i IMAGE -c CERT -k PRIVATEKEY -u ACCOUNT -r ARCH -d DIR [options]

Bundles an image file as an instance-store AMI bundle (manifest 2007-10-10): tar (sparse),
gzip -9 (parallel), AES-128-CBC, 10 MiB parts and a manifest signed with the private key.
  -i, --image FILE            the image file (at most 10 GiB)
  -c, --cert FILE             the user's X.509 certificate (PEM)
  -k, --privatekey FILE       the user's private key (PEM), signs the manifest
  -u, --user ACCOUNT          the 12-digit AWS account number
  -r, --arch ARCH             i386 or x86_64
  -d, --destination DIR       where the parts and the manifest are written
  -p, --prefix NAME           bundle name (default: the image's file name)
      --ec2cert FILE          EC2's certificate for the target partition (PEM); default: the
                              local cloud's (.ami-factory/ec2-cert/cert.pem, created if needed)
  -B, --block-device-mapping MAP
                              virtual=device,... (default ami=sda1,root=/dev/sda1,ephemeral0=sda2,swap=sda3)
      --kernel ID             default kernel id        --ramdisk ID   default ramdisk id
      --productcodes CODES    comma-separated product codes
      --level N               gzip level 0-9 (default 9)
  -q, --quiet                 no progress (a bar on a terminal, a line every 5 s otherwise)
  -h, --help                  this help`;

const OPTIONS = {
  image: { type: 'string', short: 'i' },
  cert: { type: 'string', short: 'c' },
  privatekey: { type: 'string', short: 'k' },
  user: { type: 'string', short: 'u' },
  arch: { type: 'string', short: 'r' },
  destination: { type: 'string', short: 'd' },
  prefix: { type: 'string', short: 'p' },
  ec2cert: { type: 'string' },
  'block-device-mapping': { type: 'string', short: 'B' },
  kernel: { type: 'string' },
  ramdisk: { type: 'string' },
  productcodes: { type: 'string' },
  level: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;

function usage(message: string): number {
  return usageError('bundle', message);
}

function readPem(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${flag} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

class UsageError extends Error {
  override name = 'UsageError';
}

export async function run(argv: string[]): Promise<number> {
  const values = parseOptions('bundle', HELP, argv, OPTIONS, ['image', 'cert', 'privatekey', 'user', 'arch', 'destination']);
  if (typeof values === 'number') return values;
  const image = values.image;
  const destination = values.destination;
  let level = 9;
  if (values.level !== undefined) {
    level = Number(values.level);
    if (!/^[0-9]$/.test(values.level)) return usage(`--level must be 0-9, got "${values.level}"`);
  }
  let certPem: string;
  let keyPem: string;
  let ec2CertPem: string;
  let bdm: Record<string, string> | undefined;
  try {
    certPem = readPem('--cert', values.cert);
    keyPem = readPem('--privatekey', values.privatekey);
    ec2CertPem =
      values.ec2cert !== undefined
        ? readPem('--ec2cert', values.ec2cert)
        : // Loaded only when needed: the X.509 generator is most of the command's start-up time.
          (await (await import('../../local/ec2/certificate.js')).localEc2Certificate(join(PROJECT_ROOT, '.ami-factory'))).certPem;
    bdm = values['block-device-mapping'] === undefined ? undefined : parseBlockDeviceMapping(values['block-device-mapping']);
  } catch (e) {
    if (e instanceof UsageError || e instanceof BundleError) return usage(e.message);
    throw e;
  }
  const progress = progressLine(process.stderr, 'bundling', undefined, undefined, { quiet: values.quiet === true });
  try {
    const result = await bundleImage({
      image,
      ...(values.prefix === undefined ? {} : { name: values.prefix }),
      user: values.user,
      architecture: values.arch as Architecture,
      userCertificate: certPem,
      privateKey: keyPem,
      ec2Certificate: ec2CertPem,
      sink: directorySink(destination),
      ...(bdm === undefined ? {} : { blockDeviceMapping: bdm }),
      ...(values.kernel === undefined ? {} : { kernelId: values.kernel }),
      ...(values.ramdisk === undefined ? {} : { ramdiskId: values.ramdisk }),
      ...(values.productcodes === undefined ? {} : { productCodes: values.productcodes.split(',').filter((c) => c !== '') }),
      gzip: { level },
      onProgress: (p) => progress.update(p.bytes, p.total),
    });
    const ms = progress.done();
    const size = result.manifest.image.size;
    console.log(
      `bundled ${image} (${formatBytes(size)}) in ${(ms / 1000).toFixed(1)} s, ${formatRate(size, ms)}: ` +
        `${result.parts.length} part${result.parts.length === 1 ? '' : 's'}, ${formatBytes(result.manifest.image.bundledSize)} → ${resolve(destination, result.manifestFileName)}`,
    );
    return 0;
  } catch (e) {
    progress.done();
    if (e instanceof BundleInputError) return usage(e.message);
    console.error(`ami-factory bundle: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    return 1;
  }
}
