// Renders the CRD object as the YAML committed in deploy/crd. Shared by gen-crd.mjs and the drift test, so both
// produce byte-identical text from the same object.
const YAML = require('yaml');

const HEADER = [
  '# GENERATED from services/operator/src/api/crd.ts; do not edit by hand.',
  '# Regenerate: node services/operator/scripts/gen-crd.mjs',
].join('\n');

function renderCrdYaml(crd) {
  // lineWidth 0: long descriptions and CEL rules stay on one line, so diffs show whole rules.
  return `${HEADER}\n${YAML.stringify(crd, { lineWidth: 0, aliasDuplicateObjects: false })}`;
}

module.exports = { renderCrdYaml };
