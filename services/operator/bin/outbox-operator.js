#!/usr/bin/env node
// The `outbox-operator` command that npm links into node_modules/.bin. npm links a workspace's bins when it installs,
// before anything is built, and silently skips a bin whose file does not exist yet: a bin pointing at the compiled
// dist/main.js (build output, absent from a fresh clone) was never linked, and `npx outbox-operator` then looked for a
// package of that name in the public registry. This launcher is committed, so the link is always made.
'use strict';
const { existsSync } = require('node:fs');
const path = require('node:path');

const compiled = path.join(__dirname, '..', 'dist', 'main.js');
if (existsSync(compiled)) {
  require(compiled);
} else {
  process.stderr.write('outbox-operator: not built yet: run `make build` (or `npm run build`) at the repository root\n');
  process.exitCode = 1;
}
