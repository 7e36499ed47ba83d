import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { REGISTER_TS } from '@outbox-relay/test-support';

export { portAnswers as accepts } from '@outbox-relay/test-support';

const MAIN = path.resolve(__dirname, '..', '..', 'src', 'main.ts');

export type LogLine = Record<string, unknown> & { msg?: string };

/** `services/orders/src/main.ts` as a real process (sources compiled on the fly), its JSON logs collected. */
export class OrdersProcess {
  readonly child: ChildProcess;
  readonly logs: LogLine[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  private waiters: Array<{ match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }> = [];

  constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, ['-r', REGISTER_TS, MAIN], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buffer = '';
    this.child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const text = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        let line: LogLine;
        try {
          line = JSON.parse(text) as LogLine;
        } catch {
          line = { msg: text };
        }
        this.logs.push(line);
        this.waiters = this.waiters.filter((w) => (w.match(line) ? (w.resolve(line), false) : true));
      }
    });
    this.child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  /** Resolves with the first log line (past or future) whose `msg` is `msg`; rejects if the process exits first. */
  waitForLog(msg: string): Promise<LogLine> {
    const seen = this.logs.find((l) => l.msg === msg);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      this.waiters.push({ match: (l) => l.msg === msg, resolve });
      void this.exited.then((code) =>
        reject(new Error(`process exited (${code}) before logging "${msg}"; stderr: ${this.stderr}`)),
      );
    });
  }

  kill(signal: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
}

/** One request on a fresh connection (no keep-alive pool, so shutdown behaviour is observed as is). */
export function httpJson(
  port: number,
  method: string,
  pathname: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: pathname,
        agent: false,
        headers: payload === undefined ? headers : { 'content-type': 'application/json', ...headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : undefined }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
