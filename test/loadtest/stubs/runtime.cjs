// State shared by the stub k6 modules inside one VU worker: the synchronous HTTP bridge to the test process,
// the execution context of the current call, and what the script did during it (requests, checks).
const { receiveMessageOnPort } = require('node:worker_threads');

let bridge = null;
const execution = { vu: 0, iterationInTest: 0, iterationInScenario: 0, scenario: 'default' };
let checks = [];
let requests = [];

/** `port` and `signal` come from the test process (see test/loadtest/k6-vu.ts). */
function connect(port, signal) {
  bridge = { port, flag: new Int32Array(signal) };
}

/**
 * k6's http calls are synchronous, so this one is too: post the request to the test process, block this worker
 * until it answers (Atomics.wait), then read the answer off the port synchronously. The service under test runs
 * on the test process's event loop, which stays free while this worker waits.
 */
function httpSync(request, timeoutMs) {
  if (!bridge) throw new Error('stub k6/http: the VU worker is not connected to the test process');
  Atomics.store(bridge.flag, 0, 0);
  bridge.port.postMessage(request);
  if (Atomics.wait(bridge.flag, 0, 0, timeoutMs) === 'timed-out') {
    throw new Error(`stub k6/http: no answer from the test process within ${timeoutMs} ms`);
  }
  const answer = receiveMessageOnPort(bridge.port);
  if (!answer) throw new Error('stub k6/http: woken without an answer');
  return answer.message;
}

function recordRequest(record) {
  requests.push(record);
}

function recordCheck(name, ok) {
  checks.push({ name, ok });
}

/** What the script did since the previous call. */
function takeRecords() {
  const taken = { checks, requests };
  checks = [];
  requests = [];
  return taken;
}

function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Thrown by exec.test.abort and fail(); the test process reports it as an aborted run. */
class K6Abort extends Error {
  constructor(message) {
    super(message);
    this.name = 'K6Abort';
  }
}

module.exports = { connect, httpSync, recordRequest, recordCheck, takeRecords, sleepSync, execution, K6Abort };
