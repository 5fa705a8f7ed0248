'use strict';
/**
 * esbuild plugins for the functions' bundles (serverless.yml custom.esbuild.plugins; the local
 * cloud's source bundles load the same file).
 *
 * `sdkSchemaKeys`: the AWS SDK v3 clients describe every shape of their service in one module
 * (`dist-es/schemas/schemas_0.js`), with object keys written as computed properties of string
 * constants (`{ [_xN]: _iI }`). esbuild cannot prove such a key free of side effects, so it keeps
 * every shape: the EC2 client alone adds about 530 KB to each bundle. The plugin inlines those
 * constants (`{ "xmlName": "instanceId" }`), which changes nothing at run time, and tree-shaking
 * then drops the shapes a function never sends. No maintained plugin does this (written here).
 */
const { readFile } = require('node:fs/promises');

const SCHEMA_MODULE = /[\\/]@aws-sdk[\\/]client-[^\\/]+[\\/]dist-es[\\/]schemas[\\/]schemas_\d+\.js$/;
const CONSTANT = /^const (_[A-Za-z0-9_$]+) = ("(?:[^"\\]|\\.)*");$/gm;

function inlineComputedKeys(source) {
  const constants = new Map();
  for (const m of source.matchAll(CONSTANT)) constants.set(m[1], m[2]);
  return source.replace(/\[(_[A-Za-z0-9_$]+)\]:/g, (whole, name) => (constants.has(name) ? `${constants.get(name)}:` : whole));
}

const sdkSchemaKeys = {
  name: 'sdk-schema-keys',
  setup(build) {
    build.onLoad({ filter: SCHEMA_MODULE }, async (args) => ({
      contents: inlineComputedKeys(await readFile(args.path, 'utf8')),
      loader: 'js',
    }));
  },
};

module.exports = [sdkSchemaKeys];
module.exports.inlineComputedKeys = inlineComputedKeys;
