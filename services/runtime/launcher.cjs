// What every workspace's bin (services/*/bin/*.js) runs. npm links a workspace's bins when it installs, before
// anything is built, and silently skips a bin whose file does not exist yet: a bin pointing at compiled output
// (dist/, absent from a fresh clone) was never linked, and `npx <command>` then looked for a package of that name
// in the public registry. The bins are committed launchers, so the link is always made; this is their one body.
// Plain JavaScript beside (not in) dist/, so it runs before anything is built.
'use strict';
const { existsSync } = require('node:fs');

/** Runs the compiled entry `compiled` of `command`, or says how to build it (exit status 1). */
function launch(command, compiled) {
  if (existsSync(compiled)) {
    require(compiled);
    return;
  }
  process.stderr.write(`${command}: not built yet: run \`make build\` (or \`npm run build\`) at the repository root\n`);
  process.exitCode = 1;
}

module.exports = { launch };
