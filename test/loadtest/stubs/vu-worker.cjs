// One k6 VU in a worker thread: evaluates the compiled script in a fresh context whose only modules are the
// k6 stubs (anything else, Node's included, fails as it would under k6), then runs the calls the test sends.
const vm = require('node:vm');
const { parentPort, workerData } = require('node:worker_threads');
const runtime = require('./runtime.cjs');

const MODULES = {
  k6: require('./k6.cjs'),
  'k6/http': require('./k6-http.cjs'),
  'k6/execution': require('./k6-execution.cjs'),
  // The one remote module the script imports, under its exact (pinned) URL.
  'https://jslib.k6.io/k6-summary/0.1.0/index.js': require('./k6-summary.cjs'),
};

function k6Require(name) {
  if (Object.prototype.hasOwnProperty.call(MODULES, name)) return MODULES[name];
  throw new Error(`module "${name}" is not available in k6 (stubbed: ${Object.keys(MODULES).join(', ')})`);
}

function describe(error) {
  return { message: error instanceof Error ? error.message : String(error), aborted: error instanceof runtime.K6Abort };
}

runtime.connect(workerData.httpPort, workerData.signal);
runtime.execution.vu = workerData.vu;
const context = vm.createContext({ __ENV: { ...workerData.env }, __VU: workerData.vu, __ITER: 0, console });

let script;
try {
  const wrapper = vm.runInContext(`(function (exports, require, module) {\n${workerData.code}\n})`, context, {
    filename: workerData.filename,
  });
  const module = { exports: {} };
  wrapper(module.exports, k6Require, module);
  script = module.exports;
  parentPort.postMessage({ type: 'init', ok: true, exports: Object.keys(script), options: script.options });
} catch (error) {
  parentPort.postMessage({ type: 'init', ok: false, error: describe(error) });
}

parentPort.on('message', ({ id, name, arg, iteration }) => {
  runtime.takeRecords();
  try {
    if (typeof script?.[name] !== 'function') throw new Error(`the script exports no function "${name}"`);
    if (iteration) {
      Object.assign(runtime.execution, iteration);
      context.__ITER = iteration.iterationInScenario;
    }
    const value = script[name](arg);
    parentPort.postMessage({ type: 'result', id, ok: true, value, ...runtime.takeRecords() });
  } catch (error) {
    parentPort.postMessage({ type: 'result', id, ok: false, error: describe(error), ...runtime.takeRecords() });
  }
});
