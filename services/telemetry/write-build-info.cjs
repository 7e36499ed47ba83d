#!/usr/bin/env node
// Writes dist/build-info.json of @outbox-relay/telemetry at build time (`npm run build` runs it after tsc): the
// repository's version (root package.json) and the git revision being built, which every process then reports as
// outbox_relay_build_info. The revision is GIT_REVISION when set (a Docker build has no .git: pass it as a build
// argument), else `git rev-parse HEAD`, else "unknown". Plain JavaScript, so it runs before anything is built.
//   node services/telemetry/write-build-info.cjs [output file]
'use strict';
const { execFileSync } = require('node:child_process');
const { mkdirSync, readFileSync, writeFileSync } = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const output = path.resolve(process.argv[2] ?? path.join(__dirname, 'dist', 'build-info.json'));

function gitRevision() {
  const given = (process.env.GIT_REVISION ?? '').trim();
  if (given !== '') return given;
  try {
    const head = execFileSync('git', ['-C', root, 'rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
    return /^[0-9a-f]{7,64}$/.test(head) ? head : 'unknown';
  } catch {
    // No git, or not a checkout (an unpacked tarball): the build still succeeds.
    return 'unknown';
  }
}

const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const info = { version: typeof version === 'string' && version !== '' ? version : 'unknown', revision: gitRevision() };
mkdirSync(path.dirname(output), { recursive: true });
writeFileSync(output, `${JSON.stringify(info)}\n`);
console.log(`build info: version ${info.version}, revision ${info.revision} (${path.relative(process.cwd(), output)})`);
