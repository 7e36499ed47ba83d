import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { transformSync } from '@swc/core';

/** A k6 check as the stub `check` recorded it. */
export interface CheckRecord {
  name: string;
  ok: boolean;
}

/** One request the script made through the stub `k6/http`. */
export interface RequestRecord {
  method: string;
  url: string;
  body: string | null;
  headers: Record<string, string>;
  tags: Record<string, string>;
  status: number;
  error: string;
  durationMs: number;
}

export interface CallResult<T> {
  value: T;
  checks: CheckRecord[];
  requests: RequestRecord[];
}

/** A call the script ended with an exception; `aborted` when it was `exec.test.abort()` or `fail()`. */
export class K6ScriptError extends Error {
  constructor(
    message: string,
    readonly aborted: boolean,
    readonly checks: CheckRecord[] = [],
    readonly requests: RequestRecord[] = [],
  ) {
    super(message);
    this.name = 'K6ScriptError';
  }
}

interface HttpRequestMessage {
  method: string;
  url: string;
  body: string | null;
  headers: Record<string, string>;
  timeoutMs: number;
}

interface HttpAnswer {
  status: number;
  statusText: string;
  headers: Record<string, string>;
  body: string | null;
  durationMs: number;
  error?: string;
}

type WorkerMessage =
  | { type: 'init'; ok: true; exports: string[]; options: unknown }
  | { type: 'init'; ok: false; error: { message: string; aborted: boolean } }
  | ({ type: 'result'; id: number; checks: CheckRecord[]; requests: RequestRecord[] } & (
      | { ok: true; value: unknown }
      | { ok: false; error: { message: string; aborted: boolean } }
    ));

const WORKER = path.join(__dirname, 'stubs', 'vu-worker.cjs');

/** The script as k6 would load it (an ES module), compiled to CommonJS so a plain `vm` context can run it. */
export function compileK6Script(file: string): string {
  const { code } = transformSync(readFileSync(file, 'utf8'), {
    filename: file,
    jsc: { target: 'es2022', parser: { syntax: 'ecmascript' } },
    module: { type: 'commonjs' },
  });
  return code;
}

/** Performs one bridged request for real (what k6's Go HTTP client would do), on this process's event loop. */
function perform(request: HttpRequestMessage, agent: http.Agent): Promise<HttpAnswer> {
  const started = performance.now();
  return new Promise((resolve) => {
    const url = new URL(request.url);
    const req = http.request(
      { method: request.method, host: url.hostname, port: url.port, path: `${url.pathname}${url.search}`, headers: request.headers, agent, timeout: request.timeoutMs },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) headers[name] = String(value);
          resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers, body, durationMs: performance.now() - started });
        });
      },
    );
    // Like k6: a network error is a response with status 0 and `error` set, not an exception.
    const failed = (error: Error) =>
      resolve({ status: 0, statusText: '', headers: {}, body: null, durationMs: performance.now() - started, error: error.message });
    req.on('timeout', () => req.destroy(new Error(`request timeout after ${request.timeoutMs} ms`)));
    req.on('error', failed);
    req.end(request.body ?? undefined);
  });
}

/**
 * One k6 virtual user: the script evaluated in a worker thread under stub `k6/*` modules (test/loadtest/stubs),
 * with synchronous `http.*` calls bridged to real requests made here. Create with `K6Vu.start`.
 */
export class K6Vu {
  private nextId = 1;
  private readonly pending = new Map<number, (message: WorkerMessage & { type: 'result' }) => void>();
  private constructor(
    private readonly worker: Worker,
    private readonly httpPort: MessagePort,
    private readonly agent: http.Agent,
    readonly exportNames: string[],
    readonly options: Record<string, unknown>,
  ) {
    worker.on('message', (message: WorkerMessage) => {
      if (message.type !== 'result') return;
      this.pending.get(message.id)?.(message);
      this.pending.delete(message.id);
    });
    // A crashed worker fails every call still waiting instead of leaving the test hanging.
    worker.on('error', (error) => {
      for (const [id, settle] of this.pending) {
        settle({ type: 'result', id, ok: false, error: { message: `VU worker crashed: ${error.message}`, aborted: false }, checks: [], requests: [] });
      }
      this.pending.clear();
    });
  }

  /** Evaluates the script's init code for VU `vu` with `env` as `__ENV`; rejects with the init error. */
  static async start(code: string, options: { env: Record<string, string>; vu: number; filename: string }): Promise<K6Vu> {
    const signal = new SharedArrayBuffer(4);
    const flag = new Int32Array(signal);
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(WORKER, {
      workerData: { code, env: options.env, vu: options.vu, filename: options.filename, httpPort: port2, signal },
      transferList: [port2],
    });
    const agent = new http.Agent({ keepAlive: true });
    port1.on('message', (request: HttpRequestMessage) => {
      void perform(request, agent).then((answer) => {
        port1.postMessage(answer);
        Atomics.store(flag, 0, 1);
        Atomics.notify(flag, 0);
      });
    });
    const init = await new Promise<WorkerMessage & { type: 'init' }>((resolve, reject) => {
      worker.once('error', reject);
      worker.once('message', (message: WorkerMessage) => {
        worker.off('error', reject);
        if (message.type === 'init') resolve(message);
        else reject(new Error(`unexpected first message from the VU worker: ${message.type}`));
      });
    });
    if (!init.ok) {
      port1.close();
      agent.destroy();
      await worker.terminate();
      throw new K6ScriptError(init.error.message, init.error.aborted);
    }
    return new K6Vu(worker, port1, agent, init.exports, init.options as Record<string, unknown>);
  }

  /**
   * Calls an exported function of the script (`setup`, `default`, `handleSummary`, ...) with `arg`.
   * `iteration` sets what `k6/execution` and `__ITER` report during the call.
   */
  call<T>(name: string, arg?: unknown, iteration?: { iterationInTest: number; iterationInScenario: number; scenario?: string }): Promise<CallResult<T>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (message) => {
        if (message.ok) resolve({ value: message.value as T, checks: message.checks, requests: message.requests });
        else reject(new K6ScriptError(message.error.message, message.error.aborted, message.checks, message.requests));
      });
      this.worker.postMessage({ id, name, arg, iteration });
    });
  }

  async close(): Promise<void> {
    this.httpPort.close();
    this.agent.destroy();
    await this.worker.terminate();
  }
}
