// autocannon ships no type declarations: these are the parts of its options and results the benchmark uses.
export interface AutocannonOptions {
  url: string;
  method: string;
  connections: number;
  /** Seconds. */
  duration: number;
  headers: Record<string, string>;
  body?: string;
  requests?: Array<{ setupRequest: (request: Record<string, unknown>) => Record<string, unknown> }>;
}

export interface AutocannonResult {
  /** Seconds. */
  duration: number;
  requests: { total: number };
  statusCodeStats?: Record<string, { count: number } | undefined>;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Milliseconds. */
  latency: { p50: number; p90: number; p99: number; max: number };
}

type Autocannon = (options: AutocannonOptions, done: (error: Error | null, result: AutocannonResult) => void) => unknown;

// A CommonJS package without types: required and given the shape above.
const autocannon = require('autocannon') as Autocannon;

/** One autocannon run to its end. */
export function runAutocannon(options: AutocannonOptions): Promise<AutocannonResult> {
  return new Promise((resolve, reject) => {
    autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
  });
}
