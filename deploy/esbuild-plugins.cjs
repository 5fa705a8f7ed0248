'use strict';
/**
 * esbuild plugins for the functions' bundles (serverless.yml custom.esbuild.plugins; the local
 * cloud's source bundles load the same file). serverless-esbuild calls the export with the
 * serverless instance; the local cloud calls it with nothing.
 *
 * `sdkSchemaKeys`: the AWS SDK v3 clients describe every shape of their service in one module
 * (`dist-es/schemas/schemas_0.js`), with object keys written as computed properties of string
 * constants (`{ [_xN]: _iI }`). esbuild cannot prove such a key free of side effects, so it keeps
 * every shape: the EC2 client alone adds about 530 KB to each bundle. The plugin inlines those
 * constants (`{ "xmlName": "instanceId" }`), which changes nothing at run time, and tree-shaking
 * then drops the shapes a function never sends.
 *
 * The same plugin drops the schema module's registrations of the service's modeled errors
 * (`n0_registry.registerError(ParameterNotFound$, ParameterNotFound)`), and with them the error
 * classes and their schemas: SSM models 141 errors, 60 KB of each bundle with an SSM client.
 * An error the registry does not know is deserialized as the service's base exception
 * (`SSMServiceException`) with the response's error code as its `name`, its message, `$fault`
 * and `$metadata` — what the functions read (they match errors by name, never by class), and
 * what the retry strategy reads (throttling and transient errors are classified by name and
 * status). Only the modeled `$retryable` trait is lost, which none of the errors the functions
 * meet relies on (throttling is retried by name).
 *
 * `zodWithoutJsonSchema`: zod's classic schemas reference its JSON Schema generator (18 KB) from
 * every schema class; no function generates JSON Schema. The generator's two modules are
 * replaced by exports that refuse to run, saying so.
 *
 * `yamlAsJson`: the zips carry factory.config.yml as its JSON rendering (deploy/config-json.cjs),
 * so the functions' `yaml` is a `parse` that is `JSON.parse` (112 KB less in the five bundles
 * that read the config).
 *
 * `lambdaCredentials`: every client's runtime config imports `defaultProvider` of
 * `@aws-sdk/credential-provider-node`, the whole default chain — environment, SSO, shared ini
 * files, credential_process, web identity token file, ECS/EC2 metadata — and, through SSO, STS
 * and the sign-in provider, the `@aws-sdk/nested-clients` with their JSON protocols: about
 * 120 KB minified per bundle. In Lambda the chain never gets past its first link: Lambda sets
 * the execution role's credentials as the reserved variables AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, and the chain only skips them when AWS_PROFILE
 * is set (no function of the template sets it; then the real chain fails too, finding no
 * profile file in Lambda). So the bundles get a `defaultProvider` that is that first link
 * (`fromEnv`, the SDK's own), with a named error for the AWS_PROFILE case. A process without
 * environment credentials fails with the SDK's CredentialsProviderError instead of looking
 * further. The local cloud gives each function its role's credentials the same way.
 *
 * `sourceMapsApart` (packaging only): the maps (`sourcemap: external`) hold every source in
 * `sourcesContent`, four times the bundle. They are moved out of esbuild's output before
 * serverless-esbuild zips it, into `<package dir>/sourcemaps/` beside the zips (`.serverless/`
 * after `osls package` or `deploy`): the build artefact `deploy/map-stack-trace.mjs` maps
 * CloudWatch's stack traces with. Without maps in the zip, NODE_OPTIONS=--enable-source-maps
 * would only slow every cold start, so the functions no longer set it.
 *
 * No maintained plugin does any of these (written here).
 */
const { copyFile, mkdir, readFile, rename, rm } = require('node:fs/promises');
const { dirname, isAbsolute, join, relative, resolve } = require('node:path');

const SCHEMA_MODULE = /[\\/]@aws-sdk[\\/]client-[^\\/]+[\\/]dist-es[\\/]schemas[\\/]schemas_\d+\.js$/;
const CONSTANT = /^const (_[A-Za-z0-9_$]+) = ("(?:[^"\\]|\\.)*");$/gm;

function inlineComputedKeys(source) {
  const constants = new Map();
  for (const m of source.matchAll(CONSTANT)) constants.set(m[1], m[2]);
  return source.replace(/\[(_[A-Za-z0-9_$]+)\]:/g, (whole, name) => (constants.has(name) ? `${constants.get(name)}:` : whole));
}

/** `n0_registry.registerError(ParameterNotFound$, ParameterNotFound);` — a modeled error's registration. */
const MODELED_ERROR = /^(n\d+_registry)\.registerError\([A-Za-z0-9_$]+\$, [A-Za-z0-9_$]+\);$/gm;

function withoutModeledErrors(source) {
  return source.replace(MODELED_ERROR, '');
}

