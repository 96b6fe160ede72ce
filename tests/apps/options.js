'use strict';
// Command-line options of the apps: `--name value` wins over the environment variable, which wins over the default.

function option(name, envName, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  if (at !== -1 && at + 1 < process.argv.length) return process.argv[at + 1];
  if (envName && process.env[envName] !== undefined && process.env[envName] !== '') return process.env[envName];
  return fallback;
}

module.exports = { option };
