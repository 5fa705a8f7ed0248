import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { BundleError, BundleInputError, directorySource, parseManifest, unbundle } from '../../functions/lib/bundle/index.js';
import { formatBytes, formatRate, progressLine } from '../../functions/lib/bundle/progress.js';
import { parseOptions, usageError } from './_common.js';

export const summary = 'Rebuild the image file from a bundle, checking signature and digests (ec2-unbundle)';

const HELP = `usage: ami-factory unbundle -m MANIFEST -k PRIVATEKEY [-s DIR] [-d DIR] [-c CERT]

Unwraps the bundle key with the private key, checks the manifest signature and every part's
SHA-1, then decrypts, gunzips and extracts the image (holes stay holes), checking the tar
stream's SHA-1 against the manifest. Nothing is left behind on failure.
  -m, --manifest FILE     the bundle's manifest (<name>.manifest.xml)
  -k, --privatekey FILE   the user's private key (PEM)
  -s, --source DIR        directory holding the parts (default: the manifest's directory)
  -d, --destination DIR   where the image is written (default: the current directory)
  -c, --cert FILE         check the signature against this certificate (default: the private key's public half)
  -q, --quiet             no progress (a bar on a terminal, a line every 5 s otherwise)
  -h, --help              this help`;

const OPTIONS = {
  manifest: { type: 'string', short: 'm' },
  privatekey: { type: 'string', short: 'k' },
  source: { type: 'string', short: 's' },
  destination: { type: 'string', short: 'd' },
  cert: { type: 'string', short: 'c' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;

function usage(message: string): number {
  return usageError('unbundle', message);
}

function readText(flag: string, file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    usage(`cannot read ${flag} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    return undefined;
  }
}

export async function run(argv: string[]): Promise<number> {
  const values = parseOptions('unbundle', HELP, argv, OPTIONS, ['manifest', 'privatekey']);
  if (typeof values === 'number') return values;
  const manifestXml = readText('--manifest', values.manifest);
  const keyPem = readText('--privatekey', values.privatekey);
  const certPem = values.cert === undefined ? undefined : readText('--cert', values.cert);
  if (manifestXml === undefined || keyPem === undefined || (values.cert !== undefined && certPem === undefined)) return 2;
  const progress = progressLine(process.stderr, 'unbundling', undefined, undefined, { quiet: values.quiet === true });
  try {
    const manifest = parseManifest(manifestXml);
    const result = await unbundle({
      manifest,
      source: directorySource(values.source ?? dirname(values.manifest)),
      privateKey: keyPem,
      destination: values.destination ?? '.',
      ...(certPem === undefined ? {} : { certificate: certPem }),
      onProgress: (bytes, total) => progress.update(bytes, total),
    });
    const ms = progress.done();
    console.log(
      `unbundled ${result.path} (${formatBytes(result.member.size)}${result.member.sparse ? ', sparse' : ''}) in ${(ms / 1000).toFixed(1)} s, ` +
        `${formatRate(result.member.size, ms)}: signature, ${manifest.image.parts.length} part digests and the image digest verified`,
    );
    return 0;
  } catch (e) {
    progress.done();
    if (e instanceof BundleInputError) return usage(e.message);
    if (e instanceof BundleError) {
      console.error(`ami-factory unbundle: ${e.name}: ${e.message}`);
      return 1;
    }
    console.error(`ami-factory unbundle: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    return 1;
  }
}
