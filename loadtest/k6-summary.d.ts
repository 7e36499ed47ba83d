// Types of the one remote module loadtest/orders.js imports: k6's end-of-test text summary (grafana/k6-jslib-summary),
// pinned by its URL. The version here and in the script's import must change together.
declare module 'https://jslib.k6.io/k6-summary/0.1.0/index.js' {
  export interface TextSummaryOptions {
    /** Prefix of every line. */
    indent?: string;
    /** ANSI colours: only when stdout is a terminal. */
    enableColors?: boolean;
  }
  /** k6's default end-of-test summary of `data` (what handleSummary receives) as text. */
  export function textSummary(data: object, options?: TextSummaryOptions): string;
}