const sdkSchemaKeys = {
  name: 'sdk-schema-keys',
  setup(build) {
    build.onLoad({ filter: SCHEMA_MODULE }, async (args) => ({
      contents: withoutModeledErrors(inlineComputedKeys(await readFile(args.path, 'utf8'))),
      loader: 'js',
    }));
  },
};

/** zod's JSON Schema generation: two modules every classic schema references, never called by a function. */
const ZOD_JSON_SCHEMA = /[\\/]zod[\\/]v4[\\/]core[\\/](json-schema-processors|to-json-schema)\.js$/;

/** The exported names of an ES module's source (`export const|function|class X`, `export { a as b }`). */
function exportedNames(source) {
  const names = new Set();
  for (const m of source.matchAll(/^export (?:const|let|var|function\*?|async function|class) ([A-Za-z0-9_$]+)/gm)) names.add(m[1]);
  for (const m of source.matchAll(/^export \{([^}]*)\}/gm))
    for (const part of m[1].split(',')) {
      const name = part
        .trim()
        .split(/\s+as\s+/)
        .pop();
      if (name) names.add(name);
    }
  return [...names];
}

/**
 * The same exports, each refusing to run and saying why; the method factories every schema
 * calls when it is built (`create…Method`) return such a refusing method instead.
 */
function jsonSchemaStandIn(source) {
  const lines = [
    "const refuse = () => { throw new Error('zod JSON Schema generation is not in this bundle (deploy/esbuild-plugins.cjs)'); };",
  ];
  for (const name of exportedNames(source))
    lines.push(`export const ${name} = ${/^create\w*Method$/.test(name) ? '() => refuse' : 'refuse'};`);
  return lines.join('\n');
}

const zodWithoutJsonSchema = {
  name: 'zod-without-json-schema',
  setup(build) {
    build.onLoad({ filter: ZOD_JSON_SCHEMA }, async (args) => ({
      contents: jsonSchemaStandIn(await readFile(args.path, 'utf8')),
      loader: 'js',
    }));
  },
};

/**
 * The functions' `yaml`: the packaged factory.config.yml is JSON (deploy/config-json.cjs writes
 * it so), and JSON is YAML, so its `parse` is `JSON.parse`. A file that is not JSON (a config
 * put in the package some other way) is refused with a message saying so.
 */
const YAML_STAND_IN = `
export class PackagedConfigError extends Error {
  name = 'PackagedConfigError';
}
export function parse(text) {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new PackagedConfigError('the packaged factory.config.yml must be its JSON rendering (osls package writes it so: deploy/config-json.cjs); ' + e.message, { cause: e });
  }
}
`;

const YAML_NAMESPACE = 'packaged-yaml';

const yamlAsJson = {
  name: 'yaml-as-json',
  setup(build) {
    build.onResolve({ filter: /^yaml$/ }, () => ({ path: 'yaml', namespace: YAML_NAMESPACE }));
    build.onLoad({ filter: /.*/, namespace: YAML_NAMESPACE }, () => ({ contents: YAML_STAND_IN, loader: 'js' }));
  },
};

/**
 * `@smithy/core/event-streams`: S3's client config and every protocol (through a dynamic
 * import) reference the event stream codec, 10–15 KB of each bundle; no function calls an
 * operation with an event stream (S3 SelectObjectContent and the like). The stand-in keeps the
 * module's exports: the config resolver still runs when a client is made, and the marshaller it
 * installs, like every other export, refuses to be used, saying why.
 */
const EVENT_STREAMS_STAND_IN_HEAD = `
const refuse = () => { throw new Error('event streams are not in this bundle (deploy/esbuild-plugins.cjs)'); };
export const eventStreamSerdeProvider = () => new Proxy({}, { get: (_, key) => (key === 'then' ? undefined : refuse) });
export const resolveEventStreamSerdeConfig = (input) =>
  Object.assign(input, { eventStreamMarshaller: input.eventStreamSerdeProvider(input) });
`;
const EVENT_STREAMS_NAMESPACE = 'no-event-streams';

function eventStreamsStandIn(indexSource) {
  const defined = new Set(['eventStreamSerdeProvider', 'resolveEventStreamSerdeConfig']);
  const lines = [EVENT_STREAMS_STAND_IN_HEAD];
  for (const name of exportedNames(indexSource)) if (!defined.has(name)) lines.push(`export const ${name} = refuse;`);
  return lines.join('\n');
}

const noEventStreams = {
  name: 'no-event-streams',
  setup(build) {
    build.onResolve({ filter: /^@smithy\/core\/event-streams$/ }, async (args) => {
      // The resolution below asks esbuild again; that inner request gets the real path.
      if (args.pluginData?.real === true) return undefined;
      const real = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: { real: true } });
      if (real.errors.length > 0) return { errors: real.errors };
      return { path: real.path, namespace: EVENT_STREAMS_NAMESPACE };
    });
    build.onLoad({ filter: /.*/, namespace: EVENT_STREAMS_NAMESPACE }, async (args) => ({
      contents: eventStreamsStandIn(await readFile(args.path, 'utf8')),
      loader: 'js',
    }));
  },
};

