// Stub of the `k6` module: check, fail, group, sleep, randomSeed, as k6 documents them.
const runtime = require('./runtime.cjs');

function check(value, sets) {
  let all = true;
  for (const [name, predicate] of Object.entries(sets)) {
    let ok;
    try {
      ok = Boolean(predicate(value));
    } catch {
      // k6 counts a throwing check as failed (and logs the exception).
      ok = false;
    }
    runtime.recordCheck(name, ok);
    all = all && ok;
  }
  return all;
}

function fail(message) {
  throw new runtime.K6Abort(message ?? 'fail() called');
}

function group(_name, fn) {
  return fn();
}

function sleep(seconds) {
  runtime.sleepSync(seconds * 1000);
}

function randomSeed() {}

module.exports = { check, fail, group, sleep, randomSeed };
