// What the browser bundle gets for Node's built-ins (node:fs, node:path, ...): the modules the
// training path imports touch them only for files, the native addon and the package version,
// none of which a page has. CommonJS, so that any named import resolves (to undefined).
module.exports = {
  existsSync: () => false,
  readFileSync: () => JSON.stringify({ version: 'browser' }), // src/version.ts reads package.json
  fileURLToPath: (url) => String(url),
  createRequire: () => () => { throw new Error('no native addon in a browser'); },
};