/** The module that stands in for `@aws-sdk/credential-provider-node` (its three exports). */
// The factory's one clock (functions/lib/clock.ts): the stand-in is product code in every bundle,
// and on the local cloud the time is the simulated clock's.
const CLOCK_MODULE = join(__dirname, '..', 'functions', 'lib', 'clock.ts');

const ENVIRONMENT_CREDENTIALS = `
import { fromEnv } from '@aws-sdk/credential-provider-env';
import { clock } from ${JSON.stringify(CLOCK_MODULE)};
import { CredentialsProviderError } from '@smithy/core/config';
export const defaultProvider = (init = {}) => {
  const fromEnvironment = fromEnv(init);
  return async () => {
    const profile = init.profile ?? process.env.AWS_PROFILE;
    if (profile) {
      throw new CredentialsProviderError(
        'AWS_PROFILE is set (' + profile + '): these bundles read the execution role\\'s credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN only',
        { logger: init.logger, tryNextLink: false },
      );
    }
    return fromEnvironment();
  };
};
export const credentialsWillNeedRefresh = (credentials) => credentials?.expiration !== undefined;
export const credentialsTreatedAsExpired = (credentials) =>
  credentials?.expiration !== undefined && credentials.expiration.getTime() - clock().now() < 300000;
`;

const CREDENTIALS_NAMESPACE = 'lambda-credentials';

const lambdaCredentials = {
  name: 'lambda-credentials',
  setup(build) {
    // The stand-in resolves its imports from the importing client's directory, so it uses the
    // same copies of credential-provider-env and @smithy/core the client would have used.
    build.onResolve({ filter: /^@aws-sdk\/credential-provider-node$/ }, (args) => ({
      path: args.resolveDir,
      namespace: CREDENTIALS_NAMESPACE,
    }));
    build.onLoad({ filter: /.*/, namespace: CREDENTIALS_NAMESPACE }, (args) => ({
      contents: ENVIRONMENT_CREDENTIALS,
      resolveDir: args.path,
      loader: 'js',
    }));
  },
};

/**
 * Moves each build's `.map` outputs out of esbuild's output directory into `mapsDir`, at the
 * path the bundle has in the zip. serverless-esbuild builds one entry at a time and writes it
 * to `<build dir>/<the entry's directory>`, so that path is the entry's directory joined with
 * the file's path below the output directory.
 */
function sourceMapsApart(mapsDir) {
  return {
    name: 'source-maps-apart',
    setup(build) {
      build.initialOptions.metafile = true;
      const cwd = build.initialOptions.absWorkingDir ?? process.cwd();
      const outdir = resolve(cwd, build.initialOptions.outdir ?? '.');
      const entries = build.initialOptions.entryPoints;
      const entry = Array.isArray(entries) && entries.length === 1 && typeof entries[0] === 'string' ? entries[0] : undefined;
      const prefix = entry === undefined ? '' : dirname(isAbsolute(entry) ? relative(cwd, entry) : entry);
      build.onEnd(async (result) => {
        if (result.errors.length > 0 || result.metafile === undefined) return;
        for (const out of Object.keys(result.metafile.outputs)) {
          if (!out.endsWith('.map')) continue;
          const from = resolve(cwd, out);
          const to = join(mapsDir, prefix, relative(outdir, from));
          await mkdir(dirname(to), { recursive: true });
          await move(from, to);
        }
      });
    },
  };
}

async function move(from, to) {
  try {
    await rename(from, to);
  } catch (e) {
    if (e.code !== 'EXDEV') throw e;
    await copyFile(from, to);
    await rm(from);
  }
}

/**
 * Where osls gathers a package: `<service>/.serverless`, whatever `--package` says (it moves
 * the directory's contents there at the end, and `deploy --package` copies them back).
 */
function packageDir(serverless) {
  return join(serverless.serviceDir ?? process.cwd(), '.serverless');
}

/** The plugins: `serverless` given (packaging), the maps go beside the zips; otherwise they stay beside the bundles. */
function plugins(serverless) {
  const all = [sdkSchemaKeys, lambdaCredentials, zodWithoutJsonSchema, yamlAsJson, noEventStreams];
  if (serverless !== undefined) all.push(sourceMapsApart(join(packageDir(serverless), 'sourcemaps')));
  return all;
}

module.exports = plugins;
module.exports.inlineComputedKeys = inlineComputedKeys;
module.exports.sourceMapsApart = sourceMapsApart;
