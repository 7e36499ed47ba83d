// Stub of `k6/execution`: the VU and iteration numbers the test process assigns to each call.
const runtime = require('./runtime.cjs');
const { execution } = runtime;

module.exports = {
  vu: {
    get idInTest() {
      return execution.vu;
    },
    get idInInstance() {
      return execution.vu;
    },
    get iterationInScenario() {
      return execution.iterationInScenario;
    },
    get iterationInInstance() {
      return execution.iterationInScenario;
    },
    tags: {},
    metrics: { tags: {}, metadata: {} },
  },
  scenario: {
    get name() {
      return execution.scenario;
    },
    executor: 'constant-arrival-rate',
    startTime: Date.now(),
    progress: 0,
    get iterationInTest() {
      return execution.iterationInTest;
    },
    get iterationInInstance() {
      return execution.iterationInTest;
    },
  },
  instance: { iterationsInterrupted: 0, iterationsCompleted: 0, vusActive: 1, vusInitialized: 1, currentTestRunDuration: 0 },
  test: {
    abort(message) {
      throw new runtime.K6Abort(message ?? 'test aborted');
    },
    fail(message) {
      throw new runtime.K6Abort(message ?? 'test failed');
    },
    options: {},
  },
};
