#!/usr/bin/env node
// Writes deploy/crd/outboxrelays.yaml from services/operator/src/api/crd.ts.
//   node services/operator/scripts/gen-crd.mjs          write the file
//   node services/operator/scripts/gen-crd.mjs --check  exit 1 if the file differs (for CI)
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../..');
const target = path.join(repoRoot, 'deploy/crd/outboxrelays.yaml');

const { registerTypeScript } = require('./load-ts.cjs');
const { renderCrdYaml } = require('./crd-yaml.cjs');
registerTypeScript();
const { outboxRelayCrd } = require(path.join(here, '../src/api/crd.ts'));
const text = renderCrdYaml(outboxRelayCrd);

if (process.argv.includes('--check')) {
  const current = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : '';
  if (current !== text) {
    console.error(`${path.relative(repoRoot, target)} is out of date; run: node services/operator/scripts/gen-crd.mjs`);
    process.exit(1);
  }
  console.log(`${path.relative(repoRoot, target)} is up to date`);
} else {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.writeFileSync(target, text);
  console.log(`wrote ${path.relative(repoRoot, target)}`);
}
