'use strict';
/**
 * An osls plugin: the `factory.config.yml` each zip carries (serverless.yml `package.patterns`)
 * is written as JSON, the YAML document's data with nothing else, so the functions' bundles
 * need no YAML parser. JSON is YAML (1.2), so the file keeps its name and stays a valid YAML
 * file for anyone who opens the zip; the functions parse it with `JSON.parse` (the bundles'
 * `yaml` is the stand-in in deploy/esbuild-plugins.cjs). The `yaml` package is 112 KB of each
 * bundle that reads the config — the Slack endpoint, the triggers, planBuild, publish and
 * promote — and its compilation was a fifth of their cold import.
 *
 * serverless-esbuild copies the pattern files into its build directory and zips that directory
 * in one hook (`before:package:createDeploymentArtifacts`), so this plugin wraps the step of
 * that plugin that copies them (`copyExtras`): after the copy, the file in the build directory
 * is replaced by its JSON rendering. A YAML file that does not parse stops the packaging with
 * the parser's message (the functions would refuse it at every cold start).
 *
 * No maintained plugin converts packaged files (written here).
 */
const { existsSync, readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { parse } = require('yaml');

const CONFIG_FILE = 'factory.config.yml';

class ConfigJsonError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'ConfigJsonError';
  }
}

/** The JSON rendering of a YAML document (its data: comments, anchors and styles dropped). */
function configAsJson(text, file = CONFIG_FILE) {
  let doc;
  try {
    doc = parse(text);
  } catch (e) {
    throw new ConfigJsonError(`${file} is not valid YAML: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  return `${JSON.stringify(doc, null, 1)}\n`;
}

/** Rewrites `<dir>/factory.config.yml` as JSON; false when the directory has none. */
function rewriteConfig(dir) {
  const path = join(dir, CONFIG_FILE);
  if (!existsSync(path)) return false;
  writeFileSync(path, configAsJson(readFileSync(path, 'utf8'), path));
  return true;
}

class ConfigJson {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      // Before serverless-esbuild's `before:package:createDeploymentArtifacts`, which bundles,
      // copies the pattern files and zips in one go.
      'package:initialize': () => this.wrapCopyExtras(),
    };
  }

  wrapCopyExtras() {
    const esbuild = this.serverless.pluginManager.plugins.find((p) =>
      ['bundle', 'copyExtras', 'pack'].every((m) => typeof p[m] === 'function'),
    );
    if (esbuild === undefined) throw new ConfigJsonError('serverless-esbuild is not loaded: nothing packs factory.config.yml');
    if (esbuild.copyExtras.configJson === true) return;
    const copyExtras = esbuild.copyExtras.bind(esbuild);
    const wrapped = async () => {
      await copyExtras();
      if (!rewriteConfig(esbuild.buildDirPath))
        throw new ConfigJsonError(`${CONFIG_FILE} was not copied into ${esbuild.buildDirPath} (serverless.yml package.patterns)`);
    };
    wrapped.configJson = true;
    esbuild.copyExtras = wrapped;
  }
}

module.exports = ConfigJson;
module.exports.configAsJson = configAsJson;
module.exports.rewriteConfig = rewriteConfig;
module.exports.ConfigJsonError = ConfigJsonError;
