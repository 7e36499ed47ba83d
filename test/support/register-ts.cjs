// Lets a `node` process run the repository's TypeScript directly, as jest does for the tests: a service's sources
// in a test's child process, the chaos drill, the demos and the benchmark (scripts/), e.g.
//   node -r ./test/support/register-ts.cjs services/orders/src/main.ts
// .ts files are compiled with swc; `@outbox-relay/<pkg>` resolves to services/<pkg>/src/mod.ts (`/internal` to
// src/internal.ts), `@outbox-relay/test-support` to test/support/mod.ts.
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');
const { transformSync } = require('@swc/core');

const root = path.resolve(__dirname, '..', '..');

require.extensions['.ts'] = (module, filename) => {
  const { code } = transformSync(fs.readFileSync(filename, 'utf8'), {
    filename,
    jsc: { target: 'es2022', parser: { syntax: 'typescript' } },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  });
  module._compile(code, filename);
};

const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  const workspace = /^@outbox-relay\/([a-z-]+)(\/internal)?$/.exec(request);
  const target =
    request === '@outbox-relay/test-support'
      ? path.join(root, 'test', 'support', 'mod.ts')
      : workspace
        ? path.join(root, 'services', workspace[1], 'src', workspace[2] ? 'internal.ts' : 'mod.ts')
        : request;
  return resolve.call(this, target, ...rest);
};
