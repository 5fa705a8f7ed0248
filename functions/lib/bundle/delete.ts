/**
 * Which storage keys belong to a bundle (ec2-delete-bundle): by manifest — the manifest key and
 * every part it lists, under the manifest's prefix — or by prefix — keys whose remainder after
 * `<prefix>` is `.part.<digits>` or `.manifest` / `.manifest.xml`.
 */
import { ManifestError } from './errors.js';
import { parseManifest, type Manifest } from './manifest.js';

const BUNDLE_KEY_SUFFIX = [/^\.part\.[0-9]+$/, /^\.manifest(\.xml)?$/];

export type BundleKeySelection =
  /** The manifest's own key (e.g. `images/web.manifest.xml`) and its content. */
  | { manifestKey: string; manifest: Manifest | string }
  /** A bundle prefix (e.g. `images/web`) and the keys listed under it. */
  | { prefix: string; keys: readonly string[] };

/** The keys to delete for a bundle, manifest last (it is what makes the bundle usable). */
export function deleteBundleKeys(selection: BundleKeySelection): string[] {
  if ('manifestKey' in selection) {
    const m = typeof selection.manifest === 'string' ? parseManifest(selection.manifest) : selection.manifest;
    const slash = selection.manifestKey.lastIndexOf('/');
    const dir = slash === -1 ? '' : selection.manifestKey.slice(0, slash + 1);
    const parts = m.image.parts.map((p) => {
      if (p.filename.includes('/') || p.filename === '' || p.filename === '.' || p.filename === '..') {
        throw new ManifestError(`manifest/image/parts/part[${p.index}]/filename`, `"${p.filename}" is not a plain file name`);
      }
      return dir + p.filename;
    });
    return [...new Set(parts)].filter((k) => k !== selection.manifestKey).concat(selection.manifestKey);
  }
  const { prefix, keys } = selection;
  const selected = keys.filter((k) => k.startsWith(prefix) && BUNDLE_KEY_SUFFIX.some((re) => re.test(k.slice(prefix.length))));
  const isManifest = (k: string): boolean => /^\.manifest(\.xml)?$/.test(k.slice(prefix.length));
  return [...selected.filter((k) => !isManifest(k)), ...selected.filter(isManifest)];
}
