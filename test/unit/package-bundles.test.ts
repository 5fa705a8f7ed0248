import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { parse } from 'yaml';
import { ensurePackaged, type PackagedStack } from '../../local/template/package.js';

/**
 * What `osls package` ships: one small zip per function holding a minified ESM bundle and the
 * factory config, no source map and no inlined source (the maps are kept beside the zips), the
 * error class names Step Functions matches, and only the environment link of the credential
 * chain.
 */
const MAX_ZIP_BYTES = 300 * 1024;
const decoder = new TextDecoder();

interface Zip {
  name: string;
  bytes: number;
  files: Record<string, Uint8Array>;
}

function errorNamesTheStateMachinesMatch(): string[] {
  const names = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node !== null && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        if (k === 'ErrorEquals' && Array.isArray(v)) v.forEach((n) => typeof n === 'string' && names.add(n));
        else visit(v);
      }
    }
  };
  for (const f of readdirSync('statemachines')) visit(parse(readFileSync(join('statemachines', f), 'utf8')));
  return [...names];
}

function factoryErrorClasses(dir = 'functions'): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return factoryErrorClasses(path);
    if (!e.name.endsWith('.ts')) return [];
    return [...readFileSync(path, 'utf8').matchAll(/class (\w+Error) extends/g)].map((m) => m[1] as string);
  });
}

describe('packaged function bundles', () => {
  let pkg: PackagedStack;
  let zips: Zip[];
  let functionCount: number;

  beforeAll(async () => {
    pkg = await ensurePackaged({ projectRoot: process.cwd() });
    functionCount = Object.values(pkg.template.Resources ?? {}).filter((r) => r.Type === 'AWS::Lambda::Function').length;
    zips = readdirSync(pkg.dir)
      .filter((f) => f.endsWith('.zip'))
      .map((f) => {
        const path = join(pkg.dir, f);
        return { name: f, bytes: statSync(path).size, files: unzipSync(readFileSync(path)) };
      });
  });

  it('does package one zip per function', () => {
    expect(functionCount).toBeGreaterThan(0);
    expect(zips).toHaveLength(functionCount);
  });

  it('does keep every zip within 300 KB', () => {
    const tooBig = zips.filter((z) => z.bytes > MAX_ZIP_BYTES).map((z) => `${z.name}: ${z.bytes} B`);
    expect(tooBig).toEqual([]);
  });

  it('does ship one minified ESM bundle and the config per zip, with no source map or inlined source', () => {
    for (const zip of zips) {
      const paths = Object.keys(zip.files).filter((p) => !p.endsWith('/'));
      expect({ zip: zip.name, others: paths.filter((p) => !p.endsWith('.mjs') && p !== 'factory.config.yml') }).toEqual({
        zip: zip.name,
        others: [],
      });
      const bundles = paths.filter((p) => p.endsWith('.mjs'));
      expect({ zip: zip.name, bundles: bundles.length }).toEqual({ zip: zip.name, bundles: 1 });
      const text = decoder.decode(zip.files[bundles[0] as string]);
      expect({ zip: zip.name, sourcesContent: text.includes('sourcesContent'), mapUrl: text.includes('sourceMappingURL') }).toEqual({
        zip: zip.name,
        sourcesContent: false,
        mapUrl: false,
      });
      // Minified: long lines (a readable bundle averages under 60 characters a line); ESM: it exports the handler.
      const perLine = text.length / text.split('\n').length;
      expect({ zip: zip.name, minified: perLine > 1000, esm: /export\s*\{[^}]*\bhandler\b/.test(text) }).toEqual({
        zip: zip.name,
        minified: true,
        esm: true,
      });
    }
  });

  it('does keep every bundle’s source map, with its sources, beside the zips', () => {
    for (const zip of zips) {
      const bundle = Object.keys(zip.files).find((p) => p.endsWith('.mjs')) as string;
      const map = join(pkg.dir, 'sourcemaps', `${bundle}.map`);
      expect({ map, exists: existsSync(map) }).toEqual({ map, exists: true });
      const parsed = JSON.parse(readFileSync(map, 'utf8')) as { sources: string[]; sourcesContent?: string[] };
      expect(parsed.sources.some((s) => s.endsWith(`${bundle.replace(/\.mjs$/, '')}.ts`))).toBe(true);
      expect(parsed.sourcesContent?.length).toBe(parsed.sources.length);
    }
  });

  it('does keep the names of the factory errors (their name fields: Step Functions matches them, reports name them)', () => {
    const classes = new Set(factoryErrorClasses());
    const matched = errorNamesTheStateMachinesMatch().filter((n) => classes.has(n));
    expect(matched.length).toBeGreaterThan(0);
    const texts = new Map(
      zips.map((z) => [
        z.name,
        Object.values(z.files)
          .map((f) => decoder.decode(f))
          .join('\n'),
      ]),
    );
    const lost = matched.filter((name) => ![...texts.values()].some((t) => t.includes(`"${name}"`)));
    expect(lost).toEqual([]);
    expect(texts.get('bundleImage.zip')).toContain('"BundleTooSlowError"');
    for (const [zip, text] of texts)
      expect({ zip, configurationError: text.includes('"ConfigurationError"') }).toEqual({ zip, configurationError: true });
  });

  it('does carry only the environment link of the credential chain', () => {
    for (const zip of zips) {
      const text = Object.values(zip.files)
        .map((f) => decoder.decode(f))
        .join('\n');
      // A function that sends no AWS request (decideGates reads only the config) has no credential chain at all.
      const sendsRequests = text.includes('AWS_ACCESS_KEY_ID');
      expect(sendsRequests || zip.name === 'decideGates.zip').toBe(true);
      expect({
        zip: zip.name,
        sso: text.includes('Skipping SSO provider in default chain'),
        webIdentity: text.includes('AWS_WEB_IDENTITY_TOKEN_FILE'),
        container: text.includes('AWS_CONTAINER_CREDENTIALS_FULL_URI'),
        standIn: text.includes('these bundles read the execution role'),
      }).toEqual({ zip: zip.name, sso: false, webIdentity: false, container: false, standIn: sendsRequests });
    }
  });

  it('does carry the factory config as its JSON rendering, the same data as factory.config.yml', () => {
    const expected = parse(readFileSync('factory.config.yml', 'utf8')) as unknown;
    for (const zip of zips) {
      const file = zip.files['factory.config.yml'];
      expect({ zip: zip.name, config: file === undefined ? undefined : (JSON.parse(decoder.decode(file)) as unknown) }).toEqual({
        zip: zip.name,
        config: expected,
      });
    }
  });

  it('does leave out the YAML parser, zod’s JSON Schema generator and the SDK’s modeled error classes', () => {
    for (const zip of zips) {
      const bundle = Object.entries(zip.files).find(([p]) => p.endsWith('.mjs'));
      const text = decoder.decode(bundle?.[1]);
      expect({
        zip: zip.name,
        // Messages of the yaml package's parser and of zod's to-json-schema.js.
        yamlParser: text.includes('Implicit keys need to be on a single line'),
        jsonSchema: text.includes('Unprocessed schema. This is a bug in Zod.'),
        // An SSM and an SFN error class no function names.
        modeledErrors: text.includes('OpsItemRelatedItemAssociationNotFoundException') || text.includes('ExecutionLimitExceeded'),
      }).toEqual({ zip: zip.name, yamlParser: false, jsonSchema: false, modeledErrors: false });
    }
  });
});
