// Loads the operator's TypeScript sources directly with @swc/core (already installed for jest), so generating the
// CRD never reads a stale dist/ and does not depend on the rest of the package compiling.
const fs = require('node:fs');
const swc = require('@swc/core');

function registerTypeScript() {
  require.extensions['.ts'] = (module, filename) => {
    const source = fs.readFileSync(filename, 'utf8');
    const { code } = swc.transformSync(source, {
      filename,
      jsc: { target: 'es2022', parser: { syntax: 'typescript' } },
      module: { type: 'commonjs' },
    });
    module._compile(code, filename);
  };
}

module.exports = { registerTypeScript };
