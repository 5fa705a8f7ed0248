import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { directorySource, parseManifest, verifyManifestSignature, verifyParts } from '../../functions/lib/bundle/index.js';
import { formatBytes, progressLine } from '../../functions/lib/bundle/progress.js';
import { parseOptions, usageError } from './_common.js';

export const summary = "Check a bundle: manifest signature, every part's SHA-1 and the sizes";

const HELP = `usage: ami-factory verify-bundle -m MANIFEST -c CERT [-s DIR]

Exits 0 only when the manifest is well formed, its signature verifies against the
certificate, and every part is present with the right size and SHA-1.
  -m, --manifest FILE   the bundle's manifest (<name>.manifest.xml)
  -c, --cert FILE       the user's X.509 certificate (PEM)
  -s, --source DIR      directory holding the parts (default: the manifest's directory)
  -q, --quiet           no progress (a bar on a terminal, a line every 5 s otherwise)
  -h, --help            this help`;

const OPTIONS = {
  manifest: { type: 'string', short: 'm' },
  cert: { type: 'string', short: 'c' },
  source: { type: 'string', short: 's' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;

function usage(message: string): number {
  return usageError('verify-bundle', message);
}

export async function run(argv: string[]): Promise<number> {
  const values = parseOptions('verify-bundle', HELP, argv, OPTIONS, ['manifest', 'cert']);
  if (typeof values === 'number') return values;
  let manifestXml: string;
  let certPem: string;
  try {
    manifestXml = readFileSync(values.manifest, 'utf8');
    certPem = readFileSync(values.cert, 'utf8');
  } catch (e) {
    return usage(
      `cannot read ${(e as NodeJS.ErrnoException).path ?? 'file'}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  const progress = progressLine(process.stderr, 'verifying', undefined, undefined, { quiet: values.quiet === true });
  try {
    const manifest = parseManifest(manifestXml);
    verifyManifestSignature(manifest, certPem);
    const parts = await verifyParts(manifest, directorySource(values.source ?? dirname(values.manifest)), {
      onProgress: (bytes, total) => progress.update(bytes, total),
    });
    progress.done();
    console.log(
      `OK ${values.manifest}: signature verified, ${parts.length} part${parts.length === 1 ? '' : 's'} (${formatBytes(manifest.image.bundledSize)}) match their SHA-1 and sizes`,
    );
    return 0;
  } catch (e) {
    progress.done();
    console.error(`FAILED ${values.manifest}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    return 1;
  }
}
